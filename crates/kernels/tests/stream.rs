//! The streaming writer (`ntk_kernels::stream`) against the in-memory kernel: files equal to
//! `analytic::kernel` bit for bit (tile sides are multiples of the in-memory block size, so every
//! entry goes through the same operations), an observer that stops the run leaves a resumable
//! run whose result is byte-identical, and bad output locations are the structured errors.

use faer::Mat;
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::npy::{Dtype, NpyMatrixFile, read_inputs};
use ntk_kernels::stream::{Silent, StreamConfig, StreamObserver, output_paths, stream_kernel};
use ntk_kernels::tiled::AnalyticTiles;
use ntk_kernels::{Activation, Architecture, Error, Parameterization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::ops::ControlFlow;
use std::path::PathBuf;

fn gaussian(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Mat::from_fn(rows, cols, |_, _| StandardNormal.sample(&mut rng))
}

fn erf2() -> Architecture {
    Architecture::mlp(
        2,
        256,
        Activation::Erf,
        1.3,
        Some(0.2),
        Parameterization::Ntk,
    )
    .unwrap()
}

/// A fresh directory under the system temp dir for one test.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ntk-kernels-stream-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(dtype: Dtype, stop_after: Option<usize>) -> StreamConfig {
    StreamConfig {
        max_memory: 1 << 30,
        tile: Some(128),
        dtype,
        stop_after,
    }
}

/// Stops the run after `limit` tiles and records what it was told.
struct StopAfter {
    limit: usize,
    calls: Vec<u64>,
    total: u64,
    finished: bool,
}

impl StreamObserver for StopAfter {
    fn start(&mut self, total_entries: u64) {
        self.total = total_entries;
    }
    fn tile_done(&mut self, entries_done: u64) -> ControlFlow<()> {
        self.calls.push(entries_done);
        if self.calls.len() == self.limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
    fn finish(&mut self) {
        self.finished = true;
    }
}

#[test]
fn streamed_files_equal_the_in_memory_kernel_bit_for_bit() {
    let dir = scratch("bits");
    let architecture = erf2();
    let (x1, x2) = (gaussian(300, 7, 1), gaussian(170, 7, 2));
    let get = Get {
        nngp: true,
        ntk: true,
    };
    for (name, other) in [("self", None), ("cross", Some(x2.as_ref()))] {
        let expected = kernel(&architecture, x1.as_ref(), other, get).unwrap();
        let source = AnalyticTiles {
            architecture: &architecture,
            x1: x1.as_ref(),
            x2: other,
            get,
        };
        for dtype in [Dtype::F64, Dtype::F32] {
            let (outputs, manifest) =
                output_paths(&dir.join(format!("{name}-{dtype:?}.npy")), true, true);
            let report = stream_kernel(
                &source,
                "fp",
                &outputs,
                &manifest,
                &config(dtype, None),
                &mut Silent,
            )
            .unwrap();
            assert!(report.complete);
            for (output, want) in outputs.iter().zip([&expected.nngp, &expected.ntk]) {
                let want = want.as_ref().unwrap();
                let file = NpyMatrixFile::open(
                    &output.path,
                    false,
                    Some((want.nrows(), want.ncols(), dtype)),
                )
                .unwrap();
                let got = file.read_block(0..want.nrows(), 0..want.ncols()).unwrap();
                for i in 0..want.nrows() {
                    for j in 0..want.ncols() {
                        let w = match dtype {
                            Dtype::F64 => want[(i, j)],
                            Dtype::F32 => f64::from(want[(i, j)] as f32),
                        };
                        assert_eq!(
                            got[(i, j)].to_bits(),
                            w.to_bits(),
                            "{name} {dtype:?} ({i}, {j})"
                        );
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_observer_that_stops_leaves_a_resumable_run() {
    let dir = scratch("resume");
    let architecture = erf2();
    let x = gaussian(520, 5, 3); // 5 blocks of 128 (the last of 8): 15 upper tiles
    let get = Get {
        nngp: false,
        ntk: true,
    };
    let source = AnalyticTiles {
        architecture: &architecture,
        x1: x.as_ref(),
        x2: None,
        get,
    };
    let (reference, reference_manifest) = output_paths(&dir.join("reference.npy"), false, true);
    stream_kernel(
        &source,
        "fp",
        &reference,
        &reference_manifest,
        &config(Dtype::F64, None),
        &mut Silent,
    )
    .unwrap();

    let (outputs, manifest) = output_paths(&dir.join("k.npy"), false, true);
    let mut stop = StopAfter {
        limit: 4,
        calls: Vec::new(),
        total: 0,
        finished: false,
    };
    let report = stream_kernel(
        &source,
        "fp",
        &outputs,
        &manifest,
        &config(Dtype::F64, None),
        &mut stop,
    )
    .unwrap();
    assert!(!report.complete && report.computed == 4 && stop.finished);
    // Entries of the 15 upper tiles: half of all blocks plus half of the diagonal blocks
    // (4 of 128² and one of 8²), (520² + Σ diagonal tiles) / 2.
    let diagonal = 4 * 128 * 128 + 8 * 8;
    assert_eq!(stop.total, ((520 * 520 + diagonal) / 2) as u64);
    assert!(stop.calls.windows(2).all(|w| w[0] < w[1]));
    assert!(!outputs[0].path.exists());

    let report = stream_kernel(
        &source,
        "fp",
        &outputs,
        &manifest,
        &config(Dtype::F64, None),
        &mut Silent,
    )
    .unwrap();
    assert!(report.complete && (report.reused, report.computed) == (4, 11));
    assert_eq!(
        std::fs::read(&outputs[0].path).unwrap(),
        std::fs::read(&reference[0].path).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_locations_and_files_are_structured_errors() {
    let dir = scratch("errors");
    let architecture = erf2();
    let x = gaussian(10, 3, 4);
    let get = Get {
        nngp: false,
        ntk: true,
    };
    let source = AnalyticTiles {
        architecture: &architecture,
        x1: x.as_ref(),
        x2: None,
        get,
    };
    let (outputs, manifest) = output_paths(&dir.join("missing").join("k.npy"), false, true);
    let err = stream_kernel(
        &source,
        "fp",
        &outputs,
        &manifest,
        &config(Dtype::F64, None),
        &mut Silent,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::OutputDirectory { .. }) && err.is_usage(),
        "{err}"
    );

    // A tile side that is neither a multiple of 128 nor covering the 300 × 300 matrix.
    let x300 = gaussian(300, 3, 5);
    let source = AnalyticTiles {
        architecture: &architecture,
        x1: x300.as_ref(),
        x2: None,
        get,
    };
    let (outputs, manifest) = output_paths(&dir.join("k.npy"), false, true);
    let mut bad_tile = config(Dtype::F64, None);
    bad_tile.tile = Some(100);
    let err =
        stream_kernel(&source, "fp", &outputs, &manifest, &bad_tile, &mut Silent).unwrap_err();
    assert!(
        matches!(err, Error::TileSide { .. }) && err.is_usage(),
        "{err}"
    );

    let err = read_inputs(&dir.join("nope.npy"), "x1").unwrap_err();
    assert!(
        matches!(&err, Error::KernelFile { message } if message.starts_with("x1: cannot open")),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
