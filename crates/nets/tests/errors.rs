//! Bad input is an error with the offending argument, never a panic or a NaN.

use faer::Mat;
use ntk_kernels::{Activation, Parameterization};
use ntk_nets::hessian::hessian_norm;
use ntk_nets::lanczos::{LanczosConfig, lanczos};
use ntk_nets::monte_carlo::monte_carlo_kernel;
use ntk_nets::{Error, Mlp, MlpSpec, Model, Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn spec() -> MlpSpec {
    MlpSpec::uniform(
        3,
        2,
        4,
        Activation::Tanh,
        1.0,
        Some(0.1),
        Parameterization::Ntk,
    )
}

fn arg_of(err: Error) -> &'static str {
    match err {
        Error::Empty { arg }
        | Error::ShapeMismatch { arg, .. }
        | Error::NonFinite { arg, .. }
        | Error::InvalidParameter { arg, .. } => arg,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn invalid_specs_are_rejected() {
    let mut s = spec();
    s.hidden_widths = vec![4, 0];
    assert_eq!(arg_of(Mlp::new(&s).unwrap_err()), "hidden_widths");
    let mut s = spec();
    s.hidden_widths.clear();
    assert_eq!(arg_of(Mlp::new(&s).unwrap_err()), "depth");
    let mut s = spec();
    s.input_dim = 0;
    assert_eq!(arg_of(Mlp::new(&s).unwrap_err()), "input_dim");
    let mut s = spec();
    s.w_std = f64::NAN;
    assert_eq!(arg_of(Mlp::new(&s).unwrap_err()), "w_std");
    let mut s = spec();
    s.b_std = Some(-1.0);
    assert_eq!(arg_of(Mlp::new(&s).unwrap_err()), "b_std");
    let two = TwoLayerSpec {
        input_dim: 2,
        width: 0,
        activation: Activation::Relu,
        scaling: Scaling::Lazy,
        alpha: 1.0,
        w_init_std: 1.0,
        second_layer: SecondLayer::Trained,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert_eq!(arg_of(TwoLayer::new(two, &mut rng).unwrap_err()), "width");
    let two = TwoLayerSpec {
        width: 3,
        alpha: 0.0,
        ..two
    };
    assert_eq!(arg_of(TwoLayer::new(two, &mut rng).unwrap_err()), "alpha");
}

#[test]
fn invalid_inputs_are_rejected() {
    let mlp = Mlp::new(&spec()).unwrap();
    let theta = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(1));
    let x = Mat::from_fn(2, 3, |i, j| (i + j) as f64 * 0.3);
    let mut grad = vec![0.0; mlp.n_params()];
    // wrong x dimension
    let x_bad = Mat::from_fn(2, 4, |_, _| 0.1);
    assert_eq!(
        arg_of(mlp.forward(&theta, x_bad.as_ref()).unwrap_err()),
        "x"
    );
    // empty x
    let x_empty = Mat::<f64>::zeros(0, 3);
    assert_eq!(
        arg_of(mlp.forward(&theta, x_empty.as_ref()).unwrap_err()),
        "x"
    );
    // non-finite x
    let mut x_nan = x.clone();
    x_nan[(1, 2)] = f64::NAN;
    match mlp.jacobian(&theta, x_nan.as_ref()).unwrap_err() {
        Error::NonFinite {
            arg: "x", index: 5, ..
        } => {}
        other => panic!("{other:?}"),
    }
    // non-finite θ, wrong θ length
    let mut theta_inf = theta.clone();
    theta_inf[3] = f64::INFINITY;
    assert_eq!(
        arg_of(mlp.forward(&theta_inf, x.as_ref()).unwrap_err()),
        "theta"
    );
    assert_eq!(
        arg_of(mlp.forward(&theta[1..], x.as_ref()).unwrap_err()),
        "theta"
    );
    // mismatched y, wrong grad length
    assert_eq!(
        arg_of(
            mlp.loss_and_grad(&theta, x.as_ref(), &[1.0], &mut grad)
                .unwrap_err()
        ),
        "y"
    );
    assert_eq!(
        arg_of(
            mlp.loss_and_grad(&theta, x.as_ref(), &[1.0, 2.0], &mut grad[1..])
                .unwrap_err()
        ),
        "grad"
    );
    // hvp / jvp / vjp lengths
    assert_eq!(
        arg_of(mlp.hvp(&theta, x.as_ref(), &[1.0], &theta).unwrap_err()),
        "c"
    );
    assert_eq!(
        arg_of(mlp.jvp(&theta, x.as_ref(), &theta[1..]).unwrap_err()),
        "v"
    );
    assert_eq!(
        arg_of(mlp.vjp(&theta, x.as_ref(), &[1.0, 2.0, 3.0]).unwrap_err()),
        "r"
    );
    // cross kernel with a wrong second input
    assert_eq!(
        arg_of(
            mlp.empirical_ntk(&theta, x.as_ref(), x_bad.as_ref())
                .unwrap_err()
        ),
        "x2"
    );
    // Monte Carlo with one sample, Lanczos with a bad tolerance, Hessian norm with a wrong x
    assert_eq!(
        arg_of(monte_carlo_kernel(&mlp, x.as_ref(), x.as_ref(), 1, 0).unwrap_err()),
        "n_samples"
    );
    let config = LanczosConfig {
        tol: 0.0,
        ..Default::default()
    };
    assert_eq!(
        arg_of(lanczos(3, |_, _| Ok(()), &config).unwrap_err()),
        "tol"
    );
    assert_eq!(
        arg_of(hessian_norm(&mlp, &theta, &[1.0], &LanczosConfig::default()).unwrap_err()),
        "x"
    );
}
