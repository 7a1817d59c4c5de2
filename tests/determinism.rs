//! Results do not depend on the number of threads, and finished work is never redone or lost.
//!
//! - Real `reproduce --scale quick` experiments run inside rayon pools of 1 and 2 threads write
//!   the same `results.json` (apart from the timing fields `seconds` and `threads`) and the same
//!   data files, byte for byte.
//! - Analytic kernels, empirical NTKs, Monte Carlo kernels and gradient-flow trajectories are
//!   bit-identical across 1- and 2-thread pools.
//! - `--resume` reuses the finished real experiments of the same commit, scale and seed.
//!
//! The kill-midway test (a child process killed at three moments leaves the previous REPORT.md
//! and results.json intact) is `xtask/tests/interrupted.rs`; the atomic-write and resume-key
//! tests are in `xtask/tests/runner.rs`.

use faer::{Mat, Par};
use ntk_lab::dynamics::{FlowConfig, gradient_flow_states};
use ntk_lab::kernels::analytic::{Get, kernel};
use ntk_lab::kernels::random_features::RandomFeatures;
use ntk_lab::kernels::{Activation, Architecture, Parameterization};
use ntk_lab::nets::monte_carlo::monte_carlo_kernel;
use ntk_lab::nets::{Mlp, MlpSpec, Model};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use xtask::reproduce::experiments::registry;
use xtask::reproduce::{RunConfig, Scale, run};

/// Cheap quick-scale experiments covering the four crates: Mercer quadrature (kernels),
/// random-feature Monte Carlo in parallel tasks (kernels + bounds), GD vs kernel regression
/// trajectories (nets + dynamics).
const EXPERIMENTS: [&str; 3] = ["mercer-spectrum", "rf-nt-concentration", "single-neuron"];

fn config(out: &Path) -> RunConfig {
    let mut config = RunConfig::new(Scale::Quick, 0, out);
    config.only = Some(EXPERIMENTS.iter().map(|s| s.to_string()).collect());
    config.progress = Some(false);
    config.commit = Some("determinism-test".into());
    config
}

fn strip_timing(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("seconds");
            map.remove("threads");
            map.values_mut().for_each(strip_timing);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_timing),
        _ => {}
    }
}

/// results.json without timing fields, and every file under data/ and figures/.
fn outputs(out: &Path) -> (String, BTreeMap<String, Vec<u8>>) {
    let mut results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    strip_timing(&mut results);
    let mut files = BTreeMap::new();
    for sub in ["data", "figures"] {
        let Ok(entries) = std::fs::read_dir(out.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
            files.insert(name, std::fs::read(&path).unwrap());
        }
    }
    (serde_json::to_string_pretty(&results).unwrap(), files)
}

/// The first differing lines of two texts (empty if equal).
fn diff_lines(a: &str, b: &str) -> String {
    let mut out: Vec<String> = a
        .lines()
        .zip(b.lines())
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(line, (x, y))| format!("line {line}: {} | {}", x.trim(), y.trim()))
        .take(12)
        .collect();
    if out.is_empty() && a.len() != b.len() {
        out.push(format!("lengths {} vs {}", a.len(), b.len()));
    }
    out.join("\n")
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn reproduce_quick_is_identical_with_one_and_two_threads_and_resume_reuses_it() {
    let experiments = registry();
    let mut runs = Vec::new();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (threads, dir) in [1, 2].into_iter().zip(&dirs) {
        let summary = pool(threads)
            .install(|| run(&experiments, &config(dir.path())))
            .unwrap();
        assert_eq!(summary.results.threads, threads);
        assert_eq!(summary.results.experiments.len(), EXPERIMENTS.len());
        for outcome in &summary.outcomes {
            assert!(!outcome.resumed);
        }
        runs.push(outputs(dir.path()));
    }
    let differing = diff_lines(&runs[0].0, &runs[1].0);
    assert!(
        differing.is_empty(),
        "results.json differs between 1 and 2 threads:\n{differing}"
    );
    assert_eq!(
        runs[0].1.keys().collect::<Vec<_>>(),
        runs[1].1.keys().collect::<Vec<_>>()
    );
    assert!(runs[0].1.keys().any(|k| k.starts_with("data/")));
    for (name, bytes) in &runs[0].1 {
        assert!(
            &runs[1].1[name] == bytes,
            "{name} differs between 1 and 2 threads"
        );
    }

    // --resume in the 2-thread directory: every experiment is reused from its resume record,
    // and the rewritten results.json is the same.
    let mut cfg = config(dirs[1].path());
    cfg.resume = true;
    let summary = run(&experiments, &cfg).unwrap();
    assert!(summary.outcomes.iter().all(|o| o.resumed));
    let differing = diff_lines(&outputs(dirs[1].path()).0, &runs[1].0);
    assert!(
        differing.is_empty(),
        "resumed results.json differs:\n{differing}"
    );
    // Another seed is a different configuration: nothing is reused.
    let mut cfg = config(dirs[1].path());
    cfg.resume = true;
    cfg.only = Some(vec!["mercer-spectrum".into()]);
    cfg.seed = 1;
    let summary = run(&experiments, &cfg).unwrap();
    assert!(summary.outcomes.iter().all(|o| !o.resumed));
}

