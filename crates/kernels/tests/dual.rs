//! Dual activations: closed forms vs Gauss–Hermite quadrature vs Monte Carlo.

use ntk_kernels::Activation;
use ntk_kernels::analytic::quadrature::{expectation_1d, expectation_2d_pair};
use ntk_kernels::analytic::{dual, dual_diagonal};
use ntk_kernels::monte_carlo::monte_carlo_dual;

/// Covariances (q1, q2, c) covering small/large variances and correlations ρ ∈ (−1, 1).
fn covariances() -> Vec<(f64, f64, f64)> {
    covariances_up_to(&[(0.3, 0.3), (1.0, 0.5), (2.0, 1.3), (0.05, 2.5), (3.0, 3.5)])
}

/// The correlation grid for the given variance pairs.
fn covariances_up_to(variances: &[(f64, f64)]) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    for &(q1, q2) in variances {
        for &rho in &[-0.97, -0.6, -0.1, 0.0, 0.35, 0.8, 0.999] {
            out.push((q1, q2, rho * f64::sqrt(q1 * q2)));
        }
    }
    out
}

/// Quadrature vs exact closed forms for e^x and sin x: E[e^u e^v] = e^{(q1+q2)/2 + c},
/// E[sin u sin v] = e^{-(q1+q2)/2} sinh c, E[cos u cos v] = e^{-(q1+q2)/2} cosh c.
/// Tolerance 1e-10 relative to the natural scale √(E σ(u)² E σ(v)²) (the brief's quadrature
/// accuracy target; observed errors are ~1e-14).
#[test]
fn quadrature_matches_exp_and_sin_closed_forms() {
    for (q1, q2, c) in covariances() {
        let e = dual(&Activation::Exp, q1, q2, c);
        let exact = ((q1 + q2) / 2.0 + c).exp();
        let scale = (q1 + q2).exp(); // √(E e^{2u} E e^{2v})
        assert!((e.nngp - exact).abs() <= 1e-10 * scale, "exp {q1} {q2} {c}");
        assert!((e.ntk_dot - exact).abs() <= 1e-10 * scale);

        let s = dual(&Activation::Sin, q1, q2, c);
        let damp = (-(q1 + q2) / 2.0).exp();
        let scale_sin = (0.25 * (1.0 - (-2.0 * q1).exp()) * (1.0 - (-2.0 * q2).exp())).sqrt();
        let scale_cos = (0.25 * (1.0 + (-2.0 * q1).exp()) * (1.0 + (-2.0 * q2).exp())).sqrt();
        assert!(
            (s.nngp - damp * c.sinh()).abs() <= 1e-10 * scale_sin,
            "sin {q1} {q2} {c}"
        );
        assert!((s.ntk_dot - damp * c.cosh()).abs() <= 1e-10 * scale_cos);
    }
}

/// The erf and GELU closed forms against direct 2-D quadrature of σ, σ' (both smooth; for
/// variances q ≤ 1 the 64-point rule is accurate to ≲1e-12, at q ≈ 1.5–3 and |ρ| ≈ 1 erf's
/// error grows to ~1e-9, so this check covers q ≤ 1): 1e-10 relative to the natural scale.
#[test]
fn erf_and_gelu_closed_forms_match_quadrature() {
    for act in [Activation::Erf, Activation::Gelu] {
        for (q1, q2, c) in covariances_up_to(&[(0.3, 0.3), (1.0, 0.5), (0.8, 1.0), (0.05, 1.0)]) {
            let closed = dual(&act, q1, q2, c);
            let (nngp, ntk_dot) = expectation_2d_pair(
                q1,
                q2,
                c,
                |u| act.phi(u),
                |u| act.dphi(u),
                |v| act.phi(v),
                |v| act.dphi(v),
            );
            let s1 = expectation_1d(q1, |u| act.phi(u).powi(2));
            let s2 = expectation_1d(q2, |u| act.phi(u).powi(2));
            let d1 = expectation_1d(q1, |u| act.dphi(u).powi(2));
            let d2 = expectation_1d(q2, |u| act.dphi(u).powi(2));
            assert!(
                (closed.nngp - nngp).abs() <= 1e-10 * (s1 * s2).sqrt(),
                "{act:?} nngp {q1} {q2} {c}: {} vs {nngp}",
                closed.nngp
            );
            assert!(
                (closed.ntk_dot - ntk_dot).abs() <= 1e-10 * (d1 * d2).sqrt(),
                "{act:?} ntk_dot {q1} {q2} {c}: {} vs {ntk_dot}",
                closed.ntk_dot
            );
            // The diagonal closed forms at c = q against 1-D quadrature.
            let diag = dual_diagonal(&act, q1);
            assert!((diag.nngp - s1).abs() <= 1e-10 * s1);
            assert!((diag.ntk_dot - d1).abs() <= 1e-10 * d1);
        }
    }
}

