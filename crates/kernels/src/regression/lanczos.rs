//! Extreme eigenvalues of a positive-definite matrix K + λI from its Cholesky factor, by block
//! Lanczos iteration on LLᵀ (λ_max) and on (LLᵀ)⁻¹ (1/λ_min): O(n²) per step instead of the
//! O(n³) of a full eigendecomposition.

use super::eigen::eigen_with_par;
use crate::Result;
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Largest number of (block) Lanczos steps used to estimate λ_max and λ_min; each step adds
/// up to 8 vectors, so the estimates are exact when n ≤ 8 × this.
pub const LANCZOS_STEPS: usize = 40;

/// Lanczos stops early once the top Ritz value changes by at most this fraction in one (block)
/// step.
pub const LANCZOS_RTOL: f64 = 1e-6;

/// (λ_min, λ_max) of A = LLᵀ for a lower-triangular Cholesky factor L (upper triangle zero):
/// block Lanczos on A for λ_max and on A⁻¹ (two triangular solves per block) for 1/λ_min. The two
/// iterations are internally sequential and run side by side unless `par` is sequential; the
/// block of A⁻¹ is solved in two fixed column halves, so the result is the same for any thread
/// count.
///
/// # Reference
/// Golub & Van Loan 2013, *Matrix Computations* (4th ed.), §10.3.6 (block Lanczos).
pub(crate) fn extreme_eigenvalues(lower: MatRef<'_, f64>, par: Par) -> Result<(f64, f64)> {
    let n = lower.nrows();
    let largest = || {
        let mut half = Mat::<f64>::zeros(n, LANCZOS_BLOCK.min(n));
        lanczos_largest(n, |v, mut w| {
            // w = L (Lᵀ v), reading only the lower triangle.
            let mut t = half.as_mut().subcols_mut(0, v.ncols());
            triangular::matmul(
                t.rb_mut(),
                BlockStructure::Rectangular,
                Accum::Replace,
                lower.transpose(),
                BlockStructure::TriangularUpper,
                v,
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            );
            triangular::matmul(
                w.rb_mut(),
                BlockStructure::Rectangular,
                Accum::Replace,
                lower,
                BlockStructure::TriangularLower,
                t.rb(),
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            );
        })
    };
    let parallel = !matches!(par, Par::Seq);
    let inverse = || {
        lanczos_largest(n, |v, mut w| {
            w.copy_from(v);
            let half = w.ncols() / 2;
            let (left, right) = w.split_at_col_mut(half);
            let solve = |block: MatMut<'_, f64>| {
                if block.ncols() > 0 {
                    super::spd::solve_with_lower(lower, block, Par::Seq);
                }
            };
            if parallel {
                rayon::join(|| solve(left), || solve(right));
            } else {
                solve(left);
                solve(right);
            }
        })
    };
    let (lambda_max, inverse_max) = if parallel {
        rayon::join(largest, inverse)
    } else {
        (largest(), inverse())
    };
    Ok((1.0 / inverse_max?, lambda_max?))
}

/// Vectors per block of the block Lanczos iteration.
const LANCZOS_BLOCK: usize = 8;

