//! The kernels of the quadrature activations (tanh, softplus, sin, exp: Mehler series with
//! Gauss–Hermite coefficients) are symmetric and positive semi-definite to rounding.

use faer::{Mat, MatRef, Side};
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::{Activation, Architecture, Parameterization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// 50 points in dimension d: 40 standard-normal rows, then 5 exact duplicates of rows 0..5 and
/// 5 nearly parallel copies (rows 5..10 scaled by 1 + 1e-9), so the Gram is singular and the
/// true λ_min is 0 (duplicates) or ≈ 0: an inconsistency between diagonal and off-diagonal
/// entries (different quadrature rules) shows up as a negative eigenvalue of its size.
fn points(rng: &mut ChaCha8Rng, d: usize) -> Mat<f64> {
    let mut x = Mat::from_fn(50, d, |_, _| StandardNormal.sample(rng));
    for i in 0..5 {
        for j in 0..d {
            x[(40 + i, j)] = x[(i, j)];
            x[(45 + i, j)] = x[(5 + i, j)] * (1.0 + 1e-9);
        }
    }
    x
}

/// λ_min and ‖K‖₂ of a symmetric matrix.
fn lambda_min_and_norm(k: MatRef<'_, f64>) -> (f64, f64) {
    let values = k.self_adjoint_eigenvalues(Side::Lower).unwrap();
    let norm = values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    (values[0], norm)
}

/// λ_min ≥ −C·ε·n·‖K‖ with C = 100. The Mehler series Σₖ aₖ(qᵢ)aₖ(qⱼ)ρᵢⱼᵏ is PSD exactly when
/// the correlation matrix ρ is (Schur product theorem), and the diagonal is the same series at
/// ρ = 1, so the only departures are rounding: of the correlations (a few ε, amplified by at
/// most k·ρᵏ⁻¹ summed against the coefficients, i.e. by the slope E σ'σ' ≲ ‖K‖), of the
/// 160-term Horner sums (≲ 160ε relative per entry, but of random sign, ~√160 ≈ 13ε), and the
/// eigensolver's backward error O(ε‖K‖); per layer these are a few ε·n·‖K‖ and three layers
/// compound them: C = 100. The previous 64×64 tensor-rule duals failed this by 10⁴–10⁸ (tanh,
/// sin: λ_min ≈ −1e-5·‖K‖ on such inputs).
#[test]
fn quadrature_activation_kernels_are_psd() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    for d in [1, 2, 5] {
        let x = points(&mut rng, d);
        let n = x.nrows();
        for (act, w_std) in [
            (Activation::Tanh, 1.5),
            (Activation::Softplus, 1.3),
            (Activation::Sin, 1.5),
            (Activation::Exp, 0.3),
        ] {
            for depth in 1..=3 {
                for param in [Parameterization::Ntk, Parameterization::Standard] {
                    let arch = Architecture::mlp(depth, 64, act, w_std, Some(0.2), param).unwrap();
                    let k = kernel(&arch, x.as_ref(), None, Get::BOTH)
                        .unwrap_or_else(|e| panic!("{act:?} d = {d} L = {depth} {param:?}: {e}"));
                    for (name, m) in [("nngp", k.nngp.unwrap()), ("ntk", k.ntk.unwrap())] {
                        for j in 0..n {
                            for i in 0..j {
                                assert_eq!(m[(i, j)].to_bits(), m[(j, i)].to_bits());
                            }
                        }
                        let (lambda_min, norm) = lambda_min_and_norm(m.as_ref());
                        let bound = -100.0 * f64::EPSILON * n as f64 * norm;
                        assert!(
                            bound <= lambda_min,
                            "{act:?} d = {d} L = {depth} {param:?} {name}: λ_min = {lambda_min:e} \
                             < {bound:e} (‖K‖ = {norm:e})"
                        );
                    }
                }
            }
        }
    }
}
