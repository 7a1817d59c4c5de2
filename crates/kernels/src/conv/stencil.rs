//! The linear steps of the conv recursion as separable stencils: rows, then columns.
//!
//! A convolution shifts both positions of a covariance by the same tap (the weights are shared
//! over positions and independent over taps), a pooling window shifts each position by its own:
//!
//! $$ \mathcal A_{\rm conv}(\Sigma)[o, o'] = \frac{1}{f_h f_w}\sum_{k}\Sigma[so + k - \pi,\ so' + k - \pi],\qquad
//!    \mathcal A_{\rm pool}(\Sigma)[o, o'] = \frac{1}{|w|^2}\sum_{k, k'}\Sigma[so + k - \pi,\ so' + k' - \pi], $$
//!
//! with k = (k_h, k_w) over the filter or window and π the padding before the first position
//! (Novak et al. 2019, arXiv:1810.05148, eq. (7) and §2.2; Arora et al. 2019, arXiv:1904.11955,
//! App. "CNTK", eq. for 𝒜). Both factor over the two spatial axes, so each is applied along H and
//! then along W. Here the functions return the tap *sums*; the caller applies the 1/(taps) scale.
//!
//! Layouts: the diagonal form stores Σ(x, x′)[p, p] position-major, `[p][len]` for a strip of
//! `len` pairs (p = h·W + w); the full form stores one pair as `[h][h′][w][w′]`, so that the
//! (w, w′) block of every (h, h′) is contiguous: the H pass adds whole W × W blocks and the W
//! pass adds contiguous row segments.

use super::plan::{AxisTaps, PADDED};

/// dst += src, elementwise.
#[inline(always)]
pub(crate) fn add_assign(dst: &mut [f64], src: &[f64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += *s;
    }
}

/// Diagonal form: `out[(oh, ow)][·] = Σ_{kh, kw} input[(ih, iw)][·]` for strips of `len` pairs,
/// by an H pass into `tmp` (`[oh][iw][len]`) and a W pass into `out` (`[oh][ow][len]`).
#[inline(always)]
pub(crate) fn diagonal_conv_sum(
    h: &AxisTaps,
    w: &AxisTaps,
    len: usize,
    input: &[f64],
    tmp: &mut [f64],
    out: &mut [f64],
) {
    let (wi, ho, wo) = (w.n_in, h.n_out, w.n_out);
    let row_in = wi * len;
    let tmp = &mut tmp[..ho * row_in];
    tmp.fill(0.0);
    for oh in 0..ho {
        let dst = &mut tmp[oh * row_in..(oh + 1) * row_in];
        for k in 0..h.taps {
            let ih = h.at(oh, k);
            if ih != PADDED {
                add_assign(dst, &input[ih * row_in..(ih + 1) * row_in]);
            }
        }
    }
    let row_out = wo * len;
    let out = &mut out[..ho * row_out];
    out.fill(0.0);
    for oh in 0..ho {
        let src = &tmp[oh * row_in..(oh + 1) * row_in];
        let dst_row = &mut out[oh * row_out..(oh + 1) * row_out];
        for ow in 0..wo {
            let dst = &mut dst_row[ow * len..(ow + 1) * len];
            for k in 0..w.taps {
                let iw = w.at(ow, k);
                if iw != PADDED {
                    add_assign(dst, &src[iw * len..(iw + 1) * len]);
                }
            }
        }
    }
}

/// Full form, one output block (oh, oh′) of a convolution: `out[ow][ow′] = Σ_{kh, kw}
/// input[ih][ih′][iw][iw′]` with (ih, ih′) = tap kh of (oh, oh′) and (iw, iw′) = tap kw of
/// (ow, ow′). `tmp` holds the W_in × W_in sum of the H pass; `out` is W_out × W_out.
#[inline(always)]
pub(crate) fn full_conv_block(
    h: &AxisTaps,
    w: &AxisTaps,
    input: &[f64],
    (oh, oh2): (usize, usize),
    tmp: &mut [f64],
    out: &mut [f64],
) {
    let (hi, wi, wo) = (h.n_in, w.n_in, w.n_out);
    let block = wi * wi;
    let tmp = &mut tmp[..block];
    tmp.fill(0.0);
    for k in 0..h.taps {
        let (a, b) = (h.at(oh, k), h.at(oh2, k));
        if a != PADDED && b != PADDED {
            let start = (a * hi + b) * block;
            add_assign(tmp, &input[start..start + block]);
        }
    }
    let out = &mut out[..wo * wo];
    out.fill(0.0);
    for ow in 0..wo {
        let dst_row = &mut out[ow * wo..(ow + 1) * wo];
        for k in 0..w.taps {
            let r = w.at(ow, k);
            if r == PADDED {
                continue;
            }
            let src_row = &tmp[r * wi..(r + 1) * wi];
            for seg in &w.segments[k] {
                let dst = &mut dst_row[seg.out0..seg.out0 + seg.len];
                if w.stride == 1 {
                    add_assign(dst, &src_row[seg.in0..seg.in0 + seg.len]);
                } else {
                    for (m, d) in dst.iter_mut().enumerate() {
                        *d += src_row[seg.in0 + m * w.stride];
                    }
                }
            }
        }
    }
}

