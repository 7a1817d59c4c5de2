//! The full form: the recursion on the covariance of every pair of positions, Σ(x, x′)[p, p′].
//!
//! Needed when pooling mixes positions: `AvgPool` averages over pairs of window taps and
//! `GlobalAvgPool` reads out the mean over all pairs,
//!
//! $$ \Sigma_{\ell+1} = w^2\,\mathcal A_{\rm conv}(\Sigma_\ell) + b^2,\quad
//!    \Theta_{\ell+1} = \Sigma_{\ell+1} + w^2\,\mathcal A_{\rm conv}(\Theta_\ell),\qquad
//!    K_{\rm GAP}(x, x') = \frac{1}{P^2}\sum_{p, p'}\Sigma_L[p, p'] $$
//!
//! (Novak et al. 2019, arXiv:1810.05148, eq. (7) and §3.2 "global average pooling"; Arora et al.
//! 2019, arXiv:1904.11955, App. "CNTK", CNTK-GAP). One pair is processed at a time in
//! `[h][h′][w][w′]` layout: each output block (oh, oh′) of a convolution is formed from the
//! input blocks of its taps (H pass), its rows (W pass), then the affine map and, fused in the
//! same cache-resident block, the following activation. Memory: four P² buffers per worker.

use super::diagonal::{self, DiagonalScratch};
use super::pair::Pairing;
use super::plan::{Plan, SpatialOp, Stage};
use super::stencil::{full_conv_block, full_pool_block};
use crate::Activation;
use crate::analytic::dual_diagonal;
use crate::analytic::recursion::{PointFeatures, activation_strip};

/// Work buffers of the full form for one pair.
#[derive(Debug, Clone)]
pub(crate) struct FullScratch {
    c: Vec<f64>,
    t: Vec<f64>,
    c_next: Vec<f64>,
    t_next: Vec<f64>,
    tmp: Vec<f64>,
    tmp2: Vec<f64>,
    diagonal: DiagonalScratch,
}

impl FullScratch {
    pub(crate) fn new(plan: &Plan) -> Self {
        let size = plan.max_full_len();
        let side = (plan.image.1).max(
            plan.stages
                .iter()
                .map(|s| s.input.1.max(s.output.1))
                .max()
                .unwrap_or(0),
        );
        FullScratch {
            c: vec![0.0; size],
            t: vec![0.0; size],
            c_next: vec![0.0; size],
            t_next: vec![0.0; size],
            tmp: vec![0.0; side * side],
            tmp2: vec![0.0; side * side],
            diagonal: DiagonalScratch::new(plan.max_positions(), 1),
        }
    }
}

/// Applies `act` to block (h1, h2) (W × W entries, rows w1, columns w2): entry (w1, w2) pairs
/// position h1·W + w1 of the first image (features `single`, offset `base_single`) with
/// position h2·W + w2 of the second (features `row`, offset `base_row`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn act_block(
    act: Activation,
    row: &PointFeatures,
    base_row: usize,
    single: &PointFeatures,
    base_single: usize,
    (h1, h2): (usize, usize),
    w: usize,
    c: &mut [f64],
    t: &mut [f64],
) {
    for w1 in 0..w {
        activation_strip(
            act,
            row,
            single,
            base_row + h2 * w,
            base_single + h1 * w + w1,
            &mut c[w1 * w..(w1 + 1) * w],
            &mut t[w1 * w..(w1 + 1) * w],
        );
    }
}

/// Sum of a slice with eight interleaved accumulators (a fixed order, vectorisable).
#[inline(always)]
fn sum(values: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a += *v;
        }
    }
    let mut total =
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for v in rest {
        total += *v;
    }
    total
}

