//! Kernel regression, GP inference and MSE gradient flow against neural-tangents reference values,
//! closed forms, finite differences and Monte Carlo.

use faer::{Mat, MatRef, Par};
use ntk_kernels::Error;
use ntk_kernels::regression::{
    Cholesky, Eigen, EnsembleTestSet, GradientDescentMse, MseConfig, NtkGp, TestSet, gp_inference,
    kernel_ridge, least_norm_interpolator,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nt_relu.json"
    ))
    .expect("reference file");
    serde_json::from_str(&text).expect("valid JSON")
}

fn matrix(value: &serde_json::Value) -> Mat<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(value.clone()).expect("matrix");
    Mat::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
}

fn column(value: &serde_json::Value) -> Mat<f64> {
    let values: Vec<f64> = serde_json::from_value(value.clone()).expect("vector");
    Mat::from_fn(values.len(), 1, |i, _| values[i])
}

fn max_abs_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut worst = 0.0_f64;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            worst = worst.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    worst
}

/// Gaussian (RBF) Gram matrix of points in R^d: positive definite for distinct points.
fn rbf(x1: MatRef<'_, f64>, x2: MatRef<'_, f64>, length: f64) -> Mat<f64> {
    Mat::from_fn(x1.nrows(), x2.nrows(), |i, j| {
        let mut d2 = 0.0;
        for k in 0..x1.ncols() {
            d2 += (x1[(i, k)] - x2[(j, k)]).powi(2);
        }
        (-d2 / (2.0 * length * length)).exp()
    })
}

fn gaussian_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| StandardNormal.sample(rng))
}

/// neural-tangents 0.6.5 `predict.gradient_descent_mse` on the depth-2 ReLU NTK of the reference
/// file, at every listed time and at t = ∞. The train NTK has condition number ~1e2 (asserted
/// below), so float64 solves agree to κ·n·ε ≈ 1e-13: 1e-10 leaves room for the reference's own
/// rounding (its numpy cross-check differs by 1.3e-15).
#[test]
fn gradient_descent_mse_matches_neural_tangents() {
    let data = reference();
    let flow = &data["gradient_flow"];
    assert_eq!(flow["learning_rate"].as_f64(), Some(1.0));
    assert_eq!(flow["diag_reg"].as_f64(), Some(0.0));
    let k_train_train = matrix(&flow["ntk_train_train"]);
    let k_test_train = matrix(&flow["ntk_test_train"]);
    let n = k_train_train.nrows();
    // y[i] = sin(1.0 + 0.9 i) (the file's `y_train_formula`).
    let y = Mat::from_fn(n, 1, |i, _| (1.0 + 0.9 * i as f64).sin());
    let times: Vec<f64> = serde_json::from_value(flow["times"].clone()).unwrap();
    let f_train_t = matrix(&flow["f_train_t"]);
    let f_test_t = matrix(&flow["f_test_t"]);

    let config = MseConfig {
        learning_rate: 1.0,
        diag_reg: 0.0,
        diag_reg_absolute_scale: false,
    };
    let predictor =
        GradientDescentMse::new(k_train_train.as_ref(), y.as_ref(), config, Par::Seq).unwrap();
    let zeros_train = Mat::<f64>::zeros(n, 1);
    let zeros_test = Mat::<f64>::zeros(k_test_train.nrows(), 1);
    let test = TestSet {
        k_test_train: k_test_train.as_ref(),
        fx_test_0: zeros_test.as_ref(),
    };
    let mut all_times = times.clone();
    all_times.push(f64::INFINITY);
    let out = predictor
        .predict(&all_times, zeros_train.as_ref(), Some(test))
        .unwrap();
    let info = predictor.info(&times).unwrap();
    assert!(info.exact && info.condition_number < 1e4, "{info:?}");

    let mut worst = 0.0_f64;
    for (ti, prediction) in out.iter().take(times.len()).enumerate() {
        let fx_test = prediction.fx_test.as_ref().unwrap();
        for i in 0..n {
            worst = worst.max((prediction.fx_train[(i, 0)] - f_train_t[(ti, i)]).abs());
        }
        for i in 0..fx_test.nrows() {
            worst = worst.max((fx_test[(i, 0)] - f_test_t[(ti, i)]).abs());
        }
    }
    let last = out.last().unwrap();
    worst = worst.max(max_abs_diff(
        last.fx_train.as_ref(),
        column(&flow["f_train_inf"]).as_ref(),
    ));
    worst = worst.max(max_abs_diff(
        last.fx_test.as_ref().unwrap().as_ref(),
        column(&flow["f_test_inf"]).as_ref(),
    ));
    // All reference values are O(1), so the absolute bound is also a relative one.
    assert!(
        worst <= 1e-10,
        "max deviation from neural-tangents: {worst:e}"
    );
}

