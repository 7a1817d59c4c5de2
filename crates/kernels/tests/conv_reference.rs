//! Convolutional kernels against independent references, on the cases `nt_conv.json` does not
//! cover: stride 2, even filters, CIRCULAR padding, pooling with SAME padding and strides, no
//! biases, standard parameterization, erf/GELU/tanh/leaky ReLU, layers after the readout.
//!
//! References:
//! - a naive evaluation written here from the definitions (Novak et al. 2019, arXiv:1810.05148,
//!   eq. (5)–(8); Arora et al. 2019, arXiv:1904.11955, App. "CNTK"): the three P × P covariances
//!   Σ(x,x), Σ(x′,x′), Σ(x,x′) carried together as neural-tangents does, every conv/pool output
//!   a direct sum over its taps with its own padding arithmetic, every activation entry through
//!   the scalar `analytic::dual` (libm arccos). Against ours (separable stencils, fused blocks,
//!   per-image variance records, vectorised arccos): a few ulps per entry amplified by ≤ 3 per
//!   layer over ≤ 4 layers, so 1e-11 of √(K(x,x)K(x′,x′)) is ample;
//! - the diagonal and full forms against each other where both apply (flatten readouts);
//! - dense equivalences: a VALID conv whose filter is the whole image is a Dense layer on the
//!   flattened image, and 1 × 1 convolutions of 1 × 1 images are Dense layers (the kernels of
//!   `analytic::kernel`).

use faer::{Mat, MatRef};
use ntk_kernels::analytic::{self, Get, dual};
use ntk_kernels::conv::{self, ConvArchitecture, ConvLayer, Form, Padding};
use ntk_kernels::{Activation, Architecture, Error, Layer, Parameterization};

type Shape = (usize, usize, usize);

fn images(first: usize, n: usize, (hh, ww, cc): Shape) -> Mat<f64> {
    Mat::from_fn(n, hh * ww * cc, |row, k| {
        let (h, w, c) = (k / (ww * cc), (k / cc) % ww, k % cc);
        let (i, h, w, c) = (
            (first + row + 1) as f64,
            (h + 1) as f64,
            (w + 1) as f64,
            c as f64,
        );
        (0.7 * i + 1.3 * h + 0.5 * w * (c + 1.0)).sin() + 0.1 * (2.1 * i * h - 0.9 * w + c).cos()
    })
}

/// Output length and padding before the first position, written out from lax's rules.
fn out_and_pad(n: usize, f: usize, s: usize, padding: Padding) -> (usize, isize) {
    match padding {
        Padding::Valid => ((n - f) / s + 1, 0),
        Padding::Same | Padding::Circular => {
            let out = n.div_ceil(s);
            let total = ((out - 1) * s + f) as isize - n as isize;
            (out, total.max(0) / 2)
        }
    }
}

fn tap(i: isize, n: usize, padding: Padding) -> Option<usize> {
    match padding {
        Padding::Circular => Some(i.rem_euclid(n as isize) as usize),
        _ => (i >= 0 && i < n as isize).then_some(i as usize),
    }
}

/// P × P covariances, p = h·W + w.
#[derive(Clone)]
struct Cov {
    h: usize,
    w: usize,
    m: Vec<f64>,
}

impl Cov {
    fn at(&self, p1: usize, p2: usize) -> f64 {
        self.m[p1 * self.h * self.w + p2]
    }
}

