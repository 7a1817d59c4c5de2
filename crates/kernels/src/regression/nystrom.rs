//! The Nyström preconditioner: a rank-r approximation K̂ = U Λ Uᵀ of the kernel from ℓ
//! landmark columns, inverted exactly on its range and left as the identity on the rest.
//!
//! Landmarks S (|S| = ℓ, sampled uniformly without replacement with a seed) give the column
//! Nyström approximation K̂ = C W⁺ Cᵀ with C = K[:, S], W = K[S, S] (Williams & Seeger 2001). It
//! is computed stably (Tropp et al. 2017, Alg. 3, with the sketch Ω = I[:, S]): with a shift
//! ν = √n·ε·‖C‖_F,
//!
//! $$ Y_\nu = C + \nu\,\Omega,\quad W_\nu = \Omega^\top Y_\nu = L L^\top,\quad
//!    B = Y_\nu L^{-\top},\quad B^\top B = V \Sigma^2 V^\top,\quad
//!    U = B V \Sigma^{-1},\quad \Lambda = \max(\Sigma^2 - \nu I, 0), $$
//!
//! keeping the eigenpairs with σ² > 10⁻¹⁰·σ²_max and λ > 0 (rank r ≤ ℓ). The preconditioner
//! for K + ρI is (Frangella, Tropp & Udell 2023, Eq. (5.3))
//!
//! $$ P^{-1} = (\lambda_r + \rho)\, U (\Lambda + \rho I)^{-1} U^\top + (I - U U^\top), $$
//!
//! with λ_r the smallest kept eigenvalue: P⁻¹(K + ρI) has the eigenvalues of K's top-r part
//! mapped to λ_r + ρ and the rest bounded by (λ_r + ρ + ‖K − K̂‖)/ρ (their Prop. 5.3), so CG
//! needs few iterations once λ_r is comparable to ρ, whatever the spread of the top of the
//! spectrum. The factors are built once and serve every ridge ρ.
//!
//! # Reference
//! Williams & Seeger 2001, NeurIPS 13 (the Nyström method for kernel machines); Tropp, Yurtsever,
//! Udell & Cevher 2017, SIAM J. Matrix Anal. Appl. 38(4), arXiv:1706.05736, Alg. 3 (stable
//! fixed-rank Nyström); Frangella, Tropp & Udell 2023, SIAM J. Matrix Anal. Appl. 44(2),
//! arXiv:2110.02820, Eq. (5.3) and Prop. 5.3 (Nyström PCG); Rudi, Carratino & Rosasco 2017,
//! arXiv:1705.10958 (uniformly sampled Nyström centres as a preconditioner for kernel ridge
//! regression, FALKON).

