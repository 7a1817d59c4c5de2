//! The deep NNGP/NTK recursion of a fully-connected architecture, evaluated for all pairs.
//!
//! Starting from Σ⁽⁰⁾(x, x') = xᵀx'/d and Θ⁽⁰⁾ = 0, each layer maps the pair state (Σ, Θ):
//!
//! $$ \text{Dense, NTK: } \Sigma \leftarrow w^2\Sigma + b^2,\ \Theta \leftarrow \Sigma + w^2\Theta;\qquad
//!    \text{Dense, standard: } \Theta \leftarrow N_{\rm in}\Sigma + w^2\Theta + [b\ \text{present}],\ \Sigma \leftarrow w^2\Sigma + b^2; $$
//! $$ \text{activation: } \Sigma \leftarrow \mathbb E[\sigma(u)\sigma(v)],\ \Theta \leftarrow \mathbb E[\sigma'(u)\sigma'(v)]\,\Theta,
//!    \quad (u,v)\sim\mathcal N\big(0, \begin{smallmatrix}\Sigma(x,x) & \Sigma(x,x')\\ \Sigma(x,x') & \Sigma(x',x')\end{smallmatrix}\big). $$
//!
//! Implementation: the Gram matrix by one faer GEMM written into the NNGP output, then row×column
//! tiles processed in parallel (rayon), each tile running all layers on a strip of entries held
//! in stack buffers and writing its results (and, for a self kernel, their mirror images) straight
//! into the outputs. The per-point diagonals Σ(x,x) of every layer are computed once, exactly
//! (c = q), so a self kernel's diagonal is exact.

use super::arc;
use super::dual::{HermiteCoefficients, dual, dual_diagonal};
use super::quadrature::correlation;
use crate::error::check_finite_mat;
use crate::{Activation, Architecture, Error, Layer, Parameterization, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Which kernels to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Get {
    /// The NNGP kernel Σ (after the readout).
    pub nngp: bool,
    /// The neural tangent kernel Θ (after the readout).
    pub ntk: bool,
}

impl Get {
    /// Both kernels.
    pub const BOTH: Get = Get {
        nngp: true,
        ntk: true,
    };
}

/// The kernels of an architecture on a pair of point sets (n₁ × n₂ matrices).
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    /// Σ⁽ᴸ⁾(x1ᵢ, x2ⱼ), if requested.
    pub nngp: Option<Mat<f64>>,
    /// Θ⁽ᴸ⁾(x1ᵢ, x2ⱼ), if requested.
    pub ntk: Option<Mat<f64>>,
}

/// One step of the recursion with its constants.
#[derive(Debug, Clone, Copy)]
enum Step {
    Dense {
        w2: f64,
        b2: f64,
        /// N_in (standard parameterization only).
        n_in: f64,
        /// 1 if a bias parameter exists (standard parameterization only).
        bias_grad: f64,
        standard: bool,
    },
    Act(Activation),
}

fn compile(arch: &Architecture, d: usize) -> Vec<Step> {
    let standard = arch.parameterization() == Parameterization::Standard;
    let mut n_in = d as f64;
    let mut steps = Vec::with_capacity(arch.layers().len());
    for layer in arch.layers() {
        match *layer {
            Layer::Dense {
                width,
                w_std,
                b_std,
            } => {
                steps.push(Step::Dense {
                    w2: w_std * w_std,
                    b2: b_std.map_or(0.0, |b| b * b),
                    n_in,
                    bias_grad: if b_std.is_some() { 1.0 } else { 0.0 },
                    standard,
                });
                n_in = width as f64;
            }
            Layer::Activation(act) => steps.push(Step::Act(act)),
        }
    }
    steps
}

/// One Dense step on a pair state.
#[inline(always)]
fn dense(
    step_w2: f64,
    b2: f64,
    n_in: f64,
    bias_grad: f64,
    standard: bool,
    c: &mut f64,
    t: &mut f64,
) {
    if standard {
        *t = n_in * *c + step_w2 * *t + bias_grad;
        *c = step_w2 * *c + b2;
    } else {
        *c = step_w2 * *c + b2;
        *t = *c + step_w2 * *t;
    }
}

/// Per-point quantities of one activation step (pre-activation variance q = Σ(x, x)).
#[derive(Debug, Clone, Default)]
pub(crate) struct PointFeatures {
    q: Vec<f64>,
    /// √q.
    sqrt_q: Vec<f64>,
    /// 1/√q (0 when q = 0).
    rsqrt_q: Vec<f64>,
    /// 1 when q > 0, else 0.
    nonzero: Vec<f64>,
    /// E σ'(u): mean slope (a + b)/2 when q > 0, σ'(0) when q = 0 (piecewise linear).
    mean_slope: Vec<f64>,
    /// 1/√(1 + 2q) (erf).
    erf_scale: Vec<f64>,
    /// Hermite coefficients of σ and σ' at q (quadrature activations only, else empty).
    hermite: Vec<HermiteCoefficients>,
}

