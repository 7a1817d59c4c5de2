//! Data-set-scale kernels: `.npy` in and out, streaming against the in-memory kernel, resume
//! after an interruption (internal hook and a real kill), the out-of-core fit against the
//! in-memory predictions, and bad inputs (exit 2, one line, nothing left as complete).

use faer::{Mat, MatRef, Par};
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::regression::{CgConfig, GradientDescentMse, MseConfig, TestSet};
use ntk_kernels::{Activation, Architecture, Parameterization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use xtask::fit::{FitJob, run_fit};
use xtask::npy::Dtype;
use xtask::stream::{FileJob, StreamConfig, run_file_job};

const SPEC: &str = r#"{"layers": [
  {"dense": {"width": 512, "w_std": 1.4142135623730951, "b_std": 0.1}}, {"activation": "relu"},
  {"dense": {"width": 512, "w_std": 1.4142135623730951, "b_std": 0.1}}, {"activation": "relu"},
  {"dense": {"width": 512, "w_std": 1.4142135623730951, "b_std": 0.1}}, {"activation": "relu"},
  {"dense": {"width": 1, "w_std": 1.4142135623730951, "b_std": 0.1}}]}"#;

fn arch() -> Architecture {
    Architecture::mlp(
        3,
        512,
        Activation::Relu,
        2f64.sqrt(),
        Some(0.1),
        Parameterization::Ntk,
    )
    .unwrap()
}

fn gaussian(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Mat::from_fn(rows, cols, |_, _| StandardNormal.sample(&mut rng))
}

fn write_f64(path: &Path, shape: &[u64], values: &[f64]) {
    use npyz::WriterBuilder;
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(
            std::fs::File::create(path).unwrap(),
        ))
        .begin_nd()
        .unwrap();
    writer.extend(values.iter().copied()).unwrap();
    writer.finish().unwrap();
}

fn write_points(path: &Path, x: MatRef<'_, f64>) {
    let values: Vec<f64> = (0..x.nrows())
        .flat_map(|i| (0..x.ncols()).map(move |j| x[(i, j)]))
        .collect();
    write_f64(path, &[x.nrows() as u64, x.ncols() as u64], &values);
}

fn write_labels(path: &Path, labels: &[i64]) {
    write_i64(path, &[labels.len() as u64], labels);
}

fn write_i64(path: &Path, shape: &[u64], labels: &[i64]) {
    use npyz::WriterBuilder;
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(
            std::fs::File::create(path).unwrap(),
        ))
        .begin_nd()
        .unwrap();
    writer.extend(labels.iter().copied()).unwrap();
    writer.finish().unwrap();
}

/// Reads a matrix back with npyz (an independent reader of what was written).
fn read_matrix(path: &Path) -> Mat<f64> {
    let npy = npyz::NpyFile::new(std::fs::File::open(path).unwrap()).unwrap();
    let shape = npy.shape().to_vec();
    let values: Vec<f64> = npy.into_vec().unwrap();
    let cols = shape[1] as usize;
    Mat::from_fn(shape[0] as usize, cols, |i, j| values[i * cols + j])
}

fn config(tile: Option<usize>, dtype: Dtype, stop_after: Option<usize>) -> StreamConfig {
    StreamConfig {
        max_memory: 1 << 30,
        tile,
        dtype,
        progress: false,
        stop_after,
    }
}

fn spec_with_get(get: &str) -> String {
    format!("{},\"get\": {get}}}", SPEC.trim_end_matches('}'))
}