/// Applies a (non-fused) spatial activation to the whole full state of `(h, w)` positions.
#[inline(always)]
fn act_state(
    act: Activation,
    index: usize,
    (h, w): (usize, usize),
    c: &mut [f64],
    t: &mut [f64],
    pairing: &mut Pairing<'_>,
) {
    let p_count = h * w;
    let block = w * w;
    let diagonal_at = |pos: usize| {
        let (ph, pw) = (pos / w, pos % w);
        ((ph * h + ph) * w + pw) * w + pw
    };
    match pairing {
        Pairing::SelfPair(record) => {
            let q = &mut record.spatial_q[index];
            let mut theta_diagonal = vec![0.0; p_count];
            for pos in 0..p_count {
                q[pos] = c[diagonal_at(pos)];
                theta_diagonal[pos] = t[diagonal_at(pos)];
            }
            let features = PointFeatures::from_variances(&act, q);
            for h1 in 0..h {
                for h2 in 0..h {
                    let range = (h1 * h + h2) * block..(h1 * h + h2 + 1) * block;
                    act_block(
                        act,
                        &features,
                        0,
                        &features,
                        0,
                        (h1, h2),
                        w,
                        &mut c[range.clone()],
                        &mut t[range],
                    );
                }
            }
            // Same-position entries exactly: E σ(u)², E σ'(u)² at u ~ N(0, q).
            for pos in 0..p_count {
                let e = dual_diagonal(&act, q[pos]);
                c[diagonal_at(pos)] = e.nngp;
                t[diagonal_at(pos)] = theta_diagonal[pos] * e.ntk_dot;
            }
        }
        Pairing::Single { f1, f2, i1, i2 } => {
            let (g1, g2) = (&f1.spatial[index], &f2.spatial[index]);
            for h1 in 0..h {
                for h2 in 0..h {
                    let range = (h1 * h + h2) * block..(h1 * h + h2 + 1) * block;
                    act_block(
                        act,
                        g2,
                        *i2 * p_count,
                        g1,
                        *i1 * p_count,
                        (h1, h2),
                        w,
                        &mut c[range.clone()],
                        &mut t[range],
                    );
                }
            }
        }
        Pairing::Strip { .. } => debug_assert!(false, "the full form runs one pair at a time"),
    }
}

