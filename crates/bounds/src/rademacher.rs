//! Rademacher complexity: the F_{A,B} bound of the two-layer analysis (seed 001) and the
//! empirical Rademacher complexity of an RKHS ball by seeded Monte Carlo.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result, check_positive, check_probability};
use crate::linalg::check_gram;

/// Rademacher bound for the two-layer class
/// F_{A,B} = {f(w, a) : ‖w_r − w_r(0)‖ ≤ A ∀r, ‖W − W(0)‖_F ≤ B}, with initialisation
/// w_r(0) ~ N(0, κ²I) (seed 001 drops κ, i.e. κ = 1):
///
/// $$ \mathcal R_S(\mathcal F_{A,B}) \le \frac{B}{\sqrt{2n}}\Big(1 + \Big(\frac{2\log(2/\delta)}{m}\Big)^{1/4}\Big)
///    + \frac{2A^2\sqrt m}{\kappa} + A\sqrt{2\log(2/\delta)} $$
///
/// # Reference
/// Arora, Du, Hu, Li & Wang 2019, arXiv:1901.08584, Lemma 5.4; Zhang, Martens & Grosse 2019,
/// arXiv:1905.10961 (seed 001, with κ = 1).
pub fn two_layer_rademacher_bound(
    a: f64,
    b: f64,
    n_samples: usize,
    width: usize,
    delta: f64,
    kappa: f64,
) -> Result<f64> {
    for (arg, value) in [("a", a), ("b", b)] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(Error::InvalidParameter {
                arg,
                value,
                reason: "must be finite and >= 0",
            });
        }
    }
    check_positive("n_samples", n_samples as f64)?;
    check_positive("width", width as f64)?;
    check_probability("delta", delta)?;
    check_positive("kappa", kappa)?;
    let (n, m) = (n_samples as f64, width as f64);
    let log_term = 2.0 * (2.0 / delta).ln();
    Ok(b / (2.0 * n).sqrt() * (1.0 + (log_term / m).powf(0.25))
        + 2.0 * a * a * m.sqrt() / kappa
        + a * log_term.sqrt())
}

/// The trace bound on the empirical Rademacher complexity of the RKHS ball of radius B
/// (Jensen's inequality E√Z ≤ √(EZ) with E εᵀKε = tr K):
///
/// $$ \hat{\mathcal R}_S(\{\|f\|_{\mathcal H} \le B\}) \le \frac{B}{n}\sqrt{\operatorname{tr} K} $$
///
/// # Reference
/// Bartlett & Mendelson 2002, "Rademacher and Gaussian complexities", JMLR 3, Lemma 22.
pub fn rkhs_ball_trace_bound(k: MatRef<'_, f64>, radius: f64) -> Result<f64> {
    check_gram("k", k)?;
    check_positive("radius", radius)?;
    let n = k.nrows();
    let trace: f64 = (0..n).map(|i| k[(i, i)]).sum();
    if trace < 0.0 {
        return Err(Error::NotPositiveDefinite { lambda_min: trace });
    }
    Ok(radius * trace.sqrt() / n as f64)
}

/// A Monte Carlo estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonteCarloEstimate {
    /// Sample mean.
    pub mean: f64,
    /// Standard error of the mean, s/√S.
    pub std_error: f64,
    /// Number of samples S.
    pub n_samples: usize,
}

/// Sign vectors per parallel task; fixed so results do not depend on the thread count.
const CHUNK: usize = 128;

/// Empirical Rademacher complexity of the RKHS ball of radius B on the sample S, by Monte
/// Carlo over Rademacher sign vectors ε (task t of ⌈S/128⌉ seeded with `seed + t`, reduced in
/// task order, so the result is bit-identical for any number of rayon threads):
///
/// $$ \hat{\mathcal R}_S = \mathbb E_\epsilon \sup_{\|f\|_{\mathcal H}\le B} \frac1n\sum_i \epsilon_i f(x_i)
///    = \frac{B}{n}\,\mathbb E_\epsilon \sqrt{\epsilon^\top K \epsilon} $$
///
/// # Reference
/// Bartlett & Mendelson 2002, "Rademacher and Gaussian complexities", JMLR 3, Lemma 22.
pub fn empirical_rademacher_rkhs_ball(
    k: MatRef<'_, f64>,
    radius: f64,
    n_samples: usize,
    seed: u64,
) -> Result<MonteCarloEstimate> {
    check_gram("k", k)?;
    check_positive("radius", radius)?;
    if n_samples < 2 {
        return Err(Error::InvalidParameter {
            arg: "n_samples",
            value: n_samples as f64,
            reason: "need at least 2 Monte Carlo samples for a standard error",
        });
    }
    let n = k.nrows();
    let max_diag = (0..n).map(|i| k[(i, i)].abs()).fold(0.0, f64::max);
    // εᵀKε ≥ −n·(n ε max K_ii) is rounding for a PSD K; anything below signals indefiniteness.
    let rounding = (n * n) as f64 * f64::EPSILON * max_diag;
    let n_tasks = n_samples.div_ceil(CHUNK);
    let per_task: Vec<Result<Vec<f64>>> = (0..n_tasks)
        .into_par_iter()
        .map(|task| {
            let count = CHUNK.min(n_samples - task * CHUNK);
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(task as u64));
            let signs = Mat::from_fn(
                n,
                count,
                |_, _| {
                    if rng.random::<bool>() { 1.0 } else { -1.0 }
                },
            );
            let mut product = Mat::<f64>::zeros(n, count);
            matmul(
                product.as_mut(),
                Accum::Replace,
                k,
                signs.as_ref(),
                1.0,
                Par::Seq,
            );
            (0..count)
                .map(|c| {
                    let form: f64 = (0..n).map(|i| signs[(i, c)] * product[(i, c)]).sum();
                    if form < -rounding {
                        Err(Error::NotPositiveDefinite {
                            lambda_min: form / n as f64,
                        })
                    } else {
                        Ok(form.max(0.0).sqrt())
                    }
                })
                .collect()
        })
        .collect();
    let mut values = Vec::with_capacity(n_samples);
    for chunk in per_task {
        values.extend(chunk?);
    }
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
    let scale = radius / n as f64;
    Ok(MonteCarloEstimate {
        mean: scale * mean,
        std_error: scale * (variance / count).sqrt(),
        n_samples,
    })
}