impl PointFeatures {
    /// The per-point quantities of `act` for pre-activation variances `q` (negative values read
    /// as 0), one entry per point in the order given: the same formulas as the per-point
    /// diagonal of the dense recursion.
    pub(crate) fn from_variances(act: &Activation, q: &[f64]) -> PointFeatures {
        let (a, b) = act.piecewise_linear().unwrap_or((0.0, 0.0));
        let q: Vec<f64> = q.iter().map(|v| v.max(0.0)).collect();
        PointFeatures {
            sqrt_q: q.iter().map(|v| v.sqrt()).collect(),
            rsqrt_q: q
                .iter()
                .map(|&v| if v > 0.0 { 1.0 / v.sqrt() } else { 0.0 })
                .collect(),
            nonzero: q.iter().map(|&v| if v > 0.0 { 1.0 } else { 0.0 }).collect(),
            mean_slope: q
                .iter()
                .map(|&v| {
                    if v > 0.0 {
                        0.5 * (a + b)
                    } else {
                        act.dphi(0.0)
                    }
                })
                .collect(),
            erf_scale: q.iter().map(|v| 1.0 / (1.0 + 2.0 * v).sqrt()).collect(),
            hermite: if uses_hermite_series(act) {
                q.iter()
                    .map(|&v| HermiteCoefficients::new(act, v))
                    .collect()
            } else {
                Vec::new()
            },
            q,
        }
    }
}

/// Activations evaluated through their Mehler series (no closed form in [`dual`]).
pub(crate) fn uses_hermite_series(act: &Activation) -> bool {
    !matches!(
        act,
        Activation::Relu
            | Activation::LeakyRelu { .. }
            | Activation::AbRelu { .. }
            | Activation::Identity
            | Activation::Erf
            | Activation::Gelu
    )
}

/// Diagonal trajectories: per-activation-step features and the final (Σ, Θ) diagonals.
struct Diagonal {
    features: Vec<PointFeatures>,
    nngp: Vec<f64>,
    ntk: Vec<f64>,
}

/// Self kernels k(x, x) bound every entry (|k(x, x')| ≤ √(k(x,x)k(x',x')) for a PSD kernel), so
/// finite diagonals mean finite outputs; an overflowing diagonal (huge inputs or w_std) is an
/// error instead of a matrix of infinities and NaNs.
fn check_overflow(arg: &'static str, diag: &Diagonal) -> Result<()> {
    for (which, values) in [("NNGP", &diag.nngp), ("NTK", &diag.ntk)] {
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidParameter {
                arg,
                value: format!("row {index}: {which} k(x, x) = {}", values[index]),
                reason: "the kernel overflows; rescale the inputs, w_std or b_std",
            });
        }
    }
    Ok(())
}

fn diagonal(steps: &[Step], x: MatRef<'_, f64>) -> Diagonal {
    let n = x.nrows();
    let d = x.ncols() as f64;
    let n_act = steps.iter().filter(|s| matches!(s, Step::Act(_))).count();
    let mut features: Vec<PointFeatures> = (0..n_act)
        .map(|_| PointFeatures {
            q: vec![0.0; n],
            sqrt_q: vec![0.0; n],
            rsqrt_q: vec![0.0; n],
            nonzero: vec![0.0; n],
            mean_slope: vec![0.0; n],
            erf_scale: vec![0.0; n],
            hermite: Vec::new(),
        })
        .collect();
    let mut nngp = vec![0.0; n];
    let mut ntk = vec![0.0; n];
    for i in 0..n {
        let mut c = (0..x.ncols()).map(|k| x[(i, k)] * x[(i, k)]).sum::<f64>() / d;
        let mut t = 0.0;
        let mut act_idx = 0;
        for step in steps {
            match *step {
                Step::Dense {
                    w2,
                    b2,
                    n_in,
                    bias_grad,
                    standard,
                } => dense(w2, b2, n_in, bias_grad, standard, &mut c, &mut t),
                Step::Act(act) => {
                    let f = &mut features[act_idx];
                    let q = c.max(0.0);
                    f.q[i] = q;
                    f.sqrt_q[i] = q.sqrt();
                    f.rsqrt_q[i] = if q > 0.0 { 1.0 / q.sqrt() } else { 0.0 };
                    f.nonzero[i] = if q > 0.0 { 1.0 } else { 0.0 };
                    let (a, b) = act.piecewise_linear().unwrap_or((0.0, 0.0));
                    f.mean_slope[i] = if q > 0.0 {
                        0.5 * (a + b)
                    } else {
                        act.dphi(0.0)
                    };
                    f.erf_scale[i] = 1.0 / (1.0 + 2.0 * q).sqrt();
                    let e = if uses_hermite_series(&act) {
                        // Same coefficients and series as every off-diagonal entry.
                        let coefficients = HermiteCoefficients::new(&act, q);
                        let e = coefficients.dual(&coefficients, 1.0);
                        f.hermite.push(coefficients);
                        e
                    } else {
                        dual_diagonal(&act, q)
                    };
                    c = e.nngp;
                    t *= e.ntk_dot;
                    act_idx += 1;
                }
            }
        }
        nngp[i] = c;
        ntk[i] = t;
    }
    Diagonal {
        features,
        nngp,
        ntk,
    }
}

