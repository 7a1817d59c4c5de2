//! The NNGP and NTK matrices of a convolutional architecture for all pairs of images.
//!
//! Every image is first run with itself (recording the per-position variances that every
//! activation needs, and the exact self kernel), then every pair: in the diagonal form by strips
//! of [`STRIP`] pairs, in the full form one pair at a time, columns of the output distributed
//! over rayon workers, each with its own scratch (the only per-pair state). A self kernel is
//! computed on its upper triangle and mirrored. Every entry takes the same code path whatever
//! the number of threads, so results are bit-identical across thread counts.

use super::diagonal::{self, DiagonalScratch};
use super::full::{self, FullScratch};
use super::pair::{Pairing, SelfRecord, SetFeatures};
use super::plan::{Form, Plan};
use crate::analytic::{Get, Kernel};
use crate::error::check_finite_mat;
use crate::{ConvArchitecture, Error, Result};
use faer::{Mat, MatRef};
use rayon::prelude::*;

/// Pairs per strip of the diagonal form (`[p][STRIP]` buffers: 784 positions × 16 × 8 bytes
/// ≈ 100 kB per buffer, resident in L2).
const STRIP: usize = 16;

/// Row-major copy of a set of images (n × H·W·C) and, for the diagonal form, its
/// position-major transpose `[(p·C + c)·n + i]`.
struct Images {
    n: usize,
    dim: usize,
    rows: Vec<f64>,
    by_feature: Vec<f64>,
}

impl Images {
    fn new(x: MatRef<'_, f64>, transpose: bool) -> Self {
        let (n, dim) = (x.nrows(), x.ncols());
        let mut rows = vec![0.0; n * dim];
        let mut by_feature = if transpose {
            vec![0.0; n * dim]
        } else {
            Vec::new()
        };
        for i in 0..n {
            for k in 0..dim {
                let v = x[(i, k)];
                rows[i * dim + k] = v;
                if transpose {
                    by_feature[k * n + i] = v;
                }
            }
        }
        Images {
            n,
            dim,
            rows,
            by_feature,
        }
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.rows[i * self.dim..(i + 1) * self.dim]
    }
}

fn validate(
    x1: MatRef<'_, f64>,
    x2: Option<MatRef<'_, f64>>,
    (h, w, c): (usize, usize, usize),
) -> Result<()> {
    let dim = h * w * c;
    for (arg, x) in [("x1", Some(x1)), ("x2", x2)] {
        let Some(x) = x else { continue };
        if x.nrows() == 0 {
            return Err(Error::Empty { arg });
        }
        if x.ncols() != dim {
            return Err(Error::ShapeMismatch {
                arg,
                expected: format!("{dim} columns (H·W·C of image_shape ({h}, {w}, {c}))"),
                found: format!("{} columns", x.ncols()),
            });
        }
        check_finite_mat(arg, x)?;
    }
    Ok(())
}

/// Σ⁽⁰⁾(x, x)[p] = Σ_c x[p, c]² / C into `c`, zero Θ.
fn input_diagonal(x: &[f64], channels: usize, scratch: &mut DiagonalScratch) {
    let inv = 1.0 / channels as f64;
    for (p, pixel) in x.chunks_exact(channels).enumerate() {
        scratch.c[p] = pixel.iter().map(|v| v * v).sum::<f64>() * inv;
        scratch.t[p] = 0.0;
    }
}

/// Any worker's scratch.
enum Scratch {
    Diagonal(DiagonalScratch),
    Full(Box<FullScratch>),
}

impl Scratch {
    fn new(plan: &Plan, len: usize) -> Self {
        if plan.full {
            Scratch::Full(Box::new(FullScratch::new(plan)))
        } else {
            Scratch::Diagonal(DiagonalScratch::new(plan.max_positions(), len))
        }
    }
}

/// The run of one image with itself.
fn self_run(plan: &Plan, x: &[f64], scratch: &mut Scratch) -> SelfRecord {
    let mut record = SelfRecord::new(plan);
    let (c, t) = match scratch {
        Scratch::Full(s) => full::run_pair(plan, x, x, s, &mut Pairing::SelfPair(&mut record)),
        Scratch::Diagonal(s) => {
            input_diagonal(x, plan.image.2, s);
            let mut pairing = Pairing::SelfPair(&mut record);
            diagonal::run_stages(&plan.stages, 1, s, &mut pairing);
            let out = plan
                .stages
                .last()
                .map_or((plan.image.0, plan.image.1), |st| st.output);
            let (mut c, mut t) = ([0.0], [0.0]);
            diagonal::flatten(s, out.0 * out.1, 1, &mut c, &mut t);
            pairing.tail(&plan.tail, &mut c, &mut t);
            (c[0], t[0])
        }
    };
    record.nngp = c;
    record.ntk = t;
    record
}

