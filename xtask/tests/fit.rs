//! The fitting helpers against synthetic data with known parameters.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, Normal};
use xtask::reproduce::fit::{Bootstrap, FitError, linear_fit, power_law_fit, spearman};

#[test]
fn exact_power_law_is_recovered_to_rounding() {
    let x: Vec<f64> = (0..8).map(|k| 2f64.powi(k + 6)).collect();
    let y: Vec<f64> = x.iter().map(|w| 3.0 * w.powf(-0.5)).collect();
    let fit = power_law_fit(&x, &y, Bootstrap::new(1)).unwrap();
    // Exact data: only rounding in logs and sums, ~1e-15 relative; 1e-12 leaves a wide margin.
    assert!((fit.exponent + 0.5).abs() <= 1e-12, "{}", fit.exponent);
    assert!((fit.prefactor - 3.0).abs() <= 1e-11, "{}", fit.prefactor);
    assert!((fit.r_squared - 1.0).abs() <= 1e-12);
    assert!((fit.interval.0 + 0.5).abs() <= 1e-12 && (fit.interval.1 + 0.5).abs() <= 1e-12);
}

#[test]
fn noisy_power_law_exponent_and_bootstrap_interval() {
    // y = 2 x^{-0.7} e^{ε}, ε ~ N(0, σ²): the OLS slope has standard error σ/√Sxx.
    let sigma = 0.1;
    let x: Vec<f64> = (0..12).map(|k| 2f64.powf(4.0 + 0.5 * k as f64)).collect();
    let log_x: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let mean = log_x.iter().sum::<f64>() / log_x.len() as f64;
    let sxx: f64 = log_x.iter().map(|l| (l - mean).powi(2)).sum();
    let se = sigma / sxx.sqrt();
    let noise = Normal::new(0.0, sigma).unwrap();
    let mut covered = 0;
    let mut half_widths = Vec::new();
    let trials = 40;
    for trial in 0..trials {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + trial);
        let y: Vec<f64> = x
            .iter()
            .map(|v| 2.0 * v.powf(-0.7) * noise.sample(&mut rng).exp())
            .collect();
        let fit = power_law_fit(&x, &y, Bootstrap::new(trial)).unwrap();
        // 5 standard errors: a false alarm has probability < 6e-7 per trial.
        assert!(
            (fit.exponent + 0.7).abs() <= 5.0 * se,
            "{} vs se {se}",
            fit.exponent
        );
        assert!(fit.interval.0 <= fit.exponent && fit.exponent <= fit.interval.1);
        if fit.interval.0 <= -0.7 && -0.7 <= fit.interval.1 {
            covered += 1;
        }
        half_widths.push((fit.interval.1 - fit.interval.0) / 2.0);
    }
    // The pairs bootstrap with n = 12 undercovers slightly (≈ 0.88–0.93 for a nominal 0.95);
    // with 40 trials the binomial sd is ≈ 0.05, so ≥ 0.75 is > 2.5 sd below the expected value.
    assert!(
        covered as f64 / trials as f64 >= 0.75,
        "coverage {covered}/{trials}"
    );
    // The mean half-width estimates 1.96·se (the pairs bootstrap is ≈ 10–15% narrower at n = 12).
    let mean_half = half_widths.iter().sum::<f64>() / trials as f64;
    assert!(
        0.6 * 1.96 * se <= mean_half && mean_half <= 1.4 * 1.96 * se,
        "half width {mean_half} vs 1.96 se {}",
        1.96 * se
    );
}

#[test]
fn bootstrap_is_deterministic_in_its_seed() {
    let x = [1.0, 2.0, 4.0, 8.0, 16.0];
    let y = [1.0, 0.8, 0.45, 0.37, 0.2];
    let a = power_law_fit(&x, &y, Bootstrap::new(5)).unwrap();
    let b = power_law_fit(&x, &y, Bootstrap::new(5)).unwrap();
    let c = power_law_fit(&x, &y, Bootstrap::new(6)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.exponent, c.exponent);
    assert_ne!(a.interval, c.interval);
}

#[test]
fn linear_fit_matches_the_closed_form() {
    let x = [0.0, 1.0, 2.0, 3.0];
    let y = [1.0, 3.0, 2.0, 5.0];
    // By hand: x̄ = 1.5, ȳ = 2.75, Sxy = 5.5, Sxx = 5 → slope 1.1, intercept 1.1;
    // residuals (−0.1, 0.8, −1.3, 0.6) → RSS 2.7, Syy = 8.75, R² = 1 − 2.7/8.75.
    let fit = linear_fit(&x, &y).unwrap();
    assert!((fit.slope - 1.1).abs() <= 1e-14);
    assert!((fit.intercept - 1.1).abs() <= 1e-14);
    assert!((fit.r_squared - (1.0 - 2.7 / 8.75)).abs() <= 1e-14);
}

