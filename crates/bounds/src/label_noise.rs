//! Arora et al.'s Figure 1 experiment on real data: as a fraction p of training labels is
//! flipped, the complexity sqrt(2yᵀ(H^∞)⁻¹y/n) grows, and so does the test error of kernel
//! regression with H^∞ (the infinite-width limit of the trained two-layer net).

use faer::{Mat, Par};

use crate::digits::{BinaryDataset, Digits};
use crate::error::{Error, Result};
use crate::generalization::{GeneralizationBound, arora_theorem_5_1};
use crate::gram::{h_infinity, h_infinity_cross};
use crate::linalg::{check_gram, cholesky_positive_definite};

/// Configuration of the label-noise sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelNoiseConfig {
    /// Digit labelled +1.
    pub positive: u8,
    /// Digit labelled −1.
    pub negative: u8,
    /// Flip fractions p to evaluate.
    pub noise_levels: Vec<f64>,
    /// Fraction of the two-class subset held out for testing (clean labels).
    pub test_fraction: f64,
    /// Optional cap on the training-set size (first points of the seeded split).
    pub max_train: Option<usize>,
    /// Confidence δ of Theorem 5.1.
    pub delta: f64,
    /// Seed of the split; label noise at level index t uses `seed + 1 + t`.
    pub seed: u64,
}

/// One point of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelNoisePoint {
    /// Flip fraction p.
    pub p: f64,
    /// Training labels actually flipped, round(p·n_train).
    pub n_flipped: usize,
    /// Training-set size.
    pub n_train: usize,
    /// Test-set size.
    pub n_test: usize,
    /// Arora et al. Theorem 5.1 (ε = 0) on the noisy training set.
    pub bound: GeneralizationBound,
    /// 0-1 test error (against clean test labels) of H^∞ kernel regression on noisy labels.
    pub test_error: f64,
}

/// Minimum-norm interpolant of (train, y) under H^∞ evaluated on `test`:
///
/// $$ f(x) = H^\infty(x, X)\,(H^\infty)^{-1} y $$
///
/// Returns the predictions.
///
/// # Reference
/// Arora et al. 2019, arXiv:1904.11955, Thm 3.2 (seed 001).
pub fn h_infinity_regression(
    train: &BinaryDataset,
    test_x: faer::MatRef<'_, f64>,
    par: Par,
) -> Result<Vec<f64>> {
    let h = h_infinity(train.x.as_ref())?;
    check_gram("h_infinity", h.as_ref())?;
    let l = cholesky_positive_definite(h.as_ref(), par)?;
    let mut alpha = Mat::from_fn(train.len(), 1, |i, _| train.y[i]);
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        l.as_ref(),
        alpha.as_mut(),
        par,
    );
    faer::linalg::triangular_solve::solve_upper_triangular_in_place(
        l.transpose(),
        alpha.as_mut(),
        par,
    );
    let cross = h_infinity_cross(test_x, train.x.as_ref())?;
    Ok((0..cross.nrows())
        .map(|i| {
            (0..cross.ncols())
                .map(|j| cross[(i, j)] * alpha[(j, 0)])
                .sum()
        })
        .collect())
}

/// Runs the sweep: one seeded split, then for each p a seeded flip of exactly round(p·n_train)
/// training labels, the Theorem 5.1 bound on the noisy labels and the clean test error.
pub fn label_noise_sweep(
    digits: &Digits,
    config: &LabelNoiseConfig,
    par: Par,
) -> Result<Vec<LabelNoisePoint>> {
    if config.noise_levels.is_empty() {
        return Err(Error::Empty {
            arg: "noise_levels",
        });
    }
    let data = digits.two_class(config.positive, config.negative)?;
    let (mut train, test) = data.train_test_split(config.test_fraction, config.seed)?;
    if let Some(cap) = config.max_train {
        if cap == 0 {
            return Err(Error::InvalidParameter {
                arg: "max_train",
                value: 0.0,
                reason: "must be >= 1",
            });
        }
        let keep: Vec<usize> = (0..train.len().min(cap)).collect();
        train = train.select(&keep);
    }
    let mut points = Vec::with_capacity(config.noise_levels.len());
    for (t, &p) in config.noise_levels.iter().enumerate() {
        let (noisy, flipped) = train.with_label_noise(p, config.seed + 1 + t as u64)?;
        let h = h_infinity(noisy.x.as_ref())?;
        let bound = arora_theorem_5_1(h.as_ref(), &noisy.y, config.delta, 0.0, par)?;
        let predictions = h_infinity_regression(&noisy, test.x.as_ref(), par)?;
        let errors = predictions
            .iter()
            .zip(&test.y)
            .filter(|(f, y)| **f * **y <= 0.0)
            .count();
        points.push(LabelNoisePoint {
            p,
            n_flipped: flipped.len(),
            n_train: noisy.len(),
            n_test: test.len(),
            bound,
            test_error: errors as f64 / test.len() as f64,
        });
    }
    Ok(points)
}