/// Self kernels bound every entry, so finite diagonals mean finite outputs.
fn check_overflow(arg: &'static str, records: &[SelfRecord]) -> Result<()> {
    for (index, r) in records.iter().enumerate() {
        for (which, v) in [("NNGP", r.nngp), ("NTK", r.ntk)] {
            if !v.is_finite() {
                return Err(Error::InvalidParameter {
                    arg,
                    value: format!("row {index}: {which} k(x, x) = {v}"),
                    reason: "the kernel overflows; rescale the inputs, w_std or b_std",
                });
            }
        }
    }
    Ok(())
}

/// Everything a column job reads.
struct Context<'a> {
    plan: &'a Plan,
    images1: &'a Images,
    images2: &'a Images,
    f1: &'a SetFeatures,
    f2: &'a SetFeatures,
    symmetric: bool,
}

/// Column `j` of both outputs (rows `0..j` for a self kernel, else all rows).
#[inline(always)]
fn column(ctx: &Context<'_>, j: usize, nngp: &mut [f64], ntk: &mut [f64], scratch: &mut Scratch) {
    let plan = ctx.plan;
    let n_rows = if ctx.symmetric { j } else { ctx.images1.n };
    let b = ctx.images2.row(j);
    match scratch {
        Scratch::Full(s) => {
            for i in 0..n_rows {
                let mut pairing = Pairing::Single {
                    f1: ctx.f1,
                    f2: ctx.f2,
                    i1: i,
                    i2: j,
                };
                let (c, t) = full::run_pair(plan, ctx.images1.row(i), b, s, &mut pairing);
                nngp[i] = c;
                ntk[i] = t;
            }
        }
        Scratch::Diagonal(s) => {
            let (hh, ww, cc) = plan.image;
            let n1 = ctx.images1.n;
            let inv_c = 1.0 / cc as f64;
            let out = plan.stages.last().map_or((hh, ww), |st| st.output);
            let mut i0 = 0;
            while i0 < n_rows {
                let len = STRIP.min(n_rows - i0);
                // Σ⁽⁰⁾[p][k] = Σ_c x1[i0 + k][p, c] x2[j][p, c] / C.
                for p in 0..hh * ww {
                    let dst = &mut s.c[p * len..(p + 1) * len];
                    dst.fill(0.0);
                    for ch in 0..cc {
                        let feature = p * cc + ch;
                        let xb = b[feature];
                        let src =
                            &ctx.images1.by_feature[feature * n1 + i0..feature * n1 + i0 + len];
                        for (d, a) in dst.iter_mut().zip(src) {
                            *d += a * xb;
                        }
                    }
                    for d in dst.iter_mut() {
                        *d *= inv_c;
                    }
                    s.t[p * len..(p + 1) * len].fill(0.0);
                }
                let mut pairing = Pairing::Strip {
                    f1: ctx.f1,
                    f2: ctx.f2,
                    i0,
                    j,
                };
                diagonal::run_stages(&plan.stages, len, s, &mut pairing);
                let (c, t) = (&mut nngp[i0..i0 + len], &mut ntk[i0..i0 + len]);
                diagonal::flatten(s, out.0 * out.1, len, c, t);
                pairing.tail(&plan.tail, c, t);
                i0 += len;
            }
        }
    }
}

/// [`column`] as a `pulp` operation: compiled once per instruction set, chosen at run time.
struct ColumnOp<'s, 'a> {
    ctx: &'s Context<'a>,
    j: usize,
    nngp: &'s mut [f64],
    ntk: &'s mut [f64],
    scratch: &'s mut Scratch,
}

impl pulp::WithSimd for ColumnOp<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        column(self.ctx, self.j, self.nngp, self.ntk, self.scratch);
    }
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