/// Strip length of a tile (entries kept in stack buffers).
const TILE: usize = 128;

/// Runs all steps on a strip of entries (rows `rows` of set 1 against point `j` of set 2).
/// On entry `c` holds Σ⁽⁰⁾; on exit `c` = Σ, `t` = Θ.
#[inline(always)]
fn run_strip(
    steps: &[Step],
    feats1: &[PointFeatures],
    feats2: &[PointFeatures],
    row0: usize,
    j: usize,
    c: &mut [f64],
    t: &mut [f64],
) {
    let len = c.len();
    let t = &mut t[..len];
    t.fill(0.0);
    let mut act_idx = 0;
    for step in steps {
        match *step {
            Step::Dense {
                w2,
                b2,
                n_in,
                bias_grad,
                standard,
            } => {
                if standard {
                    for (ck, tk) in c.iter_mut().zip(t.iter_mut()) {
                        *tk = n_in * *ck + w2 * *tk + bias_grad;
                        *ck = w2 * *ck + b2;
                    }
                } else {
                    for (ck, tk) in c.iter_mut().zip(t.iter_mut()) {
                        *ck = w2 * *ck + b2;
                        *tk = *ck + w2 * *tk;
                    }
                }
            }
            Step::Act(act) => {
                activation_strip(act, &feats1[act_idx], &feats2[act_idx], row0, j, c, t);
                act_idx += 1;
            }
        }
    }
}

/// One activation step on a strip of entries: rows `row0..row0 + c.len()` of `f1` against the
/// single point `j` of `f2` (pre-activation covariances in `c`, Θ in `t`, both updated in place):
/// c ← E σ(u)σ(v), t ← E σ'(u)σ'(v)·t. Shared by the dense tiles and the convolutional kernels
/// (where "points" are (image, position) pairs).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn activation_strip(
    act: Activation,
    f1: &PointFeatures,
    f2: &PointFeatures,
    row0: usize,
    j: usize,
    c: &mut [f64],
    t: &mut [f64],
) {
    let len = c.len();
    let t = &mut t[..len];
    let rows = row0..row0 + len;
    match act {
        Activation::Relu
        | Activation::LeakyRelu { .. }
        | Activation::AbRelu { .. }
        | Activation::Identity => {
            let (a, b) = act.piecewise_linear().unwrap_or((0.0, 1.0));
            piecewise_linear_strip(a, b, f1, f2, rows, j, c, t);
        }
        Activation::Erf => {
            let scale2 = f2.erf_scale[j];
            let (q2, r2) = (f2.q[j], f2.rsqrt_q[j]);
            let len = c.len();
            let scale1 = &f1.erf_scale[rows.clone()][..len];
            let q1s = &f1.q[rows.clone()][..len];
            let r1s = &f1.rsqrt_q[rows][..len];
            let t = &mut t[..len];
            for k in 0..len {
                let ck = c[k];
                let arg = (2.0 * ck * (scale1[k] * scale2)).clamp(-1.0, 1.0);
                // (1+2q₁)(1+2q₂) − 4c² = 1 + 2q₁ + 2q₂ + 4(1−ρ)(1+ρ)q₁q₂: no
                // cancellation as |ρ| → 1 at large q (1 − arg² would round to 0).
                // The factor (1−ρ)(1+ρ) multiplies first, so |ρ| = 1 at q₁q₂ > f64::MAX
                // gives 0, not ∞·0 = NaN.
                let rho = (ck * r1s[k] * r2).clamp(-1.0, 1.0);
                let q1 = q1s[k];
                let det = 1.0 + 2.0 * (q1 + q2) + 4.0 * ((1.0 - rho) * (1.0 + rho)) * q1 * q2;
                c[k] = 2.0 / PI * arc::asin_fused(arg);
                t[k] *= 4.0 / PI / det.sqrt();
            }
        }
        Activation::Gelu => {
            let q2 = f2.q[j];
            let r2 = f2.rsqrt_q[j];
            let q1s = &f1.q[rows.clone()];
            let r1s = &f1.rsqrt_q[rows];
            for (((ck, tk), &q1), &r1) in c.iter_mut().zip(t.iter_mut()).zip(q1s).zip(r1s) {
                let (nngp, ntk_dot) = gelu_entry(q1, q2, r1 * r2, *ck);
                *ck = nngp;
                *tk *= ntk_dot;
            }
        }
        _ => {
            let q2 = f2.q[j];
            let h2 = &f2.hermite[j];
            for (k, (ck, tk)) in c.iter_mut().zip(t.iter_mut()).enumerate() {
                let i = row0 + k;
                let rho = correlation(f1.q[i], q2, *ck);
                let e = f1.hermite[i].dual(h2, rho);
                *ck = e.nngp;
                *tk *= e.ntk_dot;
            }
        }
    }
}

