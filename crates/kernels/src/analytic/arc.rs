//! Branch-free arcsine and arccosine for the elementwise kernel loops.
//!
//! Both reduce to p(s) = arcsin(s) on s ∈ [0, ½] through
//!
//! $$ \arcsin|x| = \begin{cases} p(|x|) & |x|\le\tfrac12\\ \tfrac\pi2 - 2p\big(\sqrt{(1-|x|)/2}\big) & |x|>\tfrac12\end{cases},
//!    \qquad \arccos x = \begin{cases} 2p(\sqrt{(1-x)/2}) & x>\tfrac12\\ \pi-2p(\sqrt{(1+x)/2}) & x<-\tfrac12\\ \tfrac\pi2-p(x) & |x|\le\tfrac12\end{cases} $$
//!
//! with p(s) = s + s·z·P(z)/Q(z), z = s² ≤ ¼, fdlibm's rational minimax approximation of
//! (arcsin s − s)/s (degree 6/4, error < 2⁻⁵⁸): ten multiply-adds and one division instead of a
//! 23-term Taylor series. Every branch is a select, so loops over these functions vectorise;
//! std's `acos` is a libm call per element.
//!
//! # Reference
//! Abramowitz & Stegun 1964, eq. 4.4.3 (half-angle reduction); fdlibm 5.3 `e_asin.c` (Sun
//! Microsystems 1993) for the rational approximation on [0, ½].

/// Numerator coefficients of R(t) = t·P(t)/Q(t), arcsin(s) = s + s·R(s²) on s ∈ [0, ½]
/// (fdlibm `e_asin.c`, Sun Microsystems 1993: |error| < 2⁻⁵⁸ on the interval; the literals are
/// the shortest round-trip forms of fdlibm's, the same doubles).
const P: [f64; 6] = [
    0.16666666666666666,
    -0.3255658186224009,
    0.20121253213486293,
    -0.04005553450067941,
    0.0007915349942898145,
    3.479331075960212e-05,
];
/// Denominator coefficients of R (Q(t) = 1 + Σ Qₖ tᵏ⁺¹).
const Q: [f64; 4] = [
    -2.403394911734414,
    2.0209457602335057,
    -0.6882839716054533,
    0.07703815055590194,
];

/// p(s) = arcsin(s) for s ∈ [0, ½], given z = s²: s + s·z·P(z)/Q(z) (Horner with separate
/// multiply and add, or with fused multiply-adds when `FUSED`).
#[inline(always)]
fn asin_reduced<const FUSED: bool>(s: f64, z: f64) -> f64 {
    let step = |acc: f64, coef: f64| {
        if FUSED {
            acc.mul_add(z, coef)
        } else {
            acc * z + coef
        }
    };
    let mut num = P[5];
    for k in (0..5).rev() {
        num = step(num, P[k]);
    }
    let mut den = Q[3];
    for k in (0..3).rev() {
        den = step(den, Q[k]);
    }
    den = step(den, 1.0);
    let r = z * num / den;
    if FUSED { s.mul_add(r, s) } else { s + s * r }
}

#[inline(always)]
fn acos_impl<const FUSED: bool>(x: f64) -> f64 {
    let x = x.clamp(-1.0, 1.0);
    let ax = x.abs();
    let big = ax > 0.5;
    let z = if big { 0.5 * (1.0 - ax) } else { ax * ax };
    let s = if big { z.sqrt() } else { ax };
    let p = asin_reduced::<FUSED>(s, z);
    // |x| ≤ ½: π/2 − sign(x) p;  x > ½: 2p;  x < −½: π − 2p.
    let small_res = std::f64::consts::FRAC_PI_2 - p.copysign(x);
    let big_res = if x > 0.0 {
        2.0 * p
    } else {
        std::f64::consts::PI - 2.0 * p
    };
    if big { big_res } else { small_res }
}

#[inline(always)]
fn asin_impl<const FUSED: bool>(x: f64) -> f64 {
    let x = x.clamp(-1.0, 1.0);
    let ax = x.abs();
    let big = ax > 0.5;
    let z = if big { 0.5 * (1.0 - ax) } else { ax * ax };
    let s = if big { z.sqrt() } else { ax };
    let p = asin_reduced::<FUSED>(s, z);
    let r = if big {
        std::f64::consts::FRAC_PI_2 - 2.0 * p
    } else {
        p
    };
    r.copysign(x)
}

