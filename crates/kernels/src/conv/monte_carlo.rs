//! Monte-Carlo NNGP of random finite convolutional networks, for validating the CNN-GP.
//!
//! Each draw builds a network of the architecture's channel counts with i.i.d. N(0, 1) weights
//! and biases, z = (w_std/√fan_in)·Wh + b_std·b (fan-in C_in·f_h·f_w for a conv, as
//! `stax.Conv`; both parameterizations have this forward distribution), runs the images through
//! it (convolutions as im2col patches times the filter matrix, one faer GEMM per layer) and
//! averages f(x)f(x′) over the readout units. Exact in expectation with one hidden layer, an
//! O(1/channels) bias with more (Novak et al. 2019, arXiv:1810.05148, §2.3 and Fig. 3).

use super::architecture::{ConvArchitecture, ConvLayer};
use super::plan::{AxisTaps, PADDED};
use crate::error::check_finite_mat;
use crate::{Error, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Activations of a batch: `n` images of `h × w` positions, rows `img·h·w + p`, one column per
/// channel (or, once flat, one row per image).
struct Batch {
    n: usize,
    h: usize,
    w: usize,
    values: Mat<f64>,
}

fn gaussian(rng: &mut ChaCha8Rng, rows: usize, cols: usize, scale: f64) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| {
        let z: f64 = StandardNormal.sample(rng);
        scale * z
    })
}

/// `values · weights + bias` (bias broadcast over rows).
fn affine(values: MatRef<'_, f64>, weights: MatRef<'_, f64>, bias: &[f64]) -> Mat<f64> {
    let mut out = Mat::from_fn(values.nrows(), weights.ncols(), |_, j| bias[j]);
    matmul(out.as_mut(), Accum::Add, values, weights, 1.0, Par::Seq);
    out
}

/// One random network's outputs on `batch` (n × k readout units).
fn forward(arch: &ConvArchitecture, mut batch: Batch, rng: &mut ChaCha8Rng) -> Result<Mat<f64>> {
    let mut flat = false;
    for layer in arch.layers() {
        match *layer {
            ConvLayer::Conv {
                channels,
                filter,
                strides,
                padding,
                w_std,
                b_std,
            } => {
                let too_big = || Error::InvalidParameter {
                    arg: "filter",
                    value: format!("{filter:?}"),
                    reason: "a VALID window must not be larger than its input image",
                };
                let th =
                    AxisTaps::new(batch.h, filter.0, strides.0, padding).ok_or_else(too_big)?;
                let tw =
                    AxisTaps::new(batch.w, filter.1, strides.1, padding).ok_or_else(too_big)?;
                let c_in = batch.values.ncols();
                let fan_in = c_in * filter.0 * filter.1;
                let (ho, wo) = (th.n_out, tw.n_out);
                // im2col: row (image, output position), column (tap_h, tap_w, channel).
                let patches = Mat::from_fn(batch.n * ho * wo, fan_in, |row, col| {
                    let (img, o) = (row / (ho * wo), row % (ho * wo));
                    let (kh, kw, c) =
                        (col / (filter.1 * c_in), (col / c_in) % filter.1, col % c_in);
                    let (ih, iw) = (th.at(o / wo, kh), tw.at(o % wo, kw));
                    if ih == PADDED || iw == PADDED {
                        0.0
                    } else {
                        batch.values[(img * batch.h * batch.w + ih * batch.w + iw, c)]
                    }
                });
                let weights = gaussian(rng, fan_in, channels, w_std / (fan_in as f64).sqrt());
                let bias: Vec<f64> = gaussian(rng, 1, channels, b_std.unwrap_or(0.0))
                    .row(0)
                    .iter()
                    .copied()
                    .collect();
                batch = Batch {
                    n: batch.n,
                    h: ho,
                    w: wo,
                    values: affine(patches.as_ref(), weights.as_ref(), &bias),
                };
            }
            ConvLayer::AvgPool {
                window,
                strides,
                padding,
            } => {
                let too_big = || Error::InvalidParameter {
                    arg: "window",
                    value: format!("{window:?}"),
                    reason: "a VALID window must not be larger than its input image",
                };
                let th =
                    AxisTaps::new(batch.h, window.0, strides.0, padding).ok_or_else(too_big)?;
                let tw =
                    AxisTaps::new(batch.w, window.1, strides.1, padding).ok_or_else(too_big)?;
                let (ho, wo) = (th.n_out, tw.n_out);
                let scale = 1.0 / (window.0 * window.1) as f64;
                let values = Mat::from_fn(batch.n * ho * wo, batch.values.ncols(), |row, c| {
                    let (img, o) = (row / (ho * wo), row % (ho * wo));
                    let mut acc = 0.0;
                    for kh in 0..window.0 {
                        for kw in 0..window.1 {
                            let (ih, iw) = (th.at(o / wo, kh), tw.at(o % wo, kw));
                            if ih != PADDED && iw != PADDED {
                                acc +=
                                    batch.values[(img * batch.h * batch.w + ih * batch.w + iw, c)];
                            }
                        }
                    }
                    scale * acc
                });
                batch = Batch {
                    n: batch.n,
                    h: ho,
                    w: wo,
                    values,
                };
            }
            ConvLayer::GlobalAvgPool | ConvLayer::Flatten => {
                let p = batch.h * batch.w;
                let c = batch.values.ncols();
                let values = if matches!(layer, ConvLayer::GlobalAvgPool) {
                    Mat::from_fn(batch.n, c, |img, ch| {
                        (0..p).map(|q| batch.values[(img * p + q, ch)]).sum::<f64>() / p as f64
                    })
                } else {
                    Mat::from_fn(batch.n, p * c, |img, k| {
                        batch.values[(img * p + k / c, k % c)]
                    })
                };
                batch = Batch {
                    n: batch.n,
                    h: 1,
                    w: 1,
                    values,
                };
                flat = true;
            }
            ConvLayer::Dense {
                width,
                w_std,
                b_std,
            } => {
                let fan_in = batch.values.ncols();
                let weights = gaussian(rng, fan_in, width, w_std / (fan_in as f64).sqrt());
                let bias: Vec<f64> = gaussian(rng, 1, width, b_std.unwrap_or(0.0))
                    .row(0)
                    .iter()
                    .copied()
                    .collect();
                batch.values = affine(batch.values.as_ref(), weights.as_ref(), &bias);
            }
            ConvLayer::Activation(act) => {
                let v = &batch.values;
                batch.values = Mat::from_fn(v.nrows(), v.ncols(), |i, j| act.phi(v[(i, j)]));
            }
        }
    }
    debug_assert!(flat);
    Ok(batch.values)
}

