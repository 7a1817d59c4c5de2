//! Random-feature (RF) and neural-tangent (NT) kernels of a two-layer network
//! f(x) = γ Σᵢ aᵢ σ(⟨wᵢ, x⟩) with first-layer weights wᵢ ~ N(0, I/d), and their finite-N versions.
//!
//! Linearising f around its initialisation splits the tangent features into the second-layer
//! part (random features) and the first-layer part (neural tangent features). With γ = 1/√N and
//! |aᵢ| = 1 (Lecture 11 = seed 004, §1.1–1.2, whose K_N^NT omits the factor aᵢ², i.e. takes
//! aᵢ ∈ {±1}):
//!
//! $$ \phi_{RF}(x) = \tfrac{1}{\sqrt N}\big(\sigma(\langle w_i, x\rangle)\big)_{i\le N}, \qquad
//!    \phi_{NT}(x) = \tfrac{1}{\sqrt{Nd}}\big(\sigma'(\langle w_i, x\rangle)\,x\big)_{i\le N} \in \mathbb R^{Nd} $$
//! $$ K_N^{RF}(x,x') = \tfrac1N \sum_i \sigma(\langle w_i,x\rangle)\sigma(\langle w_i,x'\rangle)
//!    \xrightarrow{N\to\infty} K^{RF}(x,x') = \mathbb E_w[\sigma(\langle w,x\rangle)\sigma(\langle w,x'\rangle)] $$
//! $$ K_N^{NT}(x,x') = \tfrac{\langle x,x'\rangle}{Nd} \sum_i \sigma'(\langle w_i,x\rangle)\sigma'(\langle w_i,x'\rangle)
//!    \xrightarrow{N\to\infty} K^{NT}(x,x') = \tfrac{\langle x,x'\rangle}{d}\,\mathbb E_w[\sigma'(\langle w,x\rangle)\sigma'(\langle w,x'\rangle)] $$
//!
//! Since (⟨w,x⟩, ⟨w,x'⟩) ~ N(0, [[‖x‖², ⟨x,x'⟩], [⟨x,x'⟩, ‖x'‖²]]/d), the limits are the dual
//! activations of [`crate::analytic::dual`](mod@crate::analytic::dual) at (q₁, q₂, c) = (‖x‖²/d, ‖x'‖²/d, ⟨x,x'⟩/d).
//! On x ∈ √d·S^{d−1} (the seed's example) q₁ = q₂ = 1 and both kernels depend only on ∠(x, x').

use crate::analytic::{dual, dual_diagonal};
use crate::{Activation, Error, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

fn check_points(arg: &'static str, x: MatRef<'_, f64>) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::Empty { arg });
    }
    crate::error::check_finite_mat(arg, x)
}

fn check_pair(x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> Result<()> {
    check_points("x1", x1)?;
    check_points("x2", x2)?;
    if x1.ncols() != x2.ncols() {
        return Err(Error::ShapeMismatch {
            arg: "x2",
            expected: format!("{} columns (the dimension of x1)", x1.ncols()),
            found: format!("{} columns", x2.ncols()),
        });
    }
    Ok(())
}

fn check_activation(act: &Activation) -> Result<()> {
    let params = match *act {
        Activation::LeakyRelu { alpha } => vec![alpha],
        Activation::AbRelu { a, b } => vec![a, b],
        _ => vec![],
    };
    match params.iter().find(|p| !p.is_finite()) {
        Some(p) => Err(Error::InvalidParameter {
            arg: "activation",
            value: p.to_string(),
            reason: "activation parameters must be finite",
        }),
        None => Ok(()),
    }
}

/// Row-wise evaluation of an n1 × n2 matrix in parallel (each entry independent, so the result
/// does not depend on the number of threads).
fn par_matrix(n1: usize, n2: usize, entry: impl Fn(usize, usize) -> f64 + Sync) -> Mat<f64> {
    let mut values = vec![0.0; n1 * n2];
    values
        .par_chunks_mut(n2.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            for (j, v) in row.iter_mut().enumerate() {
                *v = entry(i, j);
            }
        });
    Mat::from_fn(n1, n2, |i, j| values[i * n2 + j])
}

