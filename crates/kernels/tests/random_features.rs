//! Finite-N random-feature and neural-tangent kernels against their infinite-width limits
//! (Monte Carlo with standard errors), feature maps against kernels, closed-form limit cases.

use faer::{Mat, MatRef, Par};
use ntk_kernels::random_features::{RandomFeatures, random_feature_kernels};
use ntk_kernels::{Activation, Error};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::PI;

fn gaussian_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| StandardNormal.sample(rng))
}

/// Points on √d·S^{d−1} plus one of norm 0.6·√d (so q ≠ 1 is exercised).
fn points(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Mat<f64> {
    let mut x = gaussian_matrix(rng, n, d);
    for i in 0..n {
        let norm = (0..d).map(|k| x[(i, k)].powi(2)).sum::<f64>().sqrt();
        let radius = if i == n - 1 { 0.6 } else { 1.0 } * (d as f64).sqrt();
        for k in 0..d {
            x[(i, k)] *= radius / norm;
        }
    }
    x
}

fn max_abs(a: MatRef<'_, f64>) -> f64 {
    let mut worst = 0.0_f64;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            worst = worst.max(a[(i, j)].abs());
        }
    }
    worst
}

/// K_N → K with error ∝ N^{−1/2}: every entry of K_N is a mean of N i.i.d. terms, so its
/// standard error is the terms' sample standard deviation / √N. We require |K_N − K| ≤ 5·SE for
/// every entry at N = 2 000, 32 000 and 256 000 (the bound itself shrinks as N^{−1/2}), for a
/// closed-form (ReLU, erf) and a quadrature (tanh) activation.
#[test]
fn finite_width_kernels_converge_at_monte_carlo_rate() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let d = 5;
    let x = points(&mut rng, 4, d);
    for act in [Activation::Relu, Activation::Erf, Activation::Tanh] {
        let exact = random_feature_kernels(&act, x.as_ref(), x.as_ref(), Par::Seq).unwrap();
        for (k, n_features) in [2_000usize, 32_000, 256_000].into_iter().enumerate() {
            let features = RandomFeatures::from_seed(n_features, d, 100 + k as u64).unwrap();
            let finite = features
                .kernels(&act, x.as_ref(), x.as_ref(), Par::Seq)
                .unwrap();
            // Per-feature terms for the standard errors.
            let z = x.as_ref() * features.weights().transpose();
            let n = n_features as f64;
            for a in 0..x.nrows() {
                for b in 0..x.nrows() {
                    let dot = (0..d).map(|c| x[(a, c)] * x[(b, c)]).sum::<f64>() / d as f64;
                    let (mut s_rf, mut ss_rf, mut s_nt, mut ss_nt) = (0.0, 0.0, 0.0, 0.0);
                    for i in 0..n_features {
                        let rf = act.phi(z[(a, i)]) * act.phi(z[(b, i)]);
                        let nt = dot * act.dphi(z[(a, i)]) * act.dphi(z[(b, i)]);
                        s_rf += rf;
                        ss_rf += rf * rf;
                        s_nt += nt;
                        ss_nt += nt * nt;
                    }
                    let se_rf = ((ss_rf / n - (s_rf / n).powi(2)) / n).sqrt();
                    let se_nt = ((ss_nt / n - (s_nt / n).powi(2)) / n).sqrt();
                    // The GEMM result equals the plain mean of the terms up to rounding.
                    assert!((finite.rf[(a, b)] - s_rf / n).abs() <= 1e-10);
                    assert!((finite.nt[(a, b)] - s_nt / n).abs() <= 1e-10);
                    let err_rf = (finite.rf[(a, b)] - exact.rf[(a, b)]).abs();
                    let err_nt = (finite.nt[(a, b)] - exact.nt[(a, b)]).abs();
                    assert!(
                        err_rf <= 5.0 * se_rf + 1e-12,
                        "{act:?} N={n_features} RF[{a},{b}]: err {err_rf:e}, se {se_rf:e}"
                    );
                    assert!(
                        err_nt <= 5.0 * se_nt + 1e-12,
                        "{act:?} N={n_features} NT[{a},{b}]: err {err_nt:e}, se {se_nt:e}"
                    );
                }
            }
        }
    }
}

/// Φ_RF Φ_RFᵀ = K_N^RF and Φ_NT Φ_NTᵀ = K_N^NT (different GEMM orders, so agreement is to
/// rounding: 1e-13 of the O(1) entries).
#[test]
fn feature_maps_reproduce_finite_kernels() {
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let (d, n_features) = (4, 300);
    let x1 = points(&mut rng, 6, d);
    let x2 = points(&mut rng, 3, d);
    let features = RandomFeatures::sample(n_features, d, &mut rng).unwrap();
    for act in [Activation::Gelu, Activation::LeakyRelu { alpha: 0.2 }] {
        let k = features
            .kernels(&act, x1.as_ref(), x2.as_ref(), Par::Seq)
            .unwrap();
        let rf1 = features.rf_features(&act, x1.as_ref(), Par::Seq).unwrap();
        let rf2 = features.rf_features(&act, x2.as_ref(), Par::Seq).unwrap();
        let nt1 = features.nt_features(&act, x1.as_ref(), Par::Seq).unwrap();
        let nt2 = features.nt_features(&act, x2.as_ref(), Par::Seq).unwrap();
        assert_eq!((nt1.nrows(), nt1.ncols()), (6, n_features * d));
        let diff_rf = max_abs((&rf1 * rf2.transpose() - &k.rf).as_ref());
        let diff_nt = max_abs((&nt1 * nt2.transpose() - &k.nt).as_ref());
        assert!(
            diff_rf <= 1e-13 && diff_nt <= 1e-13,
            "{diff_rf:e} {diff_nt:e}"
        );
    }
}

