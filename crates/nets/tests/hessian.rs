//! Lanczos, Hessian norms and the loss Hessian against dense references.

use faer::{Mat, Side};
use ntk_kernels::{Activation, Parameterization};
use ntk_nets::hessian::{LossHessian, hessian_norm, jacobian_norm, lazy_ratio};
use ntk_nets::lanczos::{LanczosConfig, Which, lanczos};
use ntk_nets::test_models::gaussian_matrix;
use ntk_nets::{Error, Mlp, MlpSpec, Model, Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn sorted_eigenvalues(m: &Mat<f64>) -> Vec<f64> {
    m.self_adjoint_eigenvalues(Side::Lower).unwrap()
}

/// A Ritz value with residual r is within r of an eigenvalue (Golub & Van Loan Thm 8.1.13);
/// tol = 1e-12 relative, so 1e-10·‖A‖ is a safe bound.
#[test]
fn lanczos_matches_dense_eigenvalues() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let g = gaussian_matrix(&mut rng, 60, 60, 1.0);
    let a = &g + g.transpose();
    let exact = sorted_eigenvalues(&a);
    let apply = |v: &[f64], out: &mut [f64]| {
        for i in 0..60 {
            out[i] = (0..60).map(|j| a[(i, j)] * v[j]).sum();
        }
        Ok(())
    };
    let norm = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let config = LanczosConfig {
        n_eigenvalues: 3,
        tol: 1e-12,
        max_iter: 60,
        seed: 1,
        which: Which::LargestAlgebraic,
    };
    let res = lanczos(60, apply, &config).unwrap();
    for k in 0..3 {
        assert!(
            (res.eigenvalues[k] - exact[59 - k]).abs() <= 1e-10 * norm,
            "{k}: {res:?}"
        );
    }
    let config = LanczosConfig {
        which: Which::LargestMagnitude,
        n_eigenvalues: 1,
        ..config
    };
    let res = lanczos(60, apply, &config).unwrap();
    assert!((res.eigenvalues[0].abs() - norm).abs() <= 1e-10 * norm);
    // Too few iterations: an error carrying the residual, not a wrong answer.
    let config = LanczosConfig {
        max_iter: 3,
        ..config
    };
    match lanczos(60, apply, &config) {
        Err(Error::NotConverged {
            iterations: 3,
            residual,
            ..
        }) => assert!(residual > 0.0),
        other => panic!("expected NotConverged, got {other:?}"),
    }
}

/// ‖∇²f(x)‖ of a small tanh MLP vs the dense Hessian assembled from central differences of the
/// gradient (FD error ~1e-9 relative, Lanczos tol 1e-12): agreement to 1e-6 relative.
#[test]
fn hessian_norm_matches_dense_finite_difference_hessian() {
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    for parameterization in [Parameterization::Ntk, Parameterization::Standard] {
        let spec = MlpSpec::uniform(3, 2, 5, Activation::Tanh, 1.4, Some(0.2), parameterization);
        let mlp = Mlp::new(&spec).unwrap();
        let theta = mlp.init_params(&mut rng);
        let x = [0.7, -1.1, 0.4];
        let row = faer::MatRef::from_row_major_slice(&x, 1, 3);
        let p = mlp.n_params();
        let h = 1e-5;
        let mut hess = Mat::<f64>::zeros(p, p);
        for k in 0..p {
            let mut tp = theta.clone();
            let mut tm = theta.clone();
            tp[k] += h;
            tm[k] -= h;
            let gp = mlp.vjp(&tp, row, &[1.0]).unwrap();
            let gm = mlp.vjp(&tm, row, &[1.0]).unwrap();
            for i in 0..p {
                hess[(i, k)] = (gp[i] - gm[i]) / (2.0 * h);
            }
        }
        let sym = (&hess + hess.transpose()) * faer::Scale(0.5);
        let exact = sorted_eigenvalues(&sym)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let config = LanczosConfig {
            tol: 1e-12,
            ..LanczosConfig::default()
        };
        let est = hessian_norm(&mlp, &theta, &x, &config).unwrap();
        assert!(
            (est.value - exact).abs() <= 1e-6 * exact,
            "{} vs {exact}",
            est.value
        );
        assert!(est.stats.iterations <= p);
        // Jacobian norm: √Θ̂(x,x) vs the norm of the gradient.
        let g = mlp.vjp(&theta, row, &[1.0]).unwrap();
        let gnorm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((jacobian_norm(&mlp, &theta, &x).unwrap() - gnorm).abs() <= 1e-13 * gnorm);
    }
}

/// Two-layer ReLU net with trained a: ∇²f(x) is block diagonal with blocks
/// αγ·σ'(w_iᵀx)·[[0, x],[xᵀ, 0]], whose eigenvalues are ±αγ‖x‖ (for active units), so
/// ‖∇²f(x)‖ = αγ‖x‖ exactly (docs/nets.md). With a fixed second layer the Hessian is 0.
#[test]
fn two_layer_relu_hessian_norm_closed_form() {
    let mut rng = ChaCha8Rng::seed_from_u64(33);
    for width in [16usize, 64, 256] {
        let spec = TwoLayerSpec {
            input_dim: 5,
            width,
            activation: Activation::Relu,
            scaling: Scaling::Lazy,
            alpha: 1.0,
            w_init_std: 1.0,
            second_layer: SecondLayer::Trained,
        };
        let model = TwoLayer::new(spec, &mut rng).unwrap();
        let theta = model.init_params(&mut rng);
        let x: Vec<f64> = (0..5).map(|_| rng.random_range(-1.0..1.0)).collect();
        let xnorm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let est = hessian_norm(
            &model,
            &theta,
            &x,
            &LanczosConfig {
                tol: 1e-12,
                ..Default::default()
            },
        )
        .unwrap();
        let exact = xnorm / (width as f64).sqrt();
        assert!(
            (est.value - exact).abs() <= 1e-10 * exact,
            "width {width}: {} vs {exact}",
            est.value
        );
    }
}

