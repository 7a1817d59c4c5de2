//! H^∞ assembly and the finite-width λ_min(Θ̂) against λ_min(Θ^(L)), checked against closed
//! forms, Monte Carlo with stated standard errors and Weyl's inequality.

use faer::{Mat, Par};
use ntk_bounds::Error;
use ntk_bounds::gram::{h_infinity, h_infinity_cross};
use ntk_bounds::ntk_gram::{
    FiniteWidthConfig, analytic_ntk_gram, empirical_ntk_gram, finite_width_lambda_min,
};
use ntk_bounds::test_models::random_sphere;
use ntk_kernels::{Activation, Architecture, Parameterization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::PI;

#[test]
fn h_infinity_matches_its_closed_form_and_a_monte_carlo_expectation() {
    let (n, d) = (6, 4);
    // Rows of different norms: the closed form is xᵀx'(π − arccos u)/(2π) for any norms.
    let x = Mat::from_fn(n, d, |i, j| {
        random_sphere(n, d, 3)[(i, j)] * (1.0 + 0.25 * i as f64)
    });
    let h = h_infinity(x.as_ref()).unwrap();
    let cross = h_infinity_cross(x.as_ref(), x.as_ref()).unwrap();
    let mut w_samples = ChaCha8Rng::seed_from_u64(11);
    let n_mc = 200_000;
    let mut mc = Mat::<f64>::zeros(n, n);
    for _ in 0..n_mc {
        let w: Vec<f64> = (0..d)
            .map(|_| StandardNormal.sample(&mut w_samples))
            .collect();
        let active: Vec<bool> = (0..n)
            .map(|i| (0..d).map(|k| w[k] * x[(i, k)]).sum::<f64>() >= 0.0)
            .collect();
        for i in 0..n {
            for j in 0..n {
                if active[i] && active[j] {
                    mc[(i, j)] += 1.0;
                }
            }
        }
    }
    for i in 0..n {
        for j in 0..n {
            assert_eq!(h[(i, j)].to_bits(), h[(j, i)].to_bits(), "exact symmetry");
            let dot: f64 = (0..d).map(|k| x[(i, k)] * x[(j, k)]).sum();
            let norm = |r: usize| (0..d).map(|k| x[(r, k)].powi(2)).sum::<f64>().sqrt();
            let u = (dot / (norm(i) * norm(j))).clamp(-1.0, 1.0);
            let closed = dot * (PI - u.acos()) / (2.0 * PI);
            // Same formula, different operation order: a few ulps of |xᵢ||xⱼ| ≤ 2.6.
            assert!((h[(i, j)] - closed).abs() <= 1e-14, "{i},{j}");
            assert!((cross[(i, j)] - closed).abs() <= 1e-14, "{i},{j}");
            // Monte Carlo of E_w[xᵢᵀxⱼ 1{wᵀxᵢ ≥ 0}1{wᵀxⱼ ≥ 0}]: the indicator's standard error is
            // ≤ 0.5/√n_mc, scaled by |xᵢᵀxⱼ|; 5 standard errors.
            let p = mc[(i, j)] / n_mc as f64;
            let se = (p * (1.0 - p) / n_mc as f64).sqrt().max(1e-6) * dot.abs();
            assert!(
                (dot * p - closed).abs() <= 5.0 * se + 1e-12,
                "{i},{j}: mc {} closed {closed}",
                dot * p
            );
        }
    }
}

#[test]
fn h_infinity_rejects_bad_rows() {
    let mut x = random_sphere(4, 3, 1);
    for j in 0..3 {
        x[(2, j)] = 0.0;
    }
    assert!(matches!(
        h_infinity(x.as_ref()),
        Err(Error::ZeroNorm { arg: "x", index: 2 })
    ));
    let y = random_sphere(3, 2, 1);
    assert!(matches!(
        h_infinity_cross(random_sphere(3, 3, 2).as_ref(), y.as_ref()),
        Err(Error::ShapeMismatch { arg: "x2", .. })
    ));
    assert!(matches!(
        h_infinity(Mat::<f64>::zeros(0, 3).as_ref()),
        Err(Error::Empty { .. })
    ));
}

fn relu_config(n_hidden: usize, widths: Vec<usize>, n_seeds: usize) -> FiniteWidthConfig {
    FiniteWidthConfig {
        n_hidden,
        activation: Activation::Relu,
        w_std: 2f64.sqrt(),
        b_std: None,
        parameterization: Parameterization::Ntk,
        widths,
        n_seeds,
        base_seed: 100,
    }
}

#[test]
fn one_hidden_layer_empirical_ntk_is_unbiased_for_the_analytic_kernel() {
    // With one hidden layer in the NTK parameterization both parts of Θ̂ (readout: mean of
    // σ(z)σ(z'), first layer: mean of a²σ'(z)σ'(z')xᵀx'/d) are averages of i.i.d. terms whose
    // expectations are the two terms of Θ^(1): E Θ̂ = Θ exactly. Mean over 64 seeds at m = 256
    // against Θ within 5 standard errors (per entry, from the sample variance).
    let (n, d, m, seeds) = (6, 5, 256, 64);
    let x = random_sphere(n, d, 4);
    let arch = Architecture::mlp(
        1,
        m,
        Activation::Relu,
        2f64.sqrt(),
        None,
        Parameterization::Ntk,
    )
    .unwrap();
    let theta = analytic_ntk_gram(&arch, x.as_ref()).unwrap();
    let samples: Vec<Mat<f64>> = (0..seeds)
        .map(|s| empirical_ntk_gram(&arch, x.as_ref(), s, Par::Seq).unwrap())
        .collect();
    for i in 0..n {
        for j in 0..n {
            let values: Vec<f64> = samples.iter().map(|k| k[(i, j)]).collect();
            let mean = values.iter().sum::<f64>() / seeds as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64;
            let se = (var / seeds as f64).sqrt();
            assert!(
                (mean - theta[(i, j)]).abs() <= 5.0 * se,
                "{i},{j}: mean {mean} analytic {} se {se}",
                theta[(i, j)]
            );
        }
    }
}

#[test]
fn lambda_min_of_the_empirical_ntk_obeys_weyl_and_approaches_the_analytic_one() {
    let x = random_sphere(12, 6, 5);
    let result = finite_width_lambda_min(x.as_ref(), &relu_config(2, vec![64, 4096], 6)).unwrap();
    assert!(result.lambda_min_analytic > 0.0);
    for s in &result.samples {
        // Weyl: |λ_min(Θ̂) − λ_min(Θ)| ≤ ‖Θ̂ − Θ‖_op; both sides from eigensolvers accurate to
        // O(n ε ‖Θ‖) = 12·2.2e-16·λ_max, far below 1e-10 relative to λ_min here.
        assert!(
            s.relative_deviation.abs() <= s.relative_operator_deviation + 1e-10,
            "{s:?}"
        );
    }
    let means = result.mean_abs_relative_deviation();
    assert_eq!(
        means.iter().map(|m| m.0).collect::<Vec<_>>(),
        vec![64, 4096]
    );
    // An m^{-1/2} rate predicts a ratio of 8 between m = 64 and m = 4096; a mean of 6 |r|'s
    // fluctuates by roughly ±40%, so require at least a factor 3.
    assert!(
        means[1].1 * 3.0 <= means[0].1,
        "mean |r|: {:?}, lambda_min {}",
        means,
        result.lambda_min_analytic
    );
}

#[test]
fn finite_width_sweep_is_independent_of_the_thread_count() {
    let x = random_sphere(10, 4, 6);
    let config = relu_config(2, vec![32, 128], 3);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| finite_width_lambda_min(x.as_ref(), &config).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.samples.len(), 6);
    for (a, b) in one.samples.iter().zip(&two.samples) {
        assert_eq!(a.seed, b.seed);
        assert_eq!(
            a.lambda_min_empirical.to_bits(),
            b.lambda_min_empirical.to_bits()
        );
        assert_eq!(
            a.relative_operator_deviation.to_bits(),
            b.relative_operator_deviation.to_bits()
        );
    }
    // Seeds: base_seed + width index · n_seeds + seed index.
    let seeds: Vec<u64> = one.samples.iter().map(|s| s.seed).collect();
    assert_eq!(seeds, vec![100, 101, 102, 103, 104, 105]);
}

