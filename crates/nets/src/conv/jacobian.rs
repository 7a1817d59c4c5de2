//! Jacobian rows and the empirical NTK. Per image, the Conv/Dense weight block of ∇θ fⱼ(x) is
//! s_w δⱼ(x)ᵀ P(x) (a C_out × fan-in GEMM over the output positions of that image, with δⱼ the
//! deltas seeded with eⱼ) and the bias block s_b Σ_positions δⱼ(x); then
//!
//! $$ \hat\Theta_{(i,a),(i',b)} = \langle \nabla_\theta f_a(x_i), \nabla_\theta f_b(x'_{i'})\rangle
//!    = (J_1 J_2^\top)_{(i,a),(i',b)}, $$
//!
//! one GEMM of the two Jacobians (rows ordered image-major: row i·k + a).
//!
//! # Reference
//! Jacot, Gabriel & Hongler 2018, arXiv:1806.07572, Eq. (2); Novak et al. 2022, "Fast finite
//! width neural tangent kernel", arXiv:2206.08720, §3 (Jacobian contraction).

use super::ConvNet;
use super::buffers;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

impl ConvNet {
    /// Jᵀ (P × n·k): column i·k + a is ∇θ f_a(xᵢ).
    pub(crate) fn jacobian_transposed(&self, theta: &[f64], x: MatRef<'_, f64>) -> Mat<f64> {
        let p = self.parameterization();
        let k = self.output_dim();
        let n = x.nrows();
        let parts = self.map_chunks(n, |rows| {
            let images = rows.len();
            let trace = self.forward_chunk(theta, self.load_chunk(x, rows.clone()), images);
            let mut block = Mat::<f64>::zeros(self.n_params, images * k);
            for output in 0..k {
                let mut seed = buffers::take_zeroed(images * k);
                for i in 0..images {
                    seed[i * k + output] = 1.0;
                }
                self.backward_chunk(theta, &trace, seed, |a, delta, patches| {
                    let s_w = a.weight_multiplier(p);
                    let s_b = a.bias_multiplier(p);
                    let s = a.out_positions;
                    for i in 0..images {
                        let col = block.col_as_slice_mut(i * k + output);
                        let d = delta.subrows(i * s, s);
                        let dst = MatMut::from_row_major_slice_mut(
                            &mut col[a.weight_range()],
                            a.c_out,
                            a.fan_in(),
                        );
                        matmul(
                            dst,
                            Accum::Replace,
                            d.transpose(),
                            patches.subrows(i * s, s),
                            s_w,
                            Par::Seq,
                        );
                        if let Some(off) = a.bias_offset {
                            for j in 0..a.c_out {
                                col[off + j] = s_b * (0..s).map(|r| d[(r, j)]).sum::<f64>();
                            }
                        }
                    }
                });
            }
            trace.recycle();
            (rows.start, block)
        });
        let mut jt = Mat::<f64>::zeros(self.n_params, n * k);
        for (start, block) in parts {
            jt.subcols_mut(start * k, block.ncols()).copy_from(&block);
        }
        jt
    }

    /// The Jacobian J (n·k × P): row i·k + a is ∇θ f_a(xᵢ; θ).
    pub fn jacobian_outputs(&self, theta: &[f64], x: MatRef<'_, f64>) -> crate::Result<Mat<f64>> {
        self.check_theta(theta)?;
        self.check_x("x", x)?;
        Ok(self.jacobian_transposed(theta, x).transpose().to_owned())
    }

    /// The empirical NTK Θ̂ = J(X1) J(X2)ᵀ ((n1·k) × (n2·k), rows/columns image-major).
    pub fn empirical_ntk_outputs(
        &self,
        theta: &[f64],
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
    ) -> crate::Result<Mat<f64>> {
        self.check_theta(theta)?;
        self.check_x("x1", x1)?;
        self.check_x("x2", x2)?;
        let j1 = self.jacobian_transposed(theta, x1);
        let same = std::ptr::eq(x1.as_ptr(), x2.as_ptr())
            && x1.nrows() == x2.nrows()
            && x1.row_stride() == x2.row_stride()
            && x1.col_stride() == x2.col_stride();
        let j2_owned = (!same).then(|| self.jacobian_transposed(theta, x2));
        let j2 = j2_owned.as_ref().unwrap_or(&j1);
        let mut ntk = Mat::<f64>::zeros(j1.ncols(), j2.ncols());
        matmul(
            ntk.as_mut(),
            Accum::Replace,
            j1.transpose(),
            j2.as_ref(),
            1.0,
            Par::rayon(0),
        );
        Ok(ntk)
    }
}