/// Σ(a, b) and Θ(a, b) at the output for images `a` (of set 1) and `b` (of set 2), each H·W·C
/// in NHWC order, by the full form (switching to the diagonal form at a
/// [`SpatialOp::ToDiagonal`]).
#[inline(always)]
pub(crate) fn run_pair(
    plan: &Plan,
    a: &[f64],
    b: &[f64],
    scratch: &mut FullScratch,
    pairing: &mut Pairing<'_>,
) -> (f64, f64) {
    let (hh, ww, cc) = plan.image;
    let inv_c = 1.0 / cc as f64;
    // Σ⁽⁰⁾[h, h′, w, w′] = Σ_c a[h, w, c] b[h′, w′, c] / C, Θ⁽⁰⁾ = 0.
    for h in 0..hh {
        for h2 in 0..hh {
            for w in 0..ww {
                let start = ((h * hh + h2) * ww + w) * ww;
                let row = &mut scratch.c[start..start + ww];
                let pa = &a[(h * ww + w) * cc..(h * ww + w + 1) * cc];
                for (w2, entry) in row.iter_mut().enumerate() {
                    let pb = &b[(h2 * ww + w2) * cc..(h2 * ww + w2 + 1) * cc];
                    let dot: f64 = pa.iter().zip(pb).map(|(x, y)| x * y).sum();
                    *entry = dot * inv_c;
                }
            }
        }
    }
    scratch.t[..hh * hh * ww * ww].fill(0.0);
    let fuse = !matches!(pairing, Pairing::SelfPair(_));
    let stages = &plan.stages;
    let mut shape = (hh, ww);
    let mut s = 0;
    while s < stages.len() {
        let stage = &stages[s];
        match &stage.op {
            SpatialOp::Conv { h, w, affine } => {
                let next_act = match stages.get(s + 1) {
                    Some(Stage {
                        op: SpatialOp::Act { act, index },
                        ..
                    }) if fuse => Some((*act, *index)),
                    _ => None,
                };
                let (ho, wo) = (h.n_out, w.n_out);
                let block = wo * wo;
                let scale = 1.0 / (h.taps * w.taps) as f64;
                for oh in 0..ho {
                    for oh2 in 0..ho {
                        let range = (oh * ho + oh2) * block..(oh * ho + oh2 + 1) * block;
                        let c_block = &mut scratch.c_next[range.clone()];
                        let t_block = &mut scratch.t_next[range];
                        full_conv_block(h, w, &scratch.c, (oh, oh2), &mut scratch.tmp, c_block);
                        full_conv_block(h, w, &scratch.t, (oh, oh2), &mut scratch.tmp, t_block);
                        for (c, t) in c_block.iter_mut().zip(t_block.iter_mut()) {
                            (*c, *t) = affine.apply(scale * *c, scale * *t);
                        }
                        if let (Some((act, index)), Pairing::Single { f1, f2, i1, i2 }) =
                            (next_act, &*pairing)
                        {
                            let p_count = ho * wo;
                            act_block(
                                act,
                                &f2.spatial[index],
                                *i2 * p_count,
                                &f1.spatial[index],
                                *i1 * p_count,
                                (oh, oh2),
                                wo,
                                c_block,
                                t_block,
                            );
                        }
                    }
                }
                std::mem::swap(&mut scratch.c, &mut scratch.c_next);
                std::mem::swap(&mut scratch.t, &mut scratch.t_next);
                shape = (ho, wo);
                if next_act.is_some() {
                    s += 1;
                }
            }
            SpatialOp::Pool { h, w } => {
                let (ho, wo) = (h.n_out, w.n_out);
                let block = wo * wo;
                let taps = (h.taps * w.taps) as f64;
                let scale = 1.0 / (taps * taps);
                for oh in 0..ho {
                    for oh2 in 0..ho {
                        let range = (oh * ho + oh2) * block..(oh * ho + oh2 + 1) * block;
                        for (src, dst) in [
                            (&scratch.c, &mut scratch.c_next),
                            (&scratch.t, &mut scratch.t_next),
                        ] {
                            let out = &mut dst[range.clone()];
                            full_pool_block(
                                h,
                                w,
                                src,
                                (oh, oh2),
                                &mut scratch.tmp,
                                &mut scratch.tmp2,
                                out,
                            );
                            for v in out.iter_mut() {
                                *v *= scale;
                            }
                        }
                    }
                }
                std::mem::swap(&mut scratch.c, &mut scratch.c_next);
                std::mem::swap(&mut scratch.t, &mut scratch.t_next);
                shape = (ho, wo);
            }
            SpatialOp::Act { act, index } => {
                let size = shape.0 * shape.0 * shape.1 * shape.1;
                act_state(
                    *act,
                    *index,
                    shape,
                    &mut scratch.c[..size],
                    &mut scratch.t[..size],
                    pairing,
                );
            }
            SpatialOp::ToDiagonal => {
                let (h, w) = shape;
                let p_count = h * w;
                for pos in 0..p_count {
                    let (ph, pw) = (pos / w, pos % w);
                    let at = ((ph * h + ph) * w + pw) * w + pw;
                    scratch.diagonal.c[pos] = scratch.c[at];
                    scratch.diagonal.t[pos] = scratch.t[at];
                }
                let rest = &stages[s + 1..];
                diagonal::run_stages(rest, 1, &mut scratch.diagonal, pairing);
                let out = rest.last().map_or(shape, |st| st.output);
                let (mut c, mut t) = ([0.0], [0.0]);
                diagonal::flatten(&scratch.diagonal, out.0 * out.1, 1, &mut c, &mut t);
                pairing.tail(&plan.tail, &mut c, &mut t);
                return (c[0], t[0]);
            }
        }
        s += 1;
    }
    // Global average pooling: the mean over all pairs of positions.
    let size = shape.0 * shape.0 * shape.1 * shape.1;
    let scale = 1.0 / size as f64;
    let mut c = [sum(&scratch.c[..size]) * scale];
    let mut t = [sum(&scratch.t[..size]) * scale];
    pairing.tail(&plan.tail, &mut c, &mut t);
    (c[0], t[0])
}