/// The flow solves df/dt = −(η/N)Θ(f − y); check it by central differences in t with nonzero
/// initial outputs, two outputs (N = 2n) and a relative diag_reg. h = 1e-4: truncation
/// h²·|f'''|/6 ≲ 1e-9 and rounding ε/h ≈ 1e-12 for O(1) values.
#[test]
fn gradient_flow_solves_its_ode() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (n, d, outputs) = (12, 3, 2);
    let x = gaussian_matrix(&mut rng, n, d);
    let theta = rbf(x.as_ref(), x.as_ref(), 1.5);
    let y = gaussian_matrix(&mut rng, n, outputs);
    let f0 = gaussian_matrix(&mut rng, n, outputs);
    let config = MseConfig {
        learning_rate: 0.7,
        diag_reg: 1e-2,
        diag_reg_absolute_scale: false,
    };
    let predictor = GradientDescentMse::new(theta.as_ref(), y.as_ref(), config, Par::Seq).unwrap();
    let rho = 1e-2 * (0..n).map(|i| theta[(i, i)]).sum::<f64>() / n as f64;
    let h = 1e-4;
    for t in [0.3, 2.0, 15.0] {
        let out = predictor
            .predict(&[t - h, t, t + h], f0.as_ref(), None)
            .unwrap();
        let derivative = (&out[2].fx_train - &out[0].fx_train) / faer::Scale(2.0 * h);
        let mut regularised = theta.clone();
        for i in 0..n {
            regularised[(i, i)] += rho;
        }
        let rhs = (&regularised * (&out[1].fx_train - &y))
            * faer::Scale(-config.learning_rate / (n * outputs) as f64);
        let err = max_abs_diff(derivative.as_ref(), rhs.as_ref());
        assert!(err <= 1e-7, "t = {t}: ODE residual {err:e}");
    }
    // t = 0 returns f₀ exactly up to rounding of U Uᵀ (≈ n·ε).
    let start = predictor.predict(&[0.0], f0.as_ref(), None).unwrap();
    assert!(max_abs_diff(start[0].fx_train.as_ref(), f0.as_ref()) <= 1e-12);
}

/// Finite-t predictions converge to the Cholesky t = ∞ solution: at η t λ_min/N ≥ 40 the
/// remaining factor e^{−40} ≈ 4e-18 is below rounding, so the two paths agree to κ·n·ε.
#[test]
fn large_time_matches_infinite_time() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (n, m, d) = (15, 7, 4);
    let x = gaussian_matrix(&mut rng, n, d);
    let x_test = gaussian_matrix(&mut rng, m, d);
    let theta = rbf(x.as_ref(), x.as_ref(), 2.0);
    let theta_test = rbf(x_test.as_ref(), x.as_ref(), 2.0);
    let y = gaussian_matrix(&mut rng, n, 1);
    let f0 = gaussian_matrix(&mut rng, n, 1);
    let g0 = gaussian_matrix(&mut rng, m, 1);
    let predictor =
        GradientDescentMse::new(theta.as_ref(), y.as_ref(), MseConfig::default(), Par::Seq)
            .unwrap();
    let info = predictor.eigen().unwrap().info();
    let t_large = 40.0 * n as f64 / info.lambda_min;
    let test = TestSet {
        k_test_train: theta_test.as_ref(),
        fx_test_0: g0.as_ref(),
    };
    let out = predictor
        .predict(&[t_large, f64::INFINITY], f0.as_ref(), Some(test))
        .unwrap();
    let tol = 100.0 * info.condition_number * n as f64 * f64::EPSILON;
    let diff_train = max_abs_diff(out[0].fx_train.as_ref(), out[1].fx_train.as_ref());
    let diff_test = max_abs_diff(
        out[0].fx_test.as_ref().unwrap().as_ref(),
        out[1].fx_test.as_ref().unwrap().as_ref(),
    );
    assert!(
        diff_train <= tol && diff_test <= tol,
        "{diff_train:e} {diff_test:e} > {tol:e}"
    );
}

