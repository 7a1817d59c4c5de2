//! Dormand–Prince 5(4) with FSAL, step-size control and 4th-order dense output.
//!
//! $$ y_{k+1} = y_k + h \sum_{i=1}^{7} b_i k_i,\qquad
//!    \mathrm{err} = \Big(\tfrac1N \sum_j \big(\tfrac{h \sum_i e_i k_{i,j}}
//!    {\mathrm{atol} + \mathrm{rtol}\max(|y_{k,j}|, |y_{k+1,j}|)}\big)^2\Big)^{1/2} $$
//!
//! A step is accepted when err ≤ 1; the next step is h·min(10, max(0.2, 0.9·err^{−1/5})).
//!
//! # Reference
//! Dormand & Prince 1980, "A family of embedded Runge–Kutta formulae", J. Comput. Appl. Math. 6;
//! Hairer, Nørsett & Wanner, *Solving ODEs I*, 2nd ed., Sec. II.4–II.6 (Table 5.2, dense output
//! of DOPRI5, eq. (6.12), initial step Sec. II.4).

use super::{FlowConfig, OdeSystem, Stats, Trajectory};
use crate::error::{Error, Result, check_finite};

const C2: f64 = 1.0 / 5.0;
const C3: f64 = 3.0 / 10.0;
const C4: f64 = 4.0 / 5.0;
const C5: f64 = 8.0 / 9.0;
const A21: f64 = 1.0 / 5.0;
const A31: f64 = 3.0 / 40.0;
const A32: f64 = 9.0 / 40.0;
const A41: f64 = 44.0 / 45.0;
const A42: f64 = -56.0 / 15.0;
const A43: f64 = 32.0 / 9.0;
const A51: f64 = 19372.0 / 6561.0;
const A52: f64 = -25360.0 / 2187.0;
const A53: f64 = 64448.0 / 6561.0;
const A54: f64 = -212.0 / 729.0;
const A61: f64 = 9017.0 / 3168.0;
const A62: f64 = -355.0 / 33.0;
const A63: f64 = 46732.0 / 5247.0;
const A64: f64 = 49.0 / 176.0;
const A65: f64 = -5103.0 / 18656.0;
const A71: f64 = 35.0 / 384.0;
const A73: f64 = 500.0 / 1113.0;
const A74: f64 = 125.0 / 192.0;
const A75: f64 = -2187.0 / 6784.0;
const A76: f64 = 11.0 / 84.0;
const E1: f64 = 71.0 / 57600.0;
const E3: f64 = -71.0 / 16695.0;
const E4: f64 = 71.0 / 1920.0;
const E5: f64 = -17253.0 / 339200.0;
const E6: f64 = 22.0 / 525.0;
const E7: f64 = -1.0 / 40.0;
const D1: f64 = -12715105075.0 / 11282082432.0;
const D3: f64 = 87487479700.0 / 32700410799.0;
const D4: f64 = -10690763975.0 / 1880347072.0;
const D5: f64 = 701980252875.0 / 199316789632.0;
const D6: f64 = -1453857185.0 / 822651844.0;
const D7: f64 = 69997945.0 / 29380423.0;

fn validate_times(times: &[f64], t_end: f64) -> Result<()> {
    for (index, &t) in times.iter().enumerate() {
        if !t.is_finite() || t < 0.0 || t > t_end {
            return Err(Error::InvalidParameter {
                arg: "times",
                value: format!("times[{index}] = {t}"),
                reason: "requested times must lie in [0, t_end]",
            });
        }
        if index > 0 && t < times[index - 1] {
            return Err(Error::InvalidParameter {
                arg: "times",
                value: format!("times[{index}] = {t} < times[{}]", index - 1),
                reason: "requested times must be non-decreasing",
            });
        }
    }
    Ok(())
}

fn scaled_rms(values: &[f64], y: &[f64], config: &FlowConfig) -> f64 {
    let sum: f64 = values
        .iter()
        .zip(y)
        .map(|(v, yi)| {
            let scaled = v / (config.atol + config.rtol * yi.abs());
            scaled * scaled
        })
        .sum();
    (sum / values.len() as f64).sqrt()
}