/// Block Lanczos with full reorthogonalisation: the largest Ritz value of the symmetric operator
/// `apply` (`apply(v, w)` sets w = A·v for a block v of columns) on the block Krylov space
/// span{V, AV, A²V, …} of a fixed pseudo-random n × [`LANCZOS_BLOCK`] start block, after at most
/// [`LANCZOS_STEPS`] block steps (a lower bound on the largest eigenvalue; exact once the space
/// is all of Rⁿ). Each step applies the operator to a whole block, so one pass over the matrix
/// serves [`LANCZOS_BLOCK`] vectors. Everything runs sequentially in a fixed order.
///
/// # Reference
/// Golub & Van Loan 2013, *Matrix Computations* (4th ed.), §10.3.6 (block Lanczos).
fn lanczos_largest(
    n: usize,
    mut apply: impl FnMut(MatRef<'_, f64>, MatMut<'_, f64>),
) -> Result<f64> {
    let block = LANCZOS_BLOCK.min(n);
    let max_dim = n.min(LANCZOS_STEPS * block);
    // A fixed pseudo-random start block: deterministic and generically not orthogonal to the
    // top eigenvector.
    let mut rng = ChaCha8Rng::seed_from_u64(0x6c61_6e63_7a6f_7321);
    let mut candidate = Mat::<f64>::from_fn(n, block, |_, _| rng.random::<f64>() - 0.5);
    let mut basis = Mat::<f64>::zeros(n, max_dim);
    // T = Qᵀ A Q, filled block column by block column.
    let mut projected = Mat::<f64>::zeros(max_dim, max_dim);
    let mut image = Mat::<f64>::zeros(n, block);
    let mut dim = 0;
    let mut previous = f64::NAN;
    let mut ritz = f64::NAN;
    loop {
        let added = extend_basis(basis.as_mut(), dim, candidate.as_mut(), max_dim - dim);
        if added == 0 {
            break; // invariant subspace: the Ritz values are eigenvalues
        }
        let new = basis.as_ref().subcols(dim, added);
        let mut w = image.as_mut().subcols_mut(0, added);
        apply(new, w.rb_mut());
        dim += added;
        // New columns of T: Q[:, ..dim]ᵀ (A Q_new), mirrored into the new rows.
        let mut column = Mat::<f64>::zeros(dim, added);
        matmul(
            column.as_mut(),
            Accum::Replace,
            basis.as_ref().subcols(0, dim).transpose(),
            w.rb(),
            1.0,
            Par::Seq,
        );
        for j in 0..added {
            for i in 0..dim {
                let value = column[(i, j)];
                projected[(i, dim - added + j)] = value;
                projected[(dim - added + j, i)] = value;
            }
        }
        let t = projected.as_ref().subrows(0, dim).subcols(0, dim);
        let values = eigen_with_par(t, Par::Seq)?;
        ritz = values[dim - 1];
        // Stop once the top Ritz value has settled (relative change ≤ LANCZOS_RTOL).
        if (ritz - previous).abs() <= LANCZOS_RTOL * ritz.abs() || dim == max_dim {
            break;
        }
        previous = ritz;
        candidate = Mat::<f64>::zeros(n, added);
        candidate.copy_from(w.rb());
    }
    Ok(ritz)
}

/// Orthonormalises the columns of `candidate` against `basis[:, ..dim]` and each other (block
/// classical Gram–Schmidt twice, then modified Gram–Schmidt twice within the block; twice is
/// enough, Giraud et al. 2005) and appends at most `room` of them to the basis. Columns that
/// lose all but 1e-10 of their norm (already in the span) are dropped. Returns how many were
/// appended.
fn extend_basis(
    mut basis: MatMut<'_, f64>,
    dim: usize,
    mut candidate: MatMut<'_, f64>,
    room: usize,
) -> usize {
    let width = candidate.ncols();
    if dim > 0 {
        let mut coefficients = Mat::<f64>::zeros(dim, width);
        for _ in 0..2 {
            let previous = basis.rb().subcols(0, dim);
            matmul(
                coefficients.as_mut(),
                Accum::Replace,
                previous.transpose(),
                candidate.rb(),
                1.0,
                Par::Seq,
            );
            matmul(
                candidate.rb_mut(),
                Accum::Add,
                previous,
                coefficients.as_ref(),
                -1.0,
                Par::Seq,
            );
        }
    }
    let mut added = 0;
    for j in 0..width {
        if added == room {
            break;
        }
        let original = candidate.rb().col(j).norm_l2();
        let mut v = candidate.rb().col(j).to_owned();
        for _ in 0..2 {
            for i in 0..added {
                let q = basis.rb().col(dim + i);
                let c = q.transpose() * &v;
                v -= faer::Scale(c) * q;
            }
        }
        let norm = v.norm_l2();
        if norm.is_nan() || norm <= 1e-10 * original {
            continue;
        }
        basis
            .rb_mut()
            .col_mut(dim + added)
            .copy_from(&v / faer::Scale(norm));
        added += 1;
    }
    added
}
