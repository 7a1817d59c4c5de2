//! Reference problems shared by the tests, the examples and the reproduce task: seeded points on
//! the sphere and symmetric matrices of known spectrum. (The kernels themselves, H^∞, Θ^(L) and
//! the random-feature kernels, come from `ntk-kernels`: see [`crate::gram`] and
//! [`crate::ntk_gram`].)

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn row_norms(x: MatRef<'_, f64>) -> Vec<f64> {
    (0..x.nrows())
        .map(|i| {
            (0..x.ncols())
                .map(|j| x[(i, j)].powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// `n` points drawn uniformly on the unit sphere S^{d−1} (normalised Gaussians), one per row.
pub fn random_sphere(n: usize, dim: usize, seed: u64) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = Mat::from_fn(n, dim, |_, _| -> f64 { StandardNormal.sample(&mut rng) });
    let norms = row_norms(g.as_ref());
    Mat::from_fn(n, dim, |i, j| g[(i, j)] / norms[i])
}

/// A symmetric matrix Q diag(spectrum) Qᵀ with a seeded random orthogonal Q (from the QR
/// factorisation of a Gaussian matrix): a λ_min reference with λ_min = min(spectrum) exactly.
pub fn matrix_with_spectrum(spectrum: &[f64], seed: u64) -> Mat<f64> {
    let n = spectrum.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = Mat::from_fn(n, n, |_, _| -> f64 { StandardNormal.sample(&mut rng) });
    let q = g.qr().compute_thin_Q();
    let scaled = Mat::from_fn(n, n, |i, j| q[(i, j)] * spectrum[j]);
    let mut k = Mat::<f64>::zeros(n, n);
    matmul(
        k.as_mut(),
        Accum::Replace,
        scaled.as_ref(),
        q.transpose(),
        1.0,
        Par::Seq,
    );
    Mat::from_fn(n, n, |i, j| if i <= j { k[(i, j)] } else { k[(j, i)] })
}
