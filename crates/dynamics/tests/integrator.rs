//! Dormand–Prince 5(4) against closed-form solutions, in units of the requested tolerance.

use ntk_dynamics::ode::{FnSystem, integrate, solve};
use ntk_dynamics::test_models::{LinearModel, gaussian_matrix, gaussian_vector, linear_flow_exact};
use ntk_dynamics::{Error, FlowConfig, GradientFlow, OdeSystem, gradient_flow_states};
use ntk_nets::Model;

/// max_j |y_j − ref_j| / (atol + rtol |ref_j|): the global error in units of the tolerance.
fn error_in_tol_units(y: &[f64], reference: &[f64], config: &FlowConfig) -> f64 {
    y.iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs() / (config.atol + config.rtol * b.abs()))
        .fold(0.0, f64::max)
}

#[test]
fn exponential_decay_within_tolerance_at_requested_times() {
    let mut config = FlowConfig::new(5.0);
    config.rtol = 1e-7;
    config.atol = 1e-12;
    // Requested times fall between steps, so most values come from the dense output.
    let times: Vec<f64> = (0..=50).map(|k| 0.1 * k as f64).collect();
    let mut system = FnSystem(|_t: f64, y: &[f64], dy: &mut [f64]| {
        dy[0] = -y[0];
        Ok(())
    });
    let traj = solve(&mut system, &[1.0], &times, &config).unwrap();
    let mut worst: f64 = 0.0;
    for (k, &t) in times.iter().enumerate() {
        worst = worst.max(error_in_tol_units(traj.state(k), &[(-t).exp()], &config));
    }
    // y' = −y contracts errors; the controller keeps each local error of the 4th-order embedded
    // solution below one tolerance unit while the 5th-order solution is propagated, and the
    // dense output is 4th order: the global error stays within a few units. Bound: 5 units.
    assert!(worst <= 5.0, "global error {worst} tolerance units");
    // Work accounting: 1 initial evaluation + 1 for the starting-step rule + 6 per attempt (FSAL).
    let stats = traj.stats;
    assert_eq!(
        stats.rhs_evals,
        2 + 6 * (stats.accepted_steps + stats.rejected_steps)
    );
}

#[test]
fn harmonic_oscillator_error_scales_with_rtol() {
    // y'' = −y, y(0) = (1, 0): y(t) = (cos t, −sin t). Not contracting, so the global error
    // grows with the number of steps; it must still be O(tolerance) and shrink with it.
    let t_end = 10.0;
    let mut errors = Vec::new();
    for &rtol in &[1e-5, 1e-8, 1e-11] {
        let mut config = FlowConfig::new(t_end);
        config.rtol = rtol;
        config.atol = rtol;
        let mut system = FnSystem(|_t: f64, y: &[f64], dy: &mut [f64]| {
            dy[0] = y[1];
            dy[1] = -y[0];
            Ok(())
        });
        let traj = solve(&mut system, &[1.0, 0.0], &[t_end], &config).unwrap();
        let reference = [t_end.cos(), -t_end.sin()];
        let units = error_in_tol_units(traj.state(0), &reference, &config);
        // A non-contracting problem sums local errors: ≤ (accepted steps) units is the crude
        // bound; local extrapolation makes it far smaller. Bound: 20 units.
        assert!(units <= 20.0, "rtol {rtol}: {units} units");
        errors.push(
            (traj.state(0)[0] - reference[0])
                .abs()
                .max((traj.state(0)[1] - reference[1]).abs()),
        );
    }
    assert!(errors[1] < errors[0] && errors[2] < errors[1], "{errors:?}");
}

#[test]
fn linear_model_gradient_flow_matches_matrix_exponential() {
    // f(x; θ) = θᵀx on n = 12 Gaussian points in d = 5: θ' = −(XᵀX/n)θ + Xᵀy/n.
    let (n, d) = (12, 5);
    let x = gaussian_matrix(n, d, 11);
    let y = gaussian_vector(n, 12);
    let theta0 = gaussian_vector(d, 13);
    let model = LinearModel { input_dim: d };
    let times = [0.0, 0.5, 1.0, 3.0, 10.0];
    for &rtol in &[1e-6, 1e-9] {
        let mut config = FlowConfig::new(10.0);
        config.rtol = rtol;
        config.atol = rtol * 1e-2;
        let traj = gradient_flow_states(&model, x.as_ref(), &y, &theta0, &times, &config).unwrap();
        for (k, &t) in times.iter().enumerate() {
            let reference = linear_flow_exact(x.as_ref(), &y, &theta0, t).unwrap();
            let units = error_in_tol_units(traj.state(k), &reference, &config);
            // Contracting linear flow (A ⪰ 0): a few tolerance units (see exponential test).
            assert!(units <= 5.0, "rtol {rtol}, t {t}: {units} units");
        }
    }
}