#[test]
fn streamed_kernel_files_equal_the_in_memory_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let x1 = gaussian(300, 5, 10);
    let x2 = gaussian(170, 5, 11);
    write_points(&dir.path().join("x1.npy"), x1.as_ref());
    write_points(&dir.path().join("x2.npy"), x2.as_ref());
    for (x2_file, reference) in [
        (None, kernel(&arch(), x1.as_ref(), None, Get::BOTH).unwrap()),
        (
            Some(dir.path().join("x2.npy")),
            kernel(&arch(), x1.as_ref(), Some(x2.as_ref()), Get::BOTH).unwrap(),
        ),
    ] {
        let out = dir.path().join("k.npy");
        let job = FileJob {
            spec_text: SPEC.into(),
            x1: dir.path().join("x1.npy"),
            x2: x2_file,
            out: out.clone(),
            config: config(Some(128), Dtype::F64, None),
        };
        let summary: serde_json::Value =
            serde_json::from_str(&run_file_job(&job).unwrap()).unwrap();
        assert_eq!(summary["report"]["complete"], true);
        // Same operations per entry as the in-memory kernel (128-aligned tiles): exact equality.
        let nngp = read_matrix(&dir.path().join("k.nngp.npy"));
        let ntk = read_matrix(&dir.path().join("k.ntk.npy"));
        assert!(nngp == reference.nngp.unwrap());
        assert!(ntk == reference.ntk.unwrap());
        assert!(!dir.path().join("k.ntk.npy.partial").exists());
    }
    // float32 storage: the in-memory kernel rounded to f32 (round-to-nearest, exact match).
    let out = dir.path().join("k32.npy");
    let job = FileJob {
        spec_text: spec_with_get("[\"ntk\"]"),
        x1: dir.path().join("x1.npy"),
        x2: None,
        out: out.clone(),
        config: config(None, Dtype::F32, None),
    };
    run_file_job(&job).unwrap();
    let npy = npyz::NpyFile::new(std::fs::File::open(&out).unwrap()).unwrap();
    let values: Vec<f32> = npy.into_vec().unwrap();
    let reference = kernel(&arch(), x1.as_ref(), None, Get::BOTH)
        .unwrap()
        .ntk
        .unwrap();
    assert!((0..300).all(|i| (0..300).all(|j| values[i * 300 + j] == reference[(i, j)] as f32)));
}

#[test]
fn a_run_stopped_after_some_tiles_resumes_to_a_byte_identical_file() {
    let dir = tempfile::tempdir().unwrap();
    let x1 = gaussian(700, 4, 20);
    write_points(&dir.path().join("x1.npy"), x1.as_ref());
    let job = |out: &str, stop: Option<usize>| FileJob {
        spec_text: spec_with_get("[\"ntk\"]"),
        x1: dir.path().join("x1.npy"),
        x2: None,
        out: dir.path().join(out),
        config: config(Some(128), Dtype::F32, stop),
    };
    run_file_job(&job("whole.npy", None)).unwrap();
    // 700 = 6 blocks: 21 upper tiles. Stop after 5, then after 7 more, then finish.
    let first: serde_json::Value =
        serde_json::from_str(&run_file_job(&job("resumed.npy", Some(5))).unwrap()).unwrap();
    assert_eq!(first["report"]["complete"], false);
    assert_eq!(first["report"]["computed"], 5);
    assert!(
        !dir.path().join("resumed.npy").exists(),
        "an unfinished file must not carry the final name"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("resumed.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["finished"].as_array().unwrap().len(), 5);
    assert_eq!(manifest["complete"], false);
    let second: serde_json::Value =
        serde_json::from_str(&run_file_job(&job("resumed.npy", Some(7))).unwrap()).unwrap();
    assert_eq!(
        (
            second["report"]["reused"].as_u64(),
            second["report"]["computed"].as_u64()
        ),
        (Some(5), Some(7))
    );
    let third: serde_json::Value =
        serde_json::from_str(&run_file_job(&job("resumed.npy", None)).unwrap()).unwrap();
    assert_eq!(
        (
            third["report"]["reused"].as_u64(),
            third["report"]["computed"].as_u64()
        ),
        (Some(12), Some(9))
    );
    assert_eq!(third["report"]["complete"], true);
    let whole = std::fs::read(dir.path().join("whole.npy")).unwrap();
    let resumed = std::fs::read(dir.path().join("resumed.npy")).unwrap();
    assert!(whole == resumed, "resumed file differs");
    // A corrupted finished tile is detected by its checksum and recomputed.
    run_file_job(&job("corrupt.npy", Some(3))).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("corrupt.npy.partial"))
            .unwrap();
        f.write_all_at(&[0xff; 16], 200).unwrap();
    }
    let fixed: serde_json::Value =
        serde_json::from_str(&run_file_job(&job("corrupt.npy", None)).unwrap()).unwrap();
    assert_eq!(fixed["report"]["reused"].as_u64(), Some(2));
    assert!(std::fs::read(dir.path().join("corrupt.npy")).unwrap() == whole);
}