/// Monte-Carlo NNGP of `arch` between the images of `x1` and `x2` (rows: NHWC images of
/// `image_shape`), from `n_networks` random finite networks, network s drawn from
/// `ChaCha8Rng::seed_from_u64(seed + s)`:
///
/// $$ \hat\Sigma(x_i, x'_j) = \frac{1}{S\,k}\sum_{s=1}^{S}\sum_{o=1}^{k} f_{s,o}(x_i)\,f_{s,o}(x'_j) $$
///
/// (k readout units). Returns (mean, standard error over the S networks).
///
/// # Errors
/// Empty or non-finite inputs, rows that are not H·W·C long, `n_networks < 2`, an architecture
/// that does not fit the image.
///
/// # Reference
/// Novak et al. 2019, arXiv:1810.05148, §2.3 (Monte-Carlo CNN-GP); Novak et al. 2020,
/// arXiv:1912.02803 (`monte_carlo_kernel_fn`).
pub fn monte_carlo_nngp(
    arch: &ConvArchitecture,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
    image_shape: (usize, usize, usize),
    n_networks: usize,
    seed: u64,
) -> Result<(Mat<f64>, Mat<f64>)> {
    let (hh, ww, cc) = image_shape;
    arch.shapes(image_shape)?;
    for (arg, x) in [("x1", x1), ("x2", x2)] {
        if x.nrows() == 0 {
            return Err(Error::Empty { arg });
        }
        if x.ncols() != hh * ww * cc {
            return Err(Error::ShapeMismatch {
                arg,
                expected: format!("{} columns (H·W·C)", hh * ww * cc),
                found: format!("{} columns", x.ncols()),
            });
        }
        check_finite_mat(arg, x)?;
    }
    if n_networks < 2 {
        return Err(Error::InvalidParameter {
            arg: "n_networks",
            value: n_networks.to_string(),
            reason: "at least two networks are needed for a standard error",
        });
    }
    let (n1, n2) = (x1.nrows(), x2.nrows());
    let p = hh * ww;
    // Both sets in one batch: rows (image, position), columns channels.
    let input = Mat::from_fn((n1 + n2) * p, cc, |row, c| {
        let (img, q) = (row / p, row % p);
        if img < n1 {
            x1[(img, q * cc + c)]
        } else {
            x2[(img - n1, q * cc + c)]
        }
    });
    let samples: Vec<Mat<f64>> = (0..n_networks)
        .into_par_iter()
        .map(|s| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(s as u64));
            let batch = Batch {
                n: n1 + n2,
                h: hh,
                w: ww,
                values: input.clone(),
            };
            let out = forward(arch, batch, &mut rng)?;
            let k = out.ncols() as f64;
            let mut prod = Mat::<f64>::zeros(n1, n2);
            matmul(
                prod.as_mut(),
                Accum::Replace,
                out.as_ref().subrows(0, n1),
                out.as_ref().subrows(n1, n2).transpose(),
                1.0 / k,
                Par::Seq,
            );
            Ok(prod)
        })
        .collect::<Result<_>>()?;
    let count = n_networks as f64;
    let mean = Mat::from_fn(n1, n2, |i, j| {
        samples.iter().map(|m| m[(i, j)]).sum::<f64>() / count
    });
    let std_error = Mat::from_fn(n1, n2, |i, j| {
        let m = mean[(i, j)];
        let ss: f64 = samples.iter().map(|s| (s[(i, j)] - m).powi(2)).sum();
        (ss / (count - 1.0) / count).sqrt()
    });
    Ok((mean, std_error))
}
