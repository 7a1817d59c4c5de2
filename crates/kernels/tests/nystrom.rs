//! The Nyström preconditioner and the multi-ridge CG: against dense Cholesky solves and dense
//! eigendecompositions (independent references), iteration counts against Jacobi, thread-count
//! independence and bad input.

use faer::{Mat, MatRef, Par, Side};
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::regression::{
    CgConfig, DenseOperator, Jacobi, Nystrom, NystromConfig, Preconditioner,
    preconditioned_conjugate_gradient, preconditioned_conjugate_gradient_ridges,
};
use ntk_kernels::{Activation, Architecture, Parameterization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn gaussian(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Mat::from_fn(rows, cols, |_, _| StandardNormal.sample(&mut rng))
}

/// NTK of a 3-layer ReLU net on `n` Gaussian points in d = 8 (the top of its spectrum is spread
/// over orders of magnitude, as for image kernels) and three target columns.
fn problem(n: usize) -> (Mat<f64>, Mat<f64>) {
    let arch = Architecture::mlp(
        3,
        512,
        Activation::Relu,
        2f64.sqrt(),
        Some(0.1),
        Parameterization::Ntk,
    )
    .unwrap();
    let x = gaussian(n, 8, 11);
    let theta = kernel(&arch, x.as_ref(), None, Get::BOTH)
        .unwrap()
        .ntk
        .unwrap();
    let y = Mat::from_fn(n, 3, |i, j| if (i * 5 + j) % 3 == 0 { 1.0 } else { 0.0 });
    (theta, y)
}

fn max_abs(m: MatRef<'_, f64>) -> f64 {
    let mut worst = 0.0f64;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            worst = worst.max(m[(i, j)].abs());
        }
    }
    worst
}

fn mean_diagonal(k: &Mat<f64>) -> f64 {
    (0..k.nrows()).map(|i| k[(i, i)]).sum::<f64>() / k.nrows() as f64
}

/// (K + ρI)⁻¹Y by faer's dense Cholesky.
fn cholesky_solve(k: &Mat<f64>, ridge: f64, y: &Mat<f64>) -> Mat<f64> {
    let a = Mat::from_fn(k.nrows(), k.ncols(), |i, j| {
        k[(i, j)] + if i == j { ridge } else { 0.0 }
    });
    let llt = a.llt(Side::Lower).unwrap();
    faer::linalg::solvers::Solve::solve(&llt, y)
}

#[test]
fn with_every_column_as_landmark_the_approximation_is_the_kernel() {
    let (theta, _) = problem(120);
    let op = DenseOperator::new(theta.as_ref(), Par::Seq).unwrap();
    let config = NystromConfig {
        landmarks: 120,
        seed: 1,
    };
    let nystrom = Nystrom::new(&op, config, Par::Seq).unwrap();
    // K̂ = UΛUᵀ against K entrywise: the only perturbations are the shift ν = √n·ε·‖C‖_F and
    // the dropped directions below 1e-10·σ²_max, both ≲ 1e-10 of the largest entry.
    let u = nystrom.basis();
    let lambda = nystrom.eigenvalues();
    let approx = Mat::from_fn(120, 120, |i, j| {
        (0..lambda.len())
            .map(|k| u[(i, k)] * lambda[k] * u[(j, k)])
            .sum::<f64>()
    });
    let scale = max_abs(theta.as_ref());
    let error = max_abs((&approx - &theta).as_ref());
    assert!(error <= 1e-10 * scale, "{error} vs scale {scale}");
    // UᵀU = I: the preconditioner's formula needs an orthonormal basis.
    let gram = u.transpose() * u;
    let identity = Mat::<f64>::identity(lambda.len(), lambda.len());
    let orthogonality = max_abs((&gram - &identity).as_ref());
    assert!(orthogonality <= 1e-8, "{orthogonality}");
    // The top eigenvalues are K's (dense eigendecomposition), descending.
    let exact = theta.self_adjoint_eigenvalues(Side::Lower).unwrap();
    for k in 0..5 {
        let want = exact[119 - k];
        assert!(
            (lambda[k] - want).abs() <= 1e-10 * exact[119],
            "{k}: {} vs {want}",
            lambda[k]
        );
    }
}

#[test]
fn nystrom_cg_matches_cholesky_and_needs_fewer_iterations_than_jacobi() {
    let (theta, y) = problem(600);
    let op = DenseOperator::new(theta.as_ref(), Par::Seq).unwrap();
    let ridge = 1e-4 * mean_diagonal(&theta);
    let cg = CgConfig {
        rtol: 1e-12,
        ..CgConfig::default()
    };
    let nystrom = Nystrom::new(
        &op,
        NystromConfig {
            landmarks: 150,
            seed: 3,
        },
        Par::Seq,
    )
    .unwrap();
    let (x, info) =
        preconditioned_conjugate_gradient(&op, ridge, y.as_ref(), cg, &nystrom).unwrap();
    let want = cholesky_solve(&theta, ridge, &y);
    // Relative residual 1e-12 and κ(K + ρI) ≤ λ_max/ρ ≈ 1e4·n/… : the solution error is at most
    // κ·1e-12 relative; measured against the solution's scale with 1e-6 headroom for κ ≤ 1e6.
    let error = max_abs((&x - &want).as_ref());
    assert!(error <= 1e-6 * max_abs(want.as_ref()), "{error}");
    assert!(info.relative_residual <= 1e-12, "{info:?}");
    let jacobi = Jacobi::new((0..600).map(|i| theta[(i, i)]).collect()).unwrap();
    let (_, jacobi_info) =
        preconditioned_conjugate_gradient(&op, ridge, y.as_ref(), cg, &jacobi).unwrap();
    // The Nyström preconditioner maps the top 150 eigenvalues to one point: a far smaller
    // preconditioned condition number than Jacobi's (Frangella et al. 2023, Prop. 5.3), hence
    // fewer iterations (fewer by less than √κ suggests: Jacobi-CG also converges superlinearly
    // once the isolated top eigenvalues are resolved).
    assert!(
        info.iterations < jacobi_info.iterations,
        "nyström {info:?} vs jacobi {jacobi_info:?}"
    );
    assert!(
        10.0 * info.condition_estimate <= jacobi_info.condition_estimate,
        "nyström {info:?} vs jacobi {jacobi_info:?}"
    );
}

