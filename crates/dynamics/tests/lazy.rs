//! Lazy training by α-scaling: distance O(1/α), gap to the linearized model O(1/α).

use ntk_dynamics::FlowConfig;
use ntk_dynamics::lazy::{AlphaScaled, lazy_training_sweep};
use ntk_dynamics::test_models::{LinearModel, LinearTwoLayer, gaussian_matrix, gaussian_vector};
use ntk_nets::Model;

#[test]
fn linear_model_is_exactly_lazy_for_every_alpha() {
    // f linear ⇒ g_α linear in θ with J = αX: θ_α(t) − θ⁰ = (θ_1(t) − θ⁰)/α exactly and
    // g_α(t) = g_lin(t). Only integrator error (rtol 1e-10) remains.
    let (n, d) = (8, 5);
    let x = gaussian_matrix(n, d, 301);
    let y = gaussian_vector(n, 302);
    let theta0 = gaussian_vector(d, 303);
    let x_eval = gaussian_matrix(4, d, 304);
    let model = LinearModel { input_dim: d };
    let mut config = FlowConfig::new(3.0);
    config.rtol = 1e-10;
    config.atol = 1e-12;
    let points = lazy_training_sweep(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        x_eval.as_ref(),
        &[1.0, 10.0, 100.0],
        &config,
    )
    .unwrap();
    for p in &points {
        // Gap: outputs are O(1), integrated to ~10 tolerance units.
        assert!(p.linearized_gap <= 1e-8, "{p:?}");
        let rel = (p.scaled_distance - points[0].scaled_distance).abs() / points[0].scaled_distance;
        assert!(rel <= 1e-8, "{p:?}");
    }
}

#[test]
fn nonlinear_model_approaches_its_linearization_like_one_over_alpha() {
    // Bilinear two-layer net: the gap to the linearized trajectory is O(1/α) (Chizat et al.,
    // Thm. 2.3), so a tenfold α shrinks it roughly tenfold; a ratio in [5, 20] allows the O(1/α²)
    // correction at α = 10. α·‖θ_α − θ⁰‖ converges (changes by < 5% from α = 100 to 1000).
    let model = LinearTwoLayer {
        width: 20,
        input_dim: 3,
    };
    let n = 6;
    let x = gaussian_matrix(n, 3, 311);
    let y = gaussian_vector(n, 312);
    let theta0 = gaussian_vector(model.n_params(), 313);
    let x_eval = gaussian_matrix(5, 3, 314);
    let mut config = FlowConfig::new(2.0);
    config.rtol = 1e-10;
    config.atol = 1e-12;
    let alphas = [10.0, 100.0, 1000.0];
    let points = lazy_training_sweep(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        x_eval.as_ref(),
        &alphas,
        &config,
    )
    .unwrap();
    for w in points.windows(2) {
        let ratio = w[0].linearized_gap / w[1].linearized_gap;
        assert!((5.0..=20.0).contains(&ratio), "{points:?}");
        assert!(w[1].distance < w[0].distance);
    }
    let change =
        (points[2].scaled_distance - points[1].scaled_distance).abs() / points[2].scaled_distance;
    assert!(change < 0.05, "{points:?}");
}

#[test]
fn alpha_scaled_derivatives_are_alpha_times_the_inner_ones() {
    // Central finite differences of g_α = α(f − f⁰) along a random direction: step 1e-5, error
    // O(h²‖f'''‖) = 0 for the bilinear model up to rounding ε/h ≈ 1e-11 (relative).
    let model = LinearTwoLayer {
        width: 4,
        input_dim: 2,
    };
    let theta0 = gaussian_vector(model.n_params(), 321);
    let theta = gaussian_vector(model.n_params(), 322);
    let dir = gaussian_vector(model.n_params(), 323);
    let x = gaussian_matrix(3, 2, 324);
    let scaled = AlphaScaled::new(&model, &theta0, 7.0).unwrap();
    let h = 1e-5;
    let plus: Vec<f64> = theta.iter().zip(&dir).map(|(a, b)| a + h * b).collect();
    let minus: Vec<f64> = theta.iter().zip(&dir).map(|(a, b)| a - h * b).collect();
    let fp = scaled.forward(&plus, x.as_ref()).unwrap();
    let fm = scaled.forward(&minus, x.as_ref()).unwrap();
    let jv = scaled.jvp(&theta, x.as_ref(), &dir).unwrap();
    for i in 0..3 {
        let fd = (fp[i] - fm[i]) / (2.0 * h);
        assert!(
            (fd - jv[i]).abs() <= 1e-8 * (1.0 + jv[i].abs()),
            "{fd} vs {}",
            jv[i]
        );
    }
    // g_α(θ⁰) = 0.
    assert!(
        scaled
            .forward(&theta0, x.as_ref())
            .unwrap()
            .iter()
            .all(|v| *v == 0.0)
    );
}