/// Arc-cosine step for σ = a·min(x,0) + b·max(x,0) on a strip (branch-free).
#[inline(always)]
fn piecewise_linear_strip(
    a: f64,
    b: f64,
    f1: &PointFeatures,
    f2: &PointFeatures,
    rows: std::ops::Range<usize>,
    j: usize,
    c: &mut [f64],
    t: &mut [f64],
) {
    let (sum_sq, cross) = ((a * a + b * b) / (2.0 * PI), 2.0 * a * b / (2.0 * PI));
    let (sq2, r2, z2, m2) = (f2.sqrt_q[j], f2.rsqrt_q[j], f2.nonzero[j], f2.mean_slope[j]);
    let len = c.len();
    let sq1 = &f1.sqrt_q[rows.clone()][..len];
    let r1 = &f1.rsqrt_q[rows.clone()][..len];
    let z1 = &f1.nonzero[rows.clone()][..len];
    let m1 = &f1.mean_slope[rows][..len];
    let t = &mut t[..len];
    for k in 0..len {
        let rho = arc::snap_correlation(c[k] * r1[k] * r2);
        let theta = arc::acos_fused(rho);
        let sin = (1.0 - rho * rho).max(0.0).sqrt();
        let pi_minus = PI - theta;
        c[k] = sq1[k] * sq2 * (sum_sq * (sin + pi_minus * rho) - cross * (sin - theta * rho));
        let both = z1[k] * z2;
        let slope = both * (sum_sq * pi_minus + cross * theta) + (1.0 - both) * m1[k] * m2;
        t[k] *= slope;
    }
}

/// GELU dual with the fast arcsine (see [`super::dual`] for the formula).
#[inline(always)]
fn gelu_entry(q1: f64, q2: f64, rsqrt_prod: f64, c: f64) -> (f64, f64) {
    let sqrt_prod = (q1 * q2).sqrt();
    let rho = (c * rsqrt_prod).clamp(-1.0, 1.0);
    let c = rho * sqrt_prod;
    let p = (1.0 + q1) * (1.0 + q2);
    // p − c² = 1 + q₁ + q₂ + q₁q₂(1 − ρ²), free of cancellation as |ρ| → 1.
    let gap = sqrt_prod * ((1.0 - rho) * (1.0 + rho)).sqrt();
    let d2 = 1.0 + q1 + q2 + gap * gap;
    let d = d2.sqrt();
    let angle = arc::asin_fused(c / p.sqrt());
    let q12 = q1 * q2;
    (
        0.25 * c + ((c * c + q12 * d2) / (p * d) + c * angle) / (2.0 * PI),
        0.25 + angle / (2.0 * PI) + c / (2.0 * PI * d) * (1.0 / d2 + (1.0 - q12) / p + 1.0),
    )
}

fn validate<'a>(x1: MatRef<'a, f64>, x2: Option<MatRef<'a, f64>>) -> Result<()> {
    if x1.nrows() == 0 || x1.ncols() == 0 {
        return Err(Error::Empty { arg: "x1" });
    }
    check_finite_mat("x1", x1)?;
    if let Some(x2) = x2 {
        if x2.nrows() == 0 {
            return Err(Error::Empty { arg: "x2" });
        }
        if x2.ncols() != x1.ncols() {
            return Err(Error::ShapeMismatch {
                arg: "x2",
                expected: format!("{} columns (the dimension of x1)", x1.ncols()),
                found: format!("{} columns", x2.ncols()),
            });
        }
        check_finite_mat("x2", x2)?;
    }
    Ok(())
}