use super::SymmetricOperator;
use super::preconditioner::Preconditioner;
use super::spd::{Cholesky, gemm};
use crate::{Error, Result};
use faer::{Accum, Mat, MatRef, Par};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Settings of [`Nystrom::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NystromConfig {
    /// Number of landmark columns ℓ (capped at n).
    pub landmarks: usize,
    /// Seed of the landmark sample.
    pub seed: u64,
}

impl Default for NystromConfig {
    fn default() -> Self {
        Self {
            landmarks: 1000,
            seed: 0,
        }
    }
}

/// Relative threshold on σ²/σ²_max below which a direction of the sketch is dropped: there
/// U = BVΣ⁻¹ would lose orthonormality (error ≈ ε·σ_max/σ ≤ 10⁵ ε).
const RELATIVE_CUTOFF: f64 = 1e-10;

/// The Nyström preconditioner (see the module documentation).
#[derive(Debug, Clone)]
pub struct Nystrom {
    /// U, n × r, orthonormal columns.
    basis: Mat<f64>,
    /// λ₁ ≥ … ≥ λ_r > 0.
    values: Vec<f64>,
    /// The landmark indices S, ascending.
    landmarks: Vec<usize>,
    /// Parallelism of the products in [`Preconditioner::solve`].
    par: Par,
}

impl Nystrom {
    /// Samples `config.landmarks` landmark indices of `op` uniformly without replacement
    /// (ChaCha8 seeded with `config.seed`), reads the columns K[:, S] and builds the
    /// preconditioner ([`Nystrom::from_columns`]).
    ///
    /// # Errors
    /// Zero landmarks; errors of [`SymmetricOperator::columns`] and [`Nystrom::from_columns`].
    pub fn new(op: &dyn SymmetricOperator, config: NystromConfig, par: Par) -> Result<Self> {
        let n = op.dim();
        if config.landmarks == 0 || n == 0 {
            return Err(Error::InvalidParameter {
                arg: "landmarks",
                value: config.landmarks.to_string(),
                reason: "must be at least 1 (and the operator non-empty)",
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut landmarks =
            rand::seq::index::sample(&mut rng, n, config.landmarks.min(n)).into_vec();
        landmarks.sort_unstable();
        let columns = op.columns(&landmarks)?;
        Self::from_columns(columns, landmarks, par)
    }

    /// Builds the preconditioner from the columns C = K[:, S] (n × ℓ) of a PSD kernel and the
    /// landmark indices S (distinct, < n), as in the module documentation.
    ///
    /// # Errors
    /// Shape mismatch, repeated or out-of-range landmarks, non-finite C, a sketch with no
    /// positive direction (K[S, S] = 0), or a failed Cholesky factorisation of W_ν (an
    /// indefinite K[S, S]).
    pub fn from_columns(c: Mat<f64>, landmarks: Vec<usize>, par: Par) -> Result<Self> {
        let (n, l) = (c.nrows(), c.ncols());
        if l == 0 || n == 0 {
            return Err(Error::Empty { arg: "columns" });
        }
        if landmarks.len() != l {
            return Err(Error::ShapeMismatch {
                arg: "landmarks",
                expected: format!("{l} indices (one per column)"),
                found: format!("{} indices", landmarks.len()),
            });
        }
        let mut seen = vec![false; n];
        for &i in &landmarks {
            if i >= n || seen[i] {
                return Err(Error::InvalidParameter {
                    arg: "landmarks",
                    value: i.to_string(),
                    reason: "landmarks must be distinct row indices below n",
                });
            }
            seen[i] = true;
        }
        crate::error::check_finite_mat("columns", c.as_ref())?;
        let frobenius = c.norm_l2();
        let shift = (n as f64).sqrt() * f64::EPSILON * frobenius;
        // Y_ν = C + νΩ and W_ν = ΩᵀY_ν (symmetrised: the two triangles of K[S, S] may differ
        // by rounding).
        let mut y = c;
        for (k, &i) in landmarks.iter().enumerate() {
            y[(i, k)] += shift;
        }
        let w = Mat::<f64>::from_fn(l, l, |a, b| {
            0.5 * (y[(landmarks[a], b)] + y[(landmarks[b], a)])
        });
        let lower = Cholesky::factor(w.as_ref(), 0.0, Par::Seq)?.lower();
        // B = Y_ν L⁻ᵀ, i.e. Bᵀ = L⁻¹ Y_νᵀ (ℓ × n; the columns are independent solves).
        let mut bt = y.transpose().to_owned();
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            lower.as_ref(),
            bt.as_mut(),
            par,
        );
        drop(y);
        let b = bt.transpose();
        let mut gram = Mat::<f64>::zeros(l, l);
        gemm(gram.as_mut(), Accum::Replace, bt.as_ref(), b, 1.0, par);
        let (sigma2, v) = super::eigen::symmetric_eigen(gram, par)?;
        let sigma2_max = sigma2[l - 1];
        if sigma2_max.is_nan() || sigma2_max <= 0.0 {
            return Err(Error::NotPositiveDefinite {
                lambda_min: sigma2_max,
            });
        }
        // Descending order, dropping directions below the cutoff or with λ = σ² − ν ≤ 0.
        let kept: Vec<usize> = (0..l)
            .rev()
            .filter(|&k| sigma2[k] > RELATIVE_CUTOFF * sigma2_max && sigma2[k] - shift > 0.0)
            .collect();
        let r = kept.len();
        if r == 0 {
            return Err(Error::NotPositiveDefinite {
                lambda_min: sigma2_max - shift,
            });
        }
        let scaled = Mat::<f64>::from_fn(l, r, |a, k| v[(a, kept[k])] / sigma2[kept[k]].sqrt());
        let mut basis = Mat::<f64>::zeros(n, r);
        gemm(basis.as_mut(), Accum::Replace, b, scaled.as_ref(), 1.0, par);
        let values = kept.iter().map(|&k| sigma2[k] - shift).collect();
        Ok(Self {
            basis,
            values,
            landmarks,
            par,
        })
    }

    /// The rank r of the approximation (kept eigenpairs).
    pub fn rank(&self) -> usize {
        self.values.len()
    }

    /// The eigenvalues λ₁ ≥ … ≥ λ_r of K̂.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.values
    }

    /// The landmark indices S (ascending).
    pub fn landmarks(&self) -> &[usize] {
        &self.landmarks
    }

    /// The orthonormal basis U (n × r).
    pub fn basis(&self) -> MatRef<'_, f64> {
        self.basis.as_ref()
    }
}

impl Preconditioner for Nystrom {
    fn dim(&self) -> usize {
        self.basis.nrows()
    }

    /// $$ P^{-1}r_j = r_j + U\,\mathrm{diag}\Big(\frac{\lambda_r + \rho_j}{\lambda_i + \rho_j} - 1\Big)\,U^\top r_j $$
    fn solve(&self, ridges: &[f64], r: MatRef<'_, f64>) -> Result<Mat<f64>> {
        crate::error::check_rows("r", r, self.basis.nrows())?;
        super::preconditioner::check_ridges(ridges, r.ncols())?;
        let rank = self.values.len();
        let smallest = self.values[rank - 1];
        let mut projected = Mat::<f64>::zeros(rank, r.ncols());
        gemm(
            projected.as_mut(),
            Accum::Replace,
            self.basis.transpose(),
            r,
            1.0,
            self.par,
        );
        for (j, &ridge) in ridges.iter().enumerate() {
            for (i, &lambda) in self.values.iter().enumerate() {
                projected[(i, j)] *= (smallest + ridge) / (lambda + ridge) - 1.0;
            }
        }
        let mut out = r.to_owned();
        gemm(
            out.as_mut(),
            Accum::Add,
            self.basis.as_ref(),
            projected.as_ref(),
            1.0,
            self.par,
        );
        Ok(out)
    }
}