#[test]
fn a_killed_subprocess_resumes_to_the_in_memory_kernel_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3072;
    let x1 = gaussian(n, 8, 30);
    write_points(&dir.path().join("x1.npy"), x1.as_ref());
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, spec_with_get("[\"ntk\"]")).unwrap();
    let out = dir.path().join("k.npy");
    let command = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.args(["kernel", "--spec"])
            .arg(&spec)
            .arg("--x1")
            .arg(dir.path().join("x1.npy"));
        c.arg("--out")
            .arg(&out)
            .args(["--tile", "128", "--no-progress"]);
        c
    };
    let mut child = command()
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let manifest = dir.path().join("k.manifest.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    let finished = |m: &Path| -> usize {
        std::fs::read_to_string(m)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["finished"].as_array().map(Vec::len))
            .unwrap_or(0)
    };
    while finished(&manifest) < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_before = finished(&manifest);
    let total = 24 * 25 / 2;
    assert!(
        done_before >= 20 && done_before < total,
        "killed after {done_before} of {total} tiles"
    );
    assert!(!out.exists());
    let status = command()
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let reference = kernel(
        &arch(),
        x1.as_ref(),
        None,
        Get {
            nngp: false,
            ntk: true,
        },
    )
    .unwrap()
    .ntk
    .unwrap();
    let got = read_matrix(&out);
    assert!(
        got == reference,
        "the resumed kernel differs from the in-memory kernel"
    );
}

#[test]
fn out_of_core_fit_matches_the_in_memory_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let (n, m, classes) = (400, 90, 3);
    let x = gaussian(n, 6, 40);
    let x_test = gaussian(m, 6, 41);
    // Labels from a fixed linear teacher (so the task is learnable).
    let label = |row: MatRef<'_, f64>, i: usize| -> i64 {
        let s = row[(i, 0)] + 0.5 * row[(i, 1)];
        if s < -0.5 {
            0
        } else if s < 0.5 {
            1
        } else {
            2
        }
    };
    let labels: Vec<i64> = (0..n).map(|i| label(x.as_ref(), i)).collect();
    let labels_test: Vec<i64> = (0..m).map(|i| label(x_test.as_ref(), i)).collect();
    write_points(&dir.path().join("x.npy"), x.as_ref());
    write_points(&dir.path().join("xt.npy"), x_test.as_ref());
    write_labels(&dir.path().join("y.npy"), &labels);
    write_labels(&dir.path().join("yt.npy"), &labels_test);
    let relative = 1e-3;
    let times = [f64::INFINITY, 300.0];
    let job = FitJob {
        spec_text: spec_with_get("[\"ntk\"]"),
        train_x: dir.path().join("x.npy"),
        train_y: dir.path().join("y.npy"),
        test_x: dir.path().join("xt.npy"),
        test_y: dir.path().join("yt.npy"),
        out: dir.path().join("fit"),
        stream: config(Some(128), Dtype::F64, None),
        ridges: vec![relative],
        validation: 0.1,
        validation_rows: None,
        times: times.to_vec(),
        learning_rate: 1.0,
        cg: CgConfig {
            rtol: 1e-13,
            ..CgConfig::default()
        },
        landmarks: xtask::fit::DEFAULT_LANDMARKS,
    };
    let summary = run_fit(&job).unwrap();
    // In-memory path: kernels in memory, Cholesky (t = ∞) and eigendecomposition (finite t).
    let theta = kernel(&arch(), x.as_ref(), None, Get::BOTH)
        .unwrap()
        .ntk
        .unwrap();
    let theta_test = kernel(&arch(), x_test.as_ref(), Some(x.as_ref()), Get::BOTH)
        .unwrap()
        .ntk
        .unwrap();
    let ridge = relative * (0..n).map(|i| theta[(i, i)]).sum::<f64>() / n as f64;
    let y = Mat::from_fn(n, classes, |i, c| f64::from(labels[i] == c as i64));
    let flow = GradientDescentMse::new(
        theta.as_ref(),
        y.as_ref(),
        MseConfig {
            learning_rate: 1.0,
            diag_reg: ridge,
            diag_reg_absolute_scale: true,
        },
        Par::Seq,
    )
    .unwrap();
    let zeros = Mat::<f64>::zeros(m, classes);
    let reference = flow
        .predict(
            &times,
            Mat::<f64>::zeros(n, classes).as_ref(),
            Some(TestSet {
                k_test_train: theta_test.as_ref(),
                fx_test_0: zeros.as_ref(),
            }),
        )
        .unwrap();
    for (t, want) in ["inf", "300"].iter().zip(&reference) {
        let got = read_matrix(&dir.path().join(format!("fit/predictions.ntk.t={t}.npy")));
        let want = want.fx_test.as_ref().unwrap();
        let mut worst = 0.0f64;
        for i in 0..m {
            for c in 0..classes {
                worst = worst.max((got[(i, c)] - want[(i, c)]).abs());
            }
        }
        // CG to 1e-13 (κ ≲ 1e4 at ridge 1e-3 · mean diagonal) and Lanczos to a 1e-12 change:
        // ≲ 1e-9 error on O(1) predictions; the issue's target is 1e-8.
        assert!(worst <= 1e-8, "t = {t}: {worst}");
    }
    let acc = summary["kernels"]["ntk"]["results"][0]["test_accuracy"]
        .as_f64()
        .unwrap();
    // Three classes: chance is ≈ 1/3; a learnable teacher gives clearly more.
    assert!(acc > 0.5, "{acc}");
    assert!(dir.path().join("fit/summary.json").exists());
}

