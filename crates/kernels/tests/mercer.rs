//! Mercer spectra on the sphere against closed forms (Rodrigues' formula for tᵐ and eᵗ,
//! Chebyshev forms of the Gegenbauer polynomials, dimension counts of harmonic spaces), an
//! independent Gauss–Jacobi quadrature in t, and Bietti & Mairal's Prop. 5 for the ReLU NTK.

use gauss_quad::{FiniteAboveNegOneF64, GaussJacobi};
use ntk_kernels::Error;
use ntk_kernels::mercer::{
    MercerConfig, Parity, fit_decay_exponent, gegenbauer, mercer_eigenvalues, multiplicity,
};
use std::f64::consts::PI;

/// Two-layer ReLU NTK on the sphere (Bietti & Mairal 2019, Eq. (7)): κ(u) = uκ₀(u) + κ₁(u).
fn relu_ntk(u: f64) -> f64 {
    let u = u.clamp(-1.0, 1.0);
    let k0 = (PI - u.acos()) / PI;
    let k1 = (u * (PI - u.acos()) + (1.0 - u * u).sqrt()) / PI;
    u * k0 + k1
}

fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// μ_k of κ(t) = tᵐ on S^{p−1} by Rodrigues' formula (Atkinson & Han 2012, Prop. 2.26):
/// ∫ f P_k w = Γ((p−1)/2)/(2ᵏ Γ(k+(p−1)/2)) ∫ f⁽ᵏ⁾(t)(1−t²)^{k+(p−3)/2} dt, with
/// ∫ t^{2j}(1−t²)^a dt = B(j+½, a+1). Independent of the quadrature and of the recurrence.
fn monomial_eigenvalue(p: usize, m: usize, k: usize) -> f64 {
    if k > m || (m - k) % 2 == 1 {
        return 0.0;
    }
    let pf = p as f64;
    let a = k as f64 + (pf - 3.0) / 2.0;
    let j = (m - k) as f64; // even power of t after k derivatives
    let log_ratio = lgamma(pf / 2.0) - lgamma((pf - 1.0) / 2.0) - 0.5 * PI.ln();
    let log_rodrigues =
        lgamma((pf - 1.0) / 2.0) - k as f64 * 2f64.ln() - lgamma(k as f64 + (pf - 1.0) / 2.0);
    let log_derivative = lgamma(m as f64 + 1.0) - lgamma(j + 1.0);
    let log_beta = lgamma((j + 1.0) / 2.0) + lgamma(a + 1.0) - lgamma((j + 1.0) / 2.0 + a + 1.0);
    (log_ratio + log_rodrigues + log_derivative + log_beta).exp()
}

/// The recurrence against closed forms: P_k^{(2)}(cos θ) = cos kθ, P_k^{(4)}(cos θ) =
/// sin((k+1)θ)/((k+1) sin θ), P_2^{(3)} = (3t²−1)/2, P_3^{(3)} = (5t³−3t)/2. The three-term
/// recurrence is stable on [−1, 1] but its rounding error grows like k²·ε near t = ±1, and the
/// reference sin((k+1)θ)/((k+1) sin θ) loses ~(k+1)ε/sin θ near the ends (observed ≤ 2.3·k²·ε
/// overall), so the bound is 8(k² + 1)·ε.
#[test]
fn gegenbauer_recurrence_matches_closed_forms() {
    let mut values = vec![0.0; 61];
    for i in 0..37 {
        let theta = 0.013 + i as f64 * (PI - 0.026) / 36.0;
        let t = theta.cos();
        gegenbauer(2, t, &mut values).unwrap();
        for k in 0..=60 {
            let tol = 8.0 * ((k * k + 1) as f64) * f64::EPSILON;
            assert!(
                (values[k] - (k as f64 * theta).cos()).abs() <= tol,
                "p=2 k={k}"
            );
        }
        gegenbauer(4, t, &mut values).unwrap();
        for k in 0..=60 {
            let expected = ((k + 1) as f64 * theta).sin() / ((k + 1) as f64 * theta.sin());
            let tol = 8.0 * ((k * k + 1) as f64) * f64::EPSILON;
            assert!((values[k] - expected).abs() <= tol, "p=4 k={k}");
        }
        gegenbauer(3, t, &mut values).unwrap();
        assert!((values[2] - (3.0 * t * t - 1.0) / 2.0).abs() <= 1e-15);
        assert!((values[3] - (5.0 * t * t * t - 3.0 * t) / 2.0).abs() <= 1e-15);
    }
    for p in [2, 3, 7, 20] {
        gegenbauer(p, 1.0, &mut values).unwrap();
        assert!(
            values.iter().all(|v| (v - 1.0).abs() <= 1e-13),
            "P_k(1) = 1 for p = {p}"
        );
    }
}

