//! First and second derivatives of `Mlp` and `TwoLayer` against central finite differences, over
//! seeded random shapes, every activation and both parameterizations.
//!
//! Tolerance: central differences with step h have truncation error ~h²|f'''|/6 and rounding
//! error ~ε|f|/h; with h = 1e-5 and O(1) values both are ≤ 1e-9, far below the required relative
//! error 1e-6 (the bound). Exact identities (vjp = Jᵀr, jvp = Jv) are checked at
//! 1e-12 relative (a few ε·√P of accumulated rounding).

use faer::{Mat, MatRef};
use ntk_kernels::{Activation, Parameterization};
use ntk_nets::test_models::{SMOOTH_ACTIVATIONS, all_activations, gaussian_matrix};
use ntk_nets::{Mlp, MlpSpec, Model, Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const H: f64 = 1e-5;

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    diff / norm.max(1e-300)
}

fn shifted(theta: &[f64], dir: &[f64], t: f64) -> Vec<f64> {
    theta.iter().zip(dir).map(|(a, b)| a + t * b).collect()
}

/// Checks gradient, Jacobian, jvp/vjp and (if `smooth`) the HVP of `model` at θ.
fn check_model(
    model: &dyn Model,
    theta: &[f64],
    x: MatRef<'_, f64>,
    rng: &mut ChaCha8Rng,
    smooth: bool,
    label: &str,
) {
    let n = x.nrows();
    let p = model.n_params();
    // Jacobian vs central differences of the outputs, column by column.
    let jac = model.jacobian(theta, x).unwrap();
    let mut fd_jac = vec![0.0; n * p];
    let mut an_jac = vec![0.0; n * p];
    for col in 0..p {
        let mut e = vec![0.0; p];
        e[col] = 1.0;
        let plus = model.forward(&shifted(theta, &e, H), x).unwrap();
        let minus = model.forward(&shifted(theta, &e, -H), x).unwrap();
        for i in 0..n {
            fd_jac[col * n + i] = (plus[i] - minus[i]) / (2.0 * H);
            an_jac[col * n + i] = jac[(i, col)];
        }
    }
    let err = rel_err(&an_jac, &fd_jac);
    assert!(err < 1e-6, "{label}: Jacobian rel err {err:e}");

    // Loss gradient vs central differences of the loss.
    let y: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut grad = vec![0.0; p];
    model.loss_and_grad(theta, x, &y, &mut grad).unwrap();
    let mut scratch = vec![0.0; p];
    let fd_grad: Vec<f64> = (0..p)
        .map(|col| {
            let mut e = vec![0.0; p];
            e[col] = 1.0;
            let lp = model
                .loss_and_grad(&shifted(theta, &e, H), x, &y, &mut scratch)
                .unwrap();
            let lm = model
                .loss_and_grad(&shifted(theta, &e, -H), x, &y, &mut scratch)
                .unwrap();
            (lp - lm) / (2.0 * H)
        })
        .collect();
    let err = rel_err(&grad, &fd_grad);
    assert!(err < 1e-6, "{label}: loss gradient rel err {err:e}");

    // jvp = J v and vjp = Jᵀ r exactly (up to rounding).
    let v: Vec<f64> = (0..p).map(|_| rng.random_range(-1.0..1.0)).collect();
    let r: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let jv: Vec<f64> = (0..n)
        .map(|i| (0..p).map(|k| jac[(i, k)] * v[k]).sum())
        .collect();
    let jtr: Vec<f64> = (0..p)
        .map(|k| (0..n).map(|i| jac[(i, k)] * r[i]).sum())
        .collect();
    let err = rel_err(&model.jvp(theta, x, &v).unwrap(), &jv);
    assert!(err < 1e-12, "{label}: jvp rel err {err:e}");
    let err = rel_err(&model.vjp(theta, x, &r).unwrap(), &jtr);
    assert!(err < 1e-12, "{label}: vjp rel err {err:e}");

    if smooth {
        // Σ c_i ∇²f(x_i) v vs central differences of the gradient Σ c_i ∇f(x_i) = Jᵀc.
        let hv = model.hvp(theta, x, &r, &v).unwrap();
        let gp = model.vjp(&shifted(theta, &v, H), x, &r).unwrap();
        let gm = model.vjp(&shifted(theta, &v, -H), x, &r).unwrap();
        let fd: Vec<f64> = gp
            .iter()
            .zip(&gm)
            .map(|(a, b)| (a - b) / (2.0 * H))
            .collect();
        let err = rel_err(&hv, &fd);
        assert!(err < 1e-6, "{label}: HVP rel err {err:e}");
    }
}