/// Runs the binary, expecting exit 2 and one line on stderr containing `needle`.
fn expect_usage_error(args: &[&str], needle: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_leave_no_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(p("spec.json"), SPEC).unwrap();
    write_points(&dir.path().join("good.npy"), gaussian(10, 3, 1).as_ref());
    write_points(&dir.path().join("other_d.npy"), gaussian(10, 4, 2).as_ref());
    write_f64(&dir.path().join("rank3.npy"), &[2, 3, 4], &[0.5; 24]);
    write_labels(&dir.path().join("ints.npy"), &[1, 2, 3]);
    write_i64(&dir.path().join("ints2d.npy"), &[3, 2], &[1, 2, 3, 4, 5, 6]);
    let mut nan = vec![0.5; 30];
    nan[17] = f64::NAN;
    write_f64(&dir.path().join("nan.npy"), &[10, 3], &nan);
    let mut inf = vec![0.5; 30];
    inf[3] = f64::INFINITY;
    write_f64(&dir.path().join("inf.npy"), &[10, 3], &inf);
    std::fs::write(p("not_npy.npy"), b"hello").unwrap();
    std::fs::write(p("a_file"), b"").unwrap();
    let kernel_args = |x1: &str, out: &str| {
        vec![
            "kernel".to_string(),
            "--spec".into(),
            p("spec.json"),
            "--x1".into(),
            p(x1),
            "--out".into(),
            out.to_string(),
        ]
    };
    let out = p("k.npy");
    for (x1, needle) in [
        ("rank3.npy", "shape [2, 3, 4]"),
        ("ints2d.npy", "has dtype <i8; expected float32 or float64"),
        ("nan.npy", "non-finite entry NaN at flat index 17"),
        ("inf.npy", "non-finite entry inf at flat index 3"),
        ("not_npy.npy", "not a valid .npy file"),
        ("missing.npy", "cannot open"),
    ] {
        let args = kernel_args(x1, &out);
        expect_usage_error(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle);
    }
    let mut args = kernel_args("good.npy", &out);
    args.extend(["--x2".into(), p("other_d.npy")]);
    expect_usage_error(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "--x2: points have 4 coordinates",
    );
    // Unwritable output location (a path below a regular file: ENOTDIR even for root).
    let bad_out = format!("{}/k.npy", p("a_file"));
    let args = kernel_args("good.npy", &bad_out);
    expect_usage_error(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "does not exist",
    );
    // A full disk, detected before any write: a 2²²-point kernel pair needs 2⁴⁴·16 bytes ≈ 280 TB.
    write_f64(
        &dir.path().join("huge.npy"),
        &[1 << 22, 1],
        &vec![1.0; 1 << 22],
    );
    let args = kernel_args("huge.npy", &out);
    expect_usage_error(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "not enough disk space",
    );
    // fit: wrong-length labels.
    let fit_args = [
        "fit",
        "--spec",
        &p("spec.json"),
        "--train",
        &p("good.npy"),
        &p("ints.npy"),
        "--test",
        &p("good.npy"),
        &p("ints.npy"),
        "--out",
        &p("fit"),
    ];
    expect_usage_error(&fit_args, "targets: expected 10 training");
    for name in ["k.npy", "k.nngp.npy", "k.ntk.npy", "fit/summary.json"] {
        assert!(
            !dir.path().join(name).exists(),
            "{name} left behind as if complete"
        );
    }
}