/// Mutable pieces of the outputs owned by one tile.
#[derive(Default)]
struct Tile<'a> {
    rows: (usize, usize),
    cols: (usize, usize),
    /// Column j ∈ cols, rows `rows` (one per column, in order), for the NNGP and NTK outputs.
    direct: [Vec<&'a mut [f64]>; 2],
    /// Self kernels, off-diagonal tiles: column i ∈ rows, rows `cols` (the mirror image).
    mirror: [Vec<&'a mut [f64]>; 2],
}

fn column_slices(m: &mut Mat<f64>) -> Result<Vec<&mut [f64]>> {
    m.as_mut()
        .col_iter_mut()
        .map(|col| {
            col.try_as_col_major_mut()
                .map(|c| c.as_slice_mut())
                .ok_or_else(|| Error::LinearAlgebra("output column is not contiguous".into()))
        })
        .collect()
}

/// Read-only inputs shared by every tile.
struct TileInputs<'a> {
    steps: &'a [Step],
    x1: MatRef<'a, f64>,
    x2: MatRef<'a, f64>,
    inv_dim: f64,
    diag1: &'a Diagonal,
    feats2: &'a [PointFeatures],
    symmetric: bool,
}

/// Column-major TILE × TILE scratch blocks of one worker (Σ and Θ of the tile).
struct Scratch {
    nngp: Vec<f64>,
    ntk: Vec<f64>,
}

/// One tile: Σ⁽⁰⁾ of the block by a sequential GEMM, every layer on each column strip, then the
/// block (and, off the diagonal of a self kernel, its transpose) copied into the outputs.
///
/// Always inlined into the SIMD-dispatched closure so that the strip loops are compiled with
/// the widest instruction set the CPU offers. Every entry takes the same path whatever the tile
/// shape or the number of threads, so the result is bit-identical across thread counts.
#[inline(always)]
fn process_tile(inputs: &TileInputs<'_>, tile: &mut Tile<'_>, scratch: &mut Scratch) {
    let (r0, r1) = tile.rows;
    let (c0, c1) = tile.cols;
    let (n_rows, n_cols) = (r1 - r0, c1 - c0);
    let diagonal_tile = inputs.symmetric && r0 == c0;
    let Scratch { nngp, ntk } = scratch;
    matmul(
        MatMut::from_column_major_slice_with_stride_mut(
            &mut nngp[..(n_cols - 1) * TILE + n_rows],
            n_rows,
            n_cols,
            TILE,
        ),
        Accum::Replace,
        inputs.x1.subrows(r0, n_rows),
        inputs.x2.subrows(c0, n_cols).transpose(),
        inputs.inv_dim,
        Par::Seq,
    );
    for jj in 0..n_cols {
        let j = c0 + jj;
        let len = if diagonal_tile { jj } else { n_rows };
        let col = jj * TILE;
        run_strip(
            inputs.steps,
            &inputs.diag1.features,
            inputs.feats2,
            r0,
            j,
            &mut nngp[col..col + len],
            &mut ntk[col..col + len],
        );
        if diagonal_tile {
            nngp[col + jj] = inputs.diag1.nngp[j];
            ntk[col + jj] = inputs.diag1.ntk[j];
        }
    }
    if diagonal_tile {
        // Lower triangle of the diagonal block from its upper triangle.
        for jj in 0..n_cols {
            for ii in 0..jj {
                nngp[jj + ii * TILE] = nngp[ii + jj * TILE];
                ntk[jj + ii * TILE] = ntk[ii + jj * TILE];
            }
        }
    }
    for (slot, block) in [&*nngp, &*ntk].into_iter().enumerate() {
        for (jj, out) in tile.direct[slot].iter_mut().enumerate() {
            out.copy_from_slice(&block[jj * TILE..jj * TILE + n_rows]);
        }
        // Transpose-copy: output column r0 + ii receives row ii of the block (strided reads
        // from the cache-resident block, contiguous writes).
        for (ii, out) in tile.mirror[slot].iter_mut().enumerate() {
            for (jj, o) in out.iter_mut().enumerate() {
                *o = block[ii + jj * TILE];
            }
        }
    }
}

/// [`process_tile`] as a `pulp` operation: `with_simd` is compiled once per instruction set and
/// chosen at run time, with everything inlined into it.
struct TileOp<'s, 'a, 't> {
    inputs: &'s TileInputs<'a>,
    tile: &'s mut Tile<'t>,
    scratch: &'s mut Scratch,
}

impl pulp::WithSimd for TileOp<'_, '_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        process_tile(self.inputs, self.tile, self.scratch);
    }
}

