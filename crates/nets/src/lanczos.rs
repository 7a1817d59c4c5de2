//! Extreme eigenvalues of a symmetric linear operator by the Lanczos iteration with full
//! reorthogonalisation: with an orthonormal Krylov basis Q_k and A Q_k = Q_k T_k + β_k q_{k+1}e_kᵀ,
//! the Ritz values θ_j (eigenvalues of the tridiagonal T_k, computed by faer) have residuals
//!
//! $$ \|A y_j - \theta_j y_j\| = |\beta_k\, s_{k,j}|, $$
//!
//! s_j the eigenvectors of T_k; the iteration stops when the wanted Ritz values all satisfy
//! |β_k s_{k,j}| ≤ tol · max_i |θ_i|.
//!
//! # Reference
//! Golub & Van Loan 2013, "Matrix Computations" (4th ed.), Sec. 10.1 (Eq. 10.1.8) and 10.3.1
//! (complete reorthogonalisation); Parlett 1998, "The Symmetric Eigenvalue Problem", Thm 13.1.1.

use crate::{Error, Result};
use faer::{Mat, Side};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Which end of the spectrum to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Largest |λ| (operator norm when `n_eigenvalues` = 1).
    LargestMagnitude,
    /// Largest λ.
    LargestAlgebraic,
}

/// Settings of the Lanczos iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LanczosConfig {
    /// Number of eigenvalues wanted.
    pub n_eigenvalues: usize,
    /// Relative residual tolerance (> 0).
    pub tol: f64,
    /// Maximum Krylov dimension.
    pub max_iter: usize,
    /// Seed of the random start vector.
    pub seed: u64,
    /// Which eigenvalues.
    pub which: Which,
}

impl Default for LanczosConfig {
    fn default() -> Self {
        Self {
            n_eigenvalues: 1,
            tol: 1e-10,
            max_iter: 300,
            seed: 0,
            which: Which::LargestMagnitude,
        }
    }
}

/// Iteration statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LanczosStats {
    /// Krylov dimension reached (= number of operator applications).
    pub iterations: usize,
    /// Largest residual |β s| of the returned Ritz pairs.
    pub residual: f64,
}

/// Eigenvalues (ordered as requested: by decreasing |λ| or decreasing λ) with their residuals.
#[derive(Debug, Clone, PartialEq)]
pub struct LanczosResult {
    pub eigenvalues: Vec<f64>,
    pub residuals: Vec<f64>,
    pub stats: LanczosStats,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The wanted eigenvalues of the symmetric operator `apply` (v ↦ A v, writes into the second
/// argument) on R^dim; see the module docs.
pub fn lanczos<F>(dim: usize, mut apply: F, config: &LanczosConfig) -> Result<LanczosResult>
where
    F: FnMut(&[f64], &mut [f64]) -> Result<()>,
{
    if dim == 0 {
        return Err(Error::Empty { arg: "dim" });
    }
    if !(config.tol.is_finite() && config.tol > 0.0) {
        return Err(Error::InvalidParameter {
            arg: "tol",
            value: config.tol.to_string(),
            reason: "must be finite and > 0",
        });
    }
    if config.n_eigenvalues == 0 || config.n_eigenvalues > dim {
        return Err(Error::InvalidParameter {
            arg: "n_eigenvalues",
            value: config.n_eigenvalues.to_string(),
            reason: "must be in 1..=dim",
        });
    }
    if config.max_iter < config.n_eigenvalues {
        return Err(Error::InvalidParameter {
            arg: "max_iter",
            value: config.max_iter.to_string(),
            reason: "must be at least n_eigenvalues",
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut alphas: Vec<f64> = Vec::new();
    let mut betas: Vec<f64> = Vec::new();
    let random_unit = |rng: &mut ChaCha8Rng, basis: &[Vec<f64>]| -> Option<Vec<f64>> {
        let mut q: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(rng)).collect();
        for _ in 0..2 {
            for b in basis {
                let c = dot(&q, b);
                q.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let norm = dot(&q, &q).sqrt();
        (norm > 1e-8).then(|| q.into_iter().map(|x| x / norm).collect())
    };
    let mut q = random_unit(&mut rng, &basis).expect("dim >= 1");
    let mut w = vec![0.0; dim];
    let max_iter = config.max_iter.min(dim);
    let mut last = (Vec::new(), Vec::new(), f64::INFINITY);
    for k in 0..max_iter {
        apply(&q, &mut w)?;
        if let Some(index) = w.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                arg: "operator output",
                index,
                value: w[index],
            });
        }
        let alpha = dot(&q, &w);
        basis.push(q.clone());
        alphas.push(alpha);
        // Full reorthogonalisation (twice is enough, Giraud et al. 2005).
        for _ in 0..2 {
            for b in &basis {
                let c = dot(&w, b);
                w.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let beta = dot(&w, &w).sqrt();
        // Ritz values of T_k.
        let m = k + 1;
        let t = Mat::<f64>::from_fn(m, m, |i, j| {
            if i == j {
                alphas[i]
            } else if i == j + 1 {
                betas[j]
            } else if j == i + 1 {
                betas[i]
            } else {
                0.0
            }
        });
        let eig = t
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::InvalidParameter {
                arg: "tridiagonal",
                value: format!("{e:?}"),
                reason: "eigendecomposition failed",
            })?;
        let values: Vec<f64> = (0..m).map(|i| eig.S()[i]).collect();
        let scale = values
            .iter()
            .fold(0.0f64, |acc, v| acc.max(v.abs()))
            .max(f64::MIN_POSITIVE);
        let mut order: Vec<usize> = (0..m).collect();
        match config.which {
            Which::LargestMagnitude => {
                order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()))
            }
            Which::LargestAlgebraic => order.sort_by(|&a, &b| values[b].total_cmp(&values[a])),
        }
        let wanted = config.n_eigenvalues.min(m);
        let eigenvalues: Vec<f64> = order[..wanted].iter().map(|&i| values[i]).collect();
        let residuals: Vec<f64> = order[..wanted]
            .iter()
            .map(|&i| (beta * eig.U()[(m - 1, i)]).abs())
            .collect();
        let worst = residuals.iter().fold(0.0f64, |a, &r| a.max(r));
        let exhausted = m == dim;
        if wanted == config.n_eigenvalues && (worst <= config.tol * scale || exhausted) {
            return Ok(LanczosResult {
                eigenvalues,
                residuals,
                stats: LanczosStats {
                    iterations: m,
                    residual: worst,
                },
            });
        }
        last = (eigenvalues, residuals, worst);
        if beta <= 1e-12 * scale {
            // Invariant subspace found: continue in its orthogonal complement.
            match random_unit(&mut rng, &basis) {
                Some(next) => {
                    q = next;
                    betas.push(0.0);
                }
                None => {
                    return Ok(LanczosResult {
                        eigenvalues: last.0,
                        residuals: last.1,
                        stats: LanczosStats {
                            iterations: m,
                            residual: last.2,
                        },
                    });
                }
            }
        } else {
            q = w.iter().map(|x| x / beta).collect();
            betas.push(beta);
        }
    }
    Err(Error::NotConverged {
        what: "Lanczos",
        iterations: max_iter,
        residual: last.2,
    })
}