fn bits(m: &Mat<f64>) -> Vec<u64> {
    (0..m.ncols())
        .flat_map(|j| (0..m.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| m[(i, j)].to_bits())
        .collect()
}

/// Everything the library computes in parallel, evaluated inside a pool.
fn library_outputs() -> Vec<Vec<u64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let x = ntk_lab::nets::test_models::gaussian_matrix(&mut rng, 150, 8, 1.0);
    let mut out = Vec::new();
    // Analytic kernels: 150 points span several tiles, so tiles run on different threads.
    for act in [Activation::Relu, Activation::Erf, Activation::Tanh] {
        let arch = Architecture::mlp(
            3,
            64,
            act,
            std::f64::consts::SQRT_2,
            Some(0.05),
            Parameterization::Ntk,
        )
        .unwrap();
        let k = kernel(&arch, x.as_ref(), None, Get::BOTH).unwrap();
        out.push(bits(k.nngp.as_ref().unwrap()));
        out.push(bits(k.ntk.as_ref().unwrap()));
    }
    // Random-feature kernels with a wide product.
    let rf = RandomFeatures::from_seed(512, 8, 7).unwrap();
    let k = rf
        .kernels(&Activation::Relu, x.as_ref(), x.as_ref(), Par::rayon(0))
        .unwrap();
    out.push(bits(&k.rf));
    out.push(bits(&k.nt));
    // Empirical NTK and Monte Carlo kernels of a finite MLP.
    let mlp = Mlp::new(&MlpSpec::uniform(
        8,
        2,
        128,
        Activation::Erf,
        1.0,
        Some(0.1),
        Parameterization::Ntk,
    ))
    .unwrap()
    .with_parallelism(Par::rayon(0));
    let theta = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(5));
    out.push(bits(
        &mlp.empirical_ntk(&theta, x.as_ref(), x.as_ref()).unwrap(),
    ));
    let small = x.as_ref().subrows(0, 12);
    let mc = monte_carlo_kernel(&mlp, small, small, 8, 99).unwrap();
    out.push(bits(&mc.ntk));
    out.push(bits(&mc.nngp));
    // A gradient-flow trajectory (adaptive steps: any rounding change would alter the steps).
    let y: Vec<f64> = (0..40).map(|i| (i as f64 * 0.37).sin()).collect();
    let traj = gradient_flow_states(
        &mlp,
        x.as_ref().subrows(0, 40),
        &y,
        &theta,
        &[0.5, 2.0],
        &FlowConfig::new(2.0),
    )
    .unwrap();
    out.push(traj.states.iter().map(|v| v.to_bits()).collect());
    out
}

#[test]
fn kernels_ntks_and_trajectories_are_bit_identical_across_thread_counts() {
    let one = pool(1).install(library_outputs);
    let two = pool(2).install(library_outputs);
    assert_eq!(one.len(), two.len());
    for (index, (a, b)) in one.iter().zip(&two).enumerate() {
        assert!(a == b, "output {index} differs between 1 and 2 threads");
    }
}
