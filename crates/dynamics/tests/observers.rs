//! Trajectory observers against independent computations.

use faer::Mat;
use ntk_dynamics::observers::ActivationPatterns;
use ntk_dynamics::test_models::{LinearModel, gaussian_matrix, gaussian_vector, linear_flow_exact};
use ntk_dynamics::{FlowConfig, HiddenUnits, ObserverOptions, TrajectoryObserver, gradient_flow};
use ntk_kernels::Activation;
use ntk_nets::{Model as _, Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn relu_net(width: usize, input_dim: usize, seed: u64) -> (TwoLayer, Vec<f64>) {
    let spec = TwoLayerSpec {
        input_dim,
        width,
        activation: Activation::Relu,
        scaling: Scaling::Lazy,
        alpha: 1.0,
        w_init_std: 1.0,
        second_layer: SecondLayer::FixedSigns,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let model = TwoLayer::new(spec, &mut rng)
        .unwrap()
        .with_parallelism(faer::Par::Seq);
    let theta0 = model.init_params(&mut rng);
    (model, theta0)
}

/// n points on the unit sphere in R^d (Du et al.'s assumption ‖x‖ = 1).
fn sphere_points(n: usize, d: usize, seed: u64) -> Mat<f64> {
    let g = gaussian_matrix(n, d, seed);
    Mat::from_fn(n, d, |i, j| {
        let norm = (0..d).map(|k| g[(i, k)] * g[(i, k)]).sum::<f64>().sqrt();
        g[(i, j)] / norm
    })
}

#[test]
fn linear_model_trajectory_coincides_with_its_linearization() {
    let (n, d) = (10, 4);
    let x = gaussian_matrix(n, d, 401);
    let y = gaussian_vector(n, 402);
    let theta0 = gaussian_vector(d, 403);
    let x_test = gaussian_matrix(5, d, 404);
    let model = LinearModel { input_dim: d };
    let options = ObserverOptions {
        x_test: Some(x_test.as_ref()),
        ntk_change: true,
        kappa: None,
    };
    let mut observer = TrajectoryObserver::new(&model, x.as_ref(), &y, &theta0, options).unwrap();
    let times = [0.0, 0.5, 2.0, 6.0];
    let mut config = FlowConfig::new(6.0);
    config.rtol = 1e-10;
    config.atol = 1e-12;
    gradient_flow(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        &times,
        &config,
        |t, theta| observer.record(t, theta),
    )
    .unwrap();
    let snaps = observer.snapshots();
    assert_eq!(snaps.len(), times.len());
    for s in snaps {
        let exact = linear_flow_exact(x.as_ref(), &y, &theta0, s.t).unwrap();
        let dist: f64 = exact
            .iter()
            .zip(&theta0)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        // Integrator error: a few units of rtol·‖θ‖ ≈ 1e-9.
        assert!((s.distance_from_init - dist).abs() <= 1e-8, "{s:?}");
        assert!(s.distance_to_linearized <= 1e-8, "{s:?}");
        assert!(s.max_test_gap.unwrap() <= 1e-8, "{s:?}");
        // The kernel of a linear model never changes: exactly 0.
        assert_eq!(s.ntk_relative_change, Some(0.0));
        let lin_loss = observer.linearized().loss(s.t).unwrap();
        assert!(
            (s.loss - lin_loss).abs() <= 1e-8 * (1.0 + lin_loss),
            "{s:?}"
        );
    }
}

#[test]
fn flipped_patterns_and_neuron_movement_on_a_constructed_perturbation() {
    // Negating w_0 flips every pattern of unit 0 (no pre-activation is exactly 0 for Gaussian
    // weights and sphere inputs): fraction = n/(n·m) = 1/m; movement = 2‖w_0‖.
    let (width, d, n) = (16, 3, 7);
    let (model, theta0) = relu_net(width, d, 411);
    let x = sphere_points(n, d, 412);
    let patterns = ActivationPatterns::new(&model, x.as_ref(), &theta0).unwrap();
    let mut theta = theta0.clone();
    for j in 0..d {
        theta[j] = -theta[j];
    }
    let fraction = patterns
        .flipped_fraction(&model, x.as_ref(), &theta)
        .unwrap();
    assert_eq!(fraction, 1.0 / width as f64);
    let w0 = model.neuron_weights(&theta0, 0).unwrap();
    let norm: f64 = w0.iter().map(|a| a * a).sum::<f64>().sqrt();
    let movement = patterns.max_neuron_movement(&model, &theta).unwrap();
    assert!((movement - 2.0 * norm).abs() <= 1e-15 * norm * 4.0);
    assert_eq!(
        patterns
            .flipped_fraction(&model, x.as_ref(), &theta0)
            .unwrap(),
        0.0
    );
}

#[test]
fn wider_relu_nets_move_less_and_keep_their_kernel() {
    // Du et al. 2019, Lemma 3.3: max_r ‖w_r(t) − w_r(0)‖ = O(√n/(√m λ₀)): a 16× wider net should
    // move ≈ 4× less; [2, 8] allows the fluctuation of single seeds (measured: 3.6). The kernel
    // change and the flipped fraction must decrease with width (their single-seed ratios are
    // noisy: the flips are counted events, ~15 at m = 64).
    let (d, n) = (4, 8);
    let x = sphere_points(n, d, 421);
    let y = gaussian_vector(n, 422);
    let mut config = FlowConfig::new(5.0);
    config.rtol = 1e-6;
    config.atol = 1e-9;
    let mut finals = Vec::new();
    for &width in &[64usize, 256, 1024] {
        let (model, theta0) = relu_net(width, d, 423);
        let options = ObserverOptions {
            x_test: None,
            ntk_change: true,
            kappa: None,
        };
        let mut observer = TrajectoryObserver::new(&model, x.as_ref(), &y, &theta0, options)
            .unwrap()
            .with_activation_patterns()
            .unwrap();
        let mut theta_end = Vec::new();
        gradient_flow(
            &model,
            x.as_ref(),
            &y,
            &theta0,
            &[0.0, 5.0],
            &config,
            |t, theta| {
                theta_end = theta.to_vec();
                observer.record(t, theta)
            },
        )
        .unwrap();
        let snaps = observer.into_snapshots();
        assert_eq!(snaps[0].flipped_fraction, Some(0.0));
        assert_eq!(snaps[0].max_neuron_movement, Some(0.0));
        assert_eq!(snaps[0].ntk_relative_change, Some(0.0));
        assert!(snaps[1].loss < snaps[0].loss);
        // Kernel change recomputed from Jacobians: Θ̂ = JJᵀ, Frobenius norms by explicit sums.
        let j0 = model.jacobian(&theta0, x.as_ref()).unwrap();
        let j1 = model.jacobian(&theta_end, x.as_ref()).unwrap();
        let (mut diff2, mut base2) = (0.0, 0.0);
        for a in 0..n {
            for b in 0..n {
                let k0: f64 = (0..j0.ncols()).map(|p| j0[(a, p)] * j0[(b, p)]).sum();
                let k1: f64 = (0..j1.ncols()).map(|p| j1[(a, p)] * j1[(b, p)]).sum();
                diff2 += (k1 - k0) * (k1 - k0);
                base2 += k0 * k0;
            }
        }
        let expected = (diff2 / base2).sqrt();
        // Different summation orders of ~P = 4096 products: relative 1e-10 is generous.
        let got = snaps[1].ntk_relative_change.unwrap();
        assert!(
            (got - expected).abs() <= 1e-10 * (1.0 + expected) + 1e-12,
            "{got} vs {expected}"
        );
        finals.push(snaps[1].clone());
    }
    let movement_ratio =
        finals[0].max_neuron_movement.unwrap() / finals[2].max_neuron_movement.unwrap();
    assert!((2.0..=8.0).contains(&movement_ratio), "{finals:?}");
    for w in finals.windows(2) {
        assert!(
            w[1].ntk_relative_change.unwrap() < w[0].ntk_relative_change.unwrap(),
            "{finals:?}"
        );
        assert!(
            w[1].flipped_fraction.unwrap() <= w[0].flipped_fraction.unwrap(),
            "{finals:?}"
        );
    }
}

#[test]
fn smooth_nets_stay_within_one_over_sqrt_width_of_their_linearization() {
    // Lee et al. 2019, Thm. 2.1 (smooth activation, NTK parameterization): sup_t ‖θ_t − θ̃_t‖ and
    // sup_x |f − f_lin| are O(1/√m); their Fig. 1 shows the function-space gap actually decaying
    // like 1/m. From m = 64 to m = 1024: the parameter gap should shrink ≈ 4× ([2, 8], single
    // seed; measured 5.8), the output gap between 4× and 16× (band [3, 32]; measured 11.9).
    let (d, n) = (4, 8);
    let x = sphere_points(n, d, 431);
    let y = gaussian_vector(n, 432);
    let x_test = sphere_points(5, d, 433);
    let mut config = FlowConfig::new(3.0);
    config.rtol = 1e-8;
    config.atol = 1e-10;
    let mut finals = Vec::new();
    for &width in &[64usize, 1024] {
        let spec = TwoLayerSpec {
            input_dim: d,
            width,
            activation: Activation::Erf,
            scaling: Scaling::Lazy,
            alpha: 1.0,
            w_init_std: 1.0,
            second_layer: SecondLayer::Trained,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(434);
        let model = TwoLayer::new(spec, &mut rng)
            .unwrap()
            .with_parallelism(faer::Par::Seq);
        let theta0 = model.init_params(&mut rng);
        let options = ObserverOptions {
            x_test: Some(x_test.as_ref()),
            ntk_change: false,
            kappa: None,
        };
        let mut observer =
            TrajectoryObserver::new(&model, x.as_ref(), &y, &theta0, options).unwrap();
        gradient_flow(
            &model,
            x.as_ref(),
            &y,
            &theta0,
            &[1.0, 3.0],
            &config,
            |t, theta| observer.record(t, theta),
        )
        .unwrap();
        finals.push(observer.into_snapshots()[1].clone());
    }
    let theta_ratio = finals[0].distance_to_linearized / finals[1].distance_to_linearized;
    let output_ratio = finals[0].max_test_gap.unwrap() / finals[1].max_test_gap.unwrap();
    assert!((2.0..=8.0).contains(&theta_ratio), "{finals:?}");
    assert!((3.0..=32.0).contains(&output_ratio), "{finals:?}");
}

#[test]
fn gd_steps_on_a_linear_model_coincide_with_linearized_gd() {
    // GD on f = θᵀx is GD on its own linearization: the step-k reference (I − ηΘ̂₀/n)^k matches
    // to rounding (40 steps of O(1) arithmetic: 1e-12).
    let (n, d) = (10, 4);
    let x = gaussian_matrix(n, d, 441);
    let y = gaussian_vector(n, 442);
    let theta0 = gaussian_vector(d, 443);
    let x_test = gaussian_matrix(3, d, 444);
    let model = LinearModel { input_dim: d };
    let options = ObserverOptions {
        x_test: Some(x_test.as_ref()),
        ntk_change: false,
        kappa: None,
    };
    let mut observer = TrajectoryObserver::new(&model, x.as_ref(), &y, &theta0, options).unwrap();
    let eta = 0.5 / observer.linearized().flow_eigenvalues()[n - 1];
    ntk_dynamics::gradient_descent(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        &ntk_dynamics::GdConfig::new(eta, 40),
        |step, theta, _| observer.record_gd_step(step, eta, theta),
    )
    .unwrap();
    let snaps = observer.snapshots();
    assert_eq!(snaps.len(), 41);
    for s in snaps {
        assert!(s.distance_to_linearized <= 1e-12, "{s:?}");
        assert!(s.max_test_gap.unwrap() <= 1e-12, "{s:?}");
    }
}