fn binomial(n: u128, k: u128) -> u128 {
    (0..k).fold(1u128, |acc, i| acc * (n - i) / (i + 1))
}

/// N(p, k): known values (2, 2k+1, (k+1)²), the dimension count
/// Σ_{k≤K} N(p,k) = C(K+p−1, p−1) + C(K+p−2, p−1) (harmonic polynomials of degree ≤ K, exact
/// integers), and the ratio N(p,k+1)/N(p,k) at large arguments (lgamma, 1e-12 relative).
#[test]
fn multiplicities_match_dimension_counts() {
    for k in 0..50 {
        assert_eq!(multiplicity(2, k).unwrap(), if k == 0 { 1.0 } else { 2.0 });
        assert_eq!(multiplicity(3, k).unwrap(), (2 * k + 1) as f64);
        assert_eq!(multiplicity(4, k).unwrap(), ((k + 1) * (k + 1)) as f64);
    }
    for p in 3..9u128 {
        for big_k in 0..30u128 {
            let sum: f64 = (0..=big_k as usize)
                .map(|k| multiplicity(p as usize, k).unwrap())
                .sum();
            let expected = binomial(big_k + p - 1, p - 1) + binomial(big_k + p - 2, p - 1);
            assert_eq!(sum, expected as f64, "p={p} K={big_k}");
        }
    }
    let (p, k) = (60usize, 2000usize);
    let ratio = multiplicity(p, k + 1).unwrap() / multiplicity(p, k).unwrap();
    let (pf, kf) = (p as f64, k as f64);
    let expected = (2.0 * kf + pf) / (2.0 * kf + pf - 2.0) * (kf + pf - 2.0) / (kf + 1.0);
    // Each N is exp of a difference of ln Γ values of size ≤ ln Γ(k + p) ≈ 1.4e4, each with
    // relative error ~ε, so the ratio of two N is good to ~4·ε·ln Γ(k + p) ≈ 1.3e-11.
    let tol = 4.0 * f64::EPSILON * libm::lgamma(kf + pf);
    assert!(
        (ratio / expected - 1.0).abs() <= tol,
        "{ratio} vs {expected}"
    );
    assert!(matches!(
        multiplicity(1, 3),
        Err(Error::InvalidParameter {
            arg: "sphere_dim",
            ..
        })
    ));
}

/// κ(t) = tᵐ and κ(t) = eᵗ = Σ tᵐ/m! against Rodrigues' closed form, and Σ_k N(p,k) μ_k = κ(1).
/// The quadrature is exact for these trigonometric polynomials up to rounding (observed ≤ 2e-15
/// absolute); the closed form, a sum of ln Γ values of size ≤ 75, carries ~100·ε relative error.
/// Bound: 4e-15 + 1e-13·|expected|.
#[test]
fn polynomial_and_exponential_kernels_match_closed_forms() {
    for p in [2usize, 3, 5, 8, 16] {
        let config = MercerConfig::new(p, 30);
        for m in 0..=10 {
            let spectrum = mercer_eigenvalues(|t| t.powi(m as i32), config).unwrap();
            for k in 0..=30 {
                let expected = monomial_eigenvalue(p, m, k);
                let got = spectrum.eigenvalues[k];
                assert!(
                    (got - expected).abs() <= 4e-15 + 1e-13 * expected.abs(),
                    "p={p} m={m} k={k}: {got} vs {expected}"
                );
            }
            // Each μ_k carries an absolute rounding error ≲ 1e-16 (observed ≤ 8e-16 in total
            // above), weighted by N(p, k) in the trace.
            let weight: f64 = spectrum.multiplicities.iter().sum();
            let tol = 1e-14 + 1e-16 * weight;
            assert!((spectrum.trace() - 1.0).abs() <= tol, "p={p} m={m}");
        }
        let spectrum = mercer_eigenvalues(f64::exp, config).unwrap();
        for k in 0..=30 {
            // The series converges like 1/m!: 60 terms are far below rounding.
            let mut expected = 0.0;
            let mut log_factorial = 0.0;
            for m in 0..60usize {
                if m > 0 {
                    log_factorial += (m as f64).ln();
                }
                expected += monomial_eigenvalue(p, m, k) * (-log_factorial).exp();
            }
            assert!(
                (spectrum.eigenvalues[k] - expected).abs() <= 4e-15 + 1e-13 * expected.abs(),
                "exp p={p} k={k}"
            );
        }
        // The terms N(p,k)μ_k of eᵗ decay like 1/k!, so K = 30 leaves no visible tail.
        let weight: f64 = spectrum.multiplicities.iter().sum();
        let tol = 1e-14 + 1e-16 * weight;
        assert!((spectrum.trace() - 1f64.exp()).abs() <= tol, "p={p}");
    }
}

