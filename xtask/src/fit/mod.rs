//! `cargo xtask fit`: kernel regression / NTK-GP prediction on a data set, from `.npy` files to
//! predictions, accuracy/MSE and a JSON summary, within a memory budget.
//!
//! 1. The train kernel K(X, X) and the test kernel K(X*, X) of every requested kernel (NNGP, NTK)
//!    are streamed to `DIR/kernels/` ([`crate::stream`]; resumable).
//! 2. The ridge ρ = r · tr(K)/n is chosen on a validation split (the last `validation` fraction
//!    of the training rows, or of the last `validation_rows` of them, is held out; r from
//!    `ridges`, best validation accuracy for labels, lowest MSE for real targets, ties to the
//!    larger r), unless one r is given. All r are solved in one CG run sharing the products.
//!    The CG solves are preconditioned by a Nyström approximation of the kernel from
//!    `landmarks` sampled columns ([`ntk_kernels::regression::Nystrom`]; Jacobi with 0).
//! 3. t = ∞: α = (K + ρI)⁻¹y by preconditioned CG with refinement on the stored kernel, test
//!    prediction K(X*, X)α (kernel ridge regression; for the NNGP kernel the GP posterior mean,
//!    for the NTK the infinitely wide network trained to convergence, Lee et al. 2019 Eq. (11)).
//!    Finite t: K(X*, X)φ(K + ρI)y with φ(λ) = (1 − e^{−ηtλ/N})/λ, N = n·outputs, by Lanczos
//!    ([`ntk_kernels::regression::gradient_flow_lanczos`]).
//! 4. `DIR/predictions.KERNEL.t=T.npy` (m × outputs, float64) and `DIR/summary.json`, written
//!    atomically.
//!
//! Targets: integer labels (n,) are one-hot encoded (classes from the training labels); float
//! arrays (n,) or (n, k) are regressed as they are.

pub mod dataset;
pub mod operator;

use crate::UsageError;
use crate::npy::{Dtype, NpyMatrixFile, read_inputs, read_targets, write_matrix};
use crate::stream::{StreamConfig, fingerprint, output_paths, stream_kernel};
use anyhow::Result;
use faer::Mat;
use ntk_kernels::regression::{
    CgConfig, Jacobi, LanczosConfig, Nystrom, NystromConfig, Preconditioner, SymmetricOperator,
    gradient_flow_lanczos, preconditioned_conjugate_gradient,
    preconditioned_conjugate_gradient_ridges,
};
use operator::FileOperator;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// The settings of one fit.
#[derive(Debug, Clone)]
pub struct FitJob {
    pub spec_text: String,
    pub train_x: PathBuf,
    pub train_y: PathBuf,
    pub test_x: PathBuf,
    pub test_y: PathBuf,
    pub out: PathBuf,
    /// Storage of the kernels, memory budget, progress.
    pub stream: StreamConfig,
    /// Relative ridges r (ρ = r·tr(K)/n) to choose from on the validation split; one value: no
    /// validation.
    pub ridges: Vec<f64>,
    /// Held-out fraction of the training set for the ridge choice.
    pub validation: f64,
    /// Rows of the ridge search: the last N training rows only (split by `validation`), so that
    /// the search costs (N/n)² of a full solve per iteration; `None`: all rows.
    pub validation_rows: Option<usize>,
    /// Times t (`f64::INFINITY` for t = ∞).
    pub times: Vec<f64>,
    /// Learning rate η of the gradient flow (time in units of η, as neural-tangents).
    pub learning_rate: f64,
    /// CG stopping rules.
    pub cg: CgConfig,
    /// Landmark columns of the Nyström preconditioner of the CG solves (0: Jacobi).
    pub landmarks: usize,
}

/// Default number of Nyström landmarks (`--landmarks`).
pub const DEFAULT_LANDMARKS: usize = 1000;

/// The preconditioner of `op` chosen by `landmarks` (0: Jacobi; else Nyström with
/// min(landmarks, n) landmarks, seed 0) and its description for the summary.
fn preconditioner_for(
    op: &dyn SymmetricOperator,
    landmarks: usize,
) -> Result<(Box<dyn Preconditioner>, Value)> {
    let start = Instant::now();
    if landmarks == 0 {
        let jacobi = Jacobi::new(op.diagonal().map_err(solver_error)?).map_err(solver_error)?;
        return Ok((Box::new(jacobi), json!({"kind": "jacobi"})));
    }
    let config = NystromConfig {
        landmarks,
        ..NystromConfig::default()
    };
    let nystrom = Nystrom::new(op, config, faer::get_global_parallelism()).map_err(solver_error)?;
    let values = nystrom.eigenvalues();
    let description = json!({
        "kind": "nystrom",
        "landmarks": nystrom.landmarks().len(),
        "seed": config.seed,
        "rank": nystrom.rank(),
        "lambda_max": values[0],
        "lambda_min_kept": values[values.len() - 1],
        "seconds": start.elapsed().as_secs_f64(),
    });
    Ok((Box::new(nystrom), description))
}