/// ∇²L v vs central differences of ∇L (FD error ~1e-9), the Gauss–Newton part vs JᵀJ/n
/// assembled densely (rounding only), and the loss Hessian's top eigenvalues by Lanczos vs a
/// dense eigendecomposition of the FD Hessian.
#[test]
fn loss_hessian_operator() {
    let mut rng = ChaCha8Rng::seed_from_u64(34);
    let spec = MlpSpec::uniform(
        3,
        1,
        6,
        Activation::Softplus,
        1.3,
        Some(0.1),
        Parameterization::Ntk,
    );
    let mlp = Mlp::new(&spec).unwrap();
    let theta = mlp.init_params(&mut rng);
    let x = gaussian_matrix(&mut rng, 5, 3, 1.0);
    let y: Vec<f64> = (0..5).map(|_| rng.random_range(-2.0..2.0)).collect();
    let op = LossHessian::new(&mlp, &theta, x.as_ref(), &y).unwrap();
    let p = op.dim();
    let h = 1e-5;
    let mut dense = Mat::<f64>::zeros(p, p);
    let mut grad_p = vec![0.0; p];
    let mut grad_m = vec![0.0; p];
    for k in 0..p {
        let mut tp = theta.clone();
        let mut tm = theta.clone();
        tp[k] += h;
        tm[k] -= h;
        mlp.loss_and_grad(&tp, x.as_ref(), &y, &mut grad_p).unwrap();
        mlp.loss_and_grad(&tm, x.as_ref(), &y, &mut grad_m).unwrap();
        for i in 0..p {
            dense[(i, k)] = (grad_p[i] - grad_m[i]) / (2.0 * h);
        }
    }
    let v: Vec<f64> = (0..p).map(|_| rng.random_range(-1.0..1.0)).collect();
    let hv = op.matvec(&v).unwrap();
    let fd: Vec<f64> = (0..p)
        .map(|i| (0..p).map(|k| dense[(i, k)] * v[k]).sum())
        .collect();
    let err = hv
        .iter()
        .zip(&fd)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt()
        / fd.iter().map(|b| b * b).sum::<f64>().sqrt();
    assert!(err < 1e-6, "loss HVP rel err {err:e}");

    let jac = mlp.jacobian(&theta, x.as_ref()).unwrap();
    let gn = jac.transpose() * &jac * faer::Scale(1.0 / 5.0);
    let gv = op.gauss_newton_matvec(&v).unwrap();
    for i in 0..p {
        let expected: f64 = (0..p).map(|k| gn[(i, k)] * v[k]).sum();
        assert!((gv[i] - expected).abs() <= 1e-12 * (1.0 + expected.abs()));
    }

    let sym = (&dense + dense.transpose()) * faer::Scale(0.5);
    let exact = sorted_eigenvalues(&sym);
    let config = LanczosConfig {
        n_eigenvalues: 2,
        tol: 1e-12,
        max_iter: p,
        seed: 2,
        which: Which::LargestAlgebraic,
    };
    let res = lanczos(
        p,
        |v, out| {
            out.copy_from_slice(&op.matvec(v)?);
            Ok(())
        },
        &config,
    )
    .unwrap();
    for k in 0..2 {
        assert!((res.eigenvalues[k] - exact[p - 1 - k]).abs() <= 1e-6 * exact[p - 1].abs());
    }
}

/// κ's parts are each checked above; here the assembly: κ = H/‖J‖₂²·‖f − y‖ with ‖J‖₂² the top
/// eigenvalue of Θ̂(X, X) = J Jᵀ.
#[test]
fn lazy_ratio_assembles_its_parts() {
    let mut rng = ChaCha8Rng::seed_from_u64(35);
    let spec = MlpSpec::uniform(3, 1, 8, Activation::Erf, 1.0, None, Parameterization::Ntk);
    let mlp = Mlp::new(&spec).unwrap();
    let theta = mlp.init_params(&mut rng);
    let x = gaussian_matrix(&mut rng, 4, 3, 1.0);
    let y = vec![0.5, -0.5, 1.0, 0.0];
    let config = LanczosConfig {
        tol: 1e-12,
        ..Default::default()
    };
    let lazy = lazy_ratio(&mlp, &theta, x.as_ref(), &y, &config).unwrap();
    let jac = mlp.jacobian(&theta, x.as_ref()).unwrap();
    let top = sorted_eigenvalues(&(&jac * jac.transpose()))[3];
    assert!((lazy.jacobian_norm.powi(2) - top).abs() <= 1e-12 * top);
    let mut h_sup = 0.0f64;
    for i in 0..4 {
        let row: Vec<f64> = (0..3).map(|j| x[(i, j)]).collect();
        h_sup = h_sup.max(hessian_norm(&mlp, &theta, &row, &config).unwrap().value);
    }
    let u = mlp.forward(&theta, x.as_ref()).unwrap();
    let r = u
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    let expected = h_sup / top * r;
    assert!((lazy.kappa - expected).abs() <= 1e-10 * expected);
}
