//! Fits used to turn measurements into claims: least-squares lines, power laws with a seeded
//! percentile-bootstrap interval on the exponent, and Spearman's rank correlation.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// Why a fit could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// `x` and `y` have different lengths.
    #[error("x has {x_len} points but y has {y_len}")]
    LengthMismatch { x_len: usize, y_len: usize },
    /// Fewer points than the fit needs.
    #[error("`{arg}` needs at least {needed} points, got {found}")]
    TooFewPoints {
        arg: &'static str,
        needed: usize,
        found: usize,
    },
    /// A non-finite value.
    #[error("non-finite value {value} in `{arg}` at index {index}")]
    NonFinite {
        arg: &'static str,
        index: usize,
        value: f64,
    },
    /// A value that must be positive (for a log) is not.
    #[error("`{arg}`[{index}] = {value} must be > 0 for a log-log fit")]
    NotPositive {
        arg: &'static str,
        index: usize,
        value: f64,
    },
    /// All x are equal: the slope is undefined.
    #[error("all `{arg}` values are equal: the slope is undefined")]
    Degenerate { arg: &'static str },
    /// A bad bootstrap setting.
    #[error("invalid bootstrap `{arg}` = {value}: {reason}")]
    InvalidBootstrap {
        arg: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// A least-squares line y ≈ intercept + slope·x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearFit {
    pub slope: f64,
    pub intercept: f64,
    /// Coefficient of determination R² (1 if y is constant and fitted exactly).
    pub r_squared: f64,
}

/// A power law y ≈ prefactor·x^exponent fitted on log y vs log x, with a bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerLawFit {
    pub exponent: f64,
    pub prefactor: f64,
    /// R² of the log-log line.
    pub r_squared: f64,
    /// Percentile-bootstrap interval of the exponent at [`Bootstrap::level`].
    pub interval: (f64, f64),
}

/// Settings of a percentile bootstrap over (x, y) pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// Number of resamples (≥ 100).
    pub resamples: usize,
    /// Two-sided level of the interval, in (0, 1) (e.g. 0.95).
    pub level: f64,
    /// Seed of the ChaCha8 stream that draws the resamples.
    pub seed: u64,
}

impl Bootstrap {
    /// 2000 resamples, 95% interval, with `seed`.
    pub fn new(seed: u64) -> Self {
        Bootstrap {
            resamples: 2000,
            level: 0.95,
            seed,
        }
    }
}

fn check_pair(x: &[f64], y: &[f64], needed: usize) -> Result<(), FitError> {
    if x.len() != y.len() {
        return Err(FitError::LengthMismatch {
            x_len: x.len(),
            y_len: y.len(),
        });
    }
    if x.len() < needed {
        return Err(FitError::TooFewPoints {
            arg: "x",
            needed,
            found: x.len(),
        });
    }
    for (arg, values) in [("x", x), ("y", y)] {
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(FitError::NonFinite {
                arg,
                index,
                value: values[index],
            });
        }
    }
    Ok(())
}

/// Ordinary least squares on (xᵢ, yᵢ), centred for accuracy:
/// $$ \hat b = \frac{\sum (x_i-\bar x)(y_i-\bar y)}{\sum (x_i-\bar x)^2}, \qquad \hat a = \bar y - \hat b\bar x. $$
///
/// # Reference
/// Standard least squares; e.g. Hastie, Tibshirani, Friedman (2009), *The Elements of
/// Statistical Learning*, Eq. (3.6).
pub fn linear_fit(x: &[f64], y: &[f64]) -> Result<LinearFit, FitError> {
    check_pair(x, y, 2)?;
    fit_unchecked(x, y).ok_or(FitError::Degenerate { arg: "x" })
}

/// The centred least-squares line, or `None` if all x are equal.
fn fit_unchecked(x: &[f64], y: &[f64]) -> Option<LinearFit> {
    let n = x.len() as f64;
    let x_mean = x.iter().sum::<f64>() / n;
    let y_mean = y.iter().sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(y) {
        let (dx, dy) = (xi - x_mean, yi - y_mean);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    let x_scale = x
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    if sxx <= (1e-14 * x_scale).powi(2) * n {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    let residual: f64 = x
        .iter()
        .zip(y)
        .map(|(&xi, &yi)| (yi - intercept - slope * xi).powi(2))
        .sum();
    let r_squared = if syy > 0.0 { 1.0 - residual / syy } else { 1.0 };
    Some(LinearFit {
        slope,
        intercept,
        r_squared,
    })
}

/// The median of a slice: the middle value, or the mean of the middle pair for even length
/// (NaN for an empty slice).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let m = sorted.len();
    match m {
        0 => f64::NAN,
        _ if m % 2 == 1 => sorted[m / 2],
        _ => 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]),
    }
}