/// Integrates dy/dt = F(t, y) from t = 0 to `config.t_end` with Dormand–Prince 5(4), calling
/// `observer(t, y(t))` at every requested time (non-decreasing, in [0, t_end]) from the dense
/// output, and returns the work counters.
///
/// $$ y(t_k + \theta h) = r_1 + \theta\big(r_2 + (1-\theta)(r_3 + \theta(r_4 + (1-\theta) r_5))\big) $$
///
/// Errors: invalid configuration or times; non-finite y₀ or state
/// ([`Error::NonFiniteState`]); step-size underflow ([`Error::StepSizeTooSmall`]); exhausted
/// budget ([`Error::MaxStepsReached`]); any error of the system or the observer.
///
/// # Reference
/// Dormand & Prince 1980, J. Comput. Appl. Math. 6, 19–26; Hairer, Nørsett & Wanner 1993,
/// *Solving ODEs I*, Sec. II.5 (Table 5.2) and II.6 (dense output, eq. (6.12)).
pub fn integrate<S, O>(
    system: &mut S,
    y0: &[f64],
    times: &[f64],
    config: &FlowConfig,
    mut observer: O,
) -> Result<Stats>
where
    S: OdeSystem + ?Sized,
    O: FnMut(f64, &[f64]) -> Result<()>,
{
    config.validate()?;
    if y0.is_empty() {
        return Err(Error::Empty { arg: "y0" });
    }
    check_finite("y0", y0)?;
    validate_times(times, config.t_end)?;
    let dim = y0.len();
    let t_end = config.t_end;
    let mut stats = Stats::default();
    let mut y = y0.to_vec();
    let mut y_new = vec![0.0; dim];
    let mut y_stage = vec![0.0; dim];
    let mut k = [
        vec![0.0; dim],
        vec![0.0; dim],
        vec![0.0; dim],
        vec![0.0; dim],
        vec![0.0; dim],
        vec![0.0; dim],
        vec![0.0; dim],
    ];
    let mut dense = vec![0.0; 5 * dim];
    let mut dense_out = vec![0.0; dim];

    let mut t = 0.0;
    system.rhs(t, &y, &mut k[0])?;
    stats.rhs_evals += 1;
    if k[0].iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFiniteState { t, step: 0 });
    }
    let mut next_obs = 0;
    while next_obs < times.len() && times[next_obs] <= 0.0 {
        observer(0.0, &y)?;
        next_obs += 1;
    }

    let mut h = match config.h0 {
        Some(h0) => h0,
        None => {
            // Hairer, Nørsett & Wanner, Sec. II.4, "Starting step size".
            let d0 = scaled_rms(&y, &y, config);
            let d1 = scaled_rms(&k[0], &y, config);
            let mut h0 = if d0 < 1e-5 || d1 < 1e-5 {
                1e-6
            } else {
                0.01 * d0 / d1
            };
            h0 = h0.min(t_end).min(config.h_max);
            for j in 0..dim {
                y_stage[j] = y[j] + h0 * k[0][j];
            }
            system.rhs(h0, &y_stage, &mut k[1])?;
            stats.rhs_evals += 1;
            for j in 0..dim {
                k[1][j] -= k[0][j];
            }
            let d2 = scaled_rms(&k[1], &y, config) / h0;
            let h1 = if !d2.is_finite() {
                h0
            } else if d1.max(d2) <= 1e-15 {
                (h0 * 1e-3).max(1e-6)
            } else {
                (0.01 / d1.max(d2)).powf(0.2)
            };
            (100.0 * h0).min(h1)
        }
    };
    h = h.min(config.h_max).min(t_end);

    let mut last_rejected = false;
    while t < t_end {
        if stats.accepted_steps + stats.rejected_steps >= config.max_steps {
            return Err(Error::MaxStepsReached {
                t,
                t_end,
                max_steps: config.max_steps,
            });
        }
        let h_floor = config.h_min.max(16.0 * f64::EPSILON * t.abs());
        if h < h_floor || h == 0.0 {
            return Err(Error::StepSizeTooSmall { t, h });
        }
        let last = t + h >= t_end;
        if last {
            h = t_end - t;
        }

        let [k1, k2, k3, k4, k5, k6, k7] = &mut k;
        for j in 0..dim {
            y_stage[j] = y[j] + h * A21 * k1[j];
        }
        system.rhs(t + C2 * h, &y_stage, k2)?;
        for j in 0..dim {
            y_stage[j] = y[j] + h * (A31 * k1[j] + A32 * k2[j]);
        }
        system.rhs(t + C3 * h, &y_stage, k3)?;
        for j in 0..dim {
            y_stage[j] = y[j] + h * (A41 * k1[j] + A42 * k2[j] + A43 * k3[j]);
        }
        system.rhs(t + C4 * h, &y_stage, k4)?;
        for j in 0..dim {
            y_stage[j] = y[j] + h * (A51 * k1[j] + A52 * k2[j] + A53 * k3[j] + A54 * k4[j]);
        }
        system.rhs(t + C5 * h, &y_stage, k5)?;
        for j in 0..dim {
            y_stage[j] =
                y[j] + h * (A61 * k1[j] + A62 * k2[j] + A63 * k3[j] + A64 * k4[j] + A65 * k5[j]);
        }
        let t_new = if last { t_end } else { t + h };
        system.rhs(t_new, &y_stage, k6)?;
        for j in 0..dim {
            y_new[j] =
                y[j] + h * (A71 * k1[j] + A73 * k3[j] + A74 * k4[j] + A75 * k5[j] + A76 * k6[j]);
        }
        system.rhs(t_new, &y_new, k7)?;
        stats.rhs_evals += 6;

        let mut sum = 0.0;
        for j in 0..dim {
            let err_j =
                h * (E1 * k1[j] + E3 * k3[j] + E4 * k4[j] + E5 * k5[j] + E6 * k6[j] + E7 * k7[j]);
            let scale = config.atol + config.rtol * y[j].abs().max(y_new[j].abs());
            let scaled = err_j / scale;
            sum += scaled * scaled;
        }
        let err = (sum / dim as f64).sqrt();

        if err.is_finite() && err <= 1.0 {
            stats.accepted_steps += 1;
            if y_new.iter().any(|v| !v.is_finite()) {
                return Err(Error::NonFiniteState {
                    t: t_new,
                    step: stats.accepted_steps,
                });
            }
            system.after_step(t_new, stats.accepted_steps, &y_new)?;
            if next_obs < times.len() && times[next_obs] <= t_new {
                let (r1, rest) = dense.split_at_mut(dim);
                let (r2, rest) = rest.split_at_mut(dim);
                let (r3, rest) = rest.split_at_mut(dim);
                let (r4, r5) = rest.split_at_mut(dim);
                for j in 0..dim {
                    let diff = y_new[j] - y[j];
                    let bspl = h * k1[j] - diff;
                    r1[j] = y[j];
                    r2[j] = diff;
                    r3[j] = bspl;
                    r4[j] = diff - h * k7[j] - bspl;
                    r5[j] = h
                        * (D1 * k1[j]
                            + D3 * k3[j]
                            + D4 * k4[j]
                            + D5 * k5[j]
                            + D6 * k6[j]
                            + D7 * k7[j]);
                }
                while next_obs < times.len() && times[next_obs] <= t_new {
                    let t_obs = times[next_obs];
                    if t_obs == t_new {
                        observer(t_obs, &y_new)?;
                    } else {
                        let theta = (t_obs - t) / h;
                        let theta1 = 1.0 - theta;
                        for j in 0..dim {
                            dense_out[j] = r1[j]
                                + theta
                                    * (r2[j] + theta1 * (r3[j] + theta * (r4[j] + theta1 * r5[j])));
                        }
                        observer(t_obs, &dense_out)?;
                    }
                    next_obs += 1;
                }
            }
            std::mem::swap(&mut y, &mut y_new);
            std::mem::swap(k1, k7);
            t = t_new;
            let mut factor = (0.9 * err.max(1e-10).powf(-0.2)).clamp(0.2, 10.0);
            if last_rejected {
                factor = factor.min(1.0);
            }
            h = (h * factor).min(config.h_max);
            last_rejected = false;
        } else {
            stats.rejected_steps += 1;
            let factor = if err.is_finite() {
                (0.9 * err.powf(-0.2)).clamp(0.2, 1.0)
            } else {
                0.2
            };
            h *= factor;
            last_rejected = true;
        }
    }
    Ok(stats)
}

/// Integrates like [`integrate`] and returns the states at the requested times.
///
/// # Reference
/// Hairer, Nørsett & Wanner 1993, *Solving ODEs I*, Sec. II.5–II.6.
pub fn solve<S>(
    system: &mut S,
    y0: &[f64],
    times: &[f64],
    config: &FlowConfig,
) -> Result<Trajectory>
where
    S: OdeSystem + ?Sized,
{
    let mut states = Vec::with_capacity(times.len() * y0.len());
    let stats = integrate(system, y0, times, config, |_, y| {
        states.extend_from_slice(y);
        Ok(())
    })?;
    Ok(Trajectory {
        times: times.to_vec(),
        states,
        dim: y0.len(),
        stats,
    })
}
