//! Du et al.'s two-layer ReLU Gram matrix H^∞ on a data set, assembled from the kernel entry of
//! `ntk-kernels` ([`ntk_kernels::two_layer::du_gram_entry`]):
//!
//! $$ H^\infty_{ij} = \mathbb E_{w\sim\mathcal N(0,I)}\big[x_i^\top x_j\,\mathbb 1\{w^\top x_i\ge0,\ w^\top x_j\ge0\}\big]
//!    = \frac{x_i^\top x_j\,(\pi - \arccos u_{ij})}{2\pi},\qquad u_{ij} = \frac{x_i^\top x_j}{\|x_i\|\|x_j\|}. $$
//!
//! What this module adds to the entry function: validation once for the whole data set (with
//! the offending row named), row-parallel assembly that does not depend on the thread count, and
//! an exactly symmetric self Gram matrix (upper triangle computed, lower mirrored), which the
//! λ_min and Cholesky routines of this crate require.

use faer::{Mat, MatRef};
use ntk_kernels::two_layer::du_gram_entry;
use rayon::prelude::*;

use crate::error::{Error, Result, check_finite_mat};

/// The rows of `x` as one row-major buffer, after checking that `x` is non-empty, finite and has
/// no zero row (the angle u_ij is undefined for a zero input).
fn validated_rows(arg: &'static str, x: MatRef<'_, f64>) -> Result<Vec<f64>> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::Empty { arg });
    }
    check_finite_mat(arg, x)?;
    let d = x.ncols();
    let rows: Vec<f64> = (0..x.nrows())
        .flat_map(|i| (0..d).map(move |j| x[(i, j)]))
        .collect();
    if let Some(index) = rows.chunks(d).position(|r| r.iter().all(|&v| v == 0.0)) {
        return Err(Error::ZeroNorm { arg, index });
    }
    Ok(rows)
}

/// Entries `entry(i, j)` of an n1 × n2 matrix, computed row by row in parallel (each entry is
/// independent, so the result does not depend on the number of threads); `upper_only` skips
/// j < i.
fn assemble(
    n1: usize,
    n2: usize,
    upper_only: bool,
    entry: impl Fn(usize, usize) -> Result<f64> + Sync,
) -> Result<Vec<f64>> {
    let mut values = vec![0.0; n1 * n2];
    values
        .par_chunks_mut(n2)
        .enumerate()
        .try_for_each(|(i, row)| -> Result<()> {
            let start = if upper_only { i } else { 0 };
            for (j, v) in row.iter_mut().enumerate().skip(start) {
                *v = entry(i, j)?;
            }
            Ok(())
        })?;
    Ok(values)
}

/// H^∞ between the rows of `x1` (n₁ × d) and of `x2` (n₂ × d):
///
/// $$ H^\infty(x, x') = \frac{x^\top x'\,(\pi - \arccos u)}{2\pi},\qquad u = \frac{x^\top x'}{\|x\|\|x'\|} $$
///
/// # Errors
/// Empty or non-finite inputs, a zero row ([`Error::ZeroNorm`]), different column counts.
///
/// # Reference
/// Du, Zhai, Póczos & Singh 2019, arXiv:1810.02054, Eq. (4) and Thm 3.1; Arora et al. 2019,
/// arXiv:1901.08584, Eq. (3).
pub fn h_infinity_cross(x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let rows1 = validated_rows("x1", x1)?;
    let rows2 = validated_rows("x2", x2)?;
    let d = x1.ncols();
    if x2.ncols() != d {
        return Err(Error::ShapeMismatch {
            arg: "x2",
            expected: format!("{d} columns"),
            found: format!("{} columns", x2.ncols()),
        });
    }
    let (n1, n2) = (x1.nrows(), x2.nrows());
    let values = assemble(n1, n2, false, |i, j| {
        Ok(du_gram_entry(
            &rows1[i * d..(i + 1) * d],
            &rows2[j * d..(j + 1) * d],
        )?)
    })?;
    Ok(Mat::from_fn(n1, n2, |i, j| values[i * n2 + j]))
}

/// H^∞ on one data set (n × n, exactly symmetric: the upper triangle is computed and mirrored).
///
/// $$ H^\infty_{ij} = \frac{x_i^\top x_j\,(\pi - \arccos u_{ij})}{2\pi} $$
///
/// λ₀ = λ_min(H^∞) > 0 iff no two rows are parallel (antiparallel rows give H_ij = 0 and do not
/// make it singular).
///
/// # Errors
/// Empty or non-finite input, a zero row ([`Error::ZeroNorm`]).
///
/// # Reference
/// Du, Zhai, Póczos & Singh 2019, arXiv:1810.02054, Thm 3.1.
pub fn h_infinity(x: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let rows = validated_rows("x", x)?;
    let (n, d) = (x.nrows(), x.ncols());
    let values = assemble(n, n, true, |i, j| {
        Ok(du_gram_entry(
            &rows[i * d..(i + 1) * d],
            &rows[j * d..(j + 1) * d],
        )?)
    })?;
    Ok(Mat::from_fn(n, n, |i, j| {
        if i <= j {
            values[i * n + j]
        } else {
            values[j * n + i]
        }
    }))
}
