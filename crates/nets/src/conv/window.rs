//! Geometry of a sliding window (convolution filter or pooling window) in lax conventions, and
//! the patch (im2col) matrix it defines.
//!
//! For an H × W input, window f_h × f_w, strides s_h × s_w and padding p (see
//! [`ntk_kernels::Padding::output_and_pad`]), output position (o_y, o_x) and tap (d_y, d_x) read
//! the input position (o_y s_h + d_y − p_top, o_x s_w + d_x − p_left): zero outside the image for
//! SAME/VALID, wrapped modulo (H, W) for CIRCULAR. The patch matrix of one image has one row per
//! output position and the columns (d_y, d_x, c) in row-major order:
//!
//! $$ P_{(o_y,o_x),\,(d_y,d_x,c)} = a_{(o_y s_h + d_y - p_{top},\ o_x s_w + d_x - p_{left}),\,c}, $$
//!
//! so that a convolution is the GEMM Z = P Wᵀ with W of shape C_out × (f_h f_w C_in).
//!
//! # Reference
//! Chellapilla, Puri & Simard 2006, "High performance convolutional neural networks for document
//! processing" (unfolding, i.e. im2col); JAX `lax.conv_general_dilated` padding conventions.

use ntk_kernels::Padding;

/// Marks a tap that reads a zero-padding entry.
pub(crate) const PAD: usize = usize::MAX;

/// A window's input and output sizes and, for every (output position, tap), the input position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Window {
    pub in_positions: usize,
    pub out_positions: usize,
    pub taps: usize,
    /// `index[o * taps + t]`: input position read by tap t at output o, or [`PAD`].
    pub index: Vec<usize>,
}

impl Window {
    /// The window on an `h × w` input; `None` if a VALID window does not fit (checked earlier by
    /// `ConvArchitecture::shapes`).
    pub fn new(
        (h, w): (usize, usize),
        (fh, fw): (usize, usize),
        (sh, sw): (usize, usize),
        padding: Padding,
    ) -> Option<Self> {
        let (oh, pad_top) = padding.output_and_pad(h, fh, sh)?;
        let (ow, pad_left) = padding.output_and_pad(w, fw, sw)?;
        let circular = padding == Padding::Circular;
        let coordinate = |o: usize, s: usize, d: usize, pad: usize, n: usize| -> Option<usize> {
            let raw = (o * s + d) as isize - pad as isize;
            if circular {
                Some(raw.rem_euclid(n as isize) as usize)
            } else {
                (0..n as isize).contains(&raw).then_some(raw as usize)
            }
        };
        let taps = fh * fw;
        let mut index = Vec::with_capacity(oh * ow * taps);
        for oy in 0..oh {
            for ox in 0..ow {
                for dy in 0..fh {
                    for dx in 0..fw {
                        let pos = match (
                            coordinate(oy, sh, dy, pad_top, h),
                            coordinate(ox, sw, dx, pad_left, w),
                        ) {
                            (Some(y), Some(x)) => y * w + x,
                            _ => PAD,
                        };
                        index.push(pos);
                    }
                }
            }
        }
        Some(Self {
            in_positions: h * w,
            out_positions: oh * ow,
            taps,
            index,
        })
    }

    /// Writes the patch matrix of `images` images (`input`: NHWC, `channels` per position) into
    /// `patches` (row-major, images·out_positions × taps·channels).
    pub fn im2col(&self, input: &[f64], channels: usize, images: usize, patches: &mut [f64]) {
        let row_len = self.taps * channels;
        debug_assert_eq!(input.len(), images * self.in_positions * channels);
        debug_assert_eq!(patches.len(), images * self.out_positions * row_len);
        for (row_idx, row) in patches.chunks_exact_mut(row_len).enumerate() {
            let image = row_idx / self.out_positions;
            let o = row_idx % self.out_positions;
            let base = image * self.in_positions;
            for (t, dst) in row.chunks_exact_mut(channels).enumerate() {
                match self.index[o * self.taps + t] {
                    PAD => dst.fill(0.0),
                    pos => {
                        let start = (base + pos) * channels;
                        dst.copy_from_slice(&input[start..start + channels]);
                    }
                }
            }
        }
    }