/// A linear map of covariances: output (o1, o2) = scale · Σ over tap pairs allowed by `shared`
/// (conv: the same tap on both positions; pool: independent taps).
fn window(
    cov: &Cov,
    (fh, fw): (usize, usize),
    (sh, sw): (usize, usize),
    padding: Padding,
    shared: bool,
) -> Cov {
    let (oh, ph) = out_and_pad(cov.h, fh, sh, padding);
    let (ow, pw) = out_and_pad(cov.w, fw, sw, padding);
    let po = oh * ow;
    let mut m = vec![0.0; po * po];
    let taps: Vec<(usize, usize)> = (0..fh).flat_map(|a| (0..fw).map(move |b| (a, b))).collect();
    let position = |o: usize, (kh, kw): (usize, usize)| {
        let (o_h, o_w) = (o / ow, o % ow);
        let ih = tap((o_h * sh + kh) as isize - ph, cov.h, padding)?;
        let iw = tap((o_w * sw + kw) as isize - pw, cov.w, padding)?;
        Some(ih * cov.w + iw)
    };
    for o1 in 0..po {
        for o2 in 0..po {
            let mut acc = 0.0;
            for &k1 in &taps {
                for &k2 in &taps {
                    if shared && k1 != k2 {
                        continue;
                    }
                    if let (Some(p1), Some(p2)) = (position(o1, k1), position(o2, k2)) {
                        acc += cov.at(p1, p2);
                    }
                }
            }
            let count = taps.len() as f64;
            m[o1 * po + o2] = acc / if shared { count } else { count * count };
        }
    }
    Cov { h: oh, w: ow, m }
}

fn input(a: &[f64], b: &[f64], (hh, ww, cc): Shape) -> Cov {
    let p = hh * ww;
    let mut m = vec![0.0; p * p];
    for p1 in 0..p {
        for p2 in 0..p {
            m[p1 * p + p2] = (0..cc)
                .map(|c| a[p1 * cc + c] * b[p2 * cc + c])
                .sum::<f64>()
                / cc as f64;
        }
    }
    Cov { h: hh, w: ww, m }
}