/// Correlations within this distance of ±1 are taken as exactly ±1 by [`snap_correlation`].
///
/// A correlation ρ = c/√(q₁q₂) computed from exactly parallel (or antipodal) points carries a few
/// ulps of rounding, and the arc-cosine kernels depend on it through √(1 − ρ²), which turns an
/// error of k·ε in ρ into √(2kε) ≈ 1e-8 in the kernel: enough to make the Gram matrix of collinear
/// points indefinite at −1e-9. 16ε covers the rounding of c, q₁, q₂ and the product; a genuine
/// correlation that close to ±1 is not resolvable in double precision anyway.
pub const CORRELATION_SNAP: f64 = 16.0 * f64::EPSILON;

/// ρ clamped to [−1, 1], with |ρ| ≥ 1 − [`CORRELATION_SNAP`] snapped to ±1 (branch-free select).
#[inline(always)]
pub fn snap_correlation(rho: f64) -> f64 {
    let rho = rho.clamp(-1.0, 1.0);
    if rho.abs() >= 1.0 - CORRELATION_SNAP {
        1.0f64.copysign(rho)
    } else {
        rho
    }
}

/// arccos(x) for x ∈ [−1, 1] (inputs outside are clamped), accurate to a few ulps.
#[inline(always)]
pub fn acos(x: f64) -> f64 {
    acos_impl::<false>(x)
}

/// arcsin(x) for x ∈ [−1, 1] (inputs outside are clamped), accurate to a few ulps.
#[inline(always)]
pub fn asin(x: f64) -> f64 {
    asin_impl::<false>(x)
}

/// [`acos`] with the series evaluated by fused multiply-adds (`f64::mul_add`, exactly rounded
/// on every target): for loops compiled with FMA enabled (the SIMD-dispatched kernel tiles);
/// elsewhere each `mul_add` is a library call.
#[inline(always)]
pub fn acos_fused(x: f64) -> f64 {
    acos_impl::<true>(x)
}

/// [`asin`] with fused multiply-adds; see [`acos_fused`].
#[inline(always)]
pub fn asin_fused(x: f64) -> f64 {
    asin_impl::<true>(x)
}

#[cfg(test)]
mod tests {
    /// Against libm's correctly-rounded-to-1ulp acos/asin on a fine grid including the
    /// reduction boundaries ±½ and the ends ±1: 4 ulps of π covers the series' truncation
    /// (~1e-16) and the rounding of the half-angle reduction.
    #[test]
    fn matches_std_on_a_grid() {
        let tol = 4.0 * f64::EPSILON * std::f64::consts::PI;
        let n = 200_001;
        for i in 0..n {
            let x = -1.0 + 2.0 * i as f64 / (n - 1) as f64;
            let a = super::acos(x);
            let b = super::asin(x);
            let (af, bf) = (super::acos_fused(x), super::asin_fused(x));
            assert!((af - x.acos()).abs() <= tol, "acos_fused({x})");
            assert!(
                (bf - x.asin()).abs() <= tol.max(4.0 * f64::EPSILON * x.asin().abs()),
                "asin_fused({x})"
            );
            assert!(
                (a - x.acos()).abs() <= tol,
                "acos({x}) = {a} vs {}",
                x.acos()
            );
            assert!(
                (b - x.asin()).abs() <= tol.max(4.0 * f64::EPSILON * x.asin().abs()),
                "asin({x})"
            );
        }
        for x in [-1.0, -0.5, 0.5, 1.0, 0.0, -0.0, 1e-300] {
            assert!((super::acos(x) - f64::acos(x)).abs() <= tol);
            assert!((super::asin(x) - f64::asin(x)).abs() <= tol);
            assert!((super::acos_fused(x) - f64::acos(x)).abs() <= tol);
            assert!((super::asin_fused(x) - f64::asin(x)).abs() <= tol);
        }
        assert_eq!(super::acos(1.0), 0.0);
        assert_eq!(super::acos(1.0 + 1e-15), 0.0);
    }
}
