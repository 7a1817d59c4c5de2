//! The closed-form linearized flow against independent computations.

use faer::{Mat, Side};
use ntk_dynamics::ode::{FnSystem, solve};
use ntk_dynamics::test_models::{
    LinearModel, LinearTwoLayer, gaussian_matrix, gaussian_vector, linear_flow_exact,
};
use ntk_dynamics::{FlowConfig, GdConfig, LinearizedFlow, gradient_descent};
use ntk_nets::Model;

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

#[test]
fn linear_model_is_its_own_linearization() {
    // For f = θᵀx the parameter-space solution (eigendecomposition of XᵀX/n, d × d) and the
    // function-space one (of XXᵀ, n × n, then θ̃ = θ⁰ − J₀ᵀ(...)) are two routes to the same
    // θ(t). Rank-deficient case: n = 4 < d = 7, so XᵀX/n has 3 zero eigenvalues.
    for &(n, d) in &[(10, 4), (4, 7)] {
        let x = gaussian_matrix(n, d, 31);
        let y = gaussian_vector(n, 32);
        let theta0 = gaussian_vector(d, 33);
        let model = LinearModel { input_dim: d };
        let lin = LinearizedFlow::new(&model, x.as_ref(), &y, &theta0).unwrap();
        for &t in &[0.0, 0.3, 2.0, 50.0] {
            let reference = linear_flow_exact(x.as_ref(), &y, &theta0, t).unwrap();
            let theta = lin.params(t).unwrap();
            // Two symmetric eigendecompositions of O(1)-conditioned matrices of size ≤ 10:
            // backward-stable, so agreement to C·ε·n·‖θ‖ with C ~ 100 ⇒ 1e-11 absolute.
            let scale = 1.0 + max_abs(&reference);
            assert!(
                max_abs_diff(&theta, &reference) <= 1e-11 * scale,
                "n {n} d {d} t {t}"
            );
            // Outputs agree with the parameters: u(t) = X θ̃(t).
            let u_from_params = model.forward(&theta, x.as_ref()).unwrap();
            assert!(max_abs_diff(&lin.outputs(t).unwrap(), &u_from_params) <= 1e-11 * scale);
        }
    }
}

#[test]
fn outputs_params_and_predictions_are_consistent_for_a_nonlinear_model() {
    // Two-layer linear net (bilinear, so J depends on θ). n = 15 > P = 3·(2+1) = 9: Θ̂₀ is
    // rank-deficient and the λ = 0 modes must not move θ̃.
    let model = LinearTwoLayer {
        width: 3,
        input_dim: 2,
    };
    let n = 15;
    let x = gaussian_matrix(n, 2, 41);
    let y = gaussian_vector(n, 42);
    let theta0 = gaussian_vector(model.n_params(), 43);
    let x_test = gaussian_matrix(6, 2, 44);
    let lin = LinearizedFlow::new(&model, x.as_ref(), &y, &theta0).unwrap();
    let u0 = model.forward(&theta0, x.as_ref()).unwrap();
    for &t in &[0.0, 0.7, 5.0, 1e3] {
        let theta = lin.params(t).unwrap();
        let delta: Vec<f64> = theta.iter().zip(&theta0).map(|(a, b)| a - b).collect();
        // u(t) = u₀ + J₀(θ̃(t) − θ⁰), with J₀ applied by the model's jvp (independent code).
        let jv = model.jvp(&theta0, x.as_ref(), &delta).unwrap();
        let u_lin: Vec<f64> = u0.iter().zip(&jv).map(|(a, b)| a + b).collect();
        let outputs = lin.outputs(t).unwrap();
        // Small dense linear algebra: 1e-10 absolute on O(1)–O(10) values.
        assert!(max_abs_diff(&outputs, &u_lin) <= 1e-10, "t {t}");
        // Test predictions through the cross kernel equal f(x*; θ⁰) + J(x*)(θ̃ − θ⁰).
        let f_test0 = model.forward(&theta0, x_test.as_ref()).unwrap();
        let jv_test = model.jvp(&theta0, x_test.as_ref(), &delta).unwrap();
        let expected: Vec<f64> = f_test0.iter().zip(&jv_test).map(|(a, b)| a + b).collect();
        let predicted = lin.predict(&model, x_test.as_ref(), t).unwrap();
        assert!(max_abs_diff(&predicted, &expected) <= 1e-10, "t {t}");
    }
    // At t → ∞ the residual left is the projection of r₀ onto the null space of Θ̂₀.
    let u_inf = lin.outputs(1e8).unwrap();
    let residual: Vec<f64> = u_inf.iter().zip(&y).map(|(a, b)| a - b).collect();
    let j0 = model.jacobian(&theta0, x.as_ref()).unwrap();
    // Jᵀ r_∞ = 0 (gradient vanishes) up to rounding of O(1) sums.
    for p in 0..model.n_params() {
        let g: f64 = (0..n).map(|i| j0[(i, p)] * residual[i]).sum();
        assert!(g.abs() <= 1e-9, "component {p}: {g}");
    }
}