/// The interpolant reproduces the training targets, and on a 2-point problem equals the
/// closed-form 2×2 inverse. Both to κ·n·ε scaled by 100.
#[test]
fn interpolator_interpolates_and_matches_closed_form() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (n, d) = (25, 3);
    let x = gaussian_matrix(&mut rng, n, d);
    let k = rbf(x.as_ref(), x.as_ref(), 1.0);
    let y = gaussian_matrix(&mut rng, n, 2);
    let fit = least_norm_interpolator(k.as_ref(), k.as_ref(), y.as_ref(), Par::Seq).unwrap();
    let tol = 100.0 * fit.info.condition_number * n as f64 * f64::EPSILON;
    let err = max_abs_diff(fit.mean.as_ref(), y.as_ref());
    assert!(err <= tol, "interpolation error {err:e} > {tol:e}");

    // 2 points: K⁻¹ = [[c, −b], [−b, a]]/(ac − b²).
    let k2 = Mat::from_fn(2, 2, |i, j| if i == j { 2.0 } else { 0.5 });
    let k_test = Mat::from_fn(1, 2, |_, j| [0.3, -1.1][j]);
    let y2 = Mat::from_fn(2, 1, |i, _| [1.5, -0.25][i]);
    let det = 2.0 * 2.0 - 0.25;
    let alpha = [
        (2.0 * 1.5 - 0.5 * -0.25) / det,
        (-0.5 * 1.5 + 2.0 * -0.25) / det,
    ];
    let expected = 0.3 * alpha[0] - 1.1 * alpha[1];
    let fit2 =
        least_norm_interpolator(k2.as_ref(), k_test.as_ref(), y2.as_ref(), Par::Seq).unwrap();
    assert!((fit2.mean[(0, 0)] - expected).abs() <= 1e-15 * 10.0);
    // Eigenvalues of [[2, .5], [.5, 2]] are 1.5 and 2.5; Lanczos is exact for n ≤ its step count.
    assert!((fit2.info.condition_number - 2.5 / 1.5).abs() <= 1e-14);
}

/// Dual (kernel) ridge equals primal ridge with explicit features Φ (p = 4 < n = 30):
/// Φᵀ(λI + ΦΦᵀ)⁻¹y = (ΦᵀΦ + λI)⁻¹Φᵀy (seed 004 §1.2). Two different systems, so agreement to
/// 100·κ·n·ε is an independent check.
#[test]
fn kernel_ridge_equals_primal_ridge() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let (n, m, p) = (30, 5, 4);
    let phi = gaussian_matrix(&mut rng, n, p);
    let phi_test = gaussian_matrix(&mut rng, m, p);
    let y = gaussian_matrix(&mut rng, n, 1);
    let ridge = 0.3;
    let k = &phi * phi.transpose();
    let k_test = &phi_test * phi.transpose();
    let fit = kernel_ridge(k.as_ref(), k_test.as_ref(), y.as_ref(), ridge, Par::Seq).unwrap();
    let mut gram = phi.transpose() * &phi;
    for i in 0..p {
        gram[(i, i)] += ridge;
    }
    let weights = Cholesky::new(gram.as_ref(), 0.0, Par::Seq)
        .unwrap()
        .solve((phi.transpose() * &y).as_ref(), Par::Seq)
        .unwrap();
    let primal = &phi_test * &weights;
    let tol = 100.0 * fit.info.condition_number * n as f64 * f64::EPSILON;
    let err = max_abs_diff(fit.mean.as_ref(), primal.as_ref());
    assert!(err <= tol, "{err:e} > {tol:e}");
    // ridge shifts every eigenvalue: λ_min ≥ ridge (K = ΦΦᵀ has rank 4 < 30, so λ_min = ridge).
    assert!((fit.info.lambda_min - ridge).abs() <= 1e-10 * fit.info.lambda_max);
}

/// GP posterior: at a single training point the closed forms μ = k*₁y/k₁₁, σ² = k** − k*₁²/k₁₁;
/// at the training inputs with zero noise the posterior collapses (mean = y, covariance = 0).
#[test]
fn gp_posterior_closed_forms() {
    let k = Mat::from_fn(1, 1, |_, _| 1.7);
    let k_st = Mat::from_fn(2, 1, |i, _| [0.4, -0.9][i]);
    let k_ss = Mat::from_fn(2, 2, |i, j| [[1.2, 0.1], [0.1, 2.0]][i][j]);
    let y = Mat::from_fn(1, 1, |_, _| 0.8);
    let post = gp_inference(
        k.as_ref(),
        k_st.as_ref(),
        Some(k_ss.as_ref()),
        y.as_ref(),
        0.3,
        Par::Seq,
    )
    .unwrap();
    let cov = post.covariance.unwrap();
    let denom = 1.7 + 0.3;
    for i in 0..2 {
        assert!((post.mean[(i, 0)] - k_st[(i, 0)] * 0.8 / denom).abs() <= 1e-15);
        for j in 0..2 {
            let expected = k_ss[(i, j)] - k_st[(i, 0)] * k_st[(j, 0)] / denom;
            assert!((cov[(i, j)] - expected).abs() <= 1e-15);
        }
    }

    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let x = gaussian_matrix(&mut rng, 10, 2);
    let kx = rbf(x.as_ref(), x.as_ref(), 1.0);
    let yx = gaussian_matrix(&mut rng, 10, 1);
    let post = gp_inference(
        kx.as_ref(),
        kx.as_ref(),
        Some(kx.as_ref()),
        yx.as_ref(),
        0.0,
        Par::Seq,
    )
    .unwrap();
    let tol = 100.0 * post.info.condition_number * 10.0 * f64::EPSILON;
    assert!(max_abs_diff(post.mean.as_ref(), yx.as_ref()) <= tol);
    assert!(
        max_abs_diff(
            post.covariance.unwrap().as_ref(),
            Mat::<f64>::zeros(10, 10).as_ref()
        ) <= tol
    );
}

