//! Discrete optimisers against the flow and closed forms.

use faer::Mat;
use ntk_dynamics::test_models::{LinearModel, LinearTwoLayer, gaussian_matrix, gaussian_vector};
use ntk_dynamics::{
    Error, FlowConfig, GdConfig, LinearizedFlow, NgdConfig, SgdConfig, gradient_descent,
    gradient_flow_states, natural_gradient_descent, stochastic_gradient_descent,
};
use ntk_nets::Model;

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn gd_with_small_steps_tracks_the_flow_to_first_order() {
    // Nonlinear (bilinear) model: GD θ_k vs the gradient flow θ(kη) at T = 2. Euler's global
    // error is C·η + O(η²), so halving η must roughly halve the gap (ratio in [1.7, 2.3]) and the
    // gap itself must be small.
    let model = LinearTwoLayer {
        width: 10,
        input_dim: 3,
    };
    let n = 12;
    let x = gaussian_matrix(n, 3, 81);
    let y = gaussian_vector(n, 82);
    let theta0 = gaussian_vector(model.n_params(), 83);
    let t_end = 2.0;
    let mut config = FlowConfig::new(t_end);
    config.rtol = 1e-11;
    config.atol = 1e-13;
    let flow = gradient_flow_states(&model, x.as_ref(), &y, &theta0, &[t_end], &config).unwrap();
    let mut gaps = Vec::new();
    for &steps in &[400usize, 800, 1600] {
        let eta = t_end / steps as f64;
        let run = gradient_descent(
            &model,
            x.as_ref(),
            &y,
            &theta0,
            &GdConfig::new(eta, steps),
            |_, _, _| Ok(()),
        )
        .unwrap();
        gaps.push(max_abs_diff(&run.theta, flow.state(0)));
        // Loss is non-increasing for small η (descent lemma, η < 2/L_smooth).
        assert!(run.losses.windows(2).all(|w| w[1] <= w[0]));
    }
    for w in gaps.windows(2) {
        let ratio = w[0] / w[1];
        assert!((1.7..=2.3).contains(&ratio), "gaps {gaps:?}");
    }
    assert!(gaps[2] < 1e-2, "gaps {gaps:?}");
}

#[test]
fn sgd_with_full_batches_is_gd() {
    // b = n: every minibatch is a permutation of the data, so SGD = GD up to summation order.
    let (n, d) = (10, 4);
    let x = gaussian_matrix(n, d, 91);
    let y = gaussian_vector(n, 92);
    let theta0 = gaussian_vector(d, 93);
    let model = LinearModel { input_dim: d };
    let gd = gradient_descent(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        &GdConfig::new(0.1, 50),
        |_, _, _| Ok(()),
    )
    .unwrap();
    let sgd = stochastic_gradient_descent(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        &SgdConfig::new(0.1, n, 50, 7),
        |_, _, _| Ok(()),
    )
    .unwrap();
    // Reordered sums of 10 O(1) terms over 50 contracting steps: ~1e-14; bound 1e-12.
    assert!(max_abs_diff(&gd.theta, &sgd.theta) <= 1e-12);
    assert!((gd.losses[50] - sgd.losses[50]).abs() <= 1e-12);
}

#[test]
fn sgd_is_seeded_and_reaches_the_interpolant() {
    // Consistent data y = Xθ* with n = 20 > d = 4: θ* zeroes every minibatch gradient, so SGD
    // with a constant small step converges to θ* (no noise floor).
    let (n, d) = (20, 4);
    let x = gaussian_matrix(n, d, 101);
    let theta_star = gaussian_vector(d, 102);
    let model = LinearModel { input_dim: d };
    let y = model.forward(&theta_star, x.as_ref()).unwrap();
    let theta0 = vec![0.0; d];
    let config = SgdConfig::new(0.1, 5, 3000, 11);
    let run_a =
        stochastic_gradient_descent(&model, x.as_ref(), &y, &theta0, &config, |_, _, _| Ok(()))
            .unwrap();
    let run_b =
        stochastic_gradient_descent(&model, x.as_ref(), &y, &theta0, &config, |_, _, _| Ok(()))
            .unwrap();
    assert_eq!(run_a, run_b);
    let other = SgdConfig {
        seed: 12,
        ..config.clone()
    };
    let run_c =
        stochastic_gradient_descent(&model, x.as_ref(), &y, &theta0, &other, |_, _, _| Ok(()))
            .unwrap();
    assert_ne!(run_a.losses[1..10], run_c.losses[1..10]);
    // Linear convergence at rate ≥ (1 − η λ_min(batch))/step over 3000 steps: far below 1e-10.
    assert!(max_abs_diff(&run_a.theta, &theta_star) <= 1e-10);
    let bad = SgdConfig {
        batch_size: 0,
        ..config
    };
    assert!(matches!(
        stochastic_gradient_descent(&model, x.as_ref(), &y, &theta0, &bad, |_, _, _| Ok(())),
        Err(Error::InvalidParameter {
            arg: "batch_size",
            ..
        })
    ));
}

