//! Pointwise activations σ with their first and second derivatives.
//!
//! The names and conventions are neural-tangents' (`stax.Relu`, `stax.LeakyRelu(alpha)`,
//! `stax.ABRelu(a, b)`, `stax.Erf()` with a = b = 1, c = 0, `stax.Gelu(approximate=False)`, …):
//!
//! | variant | σ(x) |
//! |---|---|
//! | `Relu` | max(x, 0) |
//! | `LeakyRelu { alpha }` | max(x, 0) + α·min(x, 0) |
//! | `AbRelu { a, b }` | a·min(x, 0) + b·max(x, 0) |
//! | `Erf` | erf(x) |
//! | `Identity` | x |
//! | `Gelu` | x·Φ(x) (exact, Φ the standard normal CDF) |
//! | `Softplus` | log(1 + eˣ) |
//! | `Tanh` | tanh(x) |
//! | `Exp` | eˣ |
//! | `Sin` | sin(x) |
//!
//! Piecewise-linear activations return σ''(x) = 0 (the distributional term at 0 has measure zero
//! for Gaussian inputs and for almost every parameter of a finite network).

use serde::{Deserialize, Serialize};

/// An activation function σ; see the module docs for the formulas.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    LeakyRelu { alpha: f64 },
    AbRelu { a: f64, b: f64 },
    Erf,
    Identity,
    Gelu,
    Softplus,
    Tanh,
    Exp,
    Sin,
}

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// Standard normal density φ(x).
#[inline]
pub fn normal_pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

/// Standard normal CDF Φ(x) = erfc(−x/√2)/2, accurate to ~1e-16 relative (libm).
#[inline]
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

impl Activation {
    /// All activation names accepted by [`Activation::from_name`].
    pub const NAMES: [&'static str; 10] = [
        "relu",
        "leaky_relu",
        "abrelu",
        "erf",
        "identity",
        "gelu",
        "softplus",
        "tanh",
        "exp",
        "sin",
    ];

    /// The activation's name (`"relu"`, `"leaky_relu"`, …) as used by the JSON spec.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::AbRelu { .. } => "abrelu",
            Activation::Erf => "erf",
            Activation::Identity => "identity",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
            Activation::Tanh => "tanh",
            Activation::Exp => "exp",
            Activation::Sin => "sin",
        }
    }

    /// Parameter-free activations by name (`leaky_relu` takes α = 0.01 as neural-tangents'
    /// default is not fixed; use the variant directly to choose α, a, b).
    pub fn from_name(name: &str) -> Option<Activation> {
        Some(match name {
            "relu" => Activation::Relu,
            "erf" => Activation::Erf,
            "identity" => Activation::Identity,
            "gelu" => Activation::Gelu,
            "softplus" => Activation::Softplus,
            "tanh" => Activation::Tanh,
            "exp" => Activation::Exp,
            "sin" => Activation::Sin,
            _ => return None,
        })
    }

    /// Piecewise-linear activations (`a·min(x,0) + b·max(x,0)`) as `(a, b)`, else `None`.
    pub fn piecewise_linear(&self) -> Option<(f64, f64)> {
        match *self {
            Activation::Relu => Some((0.0, 1.0)),
            Activation::LeakyRelu { alpha } => Some((alpha, 1.0)),
            Activation::AbRelu { a, b } => Some((a, b)),
            Activation::Identity => Some((1.0, 1.0)),
            _ => None,
        }
    }

    /// σ(x).
    #[inline]
    pub fn phi(&self, x: f64) -> f64 {
        match *self {
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Activation::AbRelu { a, b } => {
                if x > 0.0 {
                    b * x
                } else {
                    a * x
                }
            }
            Activation::Erf => libm::erf(x),
            Activation::Identity => x,
            Activation::Gelu => x * normal_cdf(x),
            Activation::Softplus => {
                // log(1 + e^x) without overflow: max(x,0) + log1p(e^{-|x|}).
                x.max(0.0) + (-x.abs()).exp().ln_1p()
            }
            Activation::Tanh => x.tanh(),
            Activation::Exp => x.exp(),
            Activation::Sin => x.sin(),
        }
    }

    /// σ'(x) (for piecewise-linear activations, the right derivative at 0 is not used: σ'(0) is
    /// the left slope, matching `x > 0` masks).
    #[inline]
    pub fn dphi(&self, x: f64) -> f64 {
        match *self {
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            Activation::AbRelu { a, b } => {
                if x > 0.0 {
                    b
                } else {
                    a
                }
            }
            Activation::Erf => FRAC_2_SQRT_PI * (-x * x).exp(),
            Activation::Identity => 1.0,
            Activation::Gelu => normal_cdf(x) + x * normal_pdf(x),
            Activation::Softplus => {
                // logistic(x), stable for both signs.
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            }
            Activation::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Activation::Exp => x.exp(),
            Activation::Sin => x.cos(),
        }
    }

    /// σ''(x) (zero for piecewise-linear activations).
    #[inline]
    pub fn ddphi(&self, x: f64) -> f64 {
        match *self {
            Activation::Relu
            | Activation::LeakyRelu { .. }
            | Activation::AbRelu { .. }
            | Activation::Identity => 0.0,
            Activation::Erf => -2.0 * x * FRAC_2_SQRT_PI * (-x * x).exp(),
            Activation::Gelu => (2.0 - x * x) * normal_pdf(x),
            Activation::Softplus => {
                let s = Activation::Softplus.dphi(x);
                s * (1.0 - s)
            }
            Activation::Tanh => {
                let t = x.tanh();
                -2.0 * t * (1.0 - t * t)
            }
            Activation::Exp => x.exp(),
            Activation::Sin => -x.sin(),
        }
    }

    /// Whether σ is smooth (C²), so that second-order checks by finite differences apply.
    pub fn is_smooth(&self) -> bool {
        self.piecewise_linear().is_none() || matches!(self, Activation::Identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central differences with h = 1e-5 have truncation error ~h²·|σ'''|/6 ≈ 1e-10 and rounding
    /// error ~ε/h ≈ 1e-11, so 1e-8 absolute is a safe bound for these O(1) derivatives.
    #[test]
    fn derivatives_match_central_differences() {
        let h = 1e-5;
        for act in [
            Activation::Erf,
            Activation::Gelu,
            Activation::Softplus,
            Activation::Tanh,
            Activation::Exp,
            Activation::Sin,
            Activation::Identity,
        ] {
            for i in 0..41 {
                let x = -3.0 + 0.15 * i as f64 + 0.013;
                let fd1 = (act.phi(x + h) - act.phi(x - h)) / (2.0 * h);
                let fd2 = (act.dphi(x + h) - act.dphi(x - h)) / (2.0 * h);
                let scale = 1.0 + act.dphi(x).abs();
                assert!(
                    (fd1 - act.dphi(x)).abs() <= 1e-8 * scale,
                    "{act:?} σ' at {x}"
                );
                let scale2 = 1.0 + act.ddphi(x).abs();
                assert!(
                    (fd2 - act.ddphi(x)).abs() <= 1e-8 * scale2,
                    "{act:?} σ'' at {x}"
                );
            }
        }
    }

    #[test]
    fn piecewise_linear_slopes() {
        let act = Activation::AbRelu { a: -0.3, b: 2.0 };
        assert_eq!(act.phi(-1.0), 0.3);
        assert_eq!(act.phi(2.0), 4.0);
        assert_eq!(act.dphi(-1.0), -0.3);
        assert_eq!(Activation::LeakyRelu { alpha: 0.1 }.phi(-2.0), -0.2);
        assert_eq!(Activation::Relu.phi(-2.0), 0.0);
    }
}