#[test]
fn spearman_matches_hand_computed_values() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    // d = (−1, 1, −1, 1, 0): ρ = 1 − 6·4/(5·24) = 0.8.
    let y = [2.0, 1.0, 4.0, 3.0, 5.0];
    assert!((spearman(&x, &y).unwrap() - 0.8).abs() <= 1e-14);
    let increasing: Vec<f64> = x.iter().map(|v: &f64| v.exp()).collect();
    assert_eq!(spearman(&x, &increasing).unwrap(), 1.0);
    let decreasing: Vec<f64> = x.iter().map(|v| -v.powi(3)).collect();
    assert_eq!(spearman(&x, &decreasing).unwrap(), -1.0);
    // Ties: ranks of y = (1.5, 1.5, 3, 4, 5); Pearson of ranks by hand:
    // r̄ = 3, Σ(r−3)(s−3) = (−2)(−1.5) + (−1)(−1.5) + 0 + 1 + 4 = 9.5,
    // Σ(r−3)² = 10, Σ(s−3)² = 2.25 + 2.25 + 0 + 1 + 4 = 9.5 → ρ = 9.5/√95.
    let tied = [7.0, 7.0, 8.0, 9.0, 10.0];
    assert!((spearman(&x, &tied).unwrap() - 9.5 / 95f64.sqrt()).abs() <= 1e-14);
}

#[test]
fn spearman_of_independent_samples_is_small() {
    // Under independence, ρ has sd 1/√(n−1) ≈ 0.032 for n = 1000; 5 sd ⇒ |ρ| ≤ 0.16.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x: Vec<f64> = (0..1000).map(|_| rng.random::<f64>()).collect();
    let y: Vec<f64> = (0..1000).map(|_| rng.random::<f64>()).collect();
    assert!(spearman(&x, &y).unwrap().abs() <= 0.16);
}

#[test]
fn bad_inputs_are_errors() {
    let b = Bootstrap::new(0);
    assert!(matches!(
        power_law_fit(&[1.0, 2.0, 3.0], &[1.0, 2.0], b),
        Err(FitError::LengthMismatch { .. })
    ));
    assert!(matches!(
        power_law_fit(&[1.0, 2.0], &[1.0, 2.0], b),
        Err(FitError::TooFewPoints { .. })
    ));
    assert!(matches!(
        power_law_fit(&[1.0, 2.0, 3.0], &[1.0, -2.0, 3.0], b),
        Err(FitError::NotPositive {
            arg: "y",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        power_law_fit(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0], b),
        Err(FitError::NonFinite {
            arg: "x",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        power_law_fit(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0], b),
        Err(FitError::Degenerate { .. })
    ));
    let few = Bootstrap { resamples: 10, ..b };
    assert!(matches!(
        power_law_fit(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], few),
        Err(FitError::InvalidBootstrap { .. })
    ));
    assert!(matches!(
        linear_fit(&[1.0, 1.0], &[0.0, 1.0]),
        Err(FitError::Degenerate { .. })
    ));
    assert!(matches!(
        spearman(&[1.0, 2.0], &[3.0, 3.0]),
        Err(FitError::Degenerate { arg: "y" })
    ));
}

#[test]
fn median_of_odd_even_and_empty_slices() {
    use xtask::reproduce::fit::median;
    assert_eq!(median(&[3.0, -1.0, 2.0]), 2.0);
    // Even length: the mean of the middle pair (2 and 4), whatever the input order.
    assert_eq!(median(&[4.0, 10.0, -5.0, 2.0]), 3.0);
    assert!(median(&[]).is_nan());
}

/// Per-group medians: each group's own items, in the order of `groups`; NaN for an empty group.
#[test]
fn medians_by_group() {
    use xtask::reproduce::fit::medians_by;
    let runs = [(64, 3.0), (128, 1.0), (64, 1.0), (64, 2.0), (128, 5.0)];
    let medians = medians_by(&runs, &[128, 64, 256], |r| r.0, |r| r.1);
    assert_eq!(medians[..2], [3.0, 2.0]);
    assert!(medians[2].is_nan());
}