/// Singular (duplicate points) and indefinite kernels are errors that report λ_min; a ridge
/// makes the duplicate case solvable.
#[test]
fn singular_and_indefinite_kernels_are_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut x = gaussian_matrix(&mut rng, 8, 2);
    for k in 0..2 {
        x[(5, k)] = x[(2, k)];
    }
    let k = rbf(x.as_ref(), x.as_ref(), 1.0);
    let y = gaussian_matrix(&mut rng, 8, 1);
    match least_norm_interpolator(k.as_ref(), k.as_ref(), y.as_ref(), Par::Seq) {
        Err(Error::NotPositiveDefinite { lambda_min }) => {
            // exact λ_min = 0; the estimate is within rounding (n·ε·λ_max, λ_max ≤ n).
            assert!(
                lambda_min.abs() <= 8.0 * 8.0 * f64::EPSILON,
                "{lambda_min:e}"
            )
        }
        other => panic!("expected NotPositiveDefinite, got {other:?}"),
    }
    assert!(kernel_ridge(k.as_ref(), k.as_ref(), y.as_ref(), 1e-6, Par::Seq).is_ok());

    let indefinite = Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 2.0 });
    match Cholesky::new(indefinite.as_ref(), 0.0, Par::Seq) {
        Err(Error::NotPositiveDefinite { lambda_min }) => {
            assert!((lambda_min + 1.0).abs() <= 1e-15, "{lambda_min}")
        }
        other => panic!("expected NotPositiveDefinite, got {other:?}"),
    }
    assert!(matches!(
        Eigen::new(indefinite.as_ref(), 0.0, Par::Seq),
        Err(Error::NotPositiveDefinite { .. })
    ));
    // Bad input is reported, not a panic or NaN.
    let mut bad = k.clone();
    bad[(1, 3)] = f64::NAN;
    assert!(matches!(
        Cholesky::new(bad.as_ref(), 0.0, Par::Seq),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        kernel_ridge(k.as_ref(), k.as_ref(), y.as_ref(), -1.0, Par::Seq),
        Err(Error::InvalidParameter { arg: "ridge", .. })
    ));
    let short = Mat::<f64>::zeros(3, 1);
    assert!(matches!(
        least_norm_interpolator(k.as_ref(), k.as_ref(), short.as_ref(), Par::Seq),
        Err(Error::ShapeMismatch { arg: "y_train", .. })
    ));
}

/// The Lanczos estimates of λ_max and λ_min agree with a full eigendecomposition (n = 120 >
/// the 40 Lanczos steps). Lanczos stops when the top Ritz value changes by ≤ LANCZOS_RTOL = 1e-6
/// in one step; Ritz values converge monotonically and geometrically, so with a per-step ratio
/// r ≤ 0.99 the remaining error is ≤ r/(1 − r)·1e-6 ≤ 1e-4 relative.
#[test]
fn condition_number_estimate_matches_eigendecomposition() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for (n, length, ridge) in [(120, 0.8, 1e-3), (90, 2.0, 1e-6)] {
        let x = gaussian_matrix(&mut rng, n, 3);
        let k = rbf(x.as_ref(), x.as_ref(), length);
        let estimate = Cholesky::new(k.as_ref(), ridge, Par::Seq)
            .unwrap()
            .info()
            .unwrap();
        let exact = Eigen::new(k.as_ref(), ridge, Par::Seq).unwrap().info();
        let rel_max = (estimate.lambda_max / exact.lambda_max - 1.0).abs();
        let rel_min = (estimate.lambda_min / exact.lambda_min - 1.0).abs();
        assert!(
            rel_max <= 1e-4 && rel_min <= 1e-4,
            "{estimate:?} vs {exact:?}"
        );
    }
}

