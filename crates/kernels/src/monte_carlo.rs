//! Monte-Carlo estimators of the infinite-width kernels, for validation.
//!
//! - [`monte_carlo_dual`]: E[σ(u)σ(v)] and E[σ'(u)σ'(v)] from N seeded draws of
//!   (u, v) ~ N(0, [[q₁, c], [c, q₂]]), with the standard error s/√N of each mean;
//! - [`monte_carlo_nngp`]: the NNGP of a whole architecture from seeded random finite networks,
//!   Σ̂(x, x') = (1/S) Σₛ f_s(x) f_s(x'); exact in expectation for one hidden layer, with an O(1/width)
//!   bias for deeper networks (Lee et al. 2018, arXiv:1711.00165, Sec. 2.3).

use crate::error::check_finite_mat;
use crate::{Activation, Architecture, Error, Layer, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// A Monte-Carlo mean with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The sample mean.
    pub mean: f64,
    /// The standard error of the mean, s/√N (s the unbiased sample standard deviation).
    pub std_error: f64,
}

/// Monte-Carlo estimates of the two dual-activation expectations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DualEstimate {
    /// Estimate of E[σ(u)σ(v)].
    pub nngp: Estimate,
    /// Estimate of E[σ'(u)σ'(v)].
    pub ntk_dot: Estimate,
}

/// Sample estimate of E[σ(u)σ(v)] and E[σ'(u)σ'(v)], (u, v) ~ N(0, [[q₁, c], [c, q₂]]), from
/// `n_samples` draws u = √q₁ z₁, v = √q₂(ρz₁ + √(1−ρ²) z₂) of a `ChaCha8Rng` seeded with `seed`.
///
/// $$ \hat m = \frac1N\sum_{s} \sigma(u_s)\sigma(v_s),\qquad \mathrm{se} = \sqrt{\tfrac{1}{N(N-1)}\sum_s (\sigma(u_s)\sigma(v_s)-\hat m)^2} $$
///
/// # Errors
/// `n_samples < 2`, non-finite or negative variances, or |c| > √(q₁q₂)(1 + 1e-12).
///
/// # Reference
/// Lee et al. 2018, arXiv:1711.00165, eq. (4) (the expectation being estimated).
pub fn monte_carlo_dual(
    act: &Activation,
    q1: f64,
    q2: f64,
    c: f64,
    n_samples: usize,
    seed: u64,
) -> Result<DualEstimate> {
    if n_samples < 2 {
        return Err(Error::InvalidParameter {
            arg: "n_samples",
            value: n_samples.to_string(),
            reason: "at least two samples are needed for a standard error",
        });
    }
    for (arg, q) in [("q1", q1), ("q2", q2)] {
        if !(q.is_finite() && q >= 0.0) {
            return Err(Error::InvalidParameter {
                arg,
                value: q.to_string(),
                reason: "a variance must be finite and >= 0",
            });
        }
    }
    if !c.is_finite() || c * c > q1 * q2 * (1.0 + 1e-12) {
        return Err(Error::InvalidParameter {
            arg: "c",
            value: c.to_string(),
            reason: "the covariance must satisfy c^2 <= q1 q2",
        });
    }
    let rho = crate::analytic::quadrature::correlation(q1, q2, c);
    let (s1, s2) = (q1.sqrt(), q2.sqrt());
    let orth = (1.0 - rho * rho).max(0.0).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut nngp = Welford::default();
    let mut ntk_dot = Welford::default();
    for _ in 0..n_samples {
        let z1: f64 = StandardNormal.sample(&mut rng);
        let z2: f64 = StandardNormal.sample(&mut rng);
        let u = s1 * z1;
        let v = s2 * (rho * z1 + orth * z2);
        nngp.push(act.phi(u) * act.phi(v));
        ntk_dot.push(act.dphi(u) * act.dphi(v));
    }
    Ok(DualEstimate {
        nngp: nngp.estimate(),
        ntk_dot: ntk_dot.estimate(),
    })
}

/// Running mean and variance (Welford 1962).
#[derive(Default)]
struct Welford {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.count += 1.0;
        let delta = x - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (x - self.mean);
    }

    fn estimate(&self) -> Estimate {
        let var = self.m2 / (self.count - 1.0);
        Estimate {
            mean: self.mean,
            std_error: (var / self.count).sqrt(),
        }
    }
}