#[test]
fn every_ridge_of_one_run_matches_its_own_cholesky_solve() {
    let (theta, y) = problem(300);
    let op = DenseOperator::new(theta.as_ref(), Par::Seq).unwrap();
    let scale = mean_diagonal(&theta);
    let ridges = [1e-4 * scale, 1e-2 * scale, 1.0 * scale];
    let nystrom = Nystrom::new(&op, NystromConfig::default(), Par::Seq).unwrap();
    let cg = CgConfig {
        rtol: 1e-12,
        ..CgConfig::default()
    };
    let solutions =
        preconditioned_conjugate_gradient_ridges(&op, &ridges, y.as_ref(), cg, &nystrom).unwrap();
    assert_eq!(solutions.len(), 3);
    for (&ridge, (x, info)) in ridges.iter().zip(&solutions) {
        let want = cholesky_solve(&theta, ridge, &y);
        let error = max_abs((x - &want).as_ref());
        assert!(
            error <= 1e-6 * max_abs(want.as_ref()),
            "ρ = {ridge}: {error}"
        );
        assert!(info.relative_residual <= 1e-12, "{info:?}");
        // The same ridge alone gives the same solution to rounding (separate runs round
        // differently only through the stopping points).
        let (alone, _) =
            preconditioned_conjugate_gradient(&op, ridge, y.as_ref(), cg, &nystrom).unwrap();
        assert!(max_abs((x - &alone).as_ref()) <= 1e-6 * max_abs(want.as_ref()));
    }
    // Larger ridges are better conditioned: they stop no later.
    assert!(solutions[2].1.iterations <= solutions[0].1.iterations);
}

#[test]
fn preconditioner_and_solve_are_bit_identical_on_one_and_two_threads() {
    let (theta, y) = problem(400);
    let ridge = 1e-3 * mean_diagonal(&theta);
    let cg = CgConfig::default();
    let config = NystromConfig {
        landmarks: 200,
        seed: 7,
    };
    let run = |threads: usize, par: Par| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let op = DenseOperator::new(theta.as_ref(), par).unwrap();
            let nystrom = Nystrom::new(&op, config, par).unwrap();
            let (x, _) =
                preconditioned_conjugate_gradient(&op, ridge, y.as_ref(), cg, &nystrom).unwrap();
            (nystrom.basis().to_owned(), x)
        })
    };
    let (u1, x1) = run(1, Par::Seq);
    let (u2, x2) = run(2, Par::rayon(2));
    assert!(u1 == u2, "basis differs between 1 and 2 threads");
    assert!(x1 == x2, "solution differs between 1 and 2 threads");
}

#[test]
fn bad_landmarks_and_shapes_are_errors() {
    let (theta, y) = problem(50);
    let op = DenseOperator::new(theta.as_ref(), Par::Seq).unwrap();
    let zero = NystromConfig {
        landmarks: 0,
        seed: 0,
    };
    assert!(Nystrom::new(&op, zero, Par::Seq).is_err());
    let columns = Mat::from_fn(50, 2, |i, k| theta[(i, [3, 3][k])]);
    assert!(Nystrom::from_columns(columns.clone(), vec![3, 3], Par::Seq).is_err());
    assert!(Nystrom::from_columns(columns.clone(), vec![3, 50], Par::Seq).is_err());
    assert!(Nystrom::from_columns(columns, vec![3], Par::Seq).is_err());
    let mut nan = Mat::from_fn(50, 2, |i, k| theta[(i, [3, 4][k])]);
    nan[(7, 1)] = f64::NAN;
    assert!(Nystrom::from_columns(nan, vec![3, 4], Par::Seq).is_err());
    // A preconditioner of another size, a negative ridge, a wrong ridge count.
    let small = Nystrom::new(
        &DenseOperator::new(theta.as_ref().submatrix(0, 0, 20, 20), Par::Seq).unwrap(),
        NystromConfig::default(),
        Par::Seq,
    )
    .unwrap();
    assert!(
        preconditioned_conjugate_gradient(&op, 1.0, y.as_ref(), CgConfig::default(), &small)
            .is_err()
    );
    let nystrom = Nystrom::new(&op, NystromConfig::default(), Par::Seq).unwrap();
    assert!(nystrom.solve(&[-1.0], y.as_ref().subcols(0, 1)).is_err());
    assert!(nystrom.solve(&[1.0], y.as_ref()).is_err());
    assert!(
        preconditioned_conjugate_gradient_ridges(
            &op,
            &[],
            y.as_ref(),
            CgConfig::default(),
            &nystrom
        )
        .is_err()
    );
}