/// Full form, one output block (oh, oh′) of an average pool (tap sums, unscaled): the H pass
/// sums input blocks over both window taps (kh, kh′) into `tmp` (W_in × W_in), the W′ pass
/// sums columns into `tmp2` (W_in × W_out), the W pass sums rows into `out` (W_out × W_out).
#[inline(always)]
pub(crate) fn full_pool_block(
    h: &AxisTaps,
    w: &AxisTaps,
    input: &[f64],
    (oh, oh2): (usize, usize),
    tmp: &mut [f64],
    tmp2: &mut [f64],
    out: &mut [f64],
) {
    let (hi, wi, wo) = (h.n_in, w.n_in, w.n_out);
    let block = wi * wi;
    let tmp = &mut tmp[..block];
    tmp.fill(0.0);
    for k in 0..h.taps {
        let a = h.at(oh, k);
        if a == PADDED {
            continue;
        }
        for k2 in 0..h.taps {
            let b = h.at(oh2, k2);
            if b != PADDED {
                let start = (a * hi + b) * block;
                add_assign(tmp, &input[start..start + block]);
            }
        }
    }
    let tmp2 = &mut tmp2[..wi * wo];
    tmp2.fill(0.0);
    for r in 0..wi {
        for ow2 in 0..wo {
            let mut acc = 0.0;
            for k in 0..w.taps {
                let col = w.at(ow2, k);
                if col != PADDED {
                    acc += tmp[r * wi + col];
                }
            }
            tmp2[r * wo + ow2] = acc;
        }
    }
    let out = &mut out[..wo * wo];
    out.fill(0.0);
    for ow in 0..wo {
        let dst = &mut out[ow * wo..(ow + 1) * wo];
        for k in 0..w.taps {
            let r = w.at(ow, k);
            if r != PADDED {
                add_assign(dst, &tmp2[r * wo..(r + 1) * wo]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::architecture::Padding;
    use super::*;

    /// The separable passes against the direct four-fold sum over taps, for SAME, VALID and
    /// CIRCULAR, odd and even filters and stride 2 (exact: both add the same terms, so 1e-12
    /// relative covers the different summation order).
    #[test]
    fn separable_passes_match_direct_sums() {
        let (hi, wi) = (5, 4);
        let input: Vec<f64> = (0..hi * hi * wi * wi)
            .map(|k| ((k as f64) * 0.37).sin() + 0.1)
            .collect();
        let at = |a: usize, b: usize, c: usize, d: usize| input[((a * hi + b) * wi + c) * wi + d];
        for padding in [Padding::Same, Padding::Valid, Padding::Circular] {
            for (f, s) in [((3, 2), (1, 1)), ((2, 3), (2, 2)), ((3, 3), (2, 1))] {
                let h = AxisTaps::new(hi, f.0, s.0, padding).unwrap();
                let w = AxisTaps::new(wi, f.1, s.1, padding).unwrap();
                let wo = w.n_out;
                let mut tmp = vec![0.0; wi * wi];
                let mut tmp2 = vec![0.0; wi * wo];
                let mut out = vec![0.0; wo * wo];
                for oh in 0..h.n_out {
                    for oh2 in 0..h.n_out {
                        full_conv_block(&h, &w, &input, (oh, oh2), &mut tmp, &mut out);
                        let conv_out = out.clone();
                        full_pool_block(&h, &w, &input, (oh, oh2), &mut tmp, &mut tmp2, &mut out);
                        for ow in 0..wo {
                            for ow2 in 0..wo {
                                let (mut conv, mut pool) = (0.0, 0.0);
                                for kh in 0..f.0 {
                                    for kw in 0..f.1 {
                                        let idx = [
                                            h.at(oh, kh),
                                            h.at(oh2, kh),
                                            w.at(ow, kw),
                                            w.at(ow2, kw),
                                        ];
                                        if idx.iter().all(|&i| i != PADDED) {
                                            conv += at(idx[0], idx[1], idx[2], idx[3]);
                                        }
                                        for kh2 in 0..f.0 {
                                            for kw2 in 0..f.1 {
                                                let idx = [
                                                    h.at(oh, kh),
                                                    h.at(oh2, kh2),
                                                    w.at(ow, kw),
                                                    w.at(ow2, kw2),
                                                ];
                                                if idx.iter().all(|&i| i != PADDED) {
                                                    pool += at(idx[0], idx[1], idx[2], idx[3]);
                                                }
                                            }
                                        }
                                    }
                                }
                                let (a, b) = (conv_out[ow * wo + ow2], out[ow * wo + ow2]);
                                assert!(
                                    (a - conv).abs() <= 1e-12 * conv.abs().max(1.0),
                                    "{padding:?} {f:?} {s:?}"
                                );
                                assert!(
                                    (b - pool).abs() <= 1e-12 * pool.abs().max(1.0),
                                    "{padding:?} {f:?} {s:?}"
                                );
                            }
                        }
                    }
                }
                // Diagonal form: the same-position entries of the full conv.
                let diag_in: Vec<f64> = (0..hi * wi)
                    .map(|p| at(p / wi, p / wi, p % wi, p % wi))
                    .collect();
                let mut dtmp = vec![0.0; h.n_out * wi];
                let mut dout = vec![0.0; h.n_out * wo];
                diagonal_conv_sum(&h, &w, 1, &diag_in, &mut dtmp, &mut dout);
                for oh in 0..h.n_out {
                    full_conv_block(&h, &w, &input, (oh, oh), &mut tmp, &mut out);
                    for ow in 0..wo {
                        let (a, b) = (dout[oh * wo + ow], out[ow * wo + ow]);
                        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0));
                    }
                }
            }
        }
    }
}
