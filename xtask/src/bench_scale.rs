//! `cargo xtask bench --scale-data`: the data-set-scale path, measured (opt-in; minutes).
//!
//! 1. Kernel throughput: the 3-hidden-layer ReLU NTK of n Gaussian points (d = 64) in memory
//!    ([`ntk_kernels::analytic::kernel`]) and streamed to a float32 `.npy`
//!    ([`crate::stream::stream_kernel`]), entries of the full n × n matrix per second, and
//!    their ratio measured in the same run.
//! 2. Streaming vs in-memory predictions at n = 5000 (t = ∞ and one finite t): the out-of-core
//!    fit on a float64 kernel file against Cholesky / eigendecomposition on the in-memory
//!    kernel; the largest absolute difference.
//! 3. CG solve time and iterations against n on stored float32 kernels (ridge 10⁻³·mean
//!    diagonal, 10 one-hot outputs), with the power-law exponent of the time fitted on log–log.
//!
//! Output: one JSON line per measurement with `--json`, else a human line.

use crate::fit::operator::FileOperator;
use crate::npy::{Dtype, NpyMatrixFile};
use crate::reproduce::fit::{Bootstrap, power_law_fit};
use crate::stream::{Output, StreamConfig, default_max_memory, stream_kernel};
use anyhow::Result;
use faer::{Mat, Par};
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::regression::{
    CgConfig, GradientDescentMse, LanczosConfig, MseConfig, TestSet, conjugate_gradient,
    gradient_flow_lanczos,
};
use ntk_kernels::tiled::AnalyticTiles;
use ntk_kernels::{Activation, Architecture, Parameterization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

fn relu3() -> Result<Architecture> {
    Ok(Architecture::mlp(
        3,
        512,
        Activation::Relu,
        2f64.sqrt(),
        Some(0.1),
        Parameterization::Ntk,
    )?)
}

fn points(n: usize, d: usize, seed: u64) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Mat::from_fn(n, d, |_, _| StandardNormal.sample(&mut rng))
}

/// Labels of a fixed random linear teacher with 10 classes (argmax of 10 projections).
fn one_hot(x: &Mat<f64>) -> Mat<f64> {
    let teacher = points(x.ncols(), 10, 99);
    let scores = x * &teacher;
    Mat::from_fn(x.nrows(), 10, |i, c| {
        let best = (0..10).fold(0, |b, k| {
            if scores[(i, k)] > scores[(i, b)] {
                k
            } else {
                b
            }
        });
        f64::from(best == c)
    })
}

fn emit(json_mode: bool, value: serde_json::Value, human: String) {
    if json_mode {
        println!("{value}");
    } else {
        println!("{human}");
    }
}

const NTK: Get = Get {
    nngp: false,
    ntk: true,
};

fn stream_to(
    dir: &Path,
    name: &str,
    source: &AnalyticTiles<'_>,
    dtype: Dtype,
) -> Result<(f64, std::path::PathBuf)> {
    let path = dir.join(format!("{name}.npy"));
    let manifest = dir.join(format!("{name}.manifest.json"));
    let _ = std::fs::remove_file(&manifest);
    let config = StreamConfig {
        max_memory: default_max_memory() / 4,
        tile: None,
        dtype,
        progress: true,
        stop_after: None,
    };
    let start = Instant::now();
    stream_kernel(
        source,
        name,
        &[Output {
            name: "ntk",
            path: path.clone(),
        }],
        &manifest,
        &config,
    )?;
    Ok((start.elapsed().as_secs_f64(), path))
}