/// The analytic RF and NT kernels between two point sets.
#[derive(Debug, Clone)]
pub struct RandomFeatureKernels {
    /// K^RF(X1, X2), n1 × n2.
    pub rf: Mat<f64>,
    /// K^NT(X1, X2), n1 × n2.
    pub nt: Mat<f64>,
}

/// Infinite-width RF and NT kernels for w ~ N(0, I/d), X1 (n1 × d), X2 (n2 × d).
///
/// $$ K^{RF}(x,x') = \hat\sigma\big(\tfrac{\|x\|^2}{d}, \tfrac{\|x'\|^2}{d}, \tfrac{\langle x,x'\rangle}{d}\big), \qquad
///    K^{NT}(x,x') = \tfrac{\langle x,x'\rangle}{d}\,\hat{\dot\sigma}\big(\tfrac{\|x\|^2}{d}, \tfrac{\|x'\|^2}{d}, \tfrac{\langle x,x'\rangle}{d}\big) $$
///
/// with σ̂, σ̂' the dual activations ([`crate::analytic::dual`](mod@crate::analytic::dual)). The Gram X1X2ᵀ is one faer GEMM
/// (`par`); the entries are evaluated in parallel over rows.
///
/// # Reference
/// Lecture 11 (seed 004), §1.2; Montanari & Zhong 2022, arXiv:2007.12826, Eqs. (1.3)–(1.5);
/// Ghorbani, Mei, Misiakiewicz & Montanari 2021, arXiv:1904.12191, §2.
pub fn random_feature_kernels(
    act: &Activation,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
    par: Par,
) -> Result<RandomFeatureKernels> {
    check_pair(x1, x2)?;
    check_activation(act)?;
    let d = x1.ncols() as f64;
    let mut gram = Mat::<f64>::zeros(x1.nrows(), x2.nrows());
    // Thin outputs sequentially: faer may split their reduction across threads.
    let gemm_par = if x1.nrows().min(x2.nrows()) < 32 {
        Par::Seq
    } else {
        par
    };
    matmul(
        gram.as_mut(),
        Accum::Replace,
        x1,
        x2.transpose(),
        1.0 / d,
        gemm_par,
    );
    let sq1: Vec<f64> = (0..x1.nrows())
        .map(|i| {
            (0..x1.ncols())
                .map(|k| x1[(i, k)] * x1[(i, k)])
                .sum::<f64>()
                / d
        })
        .collect();
    let sq2: Vec<f64> = (0..x2.nrows())
        .map(|i| {
            (0..x2.ncols())
                .map(|k| x2[(i, k)] * x2[(i, k)])
                .sum::<f64>()
                / d
        })
        .collect();
    // The same point set on both sides: evaluate the upper triangle and mirror it, so the
    // result is exactly symmetric.
    let symmetric = x1 == x2;
    let same_point = |i: usize, j: usize| (0..x1.ncols()).all(|k| x1[(i, k)] == x2[(j, k)]);
    let duals = {
        let gram = gram.as_ref();
        let (n1, n2) = (x1.nrows(), x2.nrows());
        let mut values = vec![(0.0, 0.0, 0.0); n1 * n2];
        values.par_chunks_mut(n2).enumerate().for_each(|(i, row)| {
            for (j, v) in row.iter_mut().enumerate() {
                if symmetric && j < i {
                    continue;
                }
                // Identical points: the exact diagonal (u = v), free of the √(1 − ρ)
                // amplification of rounding in ρ = c/√(q₁q₂) near 1.
                let (c, e) = if same_point(i, j) {
                    (sq1[i], dual_diagonal(act, sq1[i]))
                } else {
                    (gram[(i, j)], dual(act, sq1[i], sq2[j], gram[(i, j)]))
                };
                *v = (e.nngp, e.ntk_dot, c);
            }
        });
        values
    };
    let n2 = x2.nrows();
    let entry = |i: usize, j: usize| {
        if symmetric && j < i {
            duals[j * n2 + i]
        } else {
            duals[i * n2 + j]
        }
    };
    let rf = Mat::from_fn(x1.nrows(), n2, |i, j| entry(i, j).0);
    let nt = Mat::from_fn(x1.nrows(), n2, |i, j| {
        let (_, ntk_dot, c) = entry(i, j);
        c * ntk_dot
    });
    for (arg, m) in [("rf", &rf), ("nt", &nt)] {
        crate::error::check_finite_mat(arg, m.as_ref())?;
    }
    Ok(RandomFeatureKernels { rf, nt })
}