/// Monte-Carlo NNGP matrix of `arch` from `n_networks` random finite networks (the widths of
/// `arch`; every output unit of the readout counts as one sample), each drawn from
/// `ChaCha8Rng::seed_from_u64(seed + s)`:
///
/// $$ \hat\Sigma(x_i, x'_j) = \frac{1}{S\,k}\sum_{s=1}^{S}\sum_{o=1}^{k} f_{s,o}(x_i)\,f_{s,o}(x'_j), $$
///
/// with f the network z = (w_std/√fan_in)·hW + b_std·b, W, b ~ N(0, 1) (both parameterizations
/// have this forward distribution). Returns (mean, standard error over the S networks).
///
/// # Errors
/// Empty or non-finite inputs, mismatched input dimensions, `n_networks < 2`.
///
/// # Reference
/// Lee et al. 2018, arXiv:1711.00165, Sec. 2.3; Novak et al. 2020, arXiv:1912.02803
/// (`monte_carlo_kernel_fn`).
pub fn monte_carlo_nngp(
    arch: &Architecture,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
    n_networks: usize,
    seed: u64,
) -> Result<(Mat<f64>, Mat<f64>)> {
    if x1.nrows() == 0 || x1.ncols() == 0 {
        return Err(Error::Empty { arg: "x1" });
    }
    if x2.nrows() == 0 {
        return Err(Error::Empty { arg: "x2" });
    }
    if x2.ncols() != x1.ncols() {
        return Err(Error::ShapeMismatch {
            arg: "x2",
            expected: format!("{} columns", x1.ncols()),
            found: format!("{} columns", x2.ncols()),
        });
    }
    check_finite_mat("x1", x1)?;
    check_finite_mat("x2", x2)?;
    if n_networks < 2 {
        return Err(Error::InvalidParameter {
            arg: "n_networks",
            value: n_networks.to_string(),
            reason: "at least two networks are needed for a standard error",
        });
    }
    let (n1, n2) = (x1.nrows(), x2.nrows());
    let samples: Vec<Mat<f64>> = (0..n_networks)
        .into_par_iter()
        .map(|s| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(s as u64));
            let mut h1 = x1.to_owned();
            let mut h2 = x2.to_owned();
            for layer in arch.layers() {
                match *layer {
                    Layer::Dense {
                        width,
                        w_std,
                        b_std,
                    } => {
                        let fan_in = h1.ncols();
                        let scale = w_std / (fan_in as f64).sqrt();
                        let w = Mat::from_fn(fan_in, width, |_, _| {
                            let z: f64 = StandardNormal.sample(&mut rng);
                            scale * z
                        });
                        let b_std = b_std.unwrap_or(0.0);
                        let bias: Vec<f64> = (0..width)
                            .map(|_| {
                                let z: f64 = StandardNormal.sample(&mut rng);
                                b_std * z
                            })
                            .collect();
                        h1 = affine(h1.as_ref(), w.as_ref(), &bias);
                        h2 = affine(h2.as_ref(), w.as_ref(), &bias);
                    }
                    Layer::Activation(act) => {
                        h1 = Mat::from_fn(h1.nrows(), h1.ncols(), |i, j| act.phi(h1[(i, j)]));
                        h2 = Mat::from_fn(h2.nrows(), h2.ncols(), |i, j| act.phi(h2[(i, j)]));
                    }
                }
            }
            let k = h1.ncols() as f64;
            let mut prod = Mat::<f64>::zeros(n1, n2);
            matmul(
                prod.as_mut(),
                Accum::Replace,
                h1.as_ref(),
                h2.as_ref().transpose(),
                1.0 / k,
                Par::Seq,
            );
            prod
        })
        .collect();
    let count = n_networks as f64;
    let mean = Mat::from_fn(n1, n2, |i, j| {
        samples.iter().map(|m| m[(i, j)]).sum::<f64>() / count
    });
    let std_error = Mat::from_fn(n1, n2, |i, j| {
        let m = mean[(i, j)];
        let ss: f64 = samples.iter().map(|s| (s[(i, j)] - m).powi(2)).sum();
        (ss / (count - 1.0) / count).sqrt()
    });
    Ok((mean, std_error))
}

fn affine(h: MatRef<'_, f64>, w: MatRef<'_, f64>, bias: &[f64]) -> Mat<f64> {
    let mut out = Mat::from_fn(h.nrows(), w.ncols(), |_, j| bias[j]);
    matmul(out.as_mut(), Accum::Add, h, w, 1.0, Par::Seq);
    out
}
