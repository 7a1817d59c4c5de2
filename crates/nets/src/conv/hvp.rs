//! Exact Hessian-vector products Σᵢⱼ cᵢⱼ ∇²θ fⱼ(xᵢ)·v by forward-over-reverse differentiation
//! (Pearlmutter's R-operator): the tangent, in direction v, of the back-propagation seeded with
//! c (Δ̇ = 0 at the output), layer by layer
//!
//! $$ \dot\delta_{in} = P^{*}\!\big(s_w(\dot\delta_{out}W + \delta_{out}V)\big)\ (\text{Conv/Dense}),\quad
//!    \dot\delta_{in} = A^\top\dot\delta_{out}\ (\text{pooling}),\quad
//!    \dot\delta_{in} = \sigma'(a)\odot\dot\delta_{out} + \sigma''(a)\odot\dot a\odot\delta_{out}\ (\sigma), $$
//!
//! and the HVP blocks s_w(δ̇_outᵀP(a) + δ_outᵀP(ȧ)) and s_b Σ δ̇_out, with ȧ from the tangent
//! forward pass.
//!
//! # Reference
//! Pearlmutter 1994, "Fast exact multiplication by the Hessian", Neural Computation 6(1), Sec. 4.

use super::backward::{accumulate_parameter_gradient, affine_adjoint};
use super::buffers;
use super::forward::{Trace, global_avg_pool_adjoint, weights, with_patches};
use super::{ConvNet, Op};
use faer::{Accum, MatRef};

impl ConvNet {
    fn hvp_chunk(&self, theta: &[f64], v: &[f64], trace: &Trace, seed: Vec<f64>, out: &mut [f64]) {
        let p = self.parameterization();
        let images = trace.images;
        let tangent = self.tangent_chunk(theta, v, trace);
        let mut delta = seed;
        let mut delta_dot = buffers::take_zeroed(delta.len());
        for (k, op) in self.ops.iter().enumerate().rev() {
            let need_input_delta = k > 0;
            let size_in = if need_input_delta {
                images * self.sizes[k]
            } else {
                0
            };
            let mut delta_in = buffers::take(size_in);
            let mut delta_dot_in = buffers::take(size_in);
            match op {
                Op::Affine(a) => {
                    let s_w = a.weight_multiplier(p);
                    let s_b = a.bias_multiplier(p);
                    let rows = images * a.out_positions;
                    let d = MatRef::from_row_major_slice(&delta, rows, a.c_out);
                    let dd = MatRef::from_row_major_slice(&delta_dot, rows, a.c_out);
                    with_patches(a, &trace.acts[k], images, |patches| {
                        accumulate_parameter_gradient(
                            a,
                            s_w,
                            s_b,
                            dd,
                            patches,
                            out,
                            Accum::Replace,
                        );
                    });
                    with_patches(a, &tangent.acts[k], images, |patches| {
                        accumulate_parameter_gradient(a, s_w, 0.0, d, patches, out, Accum::Add);
                    });
                    if need_input_delta {
                        let w = weights(a, theta);
                        affine_adjoint(a, s_w, d, w, images, &mut delta_in, Accum::Replace);
                        affine_adjoint(a, s_w, dd, w, images, &mut delta_dot_in, Accum::Replace);
                        affine_adjoint(
                            a,
                            s_w,
                            d,
                            weights(a, v),
                            images,
                            &mut delta_dot_in,
                            Accum::Add,
                        );
                    }
                }
                Op::AvgPool { window, channels } => {
                    if need_input_delta {
                        window.avg_pool_adjoint(&delta, *channels, images, &mut delta_in);
                        window.avg_pool_adjoint(&delta_dot, *channels, images, &mut delta_dot_in);
                    }
                }
                Op::GlobalAvgPool {
                    positions,
                    channels,
                } => {
                    if need_input_delta {
                        global_avg_pool_adjoint(&delta, *positions, *channels, &mut delta_in);
                        global_avg_pool_adjoint(
                            &delta_dot,
                            *positions,
                            *channels,
                            &mut delta_dot_in,
                        );
                    }
                }
                Op::Activation(act) => {
                    if need_input_delta {
                        let z = &trace.acts[k];
                        let z_dot = &tangent.acts[k];
                        for i in 0..size_in {
                            let (d1, d2) = (act.dphi(z[i]), act.ddphi(z[i]));
                            delta_in[i] = d1 * delta[i];
                            delta_dot_in[i] = d1 * delta_dot[i] + d2 * z_dot[i] * delta[i];
                        }
                    }
                }
            }
            buffers::give([
                std::mem::replace(&mut delta, delta_in),
                std::mem::replace(&mut delta_dot, delta_dot_in),
            ]);
        }
        buffers::give([delta, delta_dot]);
        tangent.recycle();
    }

    /// Σᵢⱼ cᵢⱼ ∇²θ fⱼ(xᵢ; θ) · v for c of shape n × k.
    pub fn hvp_outputs(
        &self,
        theta: &[f64],
        x: MatRef<'_, f64>,
        c: MatRef<'_, f64>,
        v: &[f64],
    ) -> crate::Result<Vec<f64>> {
        self.check_theta(theta)?;
        self.check_x("x", x)?;
        self.check_output_matrix("c", c, x.nrows())?;
        crate::validate::check_vector("v", v, self.n_params)?;
        Ok(self.sum_over_chunks(x.nrows(), |rows, part| {
            let trace = self.forward_chunk(theta, self.load_chunk(x, rows.clone()), rows.len());
            let seed = self.load_chunk(c, rows);
            self.hvp_chunk(theta, v, &trace, seed, part);
            trace.recycle();
        }))
    }
}