/// (Σ(a, b), Θ(a, b)) after the readout and the last Dense, from the definitions.
fn reference(arch: &ConvArchitecture, a: &[f64], b: &[f64], shape: Shape) -> (f64, f64) {
    let standard = arch.parameterization() == Parameterization::Standard;
    let (mut s11, mut s22, mut s12) = (input(a, a, shape), input(b, b, shape), input(a, b, shape));
    let mut t12 = Cov {
        m: vec![0.0; s12.m.len()],
        ..s12.clone()
    };
    let mut channels = shape.2;
    let mut flat: Option<[f64; 4]> = None; // k11, k22, k12, t12
    let mut flat_dim = 0;
    for layer in arch.layers() {
        match (*layer, flat.as_mut()) {
            (
                ConvLayer::Conv {
                    channels: out,
                    filter,
                    strides,
                    padding,
                    w_std,
                    b_std,
                },
                None,
            ) => {
                let (w2, b2) = (w_std * w_std, b_std.map_or(0.0, |v| v * v));
                let conv = |c: &Cov| window(c, filter, strides, padding, true);
                let affine = |c: &Cov| {
                    let mut c = conv(c);
                    c.m.iter_mut().for_each(|v| *v = w2 * *v + b2);
                    c
                };
                let (c12, ct) = (conv(&s12), conv(&t12));
                let fan_in = (channels * filter.0 * filter.1) as f64;
                let new12 = affine(&s12);
                let mut theta = ct.clone();
                for k in 0..theta.m.len() {
                    theta.m[k] = if standard {
                        fan_in * c12.m[k] + w2 * ct.m[k] + if b_std.is_some() { 1.0 } else { 0.0 }
                    } else {
                        new12.m[k] + w2 * ct.m[k]
                    };
                }
                (s11, s22, s12, t12) = (affine(&s11), affine(&s22), new12, theta);
                channels = out;
            }
            (
                ConvLayer::AvgPool {
                    window: win,
                    strides,
                    padding,
                },
                None,
            ) => {
                let pool = |c: &Cov| window(c, win, strides, padding, false);
                (s11, s22, s12, t12) = (pool(&s11), pool(&s22), pool(&s12), pool(&t12));
            }
            (ConvLayer::Activation(act), None) => {
                let p = s12.h * s12.w;
                let (q1, q2): (Vec<f64>, Vec<f64>) =
                    (0..p).map(|k| (s11.at(k, k), s22.at(k, k))).unzip();
                let map = |c: &Cov, qa: &[f64], qb: &[f64]| {
                    let mut out = c.clone();
                    let mut dot = c.clone();
                    for p1 in 0..p {
                        for p2 in 0..p {
                            let e = dual(&act, qa[p1], qb[p2], c.at(p1, p2));
                            out.m[p1 * p + p2] = e.nngp;
                            dot.m[p1 * p + p2] = e.ntk_dot;
                        }
                    }
                    (out, dot)
                };
                let (n12, d12) = map(&s12, &q1, &q2);
                t12.m.iter_mut().zip(&d12.m).for_each(|(t, d)| *t *= d);
                (s11, s22, s12) = (map(&s11, &q1, &q1).0, map(&s22, &q2, &q2).0, n12);
            }
            (ConvLayer::Flatten, None) => {
                let p = s12.h * s12.w;
                let mean = |c: &Cov| (0..p).map(|k| c.at(k, k)).sum::<f64>() / p as f64;
                flat = Some([mean(&s11), mean(&s22), mean(&s12), mean(&t12)]);
                flat_dim = p * channels;
            }
            (ConvLayer::GlobalAvgPool, None) => {
                let mean = |c: &Cov| c.m.iter().sum::<f64>() / c.m.len() as f64;
                flat = Some([mean(&s11), mean(&s22), mean(&s12), mean(&t12)]);
                flat_dim = channels;
            }
            (
                ConvLayer::Dense {
                    width,
                    w_std,
                    b_std,
                },
                Some(k),
            ) => {
                let (w2, b2) = (w_std * w_std, b_std.map_or(0.0, |v| v * v));
                k[3] = if standard {
                    flat_dim as f64 * k[2] + w2 * k[3] + if b_std.is_some() { 1.0 } else { 0.0 }
                } else {
                    w2 * k[2] + b2 + w2 * k[3]
                };
                for v in &mut k[..3] {
                    *v = w2 * *v + b2;
                }
                flat_dim = width;
            }
            (ConvLayer::Activation(act), Some(k)) => {
                let e = dual(&act, k[0], k[1], k[2]);
                k[0] = dual(&act, k[0], k[0], k[0]).nngp;
                k[1] = dual(&act, k[1], k[1], k[1]).nngp;
                k[2] = e.nngp;
                k[3] *= e.ntk_dot;
            }
            (l, _) => panic!("layer {l:?} out of place"),
        }
    }
    let k = flat.unwrap();
    (k[2], k[3])
}

fn conv_layer(
    filter: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    b_std: Option<f64>,
) -> ConvLayer {
    ConvLayer::Conv {
        channels: 8,
        filter,
        strides,
        padding,
        w_std: 1.3,
        b_std,
    }
}

fn dense(b_std: Option<f64>) -> ConvLayer {
    ConvLayer::Dense {
        width: 1,
        w_std: 1.1,
        b_std,
    }
}