/// Default relative ridges of the validation search.
pub const DEFAULT_RIDGES: [f64; 4] = [1e-4, 1e-3, 1e-2, 1e-1];

fn usage(message: String) -> anyhow::Error {
    UsageError::new(message).into()
}

/// Accuracy (argmax of prediction vs label) and MSE (mean over all entries) of `prediction`.
pub fn scores(
    prediction: &Mat<f64>,
    targets: &Mat<f64>,
    labels: Option<&[usize]>,
) -> (Option<f64>, f64) {
    let (m, c) = (prediction.nrows(), prediction.ncols());
    let mut squared = 0.0;
    for i in 0..m {
        for j in 0..c {
            squared += (prediction[(i, j)] - targets[(i, j)]).powi(2);
        }
    }
    let accuracy = labels.map(|labels| {
        let correct = (0..m)
            .filter(|&i| {
                let best = (0..c).fold(0, |b, j| {
                    if prediction[(i, j)] > prediction[(i, b)] {
                        j
                    } else {
                        b
                    }
                });
                best == labels[i]
            })
            .count();
        correct as f64 / m as f64
    });
    (accuracy, squared / (m * c) as f64)
}

fn solver_error(e: ntk_kernels::Error) -> anyhow::Error {
    anyhow::anyhow!("the solver failed: {e}")
}

