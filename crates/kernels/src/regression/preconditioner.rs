//! Preconditioners M(ρ) ≈ K + ρI for [`super::preconditioned_conjugate_gradient`]: CG on
//! A = K + ρI converges in O(√κ(M⁻¹A)) iterations instead of O(√κ(A)).
//!
//! - [`Jacobi`]: M = diag(K) + ρI (the default of [`super::conjugate_gradient`]); enough when
//!   the kernel is well conditioned after rescaling its rows and columns.
//! - [`super::Nystrom`]: a low-rank Nyström approximation of K inverted exactly on its range;
//!   for kernels with a decaying spectrum and small ridges (large image data sets).
//!
//! A preconditioner is built once per kernel and serves every ridge ρ.

use crate::{Error, Result};
use faer::{Mat, MatRef};

/// z = M(ρ)⁻¹ r for a symmetric positive-definite M(ρ) approximating K + ρI.
///
/// Implementations must be deterministic (the same bits whatever the thread count).
pub trait Preconditioner: Sync {
    /// The size n.
    fn dim(&self) -> usize;
    /// M(ρ_j)⁻¹ r_j for every column r_j of R (n × c), with the ridge ρ_j of that column
    /// (`ridges.len() == c`).
    fn solve(&self, ridges: &[f64], r: MatRef<'_, f64>) -> Result<Mat<f64>>;
}

/// The Jacobi (diagonal) preconditioner M(ρ) = diag(K) + ρI.
///
/// $$ z_i = \frac{r_i}{K_{ii} + \rho} $$
///
/// (a non-positive K_ii + ρ is replaced by 1).
///
/// # Reference
/// Saad 2003, *Iterative Methods for Sparse Linear Systems* (2nd ed.), §10.2 (Jacobi
/// preconditioning).
#[derive(Debug, Clone, PartialEq)]
pub struct Jacobi {
    diagonal: Vec<f64>,
}

impl Jacobi {
    /// From the diagonal of K.
    ///
    /// # Errors
    /// Empty or non-finite diagonal.
    pub fn new(diagonal: Vec<f64>) -> Result<Self> {
        if diagonal.is_empty() {
            return Err(Error::Empty { arg: "diagonal" });
        }
        if let Some(index) = diagonal.iter().position(|d| !d.is_finite()) {
            return Err(Error::NonFinite {
                arg: "diagonal",
                index,
                value: diagonal[index],
            });
        }
        Ok(Self { diagonal })
    }

    /// 1/(K_ii + ρ), or 1 where that is not positive.
    fn inverse_diagonal(&self, ridge: f64) -> Vec<f64> {
        self.diagonal
            .iter()
            .map(|&d| {
                let shifted = d + ridge;
                if shifted > 0.0 { 1.0 / shifted } else { 1.0 }
            })
            .collect()
    }
}

impl Preconditioner for Jacobi {
    fn dim(&self) -> usize {
        self.diagonal.len()
    }

    fn solve(&self, ridges: &[f64], r: MatRef<'_, f64>) -> Result<Mat<f64>> {
        crate::error::check_rows("r", r, self.diagonal.len())?;
        check_ridges(ridges, r.ncols())?;
        let mut out = Mat::<f64>::zeros(r.nrows(), r.ncols());
        for (j, &ridge) in ridges.iter().enumerate() {
            let inverse = self.inverse_diagonal(ridge);
            for i in 0..r.nrows() {
                out[(i, j)] = r[(i, j)] * inverse[i];
            }
        }
        Ok(out)
    }
}

/// One finite, non-negative ridge per column.
pub(crate) fn check_ridges(ridges: &[f64], columns: usize) -> Result<()> {
    if ridges.len() != columns {
        return Err(Error::ShapeMismatch {
            arg: "ridges",
            expected: format!("{columns} (one per column)"),
            found: ridges.len().to_string(),
        });
    }
    for &ridge in ridges {
        super::spd::check_ridge("ridge", ridge)?;
    }
    Ok(())
}