/// NTK-GP covariance against Monte Carlo over the initial function: f₀ ~ N(0, K) jointly on
/// train and test points, then f_t = f₀(X*) + Θ_{*X}Θ⁻¹(I − e^{−ηtΘ/N})(y − f₀(X)) by
/// `GradientDescentMse`. With S = 20 000 draws the sample mean and covariance have standard
/// errors ≈ sqrt(Var/S) and sqrt((Σᵢᵢ Σⱼⱼ + Σᵢⱼ²)/S); we allow 5 of them.
#[test]
fn ntk_gp_matches_monte_carlo_ensemble() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let (n, m, d) = (6, 3, 2);
    let x_all = gaussian_matrix(&mut rng, n + m, d);
    // Θ and K: two different positive-definite kernels on the same points.
    let theta_all = rbf(x_all.as_ref(), x_all.as_ref(), 1.3);
    let narrow = rbf(x_all.as_ref(), x_all.as_ref(), 0.7);
    let nngp_all = Mat::from_fn(n + m, n + m, |i, j| {
        0.5 * narrow[(i, j)] + if i == j { 0.5 } else { 0.0 }
    });
    let theta = theta_all.subrows(0, n).subcols(0, n).to_owned();
    let theta_test = theta_all.subrows(n, m).subcols(0, n).to_owned();
    let nngp = nngp_all.subrows(0, n).subcols(0, n).to_owned();
    let nngp_test = nngp_all.subrows(n, m).subcols(0, n).to_owned();
    let nngp_tt = nngp_all.subrows(n, m).subcols(n, m).to_owned();
    let y = gaussian_matrix(&mut rng, n, 1);
    let config = MseConfig {
        learning_rate: 2.0,
        ..MseConfig::default()
    };
    let times = [0.0, 1.5, 6.0, f64::INFINITY];
    let gp = NtkGp::new(theta.as_ref(), nngp.as_ref(), y.as_ref(), config, Par::Seq).unwrap();
    let predicted = gp
        .predict(
            &times,
            EnsembleTestSet {
                ntk_test_train: theta_test.as_ref(),
                nngp_test_train: nngp_test.as_ref(),
                nngp_test_test: Some(nngp_tt.as_ref()),
            },
        )
        .unwrap();

    let flow = GradientDescentMse::new(theta.as_ref(), y.as_ref(), config, Par::Seq).unwrap();
    let lower = Cholesky::new(nngp_all.as_ref(), 0.0, Par::Seq)
        .unwrap()
        .lower();
    let samples = 20_000;
    let mut sums = vec![Mat::<f64>::zeros(m, 1); times.len()];
    let mut squares = vec![Mat::<f64>::zeros(m, m); times.len()];
    for _ in 0..samples {
        let z = gaussian_matrix(&mut rng, n + m, 1);
        let f0 = &lower * &z;
        let f0_train = f0.subrows(0, n).to_owned();
        let f0_test = f0.subrows(n, m).to_owned();
        let out = flow
            .predict(
                &times,
                f0_train.as_ref(),
                Some(TestSet {
                    k_test_train: theta_test.as_ref(),
                    fx_test_0: f0_test.as_ref(),
                }),
            )
            .unwrap();
        for (ti, o) in out.iter().enumerate() {
            let f = o.fx_test.as_ref().unwrap();
            sums[ti] += f;
            squares[ti] += f * f.transpose();
        }
    }
    let s = samples as f64;
    for (ti, p) in predicted.iter().enumerate() {
        let mean = &sums[ti] / faer::Scale(s);
        let cov = &squares[ti] / faer::Scale(s) - &mean * mean.transpose();
        let pc = p.covariance.as_ref().unwrap();
        for i in 0..m {
            let se_mean = (pc[(i, i)].max(0.0) / s).sqrt();
            assert!(
                (mean[(i, 0)] - p.mean[(i, 0)]).abs() <= 5.0 * se_mean + 1e-12,
                "t = {}: mean {i}: MC {} vs {}",
                times[ti],
                mean[(i, 0)],
                p.mean[(i, 0)]
            );
            for j in 0..m {
                let se = ((pc[(i, i)] * pc[(j, j)] + pc[(i, j)].powi(2)).max(0.0) / s).sqrt();
                assert!(
                    (cov[(i, j)] - pc[(i, j)]).abs() <= 5.0 * se + 1e-12,
                    "t = {}: cov ({i},{j}): MC {} vs {}",
                    times[ti],
                    cov[(i, j)],
                    pc[(i, j)]
                );
            }
        }
    }
    // t = 0 is the prior: mean 0, covariance K(X*, X*) (exact up to rounding).
    assert!(
        max_abs_diff(
            predicted[0].covariance.as_ref().unwrap().as_ref(),
            nngp_tt.as_ref()
        ) <= 1e-13
    );
}