#[test]
fn closed_form_matches_integrated_function_space_ode() {
    // Integrate r' = −(Θ̂₀/n) r with Dormand–Prince and compare with V e^{−tΛ/n} Vᵀ r₀.
    let model = LinearTwoLayer {
        width: 8,
        input_dim: 3,
    };
    let n = 10;
    let x = gaussian_matrix(n, 3, 51);
    let y = gaussian_vector(n, 52);
    let theta0 = gaussian_vector(model.n_params(), 53);
    let lin = LinearizedFlow::new(&model, x.as_ref(), &y, &theta0).unwrap();
    let ntk = model
        .empirical_ntk(&theta0, x.as_ref(), x.as_ref())
        .unwrap();
    let u0 = lin.initial_outputs().to_vec();
    let r0: Vec<f64> = u0.iter().zip(&y).map(|(a, b)| a - b).collect();
    let mut system = FnSystem(|_t: f64, r: &[f64], dr: &mut [f64]| {
        for i in 0..n {
            dr[i] = -(0..n).map(|j| ntk[(i, j)] * r[j]).sum::<f64>() / n as f64;
        }
        Ok(())
    });
    let times = [0.0, 0.5, 2.0, 8.0];
    let mut config = FlowConfig::new(8.0);
    config.rtol = 1e-10;
    config.atol = 1e-12;
    let traj = solve(&mut system, &r0, &times, &config).unwrap();
    for (k, &t) in times.iter().enumerate() {
        let closed: Vec<f64> = lin
            .outputs(t)
            .unwrap()
            .iter()
            .zip(&y)
            .map(|(a, b)| a - b)
            .collect();
        // Integrator error: a few tolerance units (contracting linear ODE, see integrator tests).
        for i in 0..n {
            let tol = 5.0 * (config.atol + config.rtol * closed[i].abs());
            assert!((traj.state(k)[i] - closed[i]).abs() <= tol, "t {t} i {i}");
        }
    }
}