#[test]
fn invalid_configurations_are_errors() {
    let mut system = FnSystem(|_t: f64, y: &[f64], dy: &mut [f64]| {
        dy[0] = -y[0];
        Ok(())
    });
    let base = FlowConfig::new(1.0);
    let cases: Vec<FlowConfig> = vec![
        FlowConfig {
            rtol: 0.0,
            ..base.clone()
        },
        FlowConfig {
            atol: -1.0,
            ..base.clone()
        },
        FlowConfig {
            t_end: f64::NAN,
            ..base.clone()
        },
        FlowConfig {
            t_end: 0.0,
            ..base.clone()
        },
        FlowConfig {
            max_steps: 0,
            ..base.clone()
        },
        FlowConfig {
            h0: Some(0.0),
            ..base.clone()
        },
        FlowConfig {
            divergence_factor: 1.0,
            ..base.clone()
        },
    ];
    for config in cases {
        let res = integrate(&mut system, &[1.0], &[], &config, |_, _| Ok(()));
        assert!(
            matches!(res, Err(Error::InvalidParameter { .. })),
            "{config:?}"
        );
    }
    let res = integrate(&mut system, &[1.0], &[0.5, 0.2], &base, |_, _| Ok(()));
    assert!(matches!(
        res,
        Err(Error::InvalidParameter { arg: "times", .. })
    ));
    let res = integrate(&mut system, &[1.0], &[2.0], &base, |_, _| Ok(()));
    assert!(matches!(
        res,
        Err(Error::InvalidParameter { arg: "times", .. })
    ));
    let res = integrate(&mut system, &[], &[], &base, |_, _| Ok(()));
    assert!(matches!(res, Err(Error::Empty { arg: "y0" })));
    let res = integrate(&mut system, &[f64::NAN], &[], &base, |_, _| Ok(()));
    assert!(matches!(res, Err(Error::NonFinite { arg: "y0", .. })));
}

#[test]
fn finite_time_blow_up_is_an_error_near_the_singularity() {
    // y' = y², y(0) = 1: y = 1/(1 − t) blows up at t = 1. Integrating to t = 2 must fail
    // (step-size underflow or a non-finite state) close to t = 1, without panicking.
    let mut config = FlowConfig::new(2.0);
    config.rtol = 1e-8;
    config.atol = 1e-8;
    config.max_steps = 1_000_000;
    let mut system = FnSystem(|_t: f64, y: &[f64], dy: &mut [f64]| {
        dy[0] = y[0] * y[0];
        Ok(())
    });
    let res = integrate(&mut system, &[1.0], &[], &config, |_, _| Ok(()));
    match res {
        Err(Error::StepSizeTooSmall { t, .. }) | Err(Error::NonFiniteState { t, .. }) => {
            // The solution exceeds any representable tolerance-controlled value only within
            // machine precision of the pole; 1e-3 leaves a wide margin.
            assert!((t - 1.0).abs() < 1e-3, "stopped at t = {t}");
        }
        other => panic!("expected underflow or non-finite state, got {other:?}"),
    }
    // A minimum step makes the underflow deterministic.
    config.h_min = 1e-6;
    let res = integrate(&mut system, &[1.0], &[], &config, |_, _| Ok(()));
    assert!(matches!(res, Err(Error::StepSizeTooSmall { h, .. }) if h < 1e-6));
}

#[test]
fn step_budget_is_an_error_naming_the_time() {
    let mut config = FlowConfig::new(100.0);
    config.max_steps = 5;
    config.h_max = 1.0;
    let mut system = FnSystem(|_t: f64, y: &[f64], dy: &mut [f64]| {
        dy[0] = -y[0];
        Ok(())
    });
    let res = integrate(&mut system, &[1.0], &[], &config, |_, _| Ok(()));
    match res {
        Err(Error::MaxStepsReached { t, max_steps, .. }) => {
            assert_eq!(max_steps, 5);
            // At most 5 steps of length ≤ h_max = 1.
            assert!(0.0 < t && t <= 5.0, "t = {t}");
        }
        other => panic!("expected MaxStepsReached, got {other:?}"),
    }
}

/// Gradient *ascent* on the linear model: the loss grows like e^{2λ_max t}, so the divergence
/// check must fire.
struct Ascent<'a>(GradientFlow<'a, LinearModel>);

impl OdeSystem for Ascent<'_> {
    fn rhs(&mut self, t: f64, y: &[f64], dy: &mut [f64]) -> ntk_dynamics::Result<()> {
        self.0.rhs(t, y, dy)?;
        for v in dy.iter_mut() {
            *v = -*v;
        }
        Ok(())
    }
    fn after_step(&mut self, t: f64, step: usize, y: &[f64]) -> ntk_dynamics::Result<()> {
        self.0.after_step(t, step, y)
    }
}

#[test]
fn growing_loss_is_reported_as_divergence() {
    let (n, d) = (8, 3);
    let x = gaussian_matrix(n, d, 21);
    let y = gaussian_vector(n, 22);
    let theta0 = gaussian_vector(d, 23);
    let model = LinearModel { input_dim: d };
    let mut config = FlowConfig::new(1e4);
    config.divergence_factor = 100.0;
    let flow =
        GradientFlow::new(&model, x.as_ref(), &y, &theta0, config.divergence_factor).unwrap();
    let mut grad = vec![0.0; d];
    let loss0 = model
        .loss_and_grad(&theta0, x.as_ref(), &y, &mut grad)
        .unwrap();
    let res = integrate(&mut Ascent(flow), &theta0, &[], &config, |_, _| Ok(()));
    match res {
        Err(Error::Diverged {
            t,
            step,
            loss,
            threshold,
        }) => {
            assert!(step > 0 && t > 0.0 && t < 1e4);
            assert!(loss > threshold && (threshold - 100.0 * loss0).abs() <= 1e-12 * threshold);
        }
        other => panic!("expected Diverged, got {other:?}"),
    }
}
