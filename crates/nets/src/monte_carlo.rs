//! Monte Carlo estimates of the infinite-width kernels: the mean and standard error over
//! independent initialisations θ⁰_s (s = 0..S−1, generator `ChaCha8Rng::seed_from_u64(base_seed
//! + s)`) of the empirical NTK and NNGP,
//!
//! $$ \bar\Theta = \frac1S \sum_s \hat\Theta_{\theta^0_s}, \qquad
//!    \mathrm{se}_{ij} = \sqrt{\tfrac{1}{S(S-1)} \sum_s (\hat\Theta_{s,ij} - \bar\Theta_{ij})^2 }. $$
//!
//! Samples run in parallel (rayon, `Par::Seq` inside each task) and are reduced in index order,
//! so the result is bit-identical for any number of threads.
//!
//! # Reference
//! Novak et al. 2020, arXiv:1912.02803 (`monte_carlo_kernel_fn`); Jacot et al. 2018,
//! arXiv:1806.07572, Thm 1 (Θ̂ → Θ as widths → ∞).

use crate::{Error, Mlp, Model, Result};
use faer::{Mat, MatRef, Par};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Mean and standard error of the empirical kernels over initialisations.
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarloKernel {
    pub ntk: Mat<f64>,
    pub ntk_std_err: Mat<f64>,
    pub nngp: Mat<f64>,
    pub nngp_std_err: Mat<f64>,
    pub n_samples: usize,
}

/// Samples processed per parallel batch (memory bound only; the result does not depend on it).
const BATCH: usize = 16;

/// Monte Carlo kernels of `mlp` on (x1, x2) over `n_samples` ≥ 2 initialisations; see the module
/// docs.
pub fn monte_carlo_kernel(
    mlp: &Mlp,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
    n_samples: usize,
    base_seed: u64,
) -> Result<MonteCarloKernel> {
    if n_samples < 2 {
        return Err(Error::InvalidParameter {
            arg: "n_samples",
            value: n_samples.to_string(),
            reason: "a standard error needs at least 2 samples",
        });
    }
    crate::validate::check_inputs("x1", x1, mlp.input_dim())?;
    crate::validate::check_inputs("x2", x2, mlp.input_dim())?;
    let model = mlp.clone().with_parallelism(Par::Seq);
    let (n1, n2) = (x1.nrows(), x2.nrows());
    let mut sums = [Mat::<f64>::zeros(n1, n2), Mat::<f64>::zeros(n1, n2)];
    let mut squares = [Mat::<f64>::zeros(n1, n2), Mat::<f64>::zeros(n1, n2)];
    let mut start = 0;
    while start < n_samples {
        let end = (start + BATCH).min(n_samples);
        let batch: Vec<Result<[Mat<f64>; 2]>> = (start..end)
            .into_par_iter()
            .map(|index| {
                let mut rng = ChaCha8Rng::seed_from_u64(base_seed.wrapping_add(index as u64));
                let theta = model.init_params(&mut rng);
                Ok([
                    model.empirical_ntk(&theta, x1, x2)?,
                    model.empirical_nngp(&theta, x1, x2)?,
                ])
            })
            .collect();
        for sample in batch {
            let sample = sample?;
            for k in 0..2 {
                for j in 0..n2 {
                    for i in 0..n1 {
                        let v = sample[k][(i, j)];
                        sums[k][(i, j)] += v;
                        squares[k][(i, j)] += v * v;
                    }
                }
            }
        }
        start = end;
    }
    let s = n_samples as f64;
    let finish = |sum: &Mat<f64>, sq: &Mat<f64>| {
        let mean = Mat::from_fn(n1, n2, |i, j| sum[(i, j)] / s);
        let se = Mat::from_fn(n1, n2, |i, j| {
            let m = mean[(i, j)];
            ((sq[(i, j)] - s * m * m).max(0.0) / (s * (s - 1.0))).sqrt()
        });
        (mean, se)
    };
    let (ntk, ntk_std_err) = finish(&sums[0], &squares[0]);
    let (nngp, nngp_std_err) = finish(&sums[1], &squares[1]);
    Ok(MonteCarloKernel {
        ntk,
        ntk_std_err,
        nngp,
        nngp_std_err,
        n_samples,
    })
}