/// Closed forms (piecewise-linear, erf, GELU) and quadrature (softplus, tanh) against Monte Carlo
/// with 2e5 samples: |closed − mc| ≤ 5 standard errors (a false alarm has probability ~6e-7 per
/// check; ~400 checks).
#[test]
fn closed_forms_and_quadrature_match_monte_carlo() {
    let acts = [
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.2 },
        Activation::AbRelu { a: -0.5, b: 1.5 },
        Activation::Identity,
        Activation::Erf,
        Activation::Gelu,
        Activation::Softplus,
        Activation::Tanh,
    ];
    let mut seed = 17;
    for act in acts {
        for &(q1, q2, c) in covariances().iter().step_by(3) {
            let exact = dual(&act, q1, q2, c);
            let mc = monte_carlo_dual(&act, q1, q2, c, 200_000, seed).unwrap();
            seed += 1;
            // Identity's ntk_dot has zero variance: allow rounding only.
            let tol_n = 5.0 * mc.nngp.std_error + 1e-12;
            let tol_d = 5.0 * mc.ntk_dot.std_error + 1e-12;
            assert!(
                (exact.nngp - mc.nngp.mean).abs() <= tol_n,
                "{act:?} nngp {q1} {q2} {c}: {} vs {:?}",
                exact.nngp,
                mc.nngp
            );
            assert!(
                (exact.ntk_dot - mc.ntk_dot.mean).abs() <= tol_d,
                "{act:?} ntk_dot {q1} {q2} {c}: {} vs {:?}",
                exact.ntk_dot,
                mc.ntk_dot
            );
        }
    }
}

/// Limit cases: u = v (ρ = 1) gives the exact diagonal (ReLU: q/2 and 1/2), antipodal points
/// (ρ = −1) give E[relu(u)relu(−u)] = 0 and P(u > 0, −u > 0) = 0, identity gives c and 1, and
/// |ρ| > 1 by rounding is clamped to the same values as ρ = ±1.
#[test]
fn limit_cases_and_clamping() {
    let q = 1.7;
    let same = dual(&Activation::Relu, q, q, q);
    assert_eq!(same.nngp, q / 2.0);
    assert_eq!(same.ntk_dot, 0.5);
    let anti = dual(&Activation::Relu, q, q, -q);
    assert!(anti.nngp.abs() <= 1e-15 && anti.ntk_dot.abs() <= 1e-15);
    let over = dual(&Activation::Relu, q, q, q * (1.0 + 1e-9));
    assert_eq!(over, same);
    let under = dual(&Activation::Relu, q, q, -q * (1.0 + 1e-9));
    assert_eq!(under, anti);
    let id = dual(&Activation::Identity, 2.0, 3.0, 1.1);
    assert!((id.nngp - 1.1).abs() <= 1e-15 && (id.ntk_dot - 1.0).abs() <= 1e-15);
    for act in [Activation::Erf, Activation::Gelu, Activation::Tanh] {
        let d = dual(&act, q, q, q * (1.0 + 1e-12));
        let diag = dual_diagonal(&act, q);
        assert!((d.nngp - diag.nngp).abs() <= 1e-10 * diag.nngp, "{act:?}");
        assert!(
            (d.ntk_dot - diag.ntk_dot).abs() <= 1e-10 * diag.ntk_dot,
            "{act:?}"
        );
    }
}

/// Zero variance (zero input, no bias): the variable is the constant 0, so the expectations
/// factorise: ReLU E[σσ] = 0, E[σ'σ'] = σ'(0)·½ = 0; GELU E[σ'σ'] = ½·½; tanh against a trapezoid-rule E σ'(v).
#[test]
fn zero_variance() {
    let relu = dual(&Activation::Relu, 0.0, 1.3, 0.0);
    assert_eq!(relu.nngp, 0.0);
    assert_eq!(relu.ntk_dot, 0.0);
    let leaky = dual(&Activation::LeakyRelu { alpha: 0.1 }, 0.0, 1.3, 0.0);
    assert!((leaky.ntk_dot - 0.1 * 0.55).abs() <= 1e-15);
    let gelu = dual(&Activation::Gelu, 0.0, 1.3, 0.0);
    assert!(gelu.nngp.abs() <= 1e-15 && (gelu.ntk_dot - 0.25).abs() <= 1e-15);
    let tanh = dual(&Activation::Tanh, 0.0, 1.3, 0.0);
    // E σ'(v), v ~ N(0, 1.3), by the trapezoid rule on [−40, 40] with step 1/200: for an
    // integrand analytic in the strip |Im z| < π/(2√1.3) its error is ~e^{−2π·1.38·200} plus
    // the tail e^{−800}, far below rounding (independent of the Gauss–Hermite rules).
    let mean_dphi = {
        let (h, scale) = (1.0 / 200.0, 1.3f64.sqrt());
        (-8000..=8000)
            .map(|j| {
                let z = j as f64 * h;
                Activation::Tanh.dphi(scale * z) * (-0.5 * z * z).exp()
            })
            .sum::<f64>()
            * h
            / (2.0 * std::f64::consts::PI).sqrt()
    };
    assert!(tanh.nngp.abs() <= 1e-15);
    assert!((tanh.ntk_dot - mean_dphi).abs() <= 1e-14);
    for act in [Activation::Relu, Activation::Erf, Activation::Sin] {
        let d = dual(&act, 0.0, 0.0, 0.0);
        assert!(d.nngp.is_finite() && d.ntk_dot.is_finite());
    }
}