/// The CNN-GP (NNGP) and CNTK matrices of `arch` between the images of `x1` (n₁ × H·W·C, each
/// row an NHWC image of shape `image_shape = (H, W, C)` flattened row-major) and of `x2`
/// (`None` for the self kernel of `x1`), in the form [`Form::Auto`] chooses.
///
/// $$ \Sigma^{(0)}_{pp'}(x,x') = \tfrac1C\sum_c x_{pc}\,x'_{p'c},\quad \Theta^{(0)} = 0;\qquad
///    \text{Conv: } \Sigma \leftarrow w^2\mathcal A(\Sigma) + b^2,\ \Theta \leftarrow \Sigma + w^2\mathcal A(\Theta) $$
/// $$ \sigma:\ \Sigma_{pp'} \leftarrow \mathbb E\sigma(u)\sigma(v),\ \Theta_{pp'} \leftarrow \mathbb E\sigma'(u)\sigma'(v)\,\Theta_{pp'};\qquad
///    \text{Flatten: } \tfrac1P\textstyle\sum_p \Sigma_{pp},\quad \text{GAP: } \tfrac1{P^2}\sum_{p,p'}\Sigma_{pp'} $$
///
/// with 𝒜 the mean over filter taps of both positions shifted by the same tap (SAME padding
/// counts padded zeros in the mean; CIRCULAR wraps), `AvgPool` the mean over independent taps of
/// each position (padded zeros counted), and the standard parameterization Θ ← C_in f_h f_w
/// 𝒜(Σ) + w²𝒜(Θ) + [bias] for a Conv, as neural-tangents 0.6.5's `stax.Conv`, `stax.AvgPool`
/// (`normalize_edges=False`), `stax.GlobalAvgPool`, `stax.Flatten` and `stax.Dense`.
///
/// # Errors
/// Empty inputs, non-finite entries, rows that are not H·W·C long, an architecture that does
/// not fit the image (a VALID window larger than its input), kernels that overflow.
///
/// # Reference
/// Novak et al. 2019, arXiv:1810.05148, eq. (5)–(8) (CNN-GP); Arora et al. 2019,
/// arXiv:1904.11955, §4 and App. "CNTK" (CNTK with and without GAP); Novak et al. 2020,
/// arXiv:1912.02803 (neural-tangents).
pub fn kernel(
    arch: &ConvArchitecture,
    x1: MatRef<'_, f64>,
    x2: Option<MatRef<'_, f64>>,
    image_shape: (usize, usize, usize),
    get: Get,
) -> Result<Kernel> {
    kernel_with_form(arch, x1, x2, image_shape, get, Form::Auto)
}

/// [`kernel`] in a given [`Form`]: [`Form::Full`] evaluates every architecture through the
/// all-pairs covariance (the diagonal form's independent check); [`Form::Diagonal`] is an error
/// for architectures with pooling.
///
/// # Errors
/// As [`kernel`]; [`Error::Unsupported`] for [`Form::Diagonal`] with pooling layers.
///
/// # Reference
/// As [`kernel`].
pub fn kernel_with_form(
    arch: &ConvArchitecture,
    x1: MatRef<'_, f64>,
    x2: Option<MatRef<'_, f64>>,
    image_shape: (usize, usize, usize),
    get: Get,
    form: Form,
) -> Result<Kernel> {
    let plan = Plan::new(arch, image_shape, form)?;
    validate(x1, x2, image_shape)?;
    if !get.nngp && !get.ntk {
        return Ok(Kernel {
            nngp: None,
            ntk: None,
        });
    }
    let symmetric = x2.is_none();
    let position_major = !plan.full;
    let images1 = Images::new(x1, position_major);
    let images2 = x2.map(|x| Images::new(x, false));
    let self_runs = |images: &Images| -> Vec<SelfRecord> {
        (0..images.n)
            .into_par_iter()
            .map_init(
                || Scratch::new(&plan, 1),
                |scratch, i| self_run(&plan, images.row(i), scratch),
            )
            .collect()
    };
    let records1 = self_runs(&images1);
    check_overflow("x1", &records1)?;
    let records2 = images2.as_ref().map(self_runs);
    if let Some(r) = &records2 {
        check_overflow("x2", r)?;
    }
    let f1 = SetFeatures::new(&plan, &records1, position_major);
    let f2 = records2
        .as_ref()
        .map(|r| SetFeatures::new(&plan, r, position_major));
    let images2_ref = images2.as_ref().unwrap_or(&images1);
    let (n1, n2) = (images1.n, images2_ref.n);

    let mut nngp = Mat::<f64>::zeros(n1, n2);
    let mut ntk = Mat::<f64>::zeros(n1, n2);
    let ctx = Context {
        plan: &plan,
        images1: &images1,
        images2: images2_ref,
        f1: &f1,
        f2: f2.as_ref().unwrap_or(&f1),
        symmetric,
    };
    let arch_simd = pulp::Arch::new();
    {
        let columns: Vec<_> = column_slices(&mut nngp)?
            .into_iter()
            .zip(column_slices(&mut ntk)?)
            .enumerate()
            .collect();
        columns.into_par_iter().for_each_init(
            || Scratch::new(&plan, STRIP),
            |scratch, (j, (nngp_col, ntk_col))| {
                arch_simd.dispatch(ColumnOp {
                    ctx: &ctx,
                    j,
                    nngp: nngp_col,
                    ntk: ntk_col,
                    scratch,
                })
            },
        );
    }
    if symmetric {
        for j in 0..n1 {
            nngp[(j, j)] = records1[j].nngp;
            ntk[(j, j)] = records1[j].ntk;
            for i in 0..j {
                nngp[(j, i)] = nngp[(i, j)];
                ntk[(j, i)] = ntk[(i, j)];
            }
        }
    }
    Ok(Kernel {
        nngp: get.nngp.then_some(nngp),
        ntk: get.ntk.then_some(ntk),
    })
}
