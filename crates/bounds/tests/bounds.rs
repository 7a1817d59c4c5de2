//! Generalization, width, Rademacher and concentration functions against independent references.

use faer::{Mat, Par};
use ntk_bounds::Error;
use ntk_bounds::concentration::{
    kernel_concentration_error, kernel_concentration_error_eigen, montanari_zhong_rate,
};
use ntk_bounds::generalization::{
    arora_complexity, arora_theorem_5_1, cao_gu_ntrf, rkhs_norm_squared, zhang_ngd_theorem_6,
};
use ntk_bounds::gram::h_infinity;
use ntk_bounds::rademacher::{
    empirical_rademacher_rkhs_ball, rkhs_ball_trace_bound, two_layer_rademacher_bound,
};
use ntk_bounds::test_models::{matrix_with_spectrum, random_sphere};
use ntk_bounds::width::{
    FixedPointConfig, ZouGuProblem, arora_ntk_width, solve_width_log_cubed, zhang_ngd_width,
    zou_gu_gd, zou_gu_sgd,
};
use ntk_kernels::Activation;
use ntk_kernels::random_features::{RandomFeatures, random_feature_kernels};

#[test]
fn rkhs_norm_matches_the_spectral_formula() {
    // yᵀK⁻¹y = Σ_i (u_iᵀy)²/λ_i with K = Q diag(λ) Qᵀ built from a known spectrum: the
    // Cholesky route and the spectral sum differ by O(κ ε) = 1e3·1e-16 relative.
    let n = 50;
    let spectrum: Vec<f64> = (0..n).map(|i| 0.01 + i as f64 * 0.2).collect();
    let k = matrix_with_spectrum(&spectrum, 9);
    let y: Vec<f64> = (0..n).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
    let (s, u) = {
        let e = k.self_adjoint_eigen(faer::Side::Lower).unwrap();
        let s: Vec<f64> = (0..n).map(|i| e.S()[i]).collect();
        (s, e.U().to_owned())
    };
    let spectral: f64 = (0..n)
        .map(|i| (0..n).map(|r| u[(r, i)] * y[r]).sum::<f64>().powi(2) / s[i])
        .sum();
    let cholesky = rkhs_norm_squared(k.as_ref(), &y, Par::Seq).unwrap();
    assert!((cholesky - spectral).abs() <= 1e-10 * spectral);
    let complexity = arora_complexity(k.as_ref(), &y, Par::Seq).unwrap();
    assert!((complexity - (2.0 * spectral / n as f64).sqrt()).abs() <= 1e-10 * complexity);
}