/// The NNGP and NTK matrices of `arch` between the rows of `x1` (n₁ × d) and of `x2` (n₂ × d;
/// `None` for the self kernel of `x1`, computed once per symmetric pair with an exact diagonal).
///
/// $$ \Sigma^{(0)} = \tfrac1d x x'^{\top},\ \Theta^{(0)} = 0;\quad
///    \Sigma \leftarrow w^2\Sigma + b^2,\ \Theta \leftarrow \Sigma + w^2\Theta\ (\text{Dense});\quad
///    \Sigma \leftarrow \mathbb E\sigma(u)\sigma(v),\ \Theta \leftarrow \mathbb E\sigma'(u)\sigma'(v)\,\Theta\ (\sigma) $$
///
/// (standard parameterization: Θ ← N_in Σ + w²Θ + (bias), Σ ← w²Σ + b²), exactly as
/// neural-tangents 0.6.5's `stax.serial(...)` `kernel_fn(x1, x2, ('nngp', 'ntk'))`.
///
/// Work is split into 128 × 128 tiles processed in parallel (rayon); each tile forms its block
/// of Σ⁽⁰⁾ by a small GEMM and runs the recursion on contiguous column strips. The result does
/// not depend on the number of threads.
///
/// # Errors
/// Empty inputs, non-finite entries, x1/x2 dimension mismatch.
///
/// # Reference
/// Jacot et al. 2018, arXiv:1806.07572, Thm 1; Lee et al. 2018, arXiv:1711.00165, eq. (5);
/// Arora et al. 2019, arXiv:1904.11955, Thm 3.1 and eq. (7); Novak et al. 2020, arXiv:1912.02803.
pub fn kernel(
    arch: &Architecture,
    x1: MatRef<'_, f64>,
    x2: Option<MatRef<'_, f64>>,
    get: Get,
) -> Result<Kernel> {
    validate(x1, x2)?;
    let d = x1.ncols();
    let steps = compile(arch, d);
    let symmetric = x2.is_none();
    let x2r = x2.unwrap_or(x1);
    let (n1, n2) = (x1.nrows(), x2r.nrows());
    if !get.nngp && !get.ntk {
        return Ok(Kernel {
            nngp: None,
            ntk: None,
        });
    }
    let diag1 = diagonal(&steps, x1);
    check_overflow("x1", &diag1)?;
    let diag2 = if symmetric {
        None
    } else {
        let diag2 = diagonal(&steps, x2r);
        check_overflow("x2", &diag2)?;
        Some(diag2)
    };
    let feats2 = diag2.as_ref().map_or(&diag1.features, |dg| &dg.features);

    // The outputs are zero-filled (and their pages first touched) by two threads at once.
    let allocate = |wanted: bool| wanted.then(|| Mat::<f64>::zeros(n1, n2));
    let (mut nngp, mut ntk) = rayon::join(|| allocate(get.nngp), || allocate(get.ntk));

    let blocks1 = n1.div_ceil(TILE);
    let blocks2 = n2.div_ceil(TILE);
    let mut tiles: Vec<Tile<'_>> = (0..blocks1 * blocks2)
        .filter_map(|idx| {
            let (bi, bj) = (idx / blocks2, idx % blocks2);
            (!symmetric || bi <= bj).then(|| Tile {
                rows: (bi * TILE, ((bi + 1) * TILE).min(n1)),
                cols: (bj * TILE, ((bj + 1) * TILE).min(n2)),
                ..Tile::default()
            })
        })
        .collect();
    // Index of tile (bi, bj) in `tiles` (upper block triangle only for a self kernel).
    let tile_index = |bi: usize, bj: usize| {
        if symmetric {
            bi * blocks2 - bi * (bi + 1) / 2 + bj
        } else {
            bi * blocks2 + bj
        }
    };
    for (slot, m) in [nngp.as_mut(), ntk.as_mut()].into_iter().enumerate() {
        let Some(m) = m else { continue };
        for (col_idx, col) in column_slices(m)?.into_iter().enumerate() {
            let col_block = col_idx / TILE;
            for (row_block, piece) in col.chunks_mut(TILE).enumerate() {
                if !symmetric || row_block <= col_block {
                    tiles[tile_index(row_block, col_block)].direct[slot].push(piece);
                } else {
                    tiles[tile_index(col_block, row_block)].mirror[slot].push(piece);
                }
            }
        }
    }

    let inputs = TileInputs {
        steps: &steps,
        x1,
        x2: x2r,
        inv_dim: 1.0 / d as f64,
        diag1: &diag1,
        feats2,
        symmetric,
    };
    let arch_simd = pulp::Arch::new();
    tiles.par_iter_mut().for_each_init(
        || Scratch {
            nngp: vec![0.0; TILE * TILE],
            ntk: vec![0.0; TILE * TILE],
        },
        |scratch, tile| {
            arch_simd.dispatch(TileOp {
                inputs: &inputs,
                tile,
                scratch,
            })
        },
    );
    drop(tiles);
    Ok(Kernel { nngp, ntk })
}