/// Runs a fit and returns the summary JSON (also written to `DIR/summary.json`).
pub fn run_fit(job: &FitJob) -> Result<Value> {
    let start = Instant::now();
    let (_, get) = crate::kernel::spec::parse_file_spec(&job.spec_text)
        .map_err(|e| UsageError::new(e.to_string()))?;
    let train_x = read_inputs(&job.train_x, "--train X")?;
    let test_x = read_inputs(&job.test_x, "--test X")?;
    if test_x.matrix.ncols() != train_x.matrix.ncols() {
        return Err(usage(format!(
            "--test X: points have {} coordinates but the training points have {}",
            test_x.matrix.ncols(),
            train_x.matrix.ncols()
        )));
    }
    let (y_train, labels_train) = read_targets(&job.train_y, "--train Y", None)?;
    let classes = y_train.ncols();
    let (y_test, labels_test) = read_targets(
        &job.test_y,
        "--test Y",
        labels_train.as_ref().map(|_| classes),
    )?;
    let (n, m) = (train_x.matrix.nrows(), test_x.matrix.nrows());
    if y_train.nrows() != n || y_test.nrows() != m || y_test.ncols() != classes {
        return Err(usage(format!(
            "targets: expected {n} training and {m} test rows of {classes} outputs, found {}x{} and {}x{}",
            y_train.nrows(),
            y_train.ncols(),
            y_test.nrows(),
            y_test.ncols()
        )));
    }
    if job.ridges.len() > 1 && job.validation_rows.is_some_and(|rows| rows < 2 || rows > n) {
        return Err(usage(format!(
            "--validation-rows must be between 2 and the {n} training rows, found {}",
            job.validation_rows.unwrap_or(0)
        )));
    }
    if !(job.validation > 0.0 && job.validation < 1.0) && job.ridges.len() > 1 {
        return Err(usage(format!(
            "--validation must be in (0, 1), found {}",
            job.validation
        )));
    }
    let kernels_dir = job.out.join("kernels");
    std::fs::create_dir_all(&kernels_dir).map_err(|e| {
        usage(format!(
            "--out: cannot create {}: {e}",
            kernels_dir.display()
        ))
    })?;
    let probe = job.out.join(".write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| usage(format!("--out: {} is not writable: {e}", job.out.display())))?;
    let _ = std::fs::remove_file(&probe);

    // 1. Kernels (streamed, resumable). The two input sets are dropped before solving.
    let kernel_start = Instant::now();
    let mut reports = serde_json::Map::new();
    let (train_outputs, train_manifest) =
        output_paths(&kernels_dir.join("train.npy"), get.nngp, get.ntk);
    let (test_outputs, test_manifest) =
        output_paths(&kernels_dir.join("test.npy"), get.nngp, get.ntk);
    {
        let (architecture, _) = crate::kernel::spec::parse_file_spec(&job.spec_text)
            .map_err(|e| UsageError::new(e.to_string()))?;
        let ntk_get = ntk_kernels::analytic::Get {
            nngp: get.nngp,
            ntk: get.ntk,
        };
        let inputs = 8 * ((n + m) * train_x.matrix.ncols()) as u64;
        let mut config = job.stream.clone();
        config.max_memory = config
            .max_memory
            .checked_sub(inputs)
            .filter(|b| *b > 0)
            .ok_or_else(|| {
                usage(format!(
                    "--max-memory: the inputs alone take {:.2} GB",
                    inputs as f64 / 1e9
                ))
            })?;
        let fp_train = fingerprint(&job.spec_text, train_x.fingerprint, None, config.dtype)?;
        let train_source = ntk_kernels::tiled::AnalyticTiles {
            architecture: &architecture,
            x1: train_x.matrix.as_ref(),
            x2: None,
            get: ntk_get,
        };
        let report = stream_kernel(
            &train_source,
            &fp_train,
            &train_outputs,
            &train_manifest,
            &config,
        )?;
        reports.insert("train".into(), serde_json::to_value(&report)?);
        if !report.complete {
            anyhow::bail!(
                "interrupted after {} tiles of the train kernel",
                report.computed
            );
        }
        let fp_test = fingerprint(
            &job.spec_text,
            test_x.fingerprint,
            Some(train_x.fingerprint),
            config.dtype,
        )?;
        let test_source = ntk_kernels::tiled::AnalyticTiles {
            architecture: &architecture,
            x1: test_x.matrix.as_ref(),
            x2: Some(train_x.matrix.as_ref()),
            get: ntk_get,
        };
        let report = stream_kernel(
            &test_source,
            &fp_test,
            &test_outputs,
            &test_manifest,
            &config,
        )?;
        reports.insert("test".into(), serde_json::to_value(&report)?);
        if !report.complete {
            anyhow::bail!(
                "interrupted after {} tiles of the test kernel",
                report.computed
            );
        }
    }
    drop(train_x);
    drop(test_x);
    let kernel_seconds = kernel_start.elapsed().as_secs_f64();

    // 2.–3. Solves, per kernel.
    let mut per_kernel = serde_json::Map::new();
    for (train_out, test_out) in train_outputs.iter().zip(&test_outputs) {
        let solve_start = Instant::now();
        let train = NpyMatrixFile::open(&train_out.path, false, Some((n, n, job.stream.dtype)))?;
        let test = NpyMatrixFile::open(&test_out.path, false, Some((m, n, job.stream.dtype)))?;
        let full = FileOperator::new(&train, 0..n, 0..n);
        let diagonal =
            ntk_kernels::regression::SymmetricOperator::diagonal(&full).map_err(solver_error)?;
        let mean_diagonal = diagonal.iter().sum::<f64>() / n as f64;

        let mut validation = Vec::new();
        let mut validation_preconditioner = None;
        let relative = if job.ridges.len() == 1 {
            job.ridges[0]
        } else {
            // The search uses the last `searched` training rows: [first, first + n_fit) to
            // fit, the last n_val to score.
            let searched = job.validation_rows.unwrap_or(n).min(n);
            let first = n - searched;
            let n_val =
                ((searched as f64 * job.validation).round() as usize).clamp(1, searched - 1);
            let n_fit = searched - n_val;
            let fit_rows = first..first + n_fit;
            let fit_op = FileOperator::new(&train, fit_rows.clone(), fit_rows.clone());
            let val_op = FileOperator::new(&train, first + n_fit..n, fit_rows.clone());
            let y_fit = y_train.as_ref().subrows(first, n_fit).to_owned();
            let y_val = y_train.as_ref().subrows(first + n_fit, n_val).to_owned();
            let labels_val = labels_train.as_ref().map(|l| &l[first + n_fit..]);
            let mut best: Option<(f64, f64)> = None; // (score to maximise, r)
            let (preconditioner, description) = preconditioner_for(&fit_op, job.landmarks)?;
            validation_preconditioner = Some(description);
            let ridges: Vec<f64> = job.ridges.iter().map(|r| r * mean_diagonal).collect();
            // Every ridge in one CG run: each product with the stored kernel serves them all.
            let solutions = preconditioned_conjugate_gradient_ridges(
                &fit_op,
                &ridges,
                y_fit.as_ref(),
                job.cg,
                preconditioner.as_ref(),
            )
            .map_err(solver_error)?;
            let alphas = Mat::<f64>::from_fn(n_fit, classes * ridges.len(), |i, j| {
                solutions[j / classes].0[(i, j % classes)]
            });
            let predictions = val_op.product(alphas.as_ref()).map_err(solver_error)?;
            for (k, (&r, (_, info))) in job.ridges.iter().zip(&solutions).enumerate() {
                let prediction = predictions
                    .as_ref()
                    .subcols(k * classes, classes)
                    .to_owned();
                let (accuracy, mse) = scores(&prediction, &y_val, labels_val);
                let score = accuracy.unwrap_or(-mse);
                validation.push(json!({"ridge_relative": r, "ridge": ridges[k], "accuracy": accuracy, "mse": mse, "cg": info}));
                if best.is_none_or(|(s, _)| score >= s) {
                    best = Some((score, r));
                }
            }
            best.expect("non-empty ridge grid").1
        };
        let ridge = relative * mean_diagonal;

        let mut results = Vec::new();
        let mut cg_info = None;
        let mut full_preconditioner = None;
        for &t in &job.times {
            let (prediction, detail) = if t.is_infinite() {
                let (preconditioner, description) = preconditioner_for(&full, job.landmarks)?;
                full_preconditioner = Some(description);
                let (alpha, info) = preconditioned_conjugate_gradient(
                    &full,
                    ridge,
                    y_train.as_ref(),
                    job.cg,
                    preconditioner.as_ref(),
                )
                .map_err(solver_error)?;
                cg_info = Some(info);
                let op = FileOperator::new(&test, 0..m, 0..n);
                (
                    op.product(alpha.as_ref()).map_err(solver_error)?,
                    json!({"solver": "cg", "cg": info}),
                )
            } else {
                let scale = job.learning_rate * t / (n * classes) as f64;
                let vectors = gradient_flow_lanczos(
                    &full,
                    ridge,
                    y_train.as_ref(),
                    scale,
                    LanczosConfig::default(),
                )
                .map_err(solver_error)?;
                let op = FileOperator::new(&test, 0..m, 0..n);
                (
                    op.product(vectors.phi_y.as_ref()).map_err(solver_error)?,
                    json!({"solver": "lanczos", "steps": vectors.steps, "relative_change": vectors.relative_change}),
                )
            };
            let (accuracy, mse) = scores(&prediction, &y_test, labels_test.as_deref());
            let label = if t.is_infinite() {
                "inf".to_string()
            } else {
                format!("{t}")
            };
            let file = job
                .out
                .join(format!("predictions.{}.t={label}.npy", train_out.name));
            write_matrix(&file, prediction.as_ref(), Dtype::F64)?;
            results.push(json!({
                "t": label,
                "test_accuracy": accuracy,
                "test_mse": mse,
                "predictions": file.file_name().map(|f| f.to_string_lossy().into_owned()),
                "detail": detail,
            }));
        }
        per_kernel.insert(
            train_out.name.to_string(),
            json!({
                "ridge_relative": relative,
                "ridge": ridge,
                "mean_diagonal": mean_diagonal,
                "validation": validation,
                "validation_rows": job.validation_rows.unwrap_or(n).min(n),
                "validation_preconditioner": validation_preconditioner,
                "results": results,
                "cg": cg_info,
                "preconditioner": full_preconditioner,
                "solve_seconds": solve_start.elapsed().as_secs_f64(),
            }),
        );
    }
    let spec: Value = serde_json::from_str(&job.spec_text)?;
    let summary = json!({
        "spec": spec,
        "n_train": n,
        "n_test": m,
        "outputs": classes,
        "targets": if labels_train.is_some() { "one-hot labels" } else { "real" },
        "dtype": job.stream.dtype,
        "validation_fraction": job.validation,
        "kernels": per_kernel,
        "kernel_streams": reports,
        "kernel_seconds": kernel_seconds,
        "total_seconds": start.elapsed().as_secs_f64(),
    });
    let path = job.out.join("summary.json");
    let tmp = job.out.join("summary.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&summary)? + "\n")
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(summary)
}

/// Parses `--times` (comma-separated, `inf` for t = ∞).
pub fn parse_times(text: &str) -> Result<Vec<f64>> {
    text.split(',')
        .map(|t| match t.trim() {
            "inf" | "infinity" => Ok(f64::INFINITY),
            other => match other.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(usage(format!(
                    "--times: expected positive numbers or inf, found {other}"
                ))),
            },
        })
        .collect()
}
