//! λ_min by eigensolver, bisection and shift-invert Lanczos against matrices of known spectrum
//! and against each other on H^∞ Gram matrices; parallel inputs; separation lower bounds.

use faer::Par;
use ntk_bounds::Error;
use ntk_bounds::generalization::arora_complexity;
use ntk_bounds::gram::h_infinity;
use ntk_bounds::lambda_min::{
    LambdaMinConfig, condition_number, lambda_min_bisection, lambda_min_eigen, lambda_min_lanczos,
};
use ntk_bounds::separation::{
    OYMAK_SOLTANOLKOTABI_CONSTANT, data_separation, require_separated,
    separation_lambda0_lower_bound, zhang_lambda0_lower_bound,
};
use ntk_bounds::test_models::{matrix_with_spectrum, random_sphere};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn three_methods_recover_a_known_lambda_min() {
    // Q diag(s) Qᵀ has λ_min = min(s) up to O(ε·‖K‖) rounding (‖K‖ = 10, λ_min = 1e-3:
    // relative rounding ~1e-12), so 1e-8 relative is the target with ample margin.
    let config = LambdaMinConfig::default();
    for (case, &n) in [20usize, 80, 150].iter().enumerate() {
        let spectrum: Vec<f64> = (0..n)
            .map(|i| 1e-3 * (1e4f64).powf(i as f64 / (n - 1) as f64))
            .collect();
        let k = matrix_with_spectrum(&spectrum, 100 + case as u64);
        let exact = 1e-3;
        let eig = lambda_min_eigen(k.as_ref(), Par::Seq).unwrap();
        let bis = lambda_min_bisection(k.as_ref(), &config).unwrap();
        let lan = lambda_min_lanczos(k.as_ref(), &config).unwrap();
        assert!(rel(eig, exact) <= 1e-8, "eigen n={n}: {eig}");
        assert!(
            rel(bis.lambda_min, exact) <= 1e-8,
            "bisection n={n}: {bis:?}"
        );
        assert!(rel(lan.lambda_min, exact) <= 1e-8, "lanczos n={n}: {lan:?}");
        let kappa = condition_number(k.as_ref(), Par::Seq).unwrap();
        assert!(rel(kappa, 1e4) <= 1e-8, "condition number {kappa}");
    }
}

#[test]
fn three_methods_agree_on_h_infinity() {
    // Seeded unit-sphere data; the eigensolver is accurate to O(n ε ‖H‖) ≈ 1e-13 absolute,
    // far below 1e-8·λ₀ for λ₀ ~ 1e-2.
    let config = LambdaMinConfig::default();
    for (seed, (n, d)) in [(60usize, 5usize), (120, 10), (200, 20)]
        .into_iter()
        .enumerate()
    {
        let x = random_sphere(n, d, seed as u64);
        let h = h_infinity(x.as_ref()).unwrap();
        let eig = lambda_min_eigen(h.as_ref(), Par::Seq).unwrap();
        let bis = lambda_min_bisection(h.as_ref(), &config).unwrap();
        let lan = lambda_min_lanczos(h.as_ref(), &config).unwrap();
        assert!(eig > 0.0);
        assert!(rel(bis.lambda_min, eig) <= 1e-8, "n={n}: {bis:?} vs {eig}");
        assert!(rel(lan.lambda_min, eig) <= 1e-8, "n={n}: {lan:?} vs {eig}");
    }
}