#[test]
fn mlp_derivatives_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (case, activation) in all_activations().into_iter().enumerate() {
        for parameterization in [Parameterization::Ntk, Parameterization::Standard] {
            let depth = 1 + case % 3;
            let spec = MlpSpec {
                input_dim: rng.random_range(2..5),
                hidden_widths: (0..depth).map(|_| rng.random_range(2..6)).collect(),
                activation,
                w_std: rng.random_range(0.8..1.5),
                b_std: if case % 2 == 0 {
                    Some(rng.random_range(0.1..0.5))
                } else {
                    None
                },
                parameterization,
            };
            let mlp = Mlp::new(&spec).unwrap();
            let theta = mlp.init_params(&mut rng);
            let n = rng.random_range(2..5);
            let x = gaussian_matrix(&mut rng, n, spec.input_dim, 0.8);
            let smooth = SMOOTH_ACTIVATIONS.contains(&activation);
            check_model(
                &mlp,
                &theta,
                x.as_ref(),
                &mut rng,
                smooth,
                &format!("{spec:?}"),
            );
        }
    }
}

#[test]
fn two_layer_derivatives_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for activation in all_activations() {
        for (scaling, second_layer) in [
            (Scaling::Lazy, SecondLayer::Trained),
            (Scaling::MeanField, SecondLayer::Trained),
            (Scaling::Lazy, SecondLayer::FixedSigns),
        ] {
            let spec = TwoLayerSpec {
                input_dim: rng.random_range(2..5),
                width: rng.random_range(2..7),
                activation,
                scaling,
                alpha: rng.random_range(0.5..3.0),
                w_init_std: 0.7,
                second_layer,
            };
            let base = TwoLayer::new(spec, &mut rng).unwrap();
            let theta0 = base.init_params(&mut rng);
            let model = base.centred(theta0.clone()).unwrap();
            let theta: Vec<f64> = theta0
                .iter()
                .map(|t| t + 0.1 * rng.random_range(-1.0..1.0))
                .collect();
            let n = rng.random_range(2..5);
            let x = gaussian_matrix(&mut rng, n, spec.input_dim, 0.8);
            let smooth = SMOOTH_ACTIVATIONS.contains(&activation);
            check_model(
                &model,
                &theta,
                x.as_ref(),
                &mut rng,
                smooth,
                &format!("{spec:?}"),
            );
        }
    }
}

#[test]
fn centred_two_layer_vanishes_at_init() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let spec = TwoLayerSpec {
        input_dim: 3,
        width: 8,
        activation: Activation::Tanh,
        scaling: Scaling::Lazy,
        alpha: 2.0,
        w_init_std: 1.0,
        second_layer: SecondLayer::Trained,
    };
    let model = TwoLayer::new(spec, &mut rng).unwrap();
    let theta0 = model.init_params(&mut rng);
    let x: Mat<f64> = gaussian_matrix(&mut rng, 4, 3, 1.0);
    let raw = model.forward(&theta0, x.as_ref()).unwrap();
    assert!(raw.iter().any(|v| v.abs() > 1e-3));
    let centred = model.centred(theta0.clone()).unwrap();
    // f(θ⁰) − f(θ⁰) is computed by the same arithmetic twice: exactly zero.
    assert!(
        centred
            .forward(&theta0, x.as_ref())
            .unwrap()
            .iter()
            .all(|&v| v == 0.0)
    );
}