#[test]
fn ngd_matches_its_spectral_closed_form_on_a_linear_model() {
    // Linear model: J = X constant, so r_{k+1} = (I − ηΘ(Θ + λI)⁻¹) r_k and, with Θ = V diag(μ) Vᵀ,
    // r_k = V diag((1 − ημ/(μ + λ))^k) Vᵀ r₀. The spectral side comes from faer's symmetric
    // eigendecomposition; NGD solves by Cholesky.
    let (n, d) = (6, 10);
    let x = gaussian_matrix(n, d, 111);
    let y = gaussian_vector(n, 112);
    let theta0 = gaussian_vector(d, 113);
    let model = LinearModel { input_dim: d };
    let (eta, damping, steps) = (0.7, 0.3, 5);
    let run = natural_gradient_descent(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        &NgdConfig::new(eta, damping, steps),
        |_, _, _| Ok(()),
    )
    .unwrap();
    let u = model.forward(&run.theta, x.as_ref()).unwrap();
    let ntk = model
        .empirical_ntk(&theta0, x.as_ref(), x.as_ref())
        .unwrap();
    let eig = ntk.self_adjoint_eigen(faer::Side::Lower).unwrap();
    let u0 = model.forward(&theta0, x.as_ref()).unwrap();
    let r0: Vec<f64> = u0.iter().zip(&y).map(|(a, b)| a - b).collect();
    let vecs = eig.U();
    let mut r_expected = vec![0.0; n];
    for k in 0..n {
        let mu = eig.S().column_vector()[k];
        let proj: f64 = (0..n).map(|i| vecs[(i, k)] * r0[i]).sum();
        let factor = (1.0 - eta * mu / (mu + damping)).powi(steps as i32);
        for i in 0..n {
            r_expected[i] += vecs[(i, k)] * factor * proj;
        }
    }
    let r: Vec<f64> = u.iter().zip(&y).map(|(a, b)| a - b).collect();
    // Cholesky vs eigendecomposition of a well-conditioned 6 × 6 matrix: 1e-12.
    assert!(max_abs_diff(&r, &r_expected) <= 1e-12);
    // η = 1, λ = 0: one step interpolates.
    let one = natural_gradient_descent(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        &NgdConfig::new(1.0, 0.0, 1),
        |_, _, _| Ok(()),
    )
    .unwrap();
    // Θ is well conditioned (d = 10 ≥ n = 6 Gaussian rows): residual ~ ε‖r₀‖, loss ~ 1e-30.
    assert!(one.losses[1] <= 1e-24, "{}", one.losses[1]);
}

#[test]
fn ngd_singular_gram_reports_lambda_min() {
    // All inputs zero: J = 0, JJᵀ + 0·I = 0 is singular; λ_min = 0 must be reported.
    let (n, d) = (4, 3);
    let x = Mat::<f64>::zeros(n, d);
    let y = vec![1.0; n];
    let model = LinearModel { input_dim: d };
    let res = natural_gradient_descent(
        &model,
        x.as_ref(),
        &y,
        &[0.5; 3],
        &NgdConfig::new(1.0, 0.0, 3),
        |_, _, _| Ok(()),
    );
    match res {
        Err(Error::NotPositiveDefinite { lambda_min, .. }) => assert_eq!(lambda_min, 0.0),
        other => panic!("expected NotPositiveDefinite, got {other:?}"),
    }
}

#[test]
fn gd_beyond_two_over_lambda_max_diverges_with_the_step_named() {
    // Quadratic loss: GD diverges iff η > 2/λ_max(XᵀX/n). At η = 3/λ_max the top mode grows by
    // |1 − 3| = 2 per step, so the loss exceeds 1e6 · L(0) after about log(1e6)/log(4) ≈ 10 steps.
    let (n, d) = (10, 4);
    let x = gaussian_matrix(n, d, 121);
    let y = gaussian_vector(n, 122);
    let theta0 = gaussian_vector(d, 123);
    let model = LinearModel { input_dim: d };
    let lin = LinearizedFlow::new(&model, x.as_ref(), &y, &theta0).unwrap();
    let lambda_max = lin.flow_eigenvalues()[n - 1];
    let res = gradient_descent(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        &GdConfig::new(3.0 / lambda_max, 1000),
        |_, _, _| Ok(()),
    );
    match res {
        Err(Error::Diverged {
            step,
            loss,
            threshold,
            ..
        }) => {
            assert!((5..=40).contains(&step), "step {step}");
            assert!(loss > threshold);
        }
        other => panic!("expected Diverged, got {other:?}"),
    }
    let bad = GdConfig::new(-1.0, 10);
    assert!(matches!(
        gradient_descent(&model, x.as_ref(), &y, &theta0, &bad, |_, _, _| Ok(())),
        Err(Error::InvalidParameter {
            arg: "learning_rate",
            ..
        })
    ));
}