/// Results do not depend on the thread count: `Par::Seq` and `Par::rayon(2)` give bit-identical
/// predictions and diagnostics (n = 300 is large enough for faer's blocked, parallel kernels).
#[test]
fn predictions_are_independent_of_thread_count() {
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let (n, m, d) = (300, 20, 5);
    let x = gaussian_matrix(&mut rng, n, d);
    let x_test = gaussian_matrix(&mut rng, m, d);
    let theta = rbf(x.as_ref(), x.as_ref(), 1.5);
    let theta_test = rbf(x_test.as_ref(), x.as_ref(), 1.5);
    let y = gaussian_matrix(&mut rng, n, 1);
    let f0 = Mat::<f64>::zeros(n, 1);
    let g0 = Mat::<f64>::zeros(m, 1);
    let config = MseConfig {
        diag_reg: 1e-4,
        ..MseConfig::default()
    };
    let run = |par: Par| {
        let flow = GradientDescentMse::new(theta.as_ref(), y.as_ref(), config, par).unwrap();
        let out = flow
            .predict(
                &[0.5, 50.0, f64::INFINITY],
                f0.as_ref(),
                Some(TestSet {
                    k_test_train: theta_test.as_ref(),
                    fx_test_0: g0.as_ref(),
                }),
            )
            .unwrap();
        let ridge =
            kernel_ridge(theta.as_ref(), theta_test.as_ref(), y.as_ref(), 1e-3, par).unwrap();
        let gp = NtkGp::new(theta.as_ref(), theta.as_ref(), y.as_ref(), config, par).unwrap();
        let nngp_tt = rbf(x_test.as_ref(), x_test.as_ref(), 1.5);
        let ensemble = gp
            .predict(
                &[0.5, f64::INFINITY],
                EnsembleTestSet {
                    ntk_test_train: theta_test.as_ref(),
                    nngp_test_train: theta_test.as_ref(),
                    nngp_test_test: Some(nngp_tt.as_ref()),
                },
            )
            .unwrap();
        let covariances: Vec<Mat<f64>> = ensemble
            .into_iter()
            .map(|e| e.covariance.unwrap())
            .collect();
        (
            out,
            ridge,
            flow.cholesky().unwrap().info().unwrap(),
            covariances,
        )
    };
    let (seq, seq_ridge, seq_info, seq_cov) = run(Par::Seq);
    let (par, par_ridge, par_info, par_cov) = run(Par::rayon(2));
    assert!(seq_cov == par_cov);
    for (a, b) in seq.iter().zip(&par) {
        assert!(
            a.fx_train == b.fx_train && a.fx_test == b.fx_test,
            "t = {}",
            a.t
        );
    }
    assert!(seq_ridge.mean == par_ridge.mean);
    assert_eq!(seq_ridge.info, par_ridge.info);
    assert_eq!(seq_info, par_info);
}

