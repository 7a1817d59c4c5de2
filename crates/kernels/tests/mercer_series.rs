//! Mercer eigenvalues from power series against independent references: the closed forms of the
//! kernels (for the Taylor coefficients), the Gauss–Legendre quadrature in θ of
//! `mercer_eigenvalues` (for the monomial projections and for whole spectra where the quadrature
//! is accurate), and a much longer series (for the tail estimate).

use ntk_kernels::Error;
use ntk_kernels::mercer::{
    MercerConfig, arc_cosine_coefficients, mercer_eigenvalues, mercer_eigenvalues_series,
    monomial_projection, relu_ntk_coefficients,
};
use std::f64::consts::PI;

/// Closed forms written out here (Cho & Saul 2009; Bietti & Mairal 2019, eq. (5)).
fn kappa0(u: f64) -> f64 {
    (PI - u.acos()) / PI
}
fn kappa1(u: f64) -> f64 {
    (u * (PI - u.acos()) + (1.0 - u * u).sqrt()) / PI
}
fn relu_ntk(u: f64) -> f64 {
    u * kappa0(u) + kappa1(u)
}

fn horner(coefficients: &[f64], t: f64) -> f64 {
    coefficients.iter().rev().fold(0.0, |acc, b| acc * t + b)
}

#[test]
fn coefficients_sum_to_the_closed_forms() {
    // 400 terms at |t| ≤ 0.8: the truncation is below 0.8^400 ≈ 1e-39, so the difference is
    // rounding of a few hundred positive-coefficient terms, ≤ 1e-14 for values of order 1.
    let k0 = arc_cosine_coefficients(0, 400).unwrap();
    let k1 = arc_cosine_coefficients(1, 400).unwrap();
    let ntk = relu_ntk_coefficients(400).unwrap();
    for b in k0.iter().chain(&k1).chain(&ntk) {
        assert!(*b >= 0.0);
    }
    for t in [-0.8, -0.5, -0.1, 0.0, 0.3, 0.6, 0.8] {
        assert!((horner(&k0, t) - kappa0(t)).abs() <= 1e-14, "kappa0 at {t}");
        assert!((horner(&k1, t) - kappa1(t)).abs() <= 1e-14, "kappa1 at {t}");
        assert!((horner(&ntk, t) - relu_ntk(t)).abs() <= 1e-14, "ntk at {t}");
    }
}

#[test]
fn monomial_projection_matches_quadrature() {
    // The θ-quadrature integrates the trigonometric polynomial t^j P_k(t) sin^{p−2}θ exactly, so
    // both sides are exact up to rounding (≈ 1e-16 per node, 512 nodes): 1e-14 absolute.
    for p in [2usize, 3, 5, 10] {
        for j in 0..=16usize {
            let spectrum =
                mercer_eigenvalues(|t| t.powi(j as i32), MercerConfig::new(p, 16)).unwrap();
            for k in 0..=16usize {
                let closed = monomial_projection(p, j, k).unwrap();
                let quad = spectrum.eigenvalues[k];
                assert!(
                    (closed - quad).abs() <= 1e-14,
                    "p={p} j={j} k={k}: {closed} vs {quad}"
                );
                if k > j || (j - k) % 2 == 1 {
                    assert_eq!(closed, 0.0);
                }
            }
        }
    }
}