#[test]
fn theorem_forms_add_their_confidence_terms() {
    let x = random_sphere(40, 8, 1);
    let h = h_infinity(x.as_ref()).unwrap();
    let y: Vec<f64> = (0..40).map(|i| if i < 20 { 1.0 } else { -1.0 }).collect();
    let norm = rkhs_norm_squared(h.as_ref(), &y, Par::Seq).unwrap();
    let thm = arora_theorem_5_1(h.as_ref(), &y, 0.1, 0.01, Par::Seq).unwrap();
    // 3·sqrt(log(6/δ)/(2n)) at δ = 0.1, n = 40: 3·sqrt(ln 60 / 80).
    let confidence = 3.0 * (60f64.ln() / 80.0).sqrt();
    assert!((thm.confidence - confidence).abs() <= 1e-14);
    assert!((thm.complexity - (2.0 * norm / 40.0).sqrt()).abs() <= 1e-12);
    assert!((thm.total - (thm.complexity + confidence + 0.01)).abs() <= 1e-14);
    assert_eq!(
        zhang_ngd_theorem_6(h.as_ref(), &y, 0.1, 0.01, Par::Seq).unwrap(),
        thm
    );
    let cao = cao_gu_ntrf(h.as_ref(), &y, 3, 0.2, Par::Seq).unwrap();
    assert!((cao.complexity - 3.0 * (norm / 40.0).sqrt()).abs() <= 1e-12);
    assert!((cao.confidence - (5f64.ln() / 40.0).sqrt()).abs() <= 1e-14);
    assert!(cao_gu_ntrf(h.as_ref(), &y, 3, 0.5, Par::Seq).is_err());
    assert!(matches!(
        arora_complexity(h.as_ref(), &y[..39], Par::Seq),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut bad = y.clone();
    bad[4] = f64::NAN;
    assert!(matches!(
        rkhs_norm_squared(h.as_ref(), &bad, Par::Seq),
        Err(Error::NonFinite { index: 4, .. })
    ));
    let indefinite = matrix_with_spectrum(&[-0.5, 1.0, 2.0], 2);
    match rkhs_norm_squared(indefinite.as_ref(), &[1.0, 1.0, 1.0], Par::Seq) {
        Err(Error::NotPositiveDefinite { lambda_min }) => assert!((lambda_min + 0.5).abs() < 1e-12),
        other => panic!("{other:?}"),
    }
}

#[test]
fn implicit_width_solves_its_fixed_point() {
    let config = FixedPointConfig::default();
    for a in [10.0, 1e3, 1e12, 1e40] {
        let (m, _) = solve_width_log_cubed(a, &config).unwrap();
        // m* = A ln³ m*, and it is the largest root: the condition fails just below it.
        assert!((m - a * m.ln().powi(3)).abs() <= 1e-9 * m, "A={a}: {m}");
        let below = m * (1.0 - 1e-6);
        assert!(below < a * below.ln().powi(3));
    }
    // 27A/e³ ≤ 1: m ≥ A ln³ m holds for every m ≥ 1.
    assert_eq!(solve_width_log_cubed(0.5, &config).unwrap().0, 1.0);
    let p = ZouGuProblem {
        n_samples: 100,
        n_layers: 2,
        n_outputs: 1,
        phi: 0.5,
        epsilon: 0.01,
        constant: 1.0,
    };
    let gd = zou_gu_gd(&p, &config).unwrap();
    let a = 1e16 * 4096.0 / 0.0625;
    assert!((gd.width - a * gd.width.ln().powi(3)).abs() <= 1e-9 * gd.width);
    assert!((gd.step_size - 1.0 / (4.0 * gd.width)).abs() <= 1e-12 * gd.step_size);
    assert!((gd.iterations - 1e4 * 4.0 * 100f64.ln() / 0.5).abs() <= 1e-9 * gd.iterations);
    let sgd = zou_gu_sgd(&p, 10, &config).unwrap();
    assert!(sgd.width > gd.width);
    // Arora Thm 3.1 at L = 2, ε = 0.1, δ = 0.01: 64·10⁴·ln 200.
    let m = arora_ntk_width(2, 0.1, 0.01, 1.0).unwrap();
    assert!((m - 64e4 * 200f64.ln()).abs() <= 1e-9 * m);
    let z = zhang_ngd_width(10, 1.0, 0.1, 0.5, 1.0).unwrap();
    assert!((z - 1e4 / (1e-4 * 0.125)).abs() <= 1e-6 * z);
    assert!(matches!(
        zhang_ngd_width(10, 1.0, 0.0, 0.5, 1.0),
        Err(Error::NotPositiveDefinite { .. })
    ));
}

#[test]
fn two_layer_rademacher_bound_formula() {
    // A = 0.01, B = 2, n = 100, m = 1000, δ = 0.1, κ = 1, by hand.
    let log_term = 2.0 * 20f64.ln();
    let expected = 2.0 / 200f64.sqrt() * (1.0 + (log_term / 1000.0).powf(0.25))
        + 2.0 * 1e-4 * 1000f64.sqrt()
        + 0.01 * log_term.sqrt();
    let got = two_layer_rademacher_bound(0.01, 2.0, 100, 1000, 0.1, 1.0).unwrap();
    assert!((got - expected).abs() <= 1e-15);
    assert!(two_layer_rademacher_bound(-1.0, 2.0, 100, 1000, 0.1, 1.0).is_err());
}

#[test]
fn monte_carlo_rademacher_matches_exact_enumeration() {
    // n = 10: all 2^10 sign vectors give the exact E_ε sqrt(εᵀKε).
    let n = 10;
    let x = random_sphere(n, 4, 21);
    let k = h_infinity(x.as_ref()).unwrap();
    let mut exact = 0.0;
    for mask in 0..(1u32 << n) {
        let eps: Vec<f64> = (0..n)
            .map(|i| if mask >> i & 1 == 1 { 1.0 } else { -1.0 })
            .collect();
        let form: f64 = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| eps[i] * k[(i, j)] * eps[j])
            .sum();
        exact += form.max(0.0).sqrt();
    }
    exact /= (1u32 << n) as f64 * n as f64;
    let mc = empirical_rademacher_rkhs_ball(k.as_ref(), 1.0, 4000, 77).unwrap();
    // 4 standard errors: a two-sided Gaussian tail of 6e-5.
    assert!(
        (mc.mean - exact).abs() <= 4.0 * mc.std_error,
        "{mc:?} vs {exact}"
    );
    // Khintchine–Kahane with the optimal constant 1/√2 (Latała & Oleszkiewicz 1994) and Jensen:
    let trace = rkhs_ball_trace_bound(k.as_ref(), 1.0).unwrap();
    assert!(trace / 2f64.sqrt() <= exact && exact <= trace);
}

#[test]
fn monte_carlo_is_bit_identical_across_thread_counts() {
    let x = random_sphere(60, 5, 3);
    let k = h_infinity(x.as_ref()).unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| empirical_rademacher_rkhs_ball(k.as_ref(), 2.0, 1000, 5).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.mean.to_bits(), two.mean.to_bits());
    assert_eq!(one.std_error.to_bits(), two.std_error.to_bits());
}

