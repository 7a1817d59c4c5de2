//! Closed-form reference problems shared by the tests, the label-noise experiment and the
//! reproduce task: the two-layer ReLU Gram matrix H^∞, the ReLU random-features kernel and its
//! finite-N Monte Carlo version, seeded points on the sphere and SPD matrices of known spectrum.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result, check_finite_mat};

fn check_inputs(arg: &'static str, x: MatRef<'_, f64>) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::Empty { arg });
    }
    check_finite_mat(arg, x)
}

fn check_same_dim(x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> Result<()> {
    check_inputs("x1", x1)?;
    check_inputs("x2", x2)?;
    if x1.ncols() != x2.ncols() {
        return Err(Error::ShapeMismatch {
            arg: "x2",
            expected: format!("{} columns", x1.ncols()),
            found: format!("{} columns", x2.ncols()),
        });
    }
    Ok(())
}

fn inner_products(x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> Mat<f64> {
    let mut g = Mat::<f64>::zeros(x1.nrows(), x2.nrows());
    matmul(
        g.as_mut(),
        Accum::Replace,
        x1,
        x2.transpose(),
        1.0,
        Par::Seq,
    );
    g
}

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

fn cosine(dot: f64, norm1: f64, norm2: f64) -> f64 {
    if norm1 == 0.0 || norm2 == 0.0 {
        0.0
    } else {
        (dot / (norm1 * norm2)).clamp(-1.0, 1.0)
    }
}

/// Du et al.'s two-layer ReLU Gram matrix between the rows of `x1` and `x2`:
///
/// $$ H^\infty_{ij} = \mathbb E_{w\sim\mathcal N(0,I)}[x_i^\top x_j\,\mathbb 1\{w^\top x_i\ge0, w^\top x_j\ge0\}]
///    = \frac{x_i^\top x_j\,(\pi - \arccos u_{ij})}{2\pi},\quad u_{ij} = \frac{x_i^\top x_j}{\|x_i\|\|x_j\|} $$
///
/// # Reference
/// Du, Zhai, Póczos & Singh 2019, arXiv:1810.02054, Eq. (4.1)/Thm 3.1; Arora et al. 2019,
/// arXiv:1901.08584, Eq. (3).
pub fn h_infinity_cross(x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> Result<Mat<f64>> {
    check_same_dim(x1, x2)?;
    let g = inner_products(x1, x2);
    let (n1, n2) = (row_norms(x1), row_norms(x2));
    Ok(Mat::from_fn(x1.nrows(), x2.nrows(), |i, j| {
        let u = cosine(g[(i, j)], n1[i], n2[j]);
        g[(i, j)] * (std::f64::consts::PI - u.acos()) / (2.0 * std::f64::consts::PI)
    }))
}

/// H^∞ on one data set (exactly symmetric: the upper triangle is mirrored).
///
/// $$ H^\infty_{ij} = \frac{x_i^\top x_j\,(\pi - \arccos u_{ij})}{2\pi} $$
///
/// # Reference
/// Du, Zhai, Póczos & Singh 2019, arXiv:1810.02054, Thm 3.1.
pub fn h_infinity(x: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let h = h_infinity_cross(x, x)?;
    Ok(Mat::from_fn(h.nrows(), h.ncols(), |i, j| {
        if i <= j { h[(i, j)] } else { h[(j, i)] }
    }))
}

/// The ReLU random-features kernel with w ~ N(0, I_d) (arc-cosine kernel of degree 1):
///
/// $$ K(x, x') = \mathbb E_w[\sigma(w^\top x)\sigma(w^\top x')]
///    = \frac{\|x\|\|x'\|}{2\pi}\Big(\sqrt{1-u^2} + (\pi - \arccos u)\,u\Big) $$
///
/// # Reference
/// Cho & Saul 2009, "Kernel methods for deep learning", NeurIPS, Eq. (6) with n = 1.
pub fn relu_rf_kernel(x: MatRef<'_, f64>) -> Result<Mat<f64>> {
    check_inputs("x", x)?;
    let g = inner_products(x, x);
    let norms = row_norms(x);
    Ok(Mat::from_fn(x.nrows(), x.nrows(), |i, j| {
        let (a, b) = if i <= j { (i, j) } else { (j, i) };
        let u = cosine(g[(a, b)], norms[a], norms[b]);
        norms[a]
            * norms[b]
            * ((1.0 - u * u).max(0.0).sqrt() + (std::f64::consts::PI - u.acos()) * u)
            / (2.0 * std::f64::consts::PI)
    }))
}

/// The finite-N random-features kernel with N i.i.d. w_a ~ N(0, I_d) drawn from ChaCha8 seeded
/// with `seed`:
///
/// $$ K_N(x, x') = \frac1N\sum_{a=1}^N \sigma(w_a^\top x)\sigma(w_a^\top x') $$
///
/// # Reference
/// Rahimi & Recht 2007, "Random features for large-scale kernel machines", NeurIPS.
pub fn relu_rf_kernel_finite(x: MatRef<'_, f64>, n_features: usize, seed: u64) -> Result<Mat<f64>> {
    check_inputs("x", x)?;
    if n_features == 0 {
        return Err(Error::InvalidParameter {
            arg: "n_features",
            value: 0.0,
            reason: "must be >= 1",
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w = Mat::from_fn(x.ncols(), n_features, |_, _| -> f64 {
        StandardNormal.sample(&mut rng)
    });
    let mut features = Mat::<f64>::zeros(x.nrows(), n_features);
    matmul(
        features.as_mut(),
        Accum::Replace,
        x,
        w.as_ref(),
        1.0,
        Par::Seq,
    );
    let features = Mat::from_fn(x.nrows(), n_features, |i, a| features[(i, a)].max(0.0));
    let mut k = Mat::<f64>::zeros(x.nrows(), x.nrows());
    matmul(
        k.as_mut(),
        Accum::Replace,
        features.as_ref(),
        features.transpose(),
        1.0 / n_features as f64,
        Par::Seq,
    );
    let n = x.nrows();
    Ok(Mat::from_fn(n, n, |i, j| {
        if i <= j { k[(i, j)] } else { k[(j, i)] }
    }))
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