/// Limit cases of the ReLU kernels on the sphere (q = 1), from the arc-cosine closed form
/// K^RF = (sin θ + (π − θ) cos θ)/(2π), K^NT = cos θ·(π − θ)/(2π) (Cho & Saul 2009):
/// identical points give 1/2 and 1/2, antipodal points 0 and 0; an orthogonal pair gives 1/(2π)
/// and 0. Tolerance: a few ulps of the closed form.
#[test]
fn relu_limit_cases_on_the_sphere() {
    // d = 4 so that √d = 2 and every q, c is exact: ρ = ±1 exactly exercises the clamping.
    let d = 4;
    let s = 2.0;
    let x = Mat::from_fn(4, d, |i, k| {
        let e = [
            [s, 0.0, 0.0, 0.0],
            [-s, 0.0, 0.0, 0.0],
            [0.0, s, 0.0, 0.0],
            [s, 0.0, 0.0, 0.0],
        ];
        e[i][k]
    });
    let k = random_feature_kernels(&Activation::Relu, x.as_ref(), x.as_ref(), Par::Seq).unwrap();
    let tol = 1e-15;
    for (i, j, rf, nt) in [
        (0, 0, 0.5, 0.5),
        (0, 3, 0.5, 0.5),
        (0, 1, 0.0, 0.0),
        (0, 2, 1.0 / (2.0 * PI), 0.0),
    ] {
        assert!(
            (k.rf[(i, j)] - rf).abs() <= tol,
            "RF[{i},{j}] = {}",
            k.rf[(i, j)]
        );
        assert!(
            (k.nt[(i, j)] - nt).abs() <= tol,
            "NT[{i},{j}] = {}",
            k.nt[(i, j)]
        );
    }
}

/// The analytic kernels are symmetric and positive semi-definite on random point sets
/// (λ_min ≥ −n·ε·λ_max), and bit-identical whether faer/rayon use one thread or two.
#[test]
fn analytic_kernels_are_symmetric_psd_and_deterministic() {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    for (n, d) in [(7, 2), (20, 6), (33, 11)] {
        let x = gaussian_matrix(&mut rng, n, d);
        for act in [Activation::Relu, Activation::Erf, Activation::Softplus] {
            let k = random_feature_kernels(&act, x.as_ref(), x.as_ref(), Par::Seq).unwrap();
            let k2 = random_feature_kernels(&act, x.as_ref(), x.as_ref(), Par::rayon(2)).unwrap();
            assert!(
                k.rf == k2.rf && k.nt == k2.nt,
                "thread count changed the result"
            );
            for m in [&k.rf, &k.nt] {
                assert!(max_abs((m - m.transpose()).as_ref()) <= 1e-15 * max_abs(m.as_ref()));
                let values = m.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
                let top = values[n - 1];
                assert!(
                    values[0] >= -(n as f64) * f64::EPSILON * top,
                    "{act:?}: {values:?}"
                );
            }
        }
    }
    let features = RandomFeatures::from_seed(500, 6, 9).unwrap();
    let x = gaussian_matrix(&mut rng, 40, 6);
    let seq = features
        .kernels(&Activation::Tanh, x.as_ref(), x.as_ref(), Par::Seq)
        .unwrap();
    let par = features
        .kernels(&Activation::Tanh, x.as_ref(), x.as_ref(), Par::rayon(2))
        .unwrap();
    assert!(seq.rf == par.rf && seq.nt == par.nt);
    // A thin output with a long reduction (4 points, N = 100 000 features).
    let thin = RandomFeatures::from_seed(100_000, 6, 10).unwrap();
    let x = gaussian_matrix(&mut rng, 4, 6);
    let seq = thin
        .kernels(&Activation::Relu, x.as_ref(), x.as_ref(), Par::Seq)
        .unwrap();
    let par = thin
        .kernels(&Activation::Relu, x.as_ref(), x.as_ref(), Par::rayon(2))
        .unwrap();
    assert!(seq.rf == par.rf && seq.nt == par.nt);
    assert_eq!(features, RandomFeatures::from_seed(500, 6, 9).unwrap());
}

#[test]
fn bad_inputs_are_errors() {
    let x = Mat::<f64>::zeros(3, 4);
    let y = Mat::<f64>::zeros(3, 5);
    assert!(matches!(
        random_feature_kernels(&Activation::Relu, x.as_ref(), y.as_ref(), Par::Seq),
        Err(Error::ShapeMismatch { arg: "x2", .. })
    ));
    assert!(matches!(
        RandomFeatures::from_seed(0, 4, 1),
        Err(Error::InvalidParameter {
            arg: "n_features",
            ..
        })
    ));
    let features = RandomFeatures::from_seed(10, 4, 1).unwrap();
    assert!(matches!(
        features.rf_features(&Activation::Relu, y.as_ref(), Par::Seq),
        Err(Error::ShapeMismatch { arg: "x", .. })
    ));
    let mut nan = x.clone();
    nan[(2, 1)] = f64::NAN;
    assert!(matches!(
        features.kernels(&Activation::Relu, nan.as_ref(), x.as_ref(), Par::Seq),
        Err(Error::NonFinite { arg: "x1", .. })
    ));
    assert!(matches!(
        random_feature_kernels(
            &Activation::LeakyRelu {
                alpha: f64::INFINITY
            },
            x.as_ref(),
            x.as_ref(),
            Par::Seq
        ),
        Err(Error::InvalidParameter { .. })
    ));
}