/// The diagonals Σ⁽ᴸ⁾(x, x) and Θ⁽ᴸ⁾(x, x) of the self kernel of `x` (one entry per row), exact
/// (c = q at every layer: ReLU gives E σ(u)² = q/2, E σ'(u)² = ½).
///
/// $$ q \leftarrow w^2 q + b^2,\ \tau \leftarrow q + w^2\tau\ (\text{Dense}); \quad
///    q \leftarrow \mathbb E\sigma(u)^2,\ \tau \leftarrow \mathbb E\sigma'(u)^2\,\tau,\ u\sim\mathcal N(0,q) $$
///
/// # Errors
/// Empty or non-finite input.
///
/// # Reference
/// Arora et al. 2019, arXiv:1904.11955, Thm 3.1 at x = x'.
pub fn kernel_diagonal(arch: &Architecture, x: MatRef<'_, f64>) -> Result<(Vec<f64>, Vec<f64>)> {
    validate(x, None)?;
    let steps = compile(arch, x.ncols());
    let diag = diagonal(&steps, x);
    check_overflow("x", &diag)?;
    Ok((diag.nngp, diag.ntk))
}

/// The kernels after one layer of the architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerKernel {
    /// Σ after the layer (pre-activation after a Dense, E(σσ) after an activation).
    pub nngp: Mat<f64>,
    /// Θ after the layer.
    pub ntk: Mat<f64>,
    /// Σ̇ = E[σ'(u)σ'(v)] of an activation layer (`None` after a Dense).
    pub ntk_dot: Option<Mat<f64>>,
}

