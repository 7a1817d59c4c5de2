//! Reference problems shared by the tests, the benches and the reproduce task: deterministic
//! input sets and the activation lists the derivative checks sweep over.

use faer::Mat;
use ntk_kernels::{Activation, Parameterization};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::MlpSpec;

/// Activations with a second derivative (σ'' ≠ 0 somewhere), for HVP checks.
pub const SMOOTH_ACTIVATIONS: [Activation; 6] = [
    Activation::Erf,
    Activation::Gelu,
    Activation::Softplus,
    Activation::Tanh,
    Activation::Exp,
    Activation::Sin,
];

/// Every activation of `ntk_kernels` (piecewise-linear ones included).
pub fn all_activations() -> Vec<Activation> {
    let mut all = SMOOTH_ACTIVATIONS.to_vec();
    all.extend([
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::AbRelu { a: -0.4, b: 1.3 },
        Activation::Identity,
    ]);
    all
}

/// neural-tangents' reference inputs (`nt_relu.json`, `anchor_timings.md`):
/// `x[i][j] = sin(0.7(i+1) + 1.3(j+1)) + 0.1 cos(2.1(i+1)(j+1))`, rows i ∈ first_row..first_row+n.
pub fn nt_inputs(first_row: usize, n: usize, d: usize) -> Mat<f64> {
    Mat::from_fn(n, d, |i, j| {
        let (a, b) = ((first_row + i + 1) as f64, (j + 1) as f64);
        (0.7 * a + 1.3 * b).sin() + 0.1 * (2.1 * a * b).cos()
    })
}

/// An n × d matrix of i.i.d. N(0, scale²) entries.
pub fn gaussian_matrix<R: Rng + ?Sized>(rng: &mut R, n: usize, d: usize, scale: f64) -> Mat<f64> {
    Mat::from_fn(n, d, |_, _| {
        let z: f64 = StandardNormal.sample(rng);
        scale * z
    })
}

/// The benchmark network of issue 9: d = 64 → 512 → 512 → 1, ReLU, NTK parameterization,
/// w_std = √2, b_std = 0.05.
pub fn bench_spec() -> MlpSpec {
    MlpSpec {
        input_dim: 64,
        hidden_widths: vec![512, 512],
        activation: Activation::Relu,
        w_std: std::f64::consts::SQRT_2,
        b_std: Some(0.05),
        parameterization: Parameterization::Ntk,
    }
}