#[test]
fn concentration_routes_agree_and_scale_like_inverse_sqrt_n() {
    let (n, d) = (40, 10);
    let x = random_sphere(n, d, 8);
    // ReLU random-features kernel, w ~ N(0, I/d) (ntk-kernels' convention).
    let k = random_feature_kernels(&Activation::Relu, x.as_ref(), x.as_ref(), Par::Seq)
        .unwrap()
        .rf;
    // Exact scaling K_N = (1 + c)K gives exactly |c|.
    let scaled = Mat::from_fn(n, n, |i, j| 1.3 * k[(i, j)]);
    let err = kernel_concentration_error(k.as_ref(), scaled.as_ref(), Par::Seq).unwrap();
    assert!((err - 0.3).abs() <= 1e-9, "{err}");
    let finite = |n_features: usize, seed: u64| {
        RandomFeatures::from_seed(n_features, d, seed)
            .unwrap()
            .kernels(&Activation::Relu, x.as_ref(), x.as_ref(), Par::Seq)
            .unwrap()
            .rf
    };
    let (small, large) = (finite(2_000, 1), finite(32_000, 2));
    let e_small = kernel_concentration_error(k.as_ref(), small.as_ref(), Par::Seq).unwrap();
    let e_large = kernel_concentration_error(k.as_ref(), large.as_ref(), Par::Seq).unwrap();
    // Cholesky and K^{-1/2} routes: same matrix up to orthogonal similarity; they agree to
    // O(κ(K) ε) with κ(K) ≲ 1e3 here.
    let e_small_eigen =
        kernel_concentration_error_eigen(k.as_ref(), small.as_ref(), Par::Seq).unwrap();
    assert!((e_small - e_small_eigen).abs() <= 1e-9 * e_small);
    // Matrix Bernstein: error ∝ N^{-1/2}, so 16× more features should give ≈ 1/4 of the error;
    // the band [0.15, 0.4] allows the O(1/√(#features)) fluctuation of each single draw.
    let ratio = e_large / e_small;
    assert!(
        (0.15..=0.4).contains(&ratio),
        "ratio {ratio}: {e_small} -> {e_large}"
    );
    let rate = montanari_zhong_rate(n, d, 2_000).unwrap();
    assert!(rate > 0.0 && e_small.is_finite());
    eprintln!("N=2000: err {e_small:.4}, rate {rate:.4}; N=32000: err {e_large:.4}");
}