/// The factored eigenvectors U = Q·U_T: `apply_vectors` and `project` agree with the formed
/// U, and U diag(s) Uᵀ reproduces K + λI with UᵀU = I. A backward-stable symmetric eigensolver
/// has residuals ≤ c·n·ε·‖K‖ (Golub & Van Loan 2013, §8.3); we allow c = 10, and products with
/// a unit-norm-column block differ by at most the same order (n·ε·‖C‖ with ‖U‖ = 1).
#[test]
fn factored_eigenvectors_match_formed_ones() {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let (n, d) = (260, 4);
    let x = gaussian_matrix(&mut rng, n, d);
    let k = rbf(x.as_ref(), x.as_ref(), 1.2);
    let ridge = 1e-3;
    let eigen = Eigen::new(k.as_ref(), ridge, Par::rayon(2)).unwrap();
    let c = gaussian_matrix(&mut rng, n, 3);
    let applied = eigen.apply_vectors(c.as_ref()).unwrap();
    let projected = eigen.project(c.as_ref()).unwrap();
    let u = eigen.vectors();
    let norm_c = (0..3).map(|j| c.col(j).norm_l2()).fold(0.0_f64, f64::max);
    let tol = 10.0 * n as f64 * f64::EPSILON * norm_c;
    assert!(max_abs_diff(applied.as_ref(), (u * &c).as_ref()) <= tol);
    assert!(max_abs_diff(projected.as_ref(), (u.transpose() * &c).as_ref()) <= tol);
    let lambda_max = eigen.values()[n - 1];
    let scaled = Mat::from_fn(n, n, |i, j| u[(i, j)] * eigen.values()[j]);
    let rebuilt = &scaled * u.transpose();
    let mut target = k.clone();
    for i in 0..n {
        target[(i, i)] += ridge;
    }
    assert!(
        max_abs_diff(rebuilt.as_ref(), target.as_ref())
            <= 10.0 * n as f64 * f64::EPSILON * lambda_max
    );
    let gram = u.transpose() * u;
    assert!(
        max_abs_diff(gram.as_ref(), Mat::<f64>::identity(n, n).as_ref())
            <= 10.0 * n as f64 * f64::EPSILON
    );
    // Bad shapes are errors, not panics.
    let short = Mat::<f64>::zeros(n - 1, 1);
    assert!(matches!(
        eigen.apply_vectors(short.as_ref()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        eigen.project(short.as_ref()),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// `Cholesky::factor` defers the condition number: its `info()` is bit-identical to the eager
/// `Cholesky::new` (same Lanczos on the same factor) and so are the solves; a duplicated
/// training point (a zero pivot up to rounding) is still `NotPositiveDefinite` at t = ∞ without
/// asking for `info`, with λ_min within rounding of 0 (n·ε·λ_max, λ_max ≤ n for an RBF Gram).
#[test]
fn deferred_condition_number_and_singular_screen() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let n = 150;
    let x = gaussian_matrix(&mut rng, n, 3);
    let k = rbf(x.as_ref(), x.as_ref(), 0.9);
    let y = gaussian_matrix(&mut rng, n, 2);
    for par in [Par::Seq, Par::rayon(2)] {
        let eager = Cholesky::new(k.as_ref(), 1e-4, par).unwrap();
        let lazy = Cholesky::factor(k.as_ref(), 1e-4, par).unwrap();
        assert!(eager.solve(y.as_ref(), par).unwrap() == lazy.solve(y.as_ref(), par).unwrap());
        assert_eq!(eager.info().unwrap(), lazy.info().unwrap());
    }

    let mut x_dup = x.clone();
    for j in 0..3 {
        x_dup[(7, j)] = x_dup[(3, j)];
    }
    let k_dup = rbf(x_dup.as_ref(), x_dup.as_ref(), 0.9);
    let flow = GradientDescentMse::new(k_dup.as_ref(), y.as_ref(), MseConfig::default(), Par::Seq)
        .unwrap();
    let f0 = Mat::<f64>::zeros(n, 2);
    let test = TestSet {
        k_test_train: k_dup.as_ref(),
        fx_test_0: f0.as_ref(),
    };
    match flow.predict(&[f64::INFINITY], f0.as_ref(), Some(test)) {
        Err(Error::NotPositiveDefinite { lambda_min }) => {
            assert!(
                lambda_min.abs() <= (n * n) as f64 * f64::EPSILON,
                "{lambda_min:e}"
            )
        }
        other => panic!("expected NotPositiveDefinite, got {other:?}"),
    }

    // Validation order of the one-pass copy: a NaN is reported before an asymmetry.
    let mut bad = k.clone();
    bad[(10, 2)] += 1e-3;
    assert!(matches!(
        Cholesky::factor(bad.as_ref(), 0.0, Par::Seq),
        Err(Error::InvalidParameter {
            arg: "k_train_train",
            ..
        })
    ));
    bad[(140, 120)] = f64::NAN;
    assert!(matches!(
        Cholesky::factor(bad.as_ref(), 0.0, Par::Seq),
        Err(Error::NonFinite {
            arg: "k_train_train",
            ..
        })
    ));
}

/// `GradientDescentMse` factors its one copy of Θ in place (L below the diagonal, Θ's upper
/// triangle kept): predictions, eigenvalues and errors must not depend on which factorisation
/// came first. All comparisons are bitwise: the same floating-point operations must run on the
/// same Θ + ρI whichever way it was obtained.
#[test]
fn in_place_cholesky_keeps_theta_for_the_eigenbasis() {
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let (n, m) = (300, 7);
    let x = gaussian_matrix(&mut rng, n, 3);
    let k = rbf(x.as_ref(), x.as_ref(), 0.8);
    let xt = gaussian_matrix(&mut rng, m, 3);
    let kt = rbf(xt.as_ref(), x.as_ref(), 0.8);
    let y = gaussian_matrix(&mut rng, n, 2);
    let f0 = gaussian_matrix(&mut rng, n, 2);
    let ft = gaussian_matrix(&mut rng, m, 2);
    let test = TestSet {
        k_test_train: kt.as_ref(),
        fx_test_0: ft.as_ref(),
    };
    let config = MseConfig {
        diag_reg: 1e-3,
        ..MseConfig::default()
    };
    for par in [Par::Seq, Par::rayon(2)] {
        let inf_first = GradientDescentMse::new(k.as_ref(), y.as_ref(), config, par).unwrap();
        let a_inf = inf_first
            .predict(&[f64::INFINITY], f0.as_ref(), Some(test))
            .unwrap();
        let a_fin = inf_first
            .predict(&[0.5, 40.0], f0.as_ref(), Some(test))
            .unwrap();
        let eigen_first = GradientDescentMse::new(k.as_ref(), y.as_ref(), config, par).unwrap();
        let b_fin = eigen_first
            .predict(&[0.5, 40.0], f0.as_ref(), Some(test))
            .unwrap();
        let b_inf = eigen_first
            .predict(&[f64::INFINITY], f0.as_ref(), Some(test))
            .unwrap();
        for (a, b) in a_inf.iter().chain(&a_fin).zip(b_inf.iter().chain(&b_fin)) {
            assert!(
                a.fx_train == b.fx_train && a.fx_test == b.fx_test,
                "t = {}",
                a.t
            );
        }
        // Both eigenbases are the one of a fresh eigendecomposition of Θ + ρI.
        let ridge = 1e-3 * (0..n).map(|i| k[(i, i)]).sum::<f64>() / n as f64;
        let fresh = Eigen::new(k.as_ref(), ridge, par).unwrap();
        assert!(inf_first.eigen().unwrap().values() == fresh.values());
        assert!(eigen_first.eigen().unwrap().values() == fresh.values());
        assert_eq!(inf_first.info(&[1.0]).unwrap(), fresh.info());
        // The factor's public view is L alone, and LLᵀ = Θ + ρI to rounding
        // (|LLᵀ − A|_ij ≤ n·ε·max A_ii by backward stability of Cholesky).
        let lower = inf_first.cholesky().unwrap().lower();
        assert!((0..n).all(|j| (0..j).all(|i| lower[(i, j)] == 0.0)));
        let mut a = k.clone();
        for i in 0..n {
            a[(i, i)] += ridge;
        }
        let product = &lower * lower.transpose();
        assert!(max_abs_diff(product.as_ref(), a.as_ref()) <= n as f64 * f64::EPSILON);
    }

    // A failed in-place factorisation restores Θ exactly: the eigendecomposition asked for
    // afterwards fails with the same λ_min as one on a fresh flow.
    let mut x_dup = x.clone();
    for j in 0..3 {
        x_dup[(9, j)] = x_dup[(4, j)];
    }
    let k_dup = rbf(x_dup.as_ref(), x_dup.as_ref(), 0.8);
    let failed =
        GradientDescentMse::new(k_dup.as_ref(), y.as_ref(), MseConfig::default(), Par::Seq)
            .unwrap();
    assert!(matches!(
        failed.cholesky(),
        Err(Error::NotPositiveDefinite { .. })
    ));
    let fresh = GradientDescentMse::new(k_dup.as_ref(), y.as_ref(), MseConfig::default(), Par::Seq)
        .unwrap();
    match (failed.eigen(), fresh.eigen()) {
        (
            Err(Error::NotPositiveDefinite { lambda_min: a }),
            Err(Error::NotPositiveDefinite { lambda_min: b }),
        ) => assert_eq!(a.to_bits(), b.to_bits()),
        other => panic!("expected two NotPositiveDefinite, got {other:?}"),
    }
}

/// The parallel validating copy reports the same first asymmetric pair for any thread count and
/// for a strided (transposed) view of the same matrix, and symmetrises from the lower triangle.
#[test]
fn validating_copy_is_thread_count_independent() {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let n = 257; // not a multiple of the 64-column tiles
    let x = gaussian_matrix(&mut rng, n, 3);
    let mut k = rbf(x.as_ref(), x.as_ref(), 0.8);
    k[(200, 70)] += 1e-6;
    k[(130, 3)] += 1e-6;
    k[(100, 80)] += 1e-6;
    let message = |k: MatRef<'_, f64>, par| match Cholesky::factor(k, 0.0, par) {
        Err(Error::InvalidParameter { value, .. }) => value,
        other => panic!("expected InvalidParameter, got {other:?}"),
    };
    let seq = message(k.as_ref(), Par::Seq);
    // Tile order: the column block of j = 3 comes first.
    assert!(seq.starts_with("K[130,3]"), "{seq}");
    assert_eq!(seq, message(k.as_ref(), Par::rayon(2)));
    let transposed = k.transpose().to_owned();
    assert!(message(transposed.transpose(), Par::rayon(2)).starts_with("K[130,3]"));

    // Within tolerance (1e3·ε·max K_ii) the copy is symmetrised from the lower triangle: a
    // perturbed upper entry does not change the factor.
    let clean = rbf(x.as_ref(), x.as_ref(), 0.8);
    let mut upper_noise = clean.clone();
    upper_noise[(5, 90)] += 1e-14;
    let a = Cholesky::factor(clean.as_ref(), 1e-3, Par::rayon(2)).unwrap();
    let b = Cholesky::factor(upper_noise.as_ref(), 1e-3, Par::Seq).unwrap();
    assert!(a.lower() == b.lower());
}