/// The θ-substituted Gauss–Legendre rule against Gauss–Jacobi in t with the exact weight
/// (1−t²)^{(p−3)/2} (gauss-quad, Golub–Welsch): for the smooth κ = eᵗ·cos(2t) both converge
/// geometrically, so they agree to rounding (1e-13).
#[test]
fn theta_rule_agrees_with_gauss_jacobi_on_smooth_kernels() {
    let kappa = |t: f64| t.exp() * (2.0 * t).cos();
    for p in [3usize, 4, 6] {
        let k_max = 25;
        let spectrum = mercer_eigenvalues(kappa, MercerConfig::new(p, k_max)).unwrap();
        let exponent = FiniteAboveNegOneF64::new((p as f64 - 3.0) / 2.0).unwrap();
        let rule = GaussJacobi::new(120.try_into().unwrap(), exponent, exponent);
        let pf = p as f64;
        let ratio = (lgamma(pf / 2.0) - lgamma((pf - 1.0) / 2.0)).exp() / PI.sqrt();
        let mut values = vec![0.0; k_max + 1];
        for k in 0..=k_max {
            let jacobi = ratio
                * rule.integrate(-1.0, 1.0, |t| {
                    gegenbauer(p, t, &mut values).unwrap();
                    kappa(t) * values[k]
                });
            assert!(
                (spectrum.eigenvalues[k] - jacobi).abs() <= 1e-13,
                "p={p} k={k}: {} vs {jacobi}",
                spectrum.eigenvalues[k]
            );
        }
    }
}

/// Bietti & Mairal 2019 (arXiv:1905.12173) Prop. 5 for the two-layer ReLU NTK:
/// - μ_k = 0 for odd k ≥ 3: |μ_k| ≤ 1e-12·μ₀ (observed ≤ 3e-15: the rounding floor of the sum);
/// - μ_k > 0 for even k, decaying like k^{−p}: the local slope s_k = −ln(μ_{k+2}/μ_k)/ln((k+2)/k)
///   behaves as p − b/k + O(k⁻²), so the Richardson value 2s_{160} − s_{80} must be within 0.01
///   of p (observed ≤ 0.006 for p ≤ 6), and the least-squares exponent over even k ∈ [100, 200]
///   must be at least 3× closer to p than over [20, 40] (the b/k law predicts ≈ 5×);
/// - the quadrature is converged: doubling the nodes changes no μ_k by more than the rounding
///   floor of a sum of n terms of size ~μ₀/n, √(2n)·ε·μ₀ (random-walk rounding, n nodes).
#[test]
fn relu_ntk_spectrum_follows_bietti_mairal() {
    for p in [2usize, 3, 4, 5, 6] {
        let config = MercerConfig::new(p, 200);
        let spectrum = mercer_eigenvalues(relu_ntk, config).unwrap();
        let mu = &spectrum.eigenvalues;
        let doubled = mercer_eigenvalues(
            relu_ntk,
            MercerConfig {
                quadrature_nodes: 2 * config.quadrature_nodes,
                ..config
            },
        )
        .unwrap();
        let floor = (2.0 * config.quadrature_nodes as f64).sqrt() * f64::EPSILON * mu[0];
        for k in 0..=200 {
            assert!(
                (mu[k] - doubled.eigenvalues[k]).abs() <= floor,
                "p={p} k={k}"
            );
        }
        assert!(mu[1] > 0.0);
        for k in (3..=200).step_by(2) {
            assert!(mu[k].abs() <= 1e-12 * mu[0], "p={p}: mu_{k} = {:e}", mu[k]);
        }
        for k in (0..=200).step_by(2) {
            assert!(mu[k] > 0.0, "p={p}: mu_{k} = {:e}", mu[k]);
        }
        let slope = |k: usize| -(mu[k + 2] / mu[k]).ln() / ((k + 2) as f64 / k as f64).ln();
        let richardson = 2.0 * slope(160) - slope(80);
        assert!((richardson - p as f64).abs() <= 0.01, "p={p}: {richardson}");
        let near = fit_decay_exponent(mu, 20..=40, Parity::Even).unwrap();
        let far = fit_decay_exponent(mu, 100..=200, Parity::Even).unwrap();
        assert_eq!(far.n_points, 51);
        assert!(
            (far.exponent - p as f64).abs() <= (near.exponent - p as f64).abs() / 3.0,
            "p={p}: fits {} {}",
            near.exponent,
            far.exponent
        );
    }
}