/// N explicit first-layer weights wᵢ ~ N(0, I/d) (the rows of W, N × d).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomFeatures {
    weights: Mat<f64>,
}

impl RandomFeatures {
    /// Draws W with i.i.d. N(0, 1/d) entries from `rng`, row by row.
    pub fn sample(n_features: usize, dim: usize, rng: &mut impl Rng) -> Result<Self> {
        if n_features == 0 {
            return Err(Error::InvalidParameter {
                arg: "n_features",
                value: "0".into(),
                reason: "need at least one random feature",
            });
        }
        if dim == 0 {
            return Err(Error::InvalidParameter {
                arg: "dim",
                value: "0".into(),
                reason: "the input dimension must be positive",
            });
        }
        let scale = 1.0 / (dim as f64).sqrt();
        let mut data = Vec::with_capacity(n_features * dim);
        for _ in 0..n_features * dim {
            let z: f64 = StandardNormal.sample(rng);
            data.push(scale * z);
        }
        Ok(Self {
            weights: Mat::from_fn(n_features, dim, |i, k| data[i * dim + k]),
        })
    }

    /// [`RandomFeatures::sample`] from `ChaCha8Rng::seed_from_u64(seed)`.
    pub fn from_seed(n_features: usize, dim: usize, seed: u64) -> Result<Self> {
        Self::sample(n_features, dim, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uses the given weights W (N × d, finite) as they are.
    pub fn from_weights(weights: MatRef<'_, f64>) -> Result<Self> {
        check_points("weights", weights)?;
        Ok(Self {
            weights: weights.to_owned(),
        })
    }

    /// The weights W (N × d).
    pub fn weights(&self) -> MatRef<'_, f64> {
        self.weights.as_ref()
    }

    /// Number of features N.
    pub fn n_features(&self) -> usize {
        self.weights.nrows()
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.weights.ncols()
    }

    fn check_input(&self, arg: &'static str, x: MatRef<'_, f64>) -> Result<()> {
        check_points(arg, x)?;
        if x.ncols() != self.dim() {
            return Err(Error::ShapeMismatch {
                arg,
                expected: format!("{} columns", self.dim()),
                found: format!("{} columns", x.ncols()),
            });
        }
        Ok(())
    }

    /// Pre-activations XWᵀ (n × N), one faer GEMM.
    fn preactivations(&self, x: MatRef<'_, f64>, par: Par) -> Mat<f64> {
        let mut z = Mat::<f64>::zeros(x.nrows(), self.n_features());
        matmul(
            z.as_mut(),
            Accum::Replace,
            x,
            self.weights.transpose(),
            1.0,
            par,
        );
        z
    }

    /// σ(XWᵀ)/√N and σ'(XWᵀ) (unscaled), both n × N.
    fn activations(
        &self,
        act: &Activation,
        x: MatRef<'_, f64>,
        derivative: bool,
        par: Par,
    ) -> Mat<f64> {
        let z = self.preactivations(x, par);
        let z = z.as_ref();
        par_matrix(z.nrows(), z.ncols(), |i, j| {
            if derivative {
                act.dphi(z[(i, j)])
            } else {
                act.phi(z[(i, j)])
            }
        })
    }

    /// Random-feature map Φ_RF(X) = σ(XWᵀ)/√N (n × N), so that Φ_RF Φ_RFᵀ = K_N^RF.
    ///
    /// # Reference
    /// Lecture 11 (seed 004), §1.1 (φ_RF with γ = 1/√N); Rahimi & Recht 2007 (NeurIPS).
    pub fn rf_features(&self, act: &Activation, x: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
        self.check_input("x", x)?;
        check_activation(act)?;
        let scale = 1.0 / (self.n_features() as f64).sqrt();
        let mut phi = self.activations(act, x, false, par);
        phi *= faer::Scale(scale);
        crate::error::check_finite_mat("rf_features", phi.as_ref())?;
        Ok(phi)
    }

    /// Neural-tangent feature map Φ_NT(X) (n × Nd): row x holds σ'(⟨wᵢ,x⟩)·x/√(Nd) in columns
    /// i·d .. (i+1)·d, so that Φ_NT Φ_NTᵀ = K_N^NT.
    ///
    /// # Reference
    /// Lecture 11 (seed 004), §1.1 (φ_NT with γ = 1/√N, aᵢ = 1); Ghorbani et al. 2021,
    /// arXiv:1904.12191, Eq. (3).
    pub fn nt_features(&self, act: &Activation, x: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
        self.check_input("x", x)?;
        check_activation(act)?;
        let d = self.dim();
        let scale = 1.0 / ((self.n_features() * d) as f64).sqrt();
        let slopes = self.activations(act, x, true, par);
        let phi = Mat::from_fn(x.nrows(), self.n_features() * d, |i, col| {
            scale * slopes[(i, col / d)] * x[(i, col % d)]
        });
        crate::error::check_finite_mat("nt_features", phi.as_ref())?;
        Ok(phi)
    }

    /// Finite-N kernels between X1 (n1 × d) and X2 (n2 × d):
    ///
    /// $$ K_N^{RF} = \tfrac1N\,\sigma(X_1W^\top)\,\sigma(X_2W^\top)^\top, \qquad
    ///    K_N^{NT} = \tfrac{1}{Nd}\,(X_1X_2^\top)\circ\big(\sigma'(X_1W^\top)\,\sigma'(X_2W^\top)^\top\big) $$
    ///
    /// (three faer GEMMs per kernel; `par` is passed to each).
    ///
    /// # Reference
    /// Lecture 11 (seed 004), §1.2; Montanari & Zhong 2022, arXiv:2007.12826, Eq. (1.4).
    pub fn kernels(
        &self,
        act: &Activation,
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
        par: Par,
    ) -> Result<RandomFeatureKernels> {
        self.check_input("x1", x1)?;
        self.check_input("x2", x2)?;
        check_activation(act)?;
        let n = self.n_features() as f64;
        let d = self.dim() as f64;
        let (n1, n2) = (x1.nrows(), x2.nrows());
        // faer may split the long reduction over N of a thin product across threads, which
        // changes rounding with the thread count: thin outputs are computed sequentially.
        let gemm_par = if n1.min(n2) < 32 { Par::Seq } else { par };
        let mut rf = Mat::<f64>::zeros(n1, n2);
        let s1 = self.activations(act, x1, false, par);
        let s2 = self.activations(act, x2, false, par);
        matmul(
            rf.as_mut(),
            Accum::Replace,
            s1.as_ref(),
            s2.transpose(),
            1.0 / n,
            gemm_par,
        );
        let mut slopes = Mat::<f64>::zeros(n1, n2);
        let ds1 = self.activations(act, x1, true, par);
        let ds2 = self.activations(act, x2, true, par);
        matmul(
            slopes.as_mut(),
            Accum::Replace,
            ds1.as_ref(),
            ds2.transpose(),
            1.0 / (n * d),
            gemm_par,
        );
        let mut gram = Mat::<f64>::zeros(n1, n2);
        matmul(
            gram.as_mut(),
            Accum::Replace,
            x1,
            x2.transpose(),
            1.0,
            gemm_par,
        );
        let nt = Mat::from_fn(n1, n2, |i, j| gram[(i, j)] * slopes[(i, j)]);
        for (arg, m) in [("rf", &rf), ("nt", &nt)] {
            crate::error::check_finite_mat(arg, m.as_ref())?;
        }
        Ok(RandomFeatureKernels { rf, nt })
    }
}