/// Architectures covering what `nt_conv.json` does not, with their image shapes.
fn cases() -> Vec<(&'static str, ConvArchitecture, Shape)> {
    use ConvLayer::{Activation as Act, Flatten, GlobalAvgPool};
    let b = Some(0.2);
    let mk = |layers: Vec<ConvLayer>, param| ConvArchitecture::new(layers, param).unwrap();
    let ntk = Parameterization::Ntk;
    let std = Parameterization::Standard;
    vec![
        (
            "stride2_same_relu_flatten",
            mk(
                vec![
                    conv_layer((3, 3), (2, 2), Padding::Same, b),
                    Act(Activation::Relu),
                    conv_layer((3, 3), (1, 1), Padding::Same, b),
                    Act(Activation::Relu),
                    Flatten,
                    dense(b),
                ],
                ntk,
            ),
            (7, 6, 2),
        ),
        (
            "stride2_valid_erf_gap",
            mk(
                vec![
                    conv_layer((3, 2), (2, 2), Padding::Valid, b),
                    Act(Activation::Erf),
                    GlobalAvgPool,
                    dense(b),
                ],
                ntk,
            ),
            (7, 6, 2),
        ),
        (
            "even_filters_same_gelu_flatten",
            mk(
                vec![
                    conv_layer((2, 2), (1, 1), Padding::Same, b),
                    Act(Activation::Gelu),
                    conv_layer((4, 3), (1, 1), Padding::Same, b),
                    Act(Activation::Gelu),
                    Flatten,
                    dense(b),
                ],
                ntk,
            ),
            (5, 6, 1),
        ),
        (
            "circular_relu_gap",
            mk(
                vec![
                    conv_layer((3, 3), (1, 1), Padding::Circular, b),
                    Act(Activation::Relu),
                    conv_layer((2, 3), (2, 1), Padding::Circular, b),
                    Act(Activation::Relu),
                    GlobalAvgPool,
                    dense(b),
                ],
                ntk,
            ),
            (5, 4, 2),
        ),
        (
            "circular_erf_flatten",
            mk(
                vec![
                    conv_layer((3, 3), (1, 1), Padding::Circular, b),
                    Act(Activation::Erf),
                    Flatten,
                    dense(b),
                ],
                ntk,
            ),
            (4, 5, 1),
        ),
        (
            "pool_same_strided_relu_flatten",
            mk(
                vec![
                    conv_layer((3, 3), (1, 1), Padding::Same, b),
                    Act(Activation::Relu),
                    ConvLayer::AvgPool {
                        window: (3, 2),
                        strides: (2, 1),
                        padding: Padding::Same,
                    },
                    conv_layer((2, 2), (1, 1), Padding::Valid, b),
                    Act(Activation::Relu),
                    Flatten,
                    dense(b),
                ],
                ntk,
            ),
            (6, 5, 1),
        ),
        (
            "pool_circular_then_gap_tanh",
            mk(
                vec![
                    conv_layer((3, 3), (1, 1), Padding::Same, b),
                    Act(Activation::Tanh),
                    ConvLayer::AvgPool {
                        window: (2, 2),
                        strides: (1, 1),
                        padding: Padding::Circular,
                    },
                    GlobalAvgPool,
                    dense(b),
                ],
                ntk,
            ),
            (4, 4, 2),
        ),
        (
            "no_biases_leaky_relu_flatten",
            mk(
                vec![
                    conv_layer((3, 3), (1, 1), Padding::Same, None),
                    Act(Activation::LeakyRelu { alpha: 0.2 }),
                    conv_layer((3, 3), (1, 1), Padding::Same, None),
                    Act(Activation::LeakyRelu { alpha: 0.2 }),
                    Flatten,
                    dense(None),
                ],
                ntk,
            ),
            (5, 5, 2),
        ),
        (
            "no_biases_standard_relu_gap",
            mk(
                vec![
                    conv_layer((3, 3), (1, 1), Padding::Same, None),
                    Act(Activation::Relu),
                    GlobalAvgPool,
                    dense(None),
                ],
                std,
            ),
            (4, 5, 3),
        ),
        (
            "standard_erf_flatten_hidden_dense",
            mk(
                vec![
                    conv_layer((2, 3), (1, 2), Padding::Same, b),
                    Act(Activation::Erf),
                    Flatten,
                    ConvLayer::Dense {
                        width: 16,
                        w_std: 1.2,
                        b_std: b,
                    },
                    Act(Activation::Erf),
                    dense(b),
                ],
                std,
            ),
            (5, 6, 2),
        ),
        (
            "activation_first_standard_gelu_gap",
            mk(
                vec![
                    Act(Activation::Gelu),
                    conv_layer((3, 3), (1, 1), Padding::Same, b),
                    Act(Activation::Relu),
                    GlobalAvgPool,
                    ConvLayer::Dense {
                        width: 4,
                        w_std: 1.0,
                        b_std: b,
                    },
                    Act(Activation::Gelu),
                    dense(b),
                ],
                std,
            ),
            (4, 4, 2),
        ),
    ]
}