#[test]
fn finite_width_sweep_rejects_bad_configurations() {
    let x = random_sphere(5, 3, 7);
    assert!(matches!(
        finite_width_lambda_min(x.as_ref(), &relu_config(1, vec![], 2)),
        Err(Error::Empty { arg: "widths" })
    ));
    assert!(matches!(
        finite_width_lambda_min(x.as_ref(), &relu_config(1, vec![8, 0], 2)),
        Err(Error::InvalidParameter { arg: "widths", .. })
    ));
    assert!(matches!(
        finite_width_lambda_min(x.as_ref(), &relu_config(1, vec![8], 0)),
        Err(Error::InvalidParameter { arg: "n_seeds", .. })
    ));
    // Two equal rows: Θ^(L) is singular.
    let mut dup = x.clone();
    for j in 0..3 {
        dup[(1, j)] = dup[(0, j)];
    }
    assert!(matches!(
        finite_width_lambda_min(dup.as_ref(), &relu_config(1, vec![8], 1)),
        Err(Error::NotPositiveDefinite { .. })
    ));
    let mut nan = x.clone();
    nan[(0, 0)] = f64::NAN;
    assert!(matches!(
        finite_width_lambda_min(nan.as_ref(), &relu_config(1, vec![8], 1)),
        Err(Error::NonFinite { .. })
    ));
}
