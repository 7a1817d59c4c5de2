//! The diagonal form: the recursion on same-position covariances Σ(x, x′)[p, p] only.
//!
//! Without pooling, a convolution's same-position output depends only on same-position inputs
//! (both positions move by the same tap), and an activation maps each entry with the variances
//! of its own position, so a `Flatten` readout needs P numbers per pair instead of P²:
//!
//! $$ \Sigma_{\ell+1}[p] = w^2\,\frac{1}{|F|}\sum_{k\in F}\Sigma_\ell[p + k] + b^2,\qquad
//!    K(x, x') = \frac1P\sum_p \Sigma_L[p] $$
//!
//! (Novak et al. 2019, arXiv:1810.05148, §3.1 and eq. (8) for the CNN-GP without pooling;
//! Arora et al. 2019, arXiv:1904.11955, App. "CNTK", the flatten readout "vanilla CNTK").
//!
//! A strip of `len` pairs (rows i0.. of set 1 against one image of set 2) is processed at once,
//! stored `[p][len]`, so every stencil tap and activation is a contiguous vector loop.

use super::pair::Pairing;
use super::plan::{SpatialOp, Stage};
use super::stencil::diagonal_conv_sum;

/// Work buffers of the diagonal form for strips of up to `len` pairs.
#[derive(Debug, Clone)]
pub(crate) struct DiagonalScratch {
    pub c: Vec<f64>,
    pub t: Vec<f64>,
    c_sum: Vec<f64>,
    t_sum: Vec<f64>,
    tmp: Vec<f64>,
}

impl DiagonalScratch {
    pub(crate) fn new(max_positions: usize, len: usize) -> Self {
        let size = max_positions * len;
        DiagonalScratch {
            c: vec![0.0; size],
            t: vec![0.0; size],
            c_sum: vec![0.0; size],
            t_sum: vec![0.0; size],
            tmp: vec![0.0; size],
        }
    }
}

/// Runs `stages` (Conv and activations; pooling never reaches here) on the same-position
/// covariances in `scratch.c` (Σ) and `scratch.t` (Θ), `[p][len]`, in place.
#[inline(always)]
pub(crate) fn run_stages(
    stages: &[Stage],
    len: usize,
    scratch: &mut DiagonalScratch,
    pairing: &mut Pairing<'_>,
) {
    for stage in stages {
        match &stage.op {
            SpatialOp::Conv { h, w, affine } => {
                let size = h.n_out * w.n_out * len;
                diagonal_conv_sum(h, w, len, &scratch.c, &mut scratch.tmp, &mut scratch.c_sum);
                diagonal_conv_sum(h, w, len, &scratch.t, &mut scratch.tmp, &mut scratch.t_sum);
                let scale = 1.0 / (h.taps * w.taps) as f64;
                let sums = scratch.c_sum[..size].iter().zip(&scratch.t_sum[..size]);
                for ((c, t), (cs, ts)) in scratch.c[..size]
                    .iter_mut()
                    .zip(scratch.t[..size].iter_mut())
                    .zip(sums)
                {
                    (*c, *t) = affine.apply(scale * cs, scale * ts);
                }
            }
            SpatialOp::Act { act, index } => {
                let p_count = stage.input.0 * stage.input.1;
                pairing.diagonal_act(
                    *act,
                    *index,
                    p_count,
                    len,
                    &mut scratch.c[..p_count * len],
                    &mut scratch.t[..p_count * len],
                );
            }
            // The plan switches to this form only after the last pooling layer.
            SpatialOp::ToDiagonal | SpatialOp::Pool { .. } => {
                debug_assert!(matches!(stage.op, SpatialOp::ToDiagonal));
            }
        }
    }
}

/// The `Flatten` readout: the mean over the `p_count` positions, per pair, into `c_out`, `t_out`.
#[inline(always)]
pub(crate) fn flatten(
    scratch: &DiagonalScratch,
    p_count: usize,
    len: usize,
    c_out: &mut [f64],
    t_out: &mut [f64],
) {
    c_out[..len].fill(0.0);
    t_out[..len].fill(0.0);
    for p in 0..p_count {
        let range = p * len..(p + 1) * len;
        super::stencil::add_assign(&mut c_out[..len], &scratch.c[range.clone()]);
        super::stencil::add_assign(&mut t_out[..len], &scratch.t[range]);
    }
    let scale = 1.0 / p_count as f64;
    for (c, t) in c_out[..len].iter_mut().zip(t_out[..len].iter_mut()) {
        *c *= scale;
        *t *= scale;
    }
}
