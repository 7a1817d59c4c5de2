//! Tile-by-tile kernels against the in-memory kernel, and the product-only solvers (CG, Lanczos)
//! against the factorisation-based predictions (Cholesky at t = ∞, eigendecomposition at finite t).

use faer::{Mat, MatRef, Par};
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::regression::{
    CgConfig, DenseOperator, GradientDescentMse, LanczosConfig, MseConfig, TestSet,
    conjugate_gradient, gradient_flow_lanczos,
};
use ntk_kernels::tiled::{AnalyticTiles, TileKernel, TilePlan};
use ntk_kernels::{Activation, Architecture, Parameterization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn gaussian(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Mat::from_fn(rows, cols, |_, _| StandardNormal.sample(&mut rng))
}

fn relu3() -> Architecture {
    Architecture::mlp(
        3,
        512,
        Activation::Relu,
        2f64.sqrt(),
        Some(0.1),
        Parameterization::Ntk,
    )
    .unwrap()
}

fn max_abs_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut worst = 0.0_f64;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            worst = worst.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    worst
}

/// Assembles the full matrices from the tiles of `plan` (mirroring the upper tiles of a self
/// kernel), counting how often each entry is written.
fn assemble(source: &dyn TileKernel, plan: &TilePlan) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let (n1, n2) = (plan.n_rows(), plan.n_cols());
    let mut nngp = Mat::<f64>::zeros(n1, n2);
    let mut ntk = Mat::<f64>::zeros(n1, n2);
    let mut writes = Mat::<f64>::zeros(n1, n2);
    for tile in plan.tiles() {
        let k = source.compute(&tile).unwrap();
        let (s, t) = (k.nngp.unwrap(), k.ntk.unwrap());
        for (a, i) in tile.rows.clone().enumerate() {
            for (b, j) in tile.cols.clone().enumerate() {
                nngp[(i, j)] = s[(a, b)];
                ntk[(i, j)] = t[(a, b)];
                writes[(i, j)] += 1.0;
                if plan.symmetric() && !tile.is_diagonal() {
                    nngp[(j, i)] = s[(a, b)];
                    ntk[(j, i)] = t[(a, b)];
                    writes[(j, i)] += 1.0;
                }
            }
        }
    }
    (nngp, ntk, writes)
}

#[test]
fn tiles_reassemble_the_in_memory_kernel_bit_for_bit() {
    let arch = relu3();
    let x1 = gaussian(300, 7, 1);
    let x2 = gaussian(200, 7, 2);
    for (x2, tile) in [
        (None, 128),
        (Some(x2.as_ref()), 128),
        (None, 256),
        (None, 512),
    ] {
        let source = AnalyticTiles {
            architecture: &arch,
            x1: x1.as_ref(),
            x2,
            get: Get::BOTH,
        };
        let plan =
            TilePlan::new(source.n_rows(), source.n_cols(), tile, source.symmetric()).unwrap();
        let (nngp, ntk, writes) = assemble(&source, &plan);
        // Every entry written exactly once: the plan is a partition of the matrix.
        assert!(writes.col_iter().all(|c| c.iter().all(|&w| w == 1.0)));
        let reference = kernel(&arch, x1.as_ref(), x2, Get::BOTH).unwrap();
        // Tiles are aligned to the in-memory block size, so the same operations produce every
        // entry: exact equality, not a tolerance.
        assert_eq!(
            max_abs_diff(nngp.as_ref(), reference.nngp.unwrap().as_ref()),
            0.0
        );
        assert_eq!(
            max_abs_diff(ntk.as_ref(), reference.ntk.unwrap().as_ref()),
            0.0
        );
    }
}

#[test]
fn tile_order_is_row_major_over_the_upper_block_triangle() {
    let plan = TilePlan::new(300, 300, 128, true).unwrap();
    let blocks: Vec<(usize, usize)> = plan
        .tiles()
        .map(|t| (t.rows.start / 128, t.cols.start / 128))
        .collect();
    assert_eq!(blocks, vec![(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]);
    assert_eq!(plan.len(), 6);
    let plan = TilePlan::new(300, 130, 128, false).unwrap();
    assert_eq!(plan.len(), 6);
    assert!(TilePlan::new(300, 300, 100, true).is_err());
    assert!(TilePlan::new(300, 200, 128, true).is_err());
    // 1 MiB at 16 bytes per entry: 65536 entries = 256², already a multiple of 128.
    assert_eq!(TilePlan::side_for_budget(1 << 20, 16, 10_000), 256);
    assert_eq!(TilePlan::side_for_budget(1 << 40, 16, 1000), 1024);
}

/// A modest regression problem: NTK of 3-layer ReLU on 240 Gaussian points, 3 one-hot-like
/// target columns, 60 test points.
fn problem() -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let arch = relu3();
    let x = gaussian(240, 6, 3);
    let x_test = gaussian(60, 6, 4);
    let theta = kernel(&arch, x.as_ref(), None, Get::BOTH)
        .unwrap()
        .ntk
        .unwrap();
    let theta_test = kernel(&arch, x_test.as_ref(), Some(x.as_ref()), Get::BOTH)
        .unwrap()
        .ntk
        .unwrap();
    let y = Mat::from_fn(240, 3, |i, j| if (i * 7 + j) % 3 == 0 { 1.0 } else { 0.0 });
    (theta, theta_test, y)
}