#[test]
fn parallel_inputs_give_zero_lambda0_and_bounds_fail() {
    let mut x = random_sphere(40, 6, 7);
    for j in 0..6 {
        x[(17, j)] = x[(3, j)];
    }
    let h = h_infinity(x.as_ref()).unwrap();
    let eig = lambda_min_eigen(h.as_ref(), Par::Seq).unwrap();
    // Two identical rows: exact λ₀ = 0, computed to within n·ε·‖H‖ ≤ 40·2.2e-16·20.
    assert!(eig.abs() <= 40.0 * f64::EPSILON * 20.0, "lambda0 = {eig}");
    let bis = lambda_min_bisection(h.as_ref(), &LambdaMinConfig::default()).unwrap();
    assert!(bis.lambda_min.abs() <= 1e-12, "{bis:?}");
    let y: Vec<f64> = (0..40)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    match arora_complexity(h.as_ref(), &y, Par::Seq) {
        Err(Error::NotPositiveDefinite { lambda_min }) => assert!(lambda_min.abs() < 1e-12),
        other => panic!("expected NotPositiveDefinite, got {other:?}"),
    }
    assert!(matches!(
        require_separated(x.as_ref()),
        Err(Error::ParallelInputs {
            first: 3,
            second: 17,
            ..
        })
    ));
    assert!(condition_number(h.as_ref(), Par::Seq).is_err());
}

#[test]
fn separation_bound_holds_on_random_sphere_data() {
    // λ₀ ≥ φ/(100 n²) (Oymak–Soltanolkotabi constant); the observed slack is recorded in
    // docs/bounds.md (it is orders of magnitude).
    for (seed, (n, d)) in [(20usize, 3usize), (50, 5), (100, 10)]
        .into_iter()
        .enumerate()
    {
        let x = random_sphere(n, d, 40 + seed as u64);
        let h = h_infinity(x.as_ref()).unwrap();
        let lambda0 = lambda_min_eigen(h.as_ref(), Par::Seq).unwrap();
        let phi = data_separation(x.as_ref()).unwrap().value;
        let bound = separation_lambda0_lower_bound(phi, n, OYMAK_SOLTANOLKOTABI_CONSTANT).unwrap();
        assert!(
            0.0 < bound && bound <= lambda0,
            "n={n}: {bound} vs {lambda0}"
        );
    }
}

#[test]
fn zhang_theorem_5_as_transcribed_fails_for_unit_norm_inputs() {
    // Every diagonal entry of G^∞ is 1/2 for unit-norm inputs, so λ₀ ≤ 1/2 (Rayleigh quotient
    // at a basis vector), while the transcribed bound n^β/2 exceeds 1/2 for every n ≥ 2.
    let n = 200;
    let x = random_sphere(n, 50, 3);
    let h = h_infinity(x.as_ref()).unwrap();
    let lambda0 = lambda_min_eigen(h.as_ref(), Par::Seq).unwrap();
    for beta in [0.1, 0.25, 0.49] {
        let (bound, probability) = zhang_lambda0_lower_bound(n, beta).unwrap();
        assert!(
            lambda0 <= 0.5 && lambda0 < bound,
            "beta={beta}: {lambda0} vs {bound}"
        );
        // The stated probability 1 − n e^{−n^β/4} is vacuous here (negative).
        assert!(probability < 0.0);
    }
    assert!(zhang_lambda0_lower_bound(n, 0.5).is_err());
}

#[test]
fn bad_inputs_are_errors() {
    let k = faer::Mat::from_fn(3, 2, |_, _| 1.0);
    assert!(matches!(
        lambda_min_eigen(k.as_ref(), Par::Seq),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut k = faer::Mat::<f64>::identity(3, 3);
    k[(0, 1)] = f64::NAN;
    assert!(matches!(
        lambda_min_bisection(k.as_ref(), &LambdaMinConfig::default()),
        Err(Error::NonFinite { .. })
    ));
    let mut k = faer::Mat::<f64>::identity(3, 3);
    k[(0, 1)] = 0.5;
    assert!(matches!(
        lambda_min_lanczos(k.as_ref(), &LambdaMinConfig::default()),
        Err(Error::NotSymmetric { .. })
    ));
    let empty = faer::Mat::<f64>::zeros(0, 0);
    assert!(matches!(
        lambda_min_eigen(empty.as_ref(), Par::Seq),
        Err(Error::Empty { .. })
    ));
}