/// Σ_{k≤K} N(p,k)μ_k → κ(1) = 2: the terms are ~c·k⁻² (N ~ k^{p−2}, μ ~ k^{−p}), so the deficit
/// is ≈ c/K and halves from K = 100 to K = 200 up to O(1/K): ratio in [0.45, 0.55].
#[test]
fn relu_ntk_trace_converges_to_kappa_one() {
    for p in [3usize, 5] {
        let spectrum = mercer_eigenvalues(relu_ntk, MercerConfig::new(p, 200)).unwrap();
        let partial = |big_k: usize| -> f64 {
            (0..=big_k)
                .map(|k| spectrum.multiplicities[k] * spectrum.eigenvalues[k])
                .sum()
        };
        let deficit_100 = relu_ntk(1.0) - partial(100);
        let deficit_200 = relu_ntk(1.0) - partial(200);
        let ratio = deficit_200 / deficit_100;
        assert!(
            deficit_200 > 0.0 && (0.45..=0.55).contains(&ratio),
            "p={p}: {ratio}"
        );
    }
}

#[test]
fn bad_inputs_are_errors() {
    assert!(matches!(
        mercer_eigenvalues(relu_ntk, MercerConfig::new(1, 10)),
        Err(Error::InvalidParameter {
            arg: "sphere_dim",
            ..
        })
    ));
    assert!(matches!(
        mercer_eigenvalues(|t| 1.0 / (t - t), MercerConfig::new(3, 10)),
        Err(Error::NonFinite { arg: "kappa", .. })
    ));
    let config = MercerConfig {
        quadrature_nodes: 5,
        ..MercerConfig::new(3, 10)
    };
    assert!(matches!(
        mercer_eigenvalues(relu_ntk, config),
        Err(Error::InvalidParameter {
            arg: "quadrature_nodes",
            ..
        })
    ));
    assert!(matches!(
        fit_decay_exponent(&[1.0, 0.5, -0.1, 0.2], 1..=3, Parity::All),
        Err(Error::InvalidParameter {
            arg: "eigenvalues",
            ..
        })
    ));
    assert!(matches!(
        fit_decay_exponent(&[1.0, 0.5], 1..=3, Parity::All),
        Err(Error::InvalidParameter { arg: "degrees", .. })
    ));
    // An exact power law is recovered exactly (to rounding).
    let mu: Vec<f64> = (0..50)
        .map(|k| 3.0 * (k.max(1) as f64).powf(-2.5))
        .collect();
    let fit = fit_decay_exponent(&mu, 5..=49, Parity::Odd).unwrap();
    assert!((fit.exponent - 2.5).abs() <= 1e-13 && (fit.log_prefactor - 3f64.ln()).abs() <= 1e-12);
}