#[test]
fn series_spectrum_matches_quadrature_where_both_are_accurate() {
    // p = 3, 5 and k ≤ 40: the quadrature is accurate to ~1e-16 absolute (μ_k/μ₀ ≥ 1e-8 here);
    // the series is truncated at J = 2·10⁵, and what the tail estimate misses is far smaller than
    // the estimate itself, so |series − quadrature| ≤ tail + 1e-14·μ₀.
    let j_max = 200_000;
    for (name, coefficients, kappa) in [
        (
            "relu ntk",
            relu_ntk_coefficients(j_max + 1).unwrap(),
            relu_ntk as fn(f64) -> f64,
        ),
        (
            "arc-cosine 1",
            arc_cosine_coefficients(1, j_max + 1).unwrap(),
            kappa1 as fn(f64) -> f64,
        ),
    ] {
        for p in [3usize, 5] {
            let series = mercer_eigenvalues_series(&coefficients, p, 40).unwrap();
            let quad = mercer_eigenvalues(kappa, MercerConfig::new(p, 40)).unwrap();
            let mu0 = quad.eigenvalues[0];
            for k in 0..=40 {
                let (s, q) = (series.spectrum.eigenvalues[k], quad.eigenvalues[k]);
                assert!(
                    (s - q).abs() <= series.tail[k] + 1e-14 * mu0,
                    "{name} p={p} k={k}: series {s:e} quadrature {q:e} tail {:e}",
                    series.tail[k]
                );
                if k % 2 == 1 && k >= 3 {
                    // The odd part of both kernels is a multiple of t: exact zeros.
                    assert_eq!(s, 0.0, "{name} p={p} odd k={k}");
                }
            }
            assert_eq!(series.spectrum.multiplicities, quad.multiplicities);
        }
    }
}

#[test]
fn tail_estimate_captures_the_truncated_sum() {
    // Truncating at J = 2·10⁴ against J = 2·10⁶ (whose own tail is 100^{p/2} times smaller):
    // for k ≤ 40 (J/k² ≥ 12) the estimate recovers at least 95% of the difference.
    let short = relu_ntk_coefficients(20_001).unwrap();
    let long = relu_ntk_coefficients(2_000_001).unwrap();
    for p in [3usize, 5] {
        let a = mercer_eigenvalues_series(&short, p, 40).unwrap();
        let b = mercer_eigenvalues_series(&long, p, 40).unwrap();
        for k in (0..=40).step_by(2) {
            let err = (a.spectrum.eigenvalues[k] - b.spectrum.eigenvalues[k]).abs();
            assert!(a.tail[k] > 0.0);
            assert!(
                err <= 0.05 * a.tail[k] + 1e-15 * b.spectrum.eigenvalues[k],
                "p={p} k={k}: error {err:e}, tail {:e}",
                a.tail[k]
            );
        }
    }
}

#[test]
fn polynomial_kernel_has_no_tail() {
    // κ(t) = (1 + t)³ = 1 + 3t + 3t² + t³: μ_k = Σ_j b_j c_{j,k} exactly, no tail.
    let coefficients = [1.0, 3.0, 3.0, 1.0, 0.0, 0.0];
    let series = mercer_eigenvalues_series(&coefficients, 4, 4).unwrap();
    let quad = mercer_eigenvalues(|t| (1.0 + t).powi(3), MercerConfig::new(4, 4)).unwrap();
    for k in 0..=4 {
        assert_eq!(series.tail[k], 0.0);
        assert!((series.spectrum.eigenvalues[k] - quad.eigenvalues[k]).abs() <= 1e-14);
    }
}

#[test]
fn bad_input_is_an_error() {
    let b = relu_ntk_coefficients(100).unwrap();
    assert!(matches!(
        mercer_eigenvalues_series(&b, 1, 10),
        Err(Error::InvalidParameter {
            arg: "sphere_dim",
            ..
        })
    ));
    assert!(matches!(
        mercer_eigenvalues_series(&[], 3, 0),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        mercer_eigenvalues_series(&[1.0, f64::NAN, 1.0], 3, 0),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        mercer_eigenvalues_series(&[1.0, -1.0, 1.0], 3, 0),
        Err(Error::InvalidParameter {
            arg: "coefficients",
            ..
        })
    ));
    assert!(matches!(
        mercer_eigenvalues_series(&b, 3, 99),
        Err(Error::InvalidParameter {
            arg: "max_degree",
            ..
        })
    ));
    // b_j = 1 on S¹: c_{j,0} ~ j^{−1/2}, the series of κ(1) diverges.
    assert!(matches!(
        mercer_eigenvalues_series(&vec![1.0; 1000], 2, 4),
        Err(Error::NotConverged { .. })
    ));
    assert!(arc_cosine_coefficients(2, 10).is_err());
    assert!(arc_cosine_coefficients(1, 0).is_err());
    assert!(relu_ntk_coefficients(0).is_err());
    assert!(monomial_projection(1, 2, 0).is_err());
}