    /// The adjoint of [`Self::im2col`]: adds every patch entry back onto the input position it
    /// was read from (`input` is accumulated into, not overwritten).
    pub fn col2im(&self, patches: &[f64], channels: usize, images: usize, input: &mut [f64]) {
        let row_len = self.taps * channels;
        debug_assert_eq!(input.len(), images * self.in_positions * channels);
        for (row_idx, row) in patches.chunks_exact(row_len).enumerate() {
            let image = row_idx / self.out_positions;
            let o = row_idx % self.out_positions;
            let base = image * self.in_positions;
            for (t, src) in row.chunks_exact(channels).enumerate() {
                let pos = self.index[o * self.taps + t];
                if pos != PAD {
                    let start = (base + pos) * channels;
                    for (d, s) in input[start..start + channels].iter_mut().zip(src) {
                        *d += s;
                    }
                }
            }
        }
    }

    /// Average pooling (padded zeros counted, divisor = taps): out_{o,c} = (1/taps) Σ_t a_{idx(o,t),c}.
    pub fn avg_pool(&self, input: &[f64], channels: usize, images: usize, out: &mut [f64]) {
        let scale = 1.0 / self.taps as f64;
        out.fill(0.0);
        for image in 0..images {
            for o in 0..self.out_positions {
                let dst_start = (image * self.out_positions + o) * channels;
                let dst = &mut out[dst_start..dst_start + channels];
                for t in 0..self.taps {
                    let pos = self.index[o * self.taps + t];
                    if pos != PAD {
                        let start = (image * self.in_positions + pos) * channels;
                        for (d, s) in dst.iter_mut().zip(&input[start..start + channels]) {
                            *d += scale * s;
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`Self::avg_pool`] (`input` overwritten).
    pub fn avg_pool_adjoint(&self, out: &[f64], channels: usize, images: usize, input: &mut [f64]) {
        let scale = 1.0 / self.taps as f64;
        input.fill(0.0);
        for image in 0..images {
            for o in 0..self.out_positions {
                let src_start = (image * self.out_positions + o) * channels;
                let src = &out[src_start..src_start + channels];
                for t in 0..self.taps {
                    let pos = self.index[o * self.taps + t];
                    if pos != PAD {
                        let start = (image * self.in_positions + pos) * channels;
                        for (d, s) in input[start..start + channels].iter_mut().zip(src) {
                            *d += scale * s;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ⟨im2col(a), p⟩ = ⟨a, col2im(p)⟩ and ⟨pool(a), q⟩ = ⟨a, pool*(q)⟩ for every padding
    /// (exact adjoints: equal up to rounding of two sums of ~100 terms, 1e-12 relative).
    #[test]
    fn adjoints() {
        for padding in [Padding::Same, Padding::Valid, Padding::Circular] {
            let window = Window::new((5, 4), (3, 2), (2, 1), padding).unwrap();
            let (c, n) = (3, 2);
            let a: Vec<f64> = (0..n * 20 * c)
                .map(|i| ((i * 37) % 11) as f64 - 5.0)
                .collect();
            let len = n * window.out_positions * window.taps * c;
            let p: Vec<f64> = (0..len).map(|i| ((i * 13) % 7) as f64 - 3.0).collect();
            let mut cols = vec![0.0; len];
            window.im2col(&a, c, n, &mut cols);
            let mut back = vec![0.0; a.len()];
            window.col2im(&p, c, n, &mut back);
            let lhs: f64 = cols.iter().zip(&p).map(|(x, y)| x * y).sum();
            let rhs: f64 = a.iter().zip(&back).map(|(x, y)| x * y).sum();
            assert!((lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0));
            let q: Vec<f64> = (0..n * window.out_positions * c)
                .map(|i| ((i * 5) % 9) as f64)
                .collect();
            let mut pooled = vec![0.0; q.len()];
            window.avg_pool(&a, c, n, &mut pooled);
            window.avg_pool_adjoint(&q, c, n, &mut back);
            let lhs: f64 = pooled.iter().zip(&q).map(|(x, y)| x * y).sum();
            let rhs: f64 = a.iter().zip(&back).map(|(x, y)| x * y).sum();
            assert!((lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0));
        }
    }

    /// SAME 3×3 on 3×3: the centre output reads every pixel, a corner reads 4; CIRCULAR wraps.
    #[test]
    fn padding_indices() {
        let same = Window::new((3, 3), (3, 3), (1, 1), Padding::Same).unwrap();
        assert_eq!(&same.index[4 * 9..5 * 9], &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(same.index[..9].iter().filter(|&&p| p != PAD).count(), 4);
        let circ = Window::new((3, 3), (3, 3), (1, 1), Padding::Circular).unwrap();
        assert_eq!(&circ.index[..9], &[8, 6, 7, 2, 0, 1, 5, 3, 4]);
        let valid = Window::new((4, 4), (3, 3), (1, 1), Padding::Valid).unwrap();
        assert_eq!(valid.out_positions, 4);
        assert!(!valid.index.contains(&PAD));
    }
}