fn max_normalised(ours: MatRef<'_, f64>, reference: &Mat<f64>, d1: &[f64], d2: &[f64]) -> f64 {
    let mut worst: f64 = 0.0;
    for i in 0..reference.nrows() {
        for j in 0..reference.ncols() {
            let scale = (d1[i] * d2[j]).abs().sqrt();
            worst = worst.max((ours[(i, j)] - reference[(i, j)]).abs() / scale);
        }
    }
    worst
}

#[test]
fn matches_naive_reference_and_both_forms_agree() {
    for (name, arch, shape) in cases() {
        let x1 = images(0, 3, shape);
        let x2 = images(3, 2, shape);
        let d = shape.0 * shape.1 * shape.2;
        let row = |x: &Mat<f64>, i: usize| (0..d).map(|k| x[(i, k)]).collect::<Vec<f64>>();
        let reference = |xa: &Mat<f64>, xb: &Mat<f64>| {
            let (mut nngp, mut ntk) = (
                Mat::zeros(xa.nrows(), xb.nrows()),
                Mat::zeros(xa.nrows(), xb.nrows()),
            );
            for i in 0..xa.nrows() {
                for j in 0..xb.nrows() {
                    (nngp[(i, j)], ntk[(i, j)]) = reference(&arch, &row(xa, i), &row(xb, j), shape);
                }
            }
            (nngp, ntk)
        };
        let (r11, t11) = reference(&x1, &x1);
        let (r12, t12) = reference(&x1, &x2);
        let (r22, t22) = reference(&x2, &x2);
        let diag = |m: &Mat<f64>| (0..m.nrows()).map(|i| m[(i, i)]).collect::<Vec<f64>>();
        let mut forms = vec![Form::Auto, Form::Full];
        if !arch.needs_cross_positions() {
            forms.push(Form::Diagonal);
        }
        for form in forms {
            let own =
                conv::kernel_with_form(&arch, x1.as_ref(), None, shape, Get::BOTH, form).unwrap();
            let cross = conv::kernel_with_form(
                &arch,
                x1.as_ref(),
                Some(x2.as_ref()),
                shape,
                Get::BOTH,
                form,
            )
            .unwrap();
            for (kind, ours, reference, d1, d2) in [
                ("nngp self", own.nngp.as_ref(), &r11, diag(&r11), diag(&r11)),
                ("ntk self", own.ntk.as_ref(), &t11, diag(&t11), diag(&t11)),
                (
                    "nngp cross",
                    cross.nngp.as_ref(),
                    &r12,
                    diag(&r11),
                    diag(&r22),
                ),
                (
                    "ntk cross",
                    cross.ntk.as_ref(),
                    &t12,
                    diag(&t11),
                    diag(&t22),
                ),
            ] {
                let err = max_normalised(ours.unwrap().as_ref(), reference, &d1, &d2);
                assert!(err <= 1e-11, "{name} {form:?} {kind}: {err:e}");
            }
        }
    }
}