/// Σ⁽ʰ⁾, Σ̇⁽ʰ⁾ and Θ⁽ʰ⁾ after every layer (the kernels of each prefix `stax.serial(layers[..=h])`),
/// by the same recursion as [`kernel`] evaluated entry by entry (meant for tests and reports on
/// small sets: O(L n₁ n₂) scalar work).
///
/// # Errors
/// Empty or non-finite inputs, x1/x2 dimension mismatch.
///
/// # Reference
/// Arora et al. 2019, arXiv:1904.11955, eq. (3)–(7); Novak et al. 2020, arXiv:1912.02803.
pub fn kernel_layerwise(
    arch: &Architecture,
    x1: MatRef<'_, f64>,
    x2: Option<MatRef<'_, f64>>,
) -> Result<Vec<LayerKernel>> {
    validate(x1, x2)?;
    let d = x1.ncols();
    let steps = compile(arch, d);
    let symmetric = x2.is_none();
    let x2r = x2.unwrap_or(x1);
    let (n1, n2) = (x1.nrows(), x2r.nrows());
    let sq_norm = |x: MatRef<'_, f64>, i: usize| {
        (0..d).map(|k| x[(i, k)] * x[(i, k)]).sum::<f64>() / d as f64
    };
    let mut q1: Vec<f64> = (0..n1).map(|i| sq_norm(x1, i)).collect();
    let mut q2: Vec<f64> = (0..n2).map(|j| sq_norm(x2r, j)).collect();
    let mut sigma = Mat::<f64>::zeros(n1, n2);
    matmul(
        sigma.as_mut(),
        Accum::Replace,
        x1,
        x2r.transpose(),
        1.0 / d as f64,
        Par::Seq,
    );
    if symmetric {
        for i in 0..n1 {
            sigma[(i, i)] = q1[i];
        }
    }
    let mut theta = Mat::<f64>::zeros(n1, n2);
    let mut out = Vec::with_capacity(steps.len());
    for step in &steps {
        match *step {
            Step::Dense {
                w2,
                b2,
                n_in,
                bias_grad,
                standard,
            } => {
                for j in 0..n2 {
                    for i in 0..n1 {
                        dense(
                            w2,
                            b2,
                            n_in,
                            bias_grad,
                            standard,
                            &mut sigma[(i, j)],
                            &mut theta[(i, j)],
                        );
                    }
                }
                for q in q1.iter_mut().chain(q2.iter_mut()) {
                    *q = w2 * *q + b2;
                }
                out.push(LayerKernel {
                    nngp: sigma.clone(),
                    ntk: theta.clone(),
                    ntk_dot: None,
                });
            }
            Step::Act(act) => {
                let mut dot = Mat::<f64>::zeros(n1, n2);
                for j in 0..n2 {
                    for i in 0..n1 {
                        let e = if symmetric && i == j {
                            dual_diagonal(&act, q1[i])
                        } else {
                            dual(&act, q1[i], q2[j], sigma[(i, j)])
                        };
                        sigma[(i, j)] = e.nngp;
                        theta[(i, j)] *= e.ntk_dot;
                        dot[(i, j)] = e.ntk_dot;
                    }
                }
                for q in q1.iter_mut().chain(q2.iter_mut()) {
                    *q = dual_diagonal(&act, *q).nngp;
                }
                out.push(LayerKernel {
                    nngp: sigma.clone(),
                    ntk: theta.clone(),
                    ntk_dot: Some(dot),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Several tiles in each direction, with ragged edge tiles (300 = 2·128 + 44, 170 = 128 + 42).
    fn points(n: usize, d: usize, phase: f64) -> Mat<f64> {
        Mat::from_fn(n, d, |i, j| {
            let (a, b) = ((i + 1) as f64, (j + 1) as f64);
            (0.7 * a + 1.3 * b + phase).sin() + 0.1 * (2.1 * a * b).cos()
        })
    }

    fn architectures() -> Vec<Architecture> {
        let mut out = Vec::new();
        for act in [Activation::Relu, Activation::Erf, Activation::Gelu] {
            for param in [Parameterization::Ntk, Parameterization::Standard] {
                out.push(Architecture::mlp(3, 512, act, 2f64.sqrt(), Some(0.05), param).unwrap());
            }
        }
        out
    }

    fn run_with_threads(threads: usize, f: impl FnOnce() -> Kernel + Send) -> Kernel {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    /// The tiled, SIMD-dispatched evaluation against the entry-by-entry recursion of
    /// [`kernel_layerwise`] (scalar [`dual`] per entry, libm-free arccos in both): the two differ
    /// only in how ρ = c/√(q₁q₂) is rounded and in the GEMM summation order of Σ⁽⁰⁾, a few ulps
    /// amplified by at most ~3 per layer over 7 steps: 1e-13 relative is ample. Entries are
    /// compared with a floor of 1e-3 of the diagonal scale, as tiny erf covariances are absolute.
    #[test]
    fn tiles_match_entrywise_recursion() {
        let x1 = points(300, 7, 0.0);
        let x2 = points(170, 7, 0.4);
        for arch in architectures() {
            for x2_opt in [None, Some(x2.as_ref())] {
                let k = kernel(&arch, x1.as_ref(), x2_opt, Get::BOTH).unwrap();
                let reference = kernel_layerwise(&arch, x1.as_ref(), x2_opt).unwrap();
                let last = reference.last().unwrap();
                for (ours, theirs) in [
                    (k.nngp.as_ref().unwrap(), &last.nngp),
                    (k.ntk.as_ref().unwrap(), &last.ntk),
                ] {
                    let scale = (0..theirs.nrows().min(theirs.ncols()))
                        .map(|i| theirs[(i, i)].abs())
                        .fold(0.0, f64::max);
                    for j in 0..theirs.ncols() {
                        for i in 0..theirs.nrows() {
                            let (a, b) = (ours[(i, j)], theirs[(i, j)]);
                            let tol = 1e-13 * b.abs().max(1e-3 * scale);
                            assert!((a - b).abs() <= tol, "{arch:?} ({i}, {j}): {a} vs {b}");
                        }
                    }
                }
            }
        }
    }

    /// Bit-identical with one and two threads, and a self kernel exactly symmetric.
    #[test]
    fn bit_identical_across_thread_counts_and_symmetric() {
        let x1 = points(300, 5, 0.0);
        let x2 = points(170, 5, 0.4);
        for arch in architectures() {
            for x2_opt in [None, Some(x2.as_ref())] {
                let one =
                    run_with_threads(1, || kernel(&arch, x1.as_ref(), x2_opt, Get::BOTH).unwrap());
                let two =
                    run_with_threads(2, || kernel(&arch, x1.as_ref(), x2_opt, Get::BOTH).unwrap());
                assert_eq!(one, two, "{arch:?}");
                if x2_opt.is_none() {
                    for m in [one.nngp.as_ref().unwrap(), one.ntk.as_ref().unwrap()] {
                        for j in 0..m.ncols() {
                            for i in 0..j {
                                assert_eq!(m[(i, j)].to_bits(), m[(j, i)].to_bits());
                            }
                        }
                    }
                }
            }
        }
        // Requesting one kernel gives the same bits as requesting both.
        let arch = &architectures()[0];
        let both = kernel(arch, x1.as_ref(), None, Get::BOTH).unwrap();
        let ntk_only = kernel(
            arch,
            x1.as_ref(),
            None,
            Get {
                nngp: false,
                ntk: true,
            },
        )
        .unwrap();
        assert!(ntk_only.nngp.is_none());
        assert_eq!(ntk_only.ntk, both.ntk);
    }
}