/// Runs the three measurements; kernels go to `target/bench-scale/` and are removed after use.
pub fn run(json_mode: bool) -> Result<()> {
    let dir = Path::new("target/bench-scale");
    std::fs::create_dir_all(dir)?;
    let arch = relu3()?;
    let d = 64;

    // 1. Throughput at n = 20 000.
    let n = 20_000;
    let x = points(n, d, 1);
    let start = Instant::now();
    let in_memory = kernel(&arch, x.as_ref(), None, NTK)?;
    let memory_seconds = start.elapsed().as_secs_f64();
    drop(in_memory);
    let source = AnalyticTiles {
        architecture: &arch,
        x1: x.as_ref(),
        x2: None,
        get: NTK,
    };
    let (stream_seconds, path) = stream_to(dir, "throughput", &source, Dtype::F32)?;
    std::fs::remove_file(path)?;
    let entries = (n * n) as f64;
    let ratio = (entries / stream_seconds) / (entries / memory_seconds);
    emit(
        json_mode,
        json!({"name": "kernel-throughput", "n": n, "in_memory_entries_per_s": entries / memory_seconds,
               "streamed_entries_per_s": entries / stream_seconds, "ratio": ratio}),
        format!(
            "kernel-throughput n={n}: in memory {:.3e} entries/s, streamed (f32 file) {:.3e} entries/s, ratio {ratio:.3}",
            entries / memory_seconds,
            entries / stream_seconds
        ),
    );
    drop(x);

    // 2. Streaming vs in-memory predictions at n = 5000.
    let (n, m) = (5000, 1000);
    let x = points(n, d, 2);
    let x_test = points(m, d, 3);
    let y = one_hot(&x);
    let theta = kernel(&arch, x.as_ref(), None, NTK)?.ntk.expect("ntk");
    let theta_test = kernel(&arch, x_test.as_ref(), Some(x.as_ref()), NTK)?
        .ntk
        .expect("ntk");
    let ridge = 1e-3 * (0..n).map(|i| theta[(i, i)]).sum::<f64>() / n as f64;
    let t = 1e4;
    let start = Instant::now();
    let flow = GradientDescentMse::new(
        theta.as_ref(),
        y.as_ref(),
        MseConfig {
            learning_rate: 1.0,
            diag_reg: ridge,
            diag_reg_absolute_scale: true,
        },
        Par::rayon(0),
    )?;
    let zeros = Mat::<f64>::zeros(m, 10);
    let reference = flow.predict(
        &[f64::INFINITY, t],
        Mat::<f64>::zeros(n, 10).as_ref(),
        Some(TestSet {
            k_test_train: theta_test.as_ref(),
            fx_test_0: zeros.as_ref(),
        }),
    )?;
    let memory_seconds = start.elapsed().as_secs_f64();
    drop(flow);
    drop(theta);
    let train_source = AnalyticTiles {
        architecture: &arch,
        x1: x.as_ref(),
        x2: None,
        get: NTK,
    };
    let test_source = AnalyticTiles {
        architecture: &arch,
        x1: x_test.as_ref(),
        x2: Some(x.as_ref()),
        get: NTK,
    };
    let (_, train_path) = stream_to(dir, "check-train", &train_source, Dtype::F64)?;
    let (_, test_path) = stream_to(dir, "check-test", &test_source, Dtype::F64)?;
    let start = Instant::now();
    let train = NpyMatrixFile::open(&train_path, false, None)?;
    let test = NpyMatrixFile::open(&test_path, false, None)?;
    let op = FileOperator::new(&train, 0..n, 0..n);
    let test_op = FileOperator::new(&test, 0..m, 0..n);
    let cg = CgConfig {
        rtol: 1e-12,
        ..CgConfig::default()
    };
    let (alpha, info) = conjugate_gradient(&op, ridge, y.as_ref(), cg)?;
    let at_infinity = test_op.product(alpha.as_ref())?;
    let vectors = gradient_flow_lanczos(
        &op,
        ridge,
        y.as_ref(),
        t / (n * 10) as f64,
        LanczosConfig::default(),
    )?;
    let at_t = test_op.product(vectors.phi_y.as_ref())?;
    let stream_seconds = start.elapsed().as_secs_f64();
    let diff = |a: &Mat<f64>, b: &Mat<f64>| {
        let mut worst = 0.0f64;
        for i in 0..a.nrows() {
            for j in 0..a.ncols() {
                worst = worst.max((a[(i, j)] - b[(i, j)]).abs());
            }
        }
        worst
    };
    let d_inf = diff(&at_infinity, reference[0].fx_test.as_ref().expect("test"));
    let d_t = diff(&at_t, reference[1].fx_test.as_ref().expect("test"));
    emit(
        json_mode,
        json!({"name": "stream-vs-memory", "n": n, "m": m, "max_abs_diff_t_inf": d_inf, "max_abs_diff_t": d_t,
               "t": t, "cg": info, "lanczos_steps": vectors.steps, "memory_seconds": memory_seconds,
               "stream_solve_seconds": stream_seconds}),
        format!(
            "stream-vs-memory n={n}: max |Δ| t=∞ {d_inf:.2e}, t={t} {d_t:.2e} (CG {} iterations, residual {:.1e}, κ̂ {:.2e}; Lanczos {} steps); in-memory {memory_seconds:.1} s, streamed solves {stream_seconds:.1} s",
            info.iterations, info.relative_residual, info.condition_estimate, vectors.steps
        ),
    );
    for p in [train_path, test_path] {
        std::fs::remove_file(p)?;
    }

    // 3. CG time and iterations against n (float32 kernels on disk).
    let sizes = [5000usize, 10_000, 20_000];
    let mut times = Vec::new();
    for &n in &sizes {
        let x = points(n, d, 4);
        let y = one_hot(&x);
        let source = AnalyticTiles {
            architecture: &arch,
            x1: x.as_ref(),
            x2: None,
            get: NTK,
        };
        let (_, path) = stream_to(dir, "solve", &source, Dtype::F32)?;
        let file = NpyMatrixFile::open(&path, false, None)?;
        let op = FileOperator::new(&file, 0..n, 0..n);
        let diagonal = ntk_kernels::regression::SymmetricOperator::diagonal(&op)?;
        let ridge = 1e-3 * diagonal.iter().sum::<f64>() / n as f64;
        let start = Instant::now();
        let (_, info) = conjugate_gradient(
            &op,
            ridge,
            y.as_ref(),
            CgConfig {
                rtol: 1e-8,
                ..CgConfig::default()
            },
        )?;
        let seconds = start.elapsed().as_secs_f64();
        times.push(seconds);
        emit(
            json_mode,
            json!({"name": "cg-solve", "n": n, "seconds": seconds, "cg": info}),
            format!(
                "cg-solve n={n}: {seconds:.2} s, {} iterations ({} products), residual {:.1e}, κ̂ {:.2e}",
                info.iterations, info.products, info.relative_residual, info.condition_estimate
            ),
        );
        std::fs::remove_file(path)?;
    }
    let x: Vec<f64> = sizes.iter().map(|&n| n as f64).collect();
    let fit = power_law_fit(&x, &times, Bootstrap::new(0)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    emit(
        json_mode,
        json!({"name": "cg-solve-exponent", "exponent": fit.exponent, "r_squared": fit.r_squared}),
        format!(
            "cg-solve time ∝ n^{:.2} (R² {:.3})",
            fit.exponent, fit.r_squared
        ),
    );
    Ok(())
}