/// A VALID conv whose filter covers the whole image is a Dense layer on the flattened image
/// (Σ = w²·Σ_p Σ⁽⁰⁾[p,p]/P + b² = w²·xᵀx′/(HWC) + b², fan-in C·H·W = d), with either readout
/// (both see a 1 × 1 image), in both parameterizations: equal to `analytic::kernel` up to
/// summation order (1e-13 relative).
#[test]
fn whole_image_filter_is_a_dense_layer() {
    let shape = (4, 3, 2);
    let d = 24;
    let x1 = images(0, 5, shape);
    let x2 = images(5, 3, shape);
    for param in [Parameterization::Ntk, Parameterization::Standard] {
        for readout in [ConvLayer::Flatten, ConvLayer::GlobalAvgPool] {
            for act in [Activation::Relu, Activation::Erf] {
                let arch = ConvArchitecture::new(
                    vec![
                        ConvLayer::Conv {
                            channels: 16,
                            filter: (4, 3),
                            strides: (1, 1),
                            padding: Padding::Valid,
                            w_std: 1.4,
                            b_std: Some(0.3),
                        },
                        ConvLayer::Activation(act),
                        readout,
                        ConvLayer::Dense {
                            width: 1,
                            w_std: 0.9,
                            b_std: Some(0.1),
                        },
                    ],
                    param,
                )
                .unwrap();
                let mlp = Architecture::new(
                    vec![
                        Layer::Dense {
                            width: 16,
                            w_std: 1.4,
                            b_std: Some(0.3),
                        },
                        Layer::Activation(act),
                        Layer::Dense {
                            width: 1,
                            w_std: 0.9,
                            b_std: Some(0.1),
                        },
                    ],
                    param,
                )
                .unwrap();
                for x2_opt in [None, Some(x2.as_ref())] {
                    let ours = conv::kernel(&arch, x1.as_ref(), x2_opt, shape, Get::BOTH).unwrap();
                    let dense = analytic::kernel(&mlp, x1.as_ref(), x2_opt, Get::BOTH).unwrap();
                    assert_eq!(x1.ncols(), d);
                    for (a, b) in [(&ours.nngp, &dense.nngp), (&ours.ntk, &dense.ntk)] {
                        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
                        for i in 0..b.nrows() {
                            for j in 0..b.ncols() {
                                let (u, v) = (a[(i, j)], b[(i, j)]);
                                assert!(
                                    (u - v).abs() <= 1e-13 * v.abs().max(1e-3),
                                    "{param:?} {readout:?} {act:?}: {u} vs {v}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// 1 × 1 images through 1 × 1 convolutions are the dense network on the C channels.
#[test]
fn one_pixel_images_reduce_to_the_dense_kernels() {
    let channels = 6;
    let x = images(0, 7, (1, 1, channels));
    for param in [Parameterization::Ntk, Parameterization::Standard] {
        let conv1 = |b_std| ConvLayer::Conv {
            channels: 32,
            filter: (1, 1),
            strides: (1, 1),
            padding: Padding::Same,
            w_std: 1.5,
            b_std,
        };
        let arch = ConvArchitecture::new(
            vec![
                conv1(Some(0.1)),
                ConvLayer::Activation(Activation::Gelu),
                conv1(None),
                ConvLayer::Activation(Activation::Relu),
                ConvLayer::GlobalAvgPool,
                ConvLayer::Dense {
                    width: 1,
                    w_std: 1.0,
                    b_std: Some(0.2),
                },
            ],
            param,
        )
        .unwrap();
        let mlp = Architecture::new(
            vec![
                Layer::Dense {
                    width: 32,
                    w_std: 1.5,
                    b_std: Some(0.1),
                },
                Layer::Activation(Activation::Gelu),
                Layer::Dense {
                    width: 32,
                    w_std: 1.5,
                    b_std: None,
                },
                Layer::Activation(Activation::Relu),
                Layer::Dense {
                    width: 1,
                    w_std: 1.0,
                    b_std: Some(0.2),
                },
            ],
            param,
        )
        .unwrap();
        let ours = conv::kernel(&arch, x.as_ref(), None, (1, 1, channels), Get::BOTH).unwrap();
        let dense = analytic::kernel(&mlp, x.as_ref(), None, Get::BOTH).unwrap();
        for (a, b) in [(&ours.nngp, &dense.nngp), (&ours.ntk, &dense.ntk)] {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            for i in 0..7 {
                for j in 0..7 {
                    assert!(
                        (a[(i, j)] - b[(i, j)]).abs() <= 1e-13 * b[(i, j)].abs(),
                        "{param:?}"
                    );
                }
            }
        }
    }
}

fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Bit-identical results with one and two threads, exactly symmetric self kernels, and the
/// diagonal form over several strips (n = 37 > 2 strips of 16).
#[test]
fn deterministic_and_symmetric() {
    for (gap, n) in [(false, 37), (true, 9)] {
        let readout = if gap {
            ConvLayer::GlobalAvgPool
        } else {
            ConvLayer::Flatten
        };
        let arch = ConvArchitecture::cnn(
            2,
            8,
            (3, 3),
            Padding::Same,
            Activation::Relu,
            readout,
            1.4,
            Some(0.1),
            Parameterization::Ntk,
        )
        .unwrap();
        let shape = (6, 5, 1);
        let x = images(0, n, shape);
        let one = with_threads(1, || {
            conv::kernel(&arch, x.as_ref(), None, shape, Get::BOTH).unwrap()
        });
        let two = with_threads(2, || {
            conv::kernel(&arch, x.as_ref(), None, shape, Get::BOTH).unwrap()
        });
        assert_eq!(one, two);
        for m in [one.nngp.as_ref().unwrap(), one.ntk.as_ref().unwrap()] {
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(m[(i, j)].to_bits(), m[(j, i)].to_bits());
                }
            }
        }
        let only_ntk = conv::kernel(
            &arch,
            x.as_ref(),
            None,
            shape,
            Get {
                nngp: false,
                ntk: true,
            },
        )
        .unwrap();
        assert!(only_ntk.nngp.is_none());
        assert_eq!(only_ntk.ntk, one.ntk);
    }
}

#[test]
fn bad_inputs_are_errors() {
    let arch = ConvArchitecture::cnn(
        1,
        4,
        (3, 3),
        Padding::Valid,
        Activation::Relu,
        ConvLayer::GlobalAvgPool,
        1.0,
        None,
        Parameterization::Ntk,
    )
    .unwrap();
    let x = images(0, 2, (4, 4, 1));
    let run = |x: MatRef<'_, f64>, shape| conv::kernel(&arch, x, None, shape, Get::BOTH);
    assert!(matches!(
        run(x.as_ref(), (4, 4, 2)),
        Err(Error::ShapeMismatch { arg: "x1", .. })
    ));
    assert!(matches!(
        run(x.as_ref(), (2, 8, 1)),
        Err(Error::InvalidParameter { arg: "filter", .. })
    ));
    let mut bad = x.clone();
    bad[(1, 3)] = f64::NAN;
    assert!(matches!(
        run(bad.as_ref(), (4, 4, 1)),
        Err(Error::NonFinite { arg: "x1", .. })
    ));
    let empty = Mat::<f64>::zeros(0, 16);
    assert!(matches!(
        run(empty.as_ref(), (4, 4, 1)),
        Err(Error::Empty { arg: "x1" })
    ));
    let x2 = images(0, 2, (4, 4, 2));
    assert!(matches!(
        conv::kernel(&arch, x.as_ref(), Some(x2.as_ref()), (4, 4, 1), Get::BOTH),
        Err(Error::ShapeMismatch { arg: "x2", .. })
    ));
    assert!(matches!(
        conv::kernel_with_form(
            &arch,
            x.as_ref(),
            None,
            (4, 4, 1),
            Get::BOTH,
            Form::Diagonal
        ),
        Err(Error::Unsupported(_))
    ));
    let huge = Mat::from_fn(2, 16, |_, _| 1e200);
    assert!(matches!(
        run(huge.as_ref(), (4, 4, 1)),
        Err(Error::InvalidParameter { arg: "x1", .. })
    ));
}