#[test]
fn lemma_1_loss_decay_bound_along_the_trajectory() {
    // Seed 004, Lemma 1: r' = −Q r with Q ⪰ λ I gives L(t) ≤ L(0) e^{−2λt}. Here Q = Θ̂₀/n and
    // λ = λ_min(Θ̂₀/n). The linear net's kernel is xᵀ(‖v‖²I + UᵀU)x'/m, of rank ≤ d, so d = 10 >
    // n = 8 makes Θ̂₀ positive definite.
    let model = LinearTwoLayer {
        width: 6,
        input_dim: 10,
    };
    let n = 8;
    let x = gaussian_matrix(n, 10, 61);
    let y = gaussian_vector(n, 62);
    let theta0 = gaussian_vector(model.n_params(), 63);
    let lin = LinearizedFlow::new(&model, x.as_ref(), &y, &theta0).unwrap();
    // λ_min recomputed independently from the kernel matrix of the model.
    let ntk = model
        .empirical_ntk(&theta0, x.as_ref(), x.as_ref())
        .unwrap();
    let q: Mat<f64> = Mat::from_fn(n, n, |i, j| ntk[(i, j)] / n as f64);
    let lambda_min = q.self_adjoint_eigenvalues(Side::Lower).unwrap()[0];
    assert!(lambda_min > 0.0);
    assert!(
        (lambda_min - lin.flow_eigenvalues()[0]).abs() <= 1e-12 * lin.flow_eigenvalues()[n - 1]
    );
    let loss0 = lin.loss(0.0).unwrap();
    let mut tightest = f64::INFINITY;
    for k in 0..=200 {
        let t = 0.05 * k as f64;
        let loss = lin.loss(t).unwrap();
        let bound = loss0 * (-2.0 * lambda_min * t).exp();
        // Rounding slack: relative 1e-12 on sums of n = 8 terms.
        assert!(
            loss <= bound * (1.0 + 1e-12) + 1e-300,
            "t {t}: {loss} > {bound}"
        );
        tightest = tightest.min(bound / loss.max(1e-300));
    }
    assert!(tightest >= 1.0 - 1e-12);
    // The same bound along the Dormand–Prince trajectory of r' = −(Θ̂₀/n) r, with slack for the
    // integrator's error: each component within a few units of atol + rtol|r|, so the loss is
    // within a relative 2·5·rtol plus the atol floor.
    let r0: Vec<f64> = lin
        .initial_outputs()
        .iter()
        .zip(&y)
        .map(|(a, b)| a - b)
        .collect();
    let mut system = FnSystem(|_t: f64, r: &[f64], dr: &mut [f64]| {
        for i in 0..n {
            dr[i] = -(0..n).map(|j| q[(i, j)] * r[j]).sum::<f64>();
        }
        Ok(())
    });
    let times: Vec<f64> = (0..=100).map(|k| 0.1 * k as f64).collect();
    let mut config = FlowConfig::new(10.0);
    config.rtol = 1e-9;
    config.atol = 1e-13;
    let traj = solve(&mut system, &r0, &times, &config).unwrap();
    for (k, &t) in times.iter().enumerate() {
        let loss = traj.state(k).iter().map(|r| r * r).sum::<f64>() / (2.0 * n as f64);
        let bound = loss0 * (-2.0 * lambda_min * t).exp();
        assert!(
            loss <= bound * (1.0 + 10.0 * config.rtol) + 25.0 * config.atol * config.atol,
            "t {t}"
        );
    }
}

#[test]
fn linearized_gd_matches_gd_on_a_linear_model() {
    // GD on f = θᵀx is exactly GD on its linearization: θ_k and u_k from (I − ηΘ̂₀/n)^k.
    let (n, d) = (9, 5);
    let x = gaussian_matrix(n, d, 71);
    let y = gaussian_vector(n, 72);
    let theta0 = gaussian_vector(d, 73);
    let model = LinearModel { input_dim: d };
    let lin = LinearizedFlow::new(&model, x.as_ref(), &y, &theta0).unwrap();
    let eta = 1.0 / lin.flow_eigenvalues()[n - 1];
    let steps = 40;
    let run = gradient_descent(
        &model,
        x.as_ref(),
        &y,
        &theta0,
        &GdConfig::new(eta, steps),
        |_, _, _| Ok(()),
    )
    .unwrap();
    let theta_closed = lin.gd_params(eta, steps).unwrap();
    let u_closed = lin.gd_outputs(eta, steps).unwrap();
    let u_gd = model.forward(&run.theta, x.as_ref()).unwrap();
    // 40 contracting steps of O(1) arithmetic: rounding ~ 40·ε·‖θ‖; 1e-11 is loose by ~10³.
    assert!(max_abs_diff(&run.theta, &theta_closed) <= 1e-11);
    assert!(max_abs_diff(&u_gd, &u_closed) <= 1e-11);
}

#[test]
fn results_are_bit_identical_with_one_and_two_threads() {
    // The NTK product uses Par::rayon(0) (the pool's thread count): results must not depend on it.
    let model = LinearTwoLayer {
        width: 64,
        input_dim: 8,
    };
    let n = 40;
    let x = gaussian_matrix(n, 8, 91);
    let y = gaussian_vector(n, 92);
    let theta0 = gaussian_vector(model.n_params(), 93);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let lin = LinearizedFlow::new(&model, x.as_ref(), &y, &theta0).unwrap();
            let ngd = ntk_dynamics::natural_gradient_descent(
                &model,
                x.as_ref(),
                &y,
                &theta0,
                &ntk_dynamics::NgdConfig::new(0.5, 1e-3, 3),
                |_, _, _| Ok(()),
            )
            .unwrap();
            (lin.params(1.5).unwrap(), ngd.theta)
        })
    };
    assert_eq!(run(1), run(2));
}