#[test]
fn conjugate_gradient_matches_the_cholesky_prediction_at_infinite_time() {
    let (theta, theta_test, y) = problem();
    let ridge = 1e-3 * (0..240).map(|i| theta[(i, i)]).sum::<f64>() / 240.0;
    let config = MseConfig {
        learning_rate: 1.0,
        diag_reg: ridge,
        diag_reg_absolute_scale: true,
    };
    let flow = GradientDescentMse::new(theta.as_ref(), y.as_ref(), config, Par::Seq).unwrap();
    let zeros_test = Mat::<f64>::zeros(60, 3);
    let reference = flow
        .predict(
            &[f64::INFINITY],
            Mat::<f64>::zeros(240, 3).as_ref(),
            Some(TestSet {
                k_test_train: theta_test.as_ref(),
                fx_test_0: zeros_test.as_ref(),
            }),
        )
        .unwrap();
    let op = DenseOperator::new(theta.as_ref(), Par::Seq).unwrap();
    let cg = CgConfig {
        rtol: 1e-13,
        ..CgConfig::default()
    };
    let (alpha, info) = conjugate_gradient(&op, ridge, y.as_ref(), cg).unwrap();
    let prediction = &theta_test * &alpha;
    let want = reference[0].fx_test.as_ref().unwrap();
    let scale = max_abs_diff(want.as_ref(), Mat::<f64>::zeros(60, 3).as_ref());
    // Residual 1e-13 relative and κ(Θ+ρI) ≲ 1e4 (ridge 1e-3 of the mean diagonal): the
    // solution error is ≲ κ·1e-13 ≈ 1e-9 relative; 1e-8 is the agreement target.
    assert!(
        max_abs_diff(prediction.as_ref(), want.as_ref()) <= 1e-8 * scale,
        "{} (scale {scale})",
        max_abs_diff(prediction.as_ref(), want.as_ref())
    );
    assert!(info.relative_residual <= 1e-13, "{info:?}");
    // The Ritz estimate of κ(D^{-1/2}AD^{-1/2}) (D = diag A) is a lower bound of the true value,
    // computed here by a dense eigendecomposition; after a 1e-13 solve the extreme Ritz values
    // have converged, so it is also within a factor 2 of it.
    let d: Vec<f64> = (0..240).map(|i| theta[(i, i)] + ridge).collect();
    let scaled = Mat::from_fn(240, 240, |i, j| {
        (theta[(i, j)] + if i == j { ridge } else { 0.0 }) / (d[i] * d[j]).sqrt()
    });
    let values = scaled.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
    let kappa = values[239] / values[0];
    assert!(
        0.5 * kappa <= info.condition_estimate && info.condition_estimate <= kappa * (1.0 + 1e-6),
        "{info:?} vs {kappa}"
    );
    // Thread-count independence: the same solve on 2 threads gives the same bits.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let op2 = DenseOperator::new(theta.as_ref(), Par::rayon(2)).unwrap();
    let (alpha2, _) = pool.install(|| conjugate_gradient(&op2, ridge, y.as_ref(), cg).unwrap());
    assert_eq!(max_abs_diff(alpha.as_ref(), alpha2.as_ref()), 0.0);
}

#[test]
fn lanczos_matches_the_eigendecomposition_prediction_at_finite_time() {
    let (theta, theta_test, y) = problem();
    let ridge = 1e-4;
    let config = MseConfig {
        learning_rate: 1.0,
        diag_reg: ridge,
        diag_reg_absolute_scale: true,
    };
    let flow = GradientDescentMse::new(theta.as_ref(), y.as_ref(), config, Par::Seq).unwrap();
    let zeros_test = Mat::<f64>::zeros(60, 3);
    let times = [10.0, 1e3, 1e5];
    let reference = flow
        .predict(
            &times,
            Mat::<f64>::zeros(240, 3).as_ref(),
            Some(TestSet {
                k_test_train: theta_test.as_ref(),
                fx_test_0: zeros_test.as_ref(),
            }),
        )
        .unwrap();
    let op = DenseOperator::new(theta.as_ref(), Par::Seq).unwrap();
    for (t, want) in times.iter().zip(&reference) {
        let a = t / (240.0 * 3.0);
        let vectors =
            gradient_flow_lanczos(&op, ridge, y.as_ref(), a, LanczosConfig::default()).unwrap();
        let test = &theta_test * &vectors.phi_y;
        let train = &y - &vectors.exp_y;
        let want_test = want.fx_test.as_ref().unwrap();
        let scale = max_abs_diff(want_test.as_ref(), zeros_test.as_ref()).max(1e-300);
        // Lanczos stops at a 1e-12 relative change of φ(A)y; the eigendecomposition is accurate
        // to ~n·ε·κ. 1e-8 relative is the agreement target.
        let err_test = max_abs_diff(test.as_ref(), want_test.as_ref());
        let err_train = max_abs_diff(train.as_ref(), want.fx_train.as_ref());
        assert!(
            err_test <= 1e-8 * scale,
            "t={t}: {err_test} (scale {scale}), {} steps",
            vectors.steps
        );
        assert!(err_train <= 1e-8, "t={t}: {err_train}");
    }
}