/// For each value `g` of `groups`, the [`median`] of `value(item)` over the items whose
/// `group(item)` equals `g` (NaN for an empty group): per-width (or per-α) medians over seeds.
pub fn medians_by<T, G: PartialEq>(
    items: &[T],
    groups: &[G],
    group: impl Fn(&T) -> G,
    value: impl Fn(&T) -> f64,
) -> Vec<f64> {
    groups
        .iter()
        .map(|g| {
            let values: Vec<f64> = items
                .iter()
                .filter(|item| group(item) == *g)
                .map(&value)
                .collect();
            median(&values)
        })
        .collect()
}

/// The `q`-quantile (linear interpolation between order statistics) of sorted values.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let weight = position - lower as f64;
    sorted[lower] * (1.0 - weight) + sorted[upper] * weight
}

/// Least-squares power law: the line log y = log C + α log x, with a percentile-bootstrap interval
/// for α from resampling the (x, y) pairs with replacement (resamples whose x are all equal are
/// redrawn).
///
/// $$ \log y_i \approx \log C + \alpha \log x_i, \qquad
///    [\alpha_{(1-\ell)/2}^{*},\ \alpha_{(1+\ell)/2}^{*}] $$
///
/// # Reference
/// B. Efron, R. Tibshirani (1993), *An Introduction to the Bootstrap*, §13.3 (percentile interval).
pub fn power_law_fit(x: &[f64], y: &[f64], bootstrap: Bootstrap) -> Result<PowerLawFit, FitError> {
    check_pair(x, y, 3)?;
    if bootstrap.resamples < 100 {
        return Err(FitError::InvalidBootstrap {
            arg: "resamples",
            value: bootstrap.resamples.to_string(),
            reason: "need at least 100 resamples for a percentile interval",
        });
    }
    if !(bootstrap.level > 0.0 && bootstrap.level < 1.0) {
        return Err(FitError::InvalidBootstrap {
            arg: "level",
            value: bootstrap.level.to_string(),
            reason: "must be in (0, 1)",
        });
    }
    for (arg, values) in [("x", x), ("y", y)] {
        if let Some(index) = values.iter().position(|&v| v <= 0.0) {
            return Err(FitError::NotPositive {
                arg,
                index,
                value: values[index],
            });
        }
    }
    let log_x: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let log_y: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let line = fit_unchecked(&log_x, &log_y).ok_or(FitError::Degenerate { arg: "x" })?;

    let n = x.len();
    let mut rng = ChaCha8Rng::seed_from_u64(bootstrap.seed);
    let mut slopes = Vec::with_capacity(bootstrap.resamples);
    let (mut bx, mut by) = (vec![0.0; n], vec![0.0; n]);
    // With ≥ 2 distinct x, a resample has distinct x with probability ≥ 1 − 2/n^(n−1) ≥ 1/2, so
    // this bound on redraws is never reached in practice.
    let max_draws = 100 * bootstrap.resamples;
    let mut draws = 0;
    while slopes.len() < bootstrap.resamples && draws < max_draws {
        draws += 1;
        for k in 0..n {
            let pick = rng.random_range(0..n);
            bx[k] = log_x[pick];
            by[k] = log_y[pick];
        }
        if let Some(fit) = fit_unchecked(&bx, &by) {
            slopes.push(fit.slope);
        }
    }
    if slopes.len() < bootstrap.resamples {
        return Err(FitError::Degenerate { arg: "x" });
    }
    slopes.sort_by(f64::total_cmp);
    let tail = (1.0 - bootstrap.level) / 2.0;
    Ok(PowerLawFit {
        exponent: line.slope,
        prefactor: line.intercept.exp(),
        r_squared: line.r_squared,
        interval: (
            quantile_sorted(&slopes, tail),
            quantile_sorted(&slopes, 1.0 - tail),
        ),
    })
}

/// Ranks (1-based), ties sharing their average rank.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation: the Pearson correlation of the (average-tie) ranks,
/// $$ \rho = \frac{\sum (r_i-\bar r)(s_i-\bar s)}{\sqrt{\sum (r_i-\bar r)^2 \sum (s_i-\bar s)^2}}. $$
/// Constant x or y (no rank variation) is [`FitError::Degenerate`].
///
/// # Reference
/// C. Spearman (1904), "The proof and measurement of association between two things",
/// Amer. J. Psychol. 15(1); ties as in Kendall & Gibbons (1990), *Rank Correlation Methods*, §3.8.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64, FitError> {
    check_pair(x, y, 2)?;
    let rx = average_ranks(x);
    let ry = average_ranks(y);
    let mean = (x.len() as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mean) * (b - mean);
        sxx += (a - mean) * (a - mean);
        syy += (b - mean) * (b - mean);
    }
    if sxx == 0.0 {
        return Err(FitError::Degenerate { arg: "x" });
    }
    if syy == 0.0 {
        return Err(FitError::Degenerate { arg: "y" });
    }
    Ok((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}
