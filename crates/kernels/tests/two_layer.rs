//! Two-layer forms and the Bietti–Mairal recursion against the deep analytic recursion.

use faer::Mat;
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::two_layer::{bietti_mairal_ntk, du_gram_entry, kappa, two_layer_ntk};
use ntk_kernels::{Activation, Architecture, Error, Parameterization};

fn points() -> Mat<f64> {
    Mat::from_fn(7, 5, |i, j| {
        let (a, b) = ((i + 1) as f64, (j + 1) as f64);
        (0.7 * a + 1.3 * b).sin() + 0.1 * (2.1 * a * b).cos()
    })
}

/// Θ_L from the Lemma 1 recursion equals (d/2)·neural-tangents-convention Θ with W_std = √2 and
/// no biases, for L = 1..5: 1e-12 relative (both are ~3L flops of arccos-rounding apart).
#[test]
fn bietti_mairal_equals_deep_recursion() {
    let x = points();
    let d = x.ncols() as f64;
    for n_hidden in 1..=5 {
        let arch = Architecture::mlp(
            n_hidden,
            512,
            Activation::Relu,
            2f64.sqrt(),
            None,
            Parameterization::Ntk,
        )
        .unwrap();
        let ntk = kernel(&arch, x.as_ref(), None, Get::BOTH)
            .unwrap()
            .ntk
            .unwrap();
        for i in 0..x.nrows() {
            for j in 0..x.nrows() {
                let xi: Vec<f64> = (0..x.ncols()).map(|k| x[(i, k)]).collect();
                let xj: Vec<f64> = (0..x.ncols()).map(|k| x[(j, k)]).collect();
                let bm = bietti_mairal_ntk(&xi, &xj, n_hidden).unwrap();
                let nt = d / 2.0 * ntk[(i, j)];
                assert!(
                    (bm - nt).abs() <= 1e-12 * nt.abs().max(1e-3),
                    "L={n_hidden} ({i},{j}) {bm} {nt}"
                );
                if n_hidden == 1 {
                    let two = two_layer_ntk(&xi, &xj).unwrap();
                    assert!((two - bm).abs() <= 1e-14 * bm.abs().max(1.0));
                }
            }
        }
    }
}

/// κ at the ends: κ(1) = 2 (κ₀ = κ₁ = 1), κ(−1) = 0; Du's Gram on the sphere at identical
/// points is ½ and at antipodal points 0 (x xᵀ·(π − π)/2π).
#[test]
fn limits_and_errors() {
    assert!((kappa(1.0) - 2.0).abs() <= 1e-15);
    assert!(kappa(-1.0).abs() <= 1e-15);
    assert!((kappa(1.0 + 1e-12) - 2.0).abs() <= 1e-15);
    let x = [0.6, 0.8];
    assert!((du_gram_entry(&x, &x).unwrap() - 0.5).abs() <= 1e-15);
    assert!(du_gram_entry(&x, &[-0.6, -0.8]).unwrap().abs() <= 1e-15);
    assert!(matches!(
        du_gram_entry(&x, &[0.0, 0.0]),
        Err(Error::ZeroNorm { .. })
    ));
    assert!(matches!(
        two_layer_ntk(&x, &[1.0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        two_layer_ntk(&x, &[f64::NAN, 1.0]),
        Err(Error::NonFinite { .. })
    ));
}

/// Du et al.'s H^∞ against Monte Carlo over w ~ N(0, I) (2e5 draws, 5 standard errors).
#[test]
fn du_gram_matches_monte_carlo() {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let x = [0.6, 0.8, 0.0];
    let y = [0.0, 0.6, -0.8];
    let exact = du_gram_entry(&x, &y).unwrap();
    let dot: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let n = 200_000;
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    for _ in 0..n {
        let w: Vec<f64> = (0..3).map(|_| StandardNormal.sample(&mut rng)).collect();
        let wx: f64 = w.iter().zip(&x).map(|(a, b)| a * b).sum();
        let wy: f64 = w.iter().zip(&y).map(|(a, b)| a * b).sum();
        let v = if wx >= 0.0 && wy >= 0.0 { dot } else { 0.0 };
        sum += v;
        sum_sq += v * v;
    }
    let mean = sum / n as f64;
    let se = ((sum_sq / n as f64 - mean * mean) / n as f64).sqrt();
    assert!(
        (mean - exact).abs() <= 5.0 * se,
        "{mean} vs {exact} (se {se})"
    );
}
