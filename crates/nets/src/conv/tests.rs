//! Derivative checks of the convolutional networks: central finite differences for every layer
//! kind, activation and both parameterizations; the convolution against the equivalent dense
//! layer with the Toeplitz (doubly block-circulant for CIRCULAR) weight matrix; JVP/VJP/Jacobian
//! /NTK consistency; the exact HVP against differences of gradients.

use super::window::PAD;
use super::*;
use crate::{ClassificationLoss, Model};
use faer::Mat;
use ntk_kernels::Padding;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn gaussian(rng: &mut ChaCha8Rng, len: usize) -> Vec<f64> {
    (0..len).map(|_| StandardNormal.sample(rng)).collect()
}

fn images(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Mat<f64> {
    let values = gaussian(rng, n * d);
    Mat::from_fn(n, d, |i, j| values[i * d + j])
}

fn conv(channels: usize, filter: usize, stride: usize, padding: Padding) -> ConvLayer {
    ConvLayer::Conv {
        channels,
        filter: (filter, filter),
        strides: (stride, stride),
        padding,
        w_std: 1.3,
        b_std: Some(0.2),
    }
}

fn dense(width: usize, b_std: Option<f64>) -> ConvLayer {
    ConvLayer::Dense {
        width,
        w_std: 1.1,
        b_std,
    }
}

/// Architectures that together use every layer kind, padding and activation of ntk-kernels.
fn architectures(parameterization: Parameterization) -> Vec<ConvArchitecture> {
    use Activation::*;
    let acts = [
        Relu,
        LeakyRelu { alpha: 0.1 },
        AbRelu { a: -0.3, b: 1.2 },
        Erf,
        Identity,
        Gelu,
        Softplus,
        Tanh,
        Exp,
        Sin,
    ];
    let mut out = Vec::new();
    for (idx, &act) in acts.iter().enumerate() {
        let padding = [Padding::Same, Padding::Valid, Padding::Circular][idx % 3];
        let layers = if idx % 2 == 0 {
            vec![
                conv(3, 3, 1, padding),
                ConvLayer::Activation(act),
                ConvLayer::AvgPool {
                    window: (2, 2),
                    strides: (2, 2),
                    padding: [Padding::Same, Padding::Circular, Padding::Valid][idx % 3],
                },
                conv(2, 2, 2, Padding::Same),
                ConvLayer::Activation(act),
                ConvLayer::Flatten,
                dense(3, Some(0.3)),
            ]
        } else {
            vec![
                conv(3, 2, 2, padding),
                ConvLayer::Activation(act),
                conv(4, 3, 1, Padding::Circular),
                ConvLayer::GlobalAvgPool,
                dense(5, None),
                ConvLayer::Activation(act),
                dense(3, Some(0.1)),
            ]
        };
        out.push(ConvArchitecture::new(layers, parameterization).unwrap());
    }
    out
}

/// ⟨r, f(θ)⟩ for the FD checks.
fn weighted_output(net: &ConvNet, theta: &[f64], x: &Mat<f64>, r: &Mat<f64>) -> f64 {
    let f = net.outputs(theta, x.as_ref()).unwrap();
    (0..f.nrows())
        .flat_map(|i| (0..f.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| f[(i, j)] * r[(i, j)])
        .sum()
}

/// Directions: the whole θ, then each weight block and each bias block alone.
fn directions(net: &ConvNet, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let full = gaussian(rng, net.n_params());
    let mut out = vec![full.clone()];
    for (w, b) in net.parameter_ranges() {
        for range in std::iter::once(w).chain(b) {
            let mut v = vec![0.0; net.n_params()];
            v[range.clone()].copy_from_slice(&full[range]);
            out.push(v);
        }
    }
    out
}

/// VJP = central differences of ⟨r, f⟩ along every direction, relative error ≤ 1e-6. With
/// h = 1e-5 the truncation error is h²/6·|f'''| ≈ 1e-10 relative and the rounding error
/// ε·|⟨r,f⟩|/h ≈ 1e-11; piecewise-linear activations are exact away from kinks, which random
/// Gaussian data avoid with probability one. Kinks are not crossed for h·|v| ≪ |z|.
#[test]
fn gradients_match_finite_differences() {
    for parameterization in [Parameterization::Ntk, Parameterization::Standard] {
        for (arch_idx, arch) in architectures(parameterization).iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(10 + arch_idx as u64);
            let net = ConvNet::new(arch, (6, 5, 2)).unwrap();
            let theta = net.init_params(&mut rng);
            let x = images(&mut rng, 3, net.input_dim());
            let r = images(&mut rng, 3, net.output_dim());
            let grad = net.vjp_outputs(&theta, x.as_ref(), r.as_ref()).unwrap();
            for v in directions(&net, &mut rng) {
                let h = 1e-5;
                let plus: Vec<f64> = theta.iter().zip(&v).map(|(t, d)| t + h * d).collect();
                let minus: Vec<f64> = theta.iter().zip(&v).map(|(t, d)| t - h * d).collect();
                let fd = (weighted_output(&net, &plus, &x, &r)
                    - weighted_output(&net, &minus, &x, &r))
                    / (2.0 * h);
                let analytic: f64 = grad.iter().zip(&v).map(|(g, d)| g * d).sum();
                let scale = analytic.abs().max(1e-3);
                assert!(
                    (fd - analytic).abs() <= 1e-6 * scale,
                    "{parameterization:?} arch {arch_idx}: fd {fd} vs {analytic}"
                );
            }
        }
    }
}

/// ⟨r, Jv⟩ = ⟨Jᵀr, v⟩ (two exact evaluations of one bilinear form, 1e-12 relative), the
/// Jacobian rows are VJPs with one-hot seeds, and Θ̂ = JJᵀ entries are inner products of VJPs.
#[test]
fn jvp_vjp_jacobian_and_ntk_agree() {
    let arch = &architectures(Parameterization::Ntk)[1];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let net = ConvNet::new(arch, (6, 5, 2)).unwrap();
    let theta = net.init_params(&mut rng);
    let x = images(&mut rng, 4, net.input_dim());
    let r = images(&mut rng, 4, net.output_dim());
    let v = gaussian(&mut rng, net.n_params());
    let jv = net.jvp_outputs(&theta, x.as_ref(), &v).unwrap();
    let jtr = net.vjp_outputs(&theta, x.as_ref(), r.as_ref()).unwrap();
    let lhs: f64 = (0..4)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| r[(i, j)] * jv[(i, j)])
        .sum();
    let rhs: f64 = jtr.iter().zip(&v).map(|(a, b)| a * b).sum();
    assert!((lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0));
    let jac = net.jacobian_outputs(&theta, x.as_ref()).unwrap();
    let k = net.output_dim();
    let mut rows = Vec::new();
    for i in 0..4 {
        for a in 0..k {
            let e = Mat::from_fn(4, k, |ii, aa| if (ii, aa) == (i, a) { 1.0 } else { 0.0 });
            let g = net.vjp_outputs(&theta, x.as_ref(), e.as_ref()).unwrap();
            let row = i * k + a;
            let err = (0..net.n_params())
                .map(|p| (jac[(row, p)] - g[p]).abs())
                .fold(0.0, f64::max);
            let norm = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
            assert!(err <= 1e-13 * norm.max(1.0));
            rows.push(g);
        }
    }
    let x2 = images(&mut rng, 2, net.input_dim());
    let ntk = net
        .empirical_ntk_outputs(&theta, x.as_ref(), x.as_ref())
        .unwrap();
    let cross = net
        .empirical_ntk_outputs(&theta, x.as_ref(), x2.as_ref())
        .unwrap();
    let jac2 = net.jacobian_outputs(&theta, x2.as_ref()).unwrap();
    for (a, ra) in rows.iter().enumerate() {
        for (b, rb) in rows.iter().enumerate() {
            let dot: f64 = ra.iter().zip(rb).map(|(p, q)| p * q).sum();
            assert!((ntk[(a, b)] - dot).abs() <= 1e-12 * dot.abs().max(1.0));
        }
        for b in 0..jac2.nrows() {
            let dot: f64 = (0..net.n_params()).map(|p| ra[p] * jac2[(b, p)]).sum();
            assert!((cross[(a, b)] - dot).abs() <= 1e-12 * dot.abs().max(1.0));
        }
    }
}

/// The exact HVP against central differences of exact gradients, (∇⟨c,f⟩(θ+hv) −
/// ∇⟨c,f⟩(θ−hv))/2h, for the smooth activations: h = 1e-4 gives truncation h²/6·|∂⁴| ≈ 1e-9
/// and rounding ε·|∇|/h ≈ 1e-12, so 1e-6 relative (in the max norm) holds with margin.
#[test]
fn hvp_matches_differences_of_gradients() {
    for parameterization in [Parameterization::Ntk, Parameterization::Standard] {
        for (arch_idx, arch) in architectures(parameterization).iter().enumerate() {
            let smooth = arch.layers().iter().all(|l| match l {
                ConvLayer::Activation(a) => a.is_smooth(),
                _ => true,
            });
            if !smooth {
                continue;
            }
            let mut rng = ChaCha8Rng::seed_from_u64(40 + arch_idx as u64);
            let net = ConvNet::new(arch, (6, 5, 2)).unwrap();
            let theta = net.init_params(&mut rng);
            let x = images(&mut rng, 2, net.input_dim());
            let c = images(&mut rng, 2, net.output_dim());
            let v = gaussian(&mut rng, net.n_params());
            let hvp = net.hvp_outputs(&theta, x.as_ref(), c.as_ref(), &v).unwrap();
            let h = 1e-4;
            let plus: Vec<f64> = theta.iter().zip(&v).map(|(t, d)| t + h * d).collect();
            let minus: Vec<f64> = theta.iter().zip(&v).map(|(t, d)| t - h * d).collect();
            let gp = net.vjp_outputs(&plus, x.as_ref(), c.as_ref()).unwrap();
            let gm = net.vjp_outputs(&minus, x.as_ref(), c.as_ref()).unwrap();
            let scale = hvp.iter().map(|v| v.abs()).fold(0.0, f64::max);
            for p in 0..net.n_params() {
                let fd = (gp[p] - gm[p]) / (2.0 * h);
                assert!(
                    (fd - hvp[p]).abs() <= 1e-6 * scale,
                    "{parameterization:?} arch {arch_idx} param {p}: fd {fd} vs {}",
                    hvp[p]
                );
            }
        }
    }
}

/// A convolution equals the dense layer with the Toeplitz matrix
/// T[(o, c_out), (pos, c_in)] = Σ_{t: idx(o,t) = pos} W[c_out, t, c_in] and the bias repeated
/// over positions: same outputs (1e-12 relative: the same sums in another order), and the conv
/// gradient is the dense gradient pulled back through W ↦ T (same tolerance).
#[test]
fn conv_equals_toeplitz_dense_layer() {
    let (h, w, c_in, c_out, k) = (5, 4, 2, 3, 2);
    for parameterization in [Parameterization::Ntk, Parameterization::Standard] {
        for (padding, stride) in [
            (Padding::Same, 1),
            (Padding::Valid, 1),
            (Padding::Circular, 2),
            (Padding::Same, 2),
        ] {
            let conv_layer = conv(c_out, 3, stride, padding);
            let conv_arch = ConvArchitecture::new(
                vec![conv_layer, ConvLayer::Flatten, dense(k, Some(0.4))],
                parameterization,
            )
            .unwrap();
            let conv_net = ConvNet::new(&conv_arch, (h, w, c_in)).unwrap();
            let Op::Affine(conv_affine) = &conv_net.ops[0] else {
                unreachable!()
            };
            let window = conv_affine.window.clone().unwrap();
            let (s_in, s_out) = (window.in_positions, window.out_positions);
            // Same multiplier s_w: w_dense/√(s_in c_in) = w_conv/√(taps c_in) (NTK);
            // both 1 in the standard parameterization.
            let w_dense = match parameterization {
                Parameterization::Ntk => 1.3 * ((s_in * c_in) as f64 / (9 * c_in) as f64).sqrt(),
                Parameterization::Standard => 1.3,
            };
            let dense_arch = ConvArchitecture::new(
                vec![
                    ConvLayer::Flatten,
                    ConvLayer::Dense {
                        width: s_out * c_out,
                        w_std: w_dense,
                        b_std: Some(0.2),
                    },
                    dense(k, Some(0.4)),
                ],
                parameterization,
            )
            .unwrap();
            let dense_net = ConvNet::new(&dense_arch, (h, w, c_in)).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let theta = conv_net.init_params(&mut rng);
            // Map conv parameters to dense ones.
            let fan_in = 9 * c_in;
            let (w_conv, b_conv) = (&theta[..c_out * fan_in], &theta[c_out * fan_in..][..c_out]);
            let readout = &theta[c_out * fan_in + c_out..];
            let d_in = s_in * c_in;
            let mut theta_dense = vec![0.0; s_out * c_out * d_in];
            for o in 0..s_out {
                for co in 0..c_out {
                    for t in 0..9 {
                        let pos = window.index[o * 9 + t];
                        if pos == PAD {
                            continue;
                        }
                        for ci in 0..c_in {
                            theta_dense[(o * c_out + co) * d_in + pos * c_in + ci] +=
                                w_conv[co * fan_in + t * c_in + ci];
                        }
                    }
                }
            }
            for _ in 0..s_out {
                theta_dense.extend_from_slice(b_conv);
            }
            theta_dense.extend_from_slice(readout);
            assert_eq!(theta_dense.len(), dense_net.n_params());
            let x = images(&mut rng, 3, h * w * c_in);
            let fc = conv_net.outputs(&theta, x.as_ref()).unwrap();
            let fd = dense_net.outputs(&theta_dense, x.as_ref()).unwrap();
            for i in 0..3 {
                for j in 0..k {
                    assert!((fc[(i, j)] - fd[(i, j)]).abs() <= 1e-12 * fd[(i, j)].abs().max(1.0));
                }
            }
            let r = images(&mut rng, 3, k);
            let gc = conv_net
                .vjp_outputs(&theta, x.as_ref(), r.as_ref())
                .unwrap();
            let gd = dense_net
                .vjp_outputs(&theta_dense, x.as_ref(), r.as_ref())
                .unwrap();
            // Pull back: ∂/∂W[co,t,ci] = Σ_o ∂/∂T[(o,co),(idx(o,t),ci)], ∂/∂b = Σ_o ∂/∂b_(o,co).
            let mut pulled = vec![0.0; conv_net.n_params()];
            for o in 0..s_out {
                for co in 0..c_out {
                    for t in 0..9 {
                        let pos = window.index[o * 9 + t];
                        if pos == PAD {
                            continue;
                        }
                        for ci in 0..c_in {
                            pulled[co * fan_in + t * c_in + ci] +=
                                gd[(o * c_out + co) * d_in + pos * c_in + ci];
                        }
                    }
                    pulled[c_out * fan_in + co] += gd[s_out * c_out * d_in + o * c_out + co];
                }
            }
            let tail = s_out * c_out * d_in + s_out * c_out;
            pulled[c_out * fan_in + c_out..].copy_from_slice(&gd[tail..]);
            let scale = gc.iter().map(|v| v.abs()).fold(0.0, f64::max);
            for (a, b) in gc.iter().zip(&pulled) {
                assert!((a - b).abs() <= 1e-12 * scale);
            }
        }
    }
}

/// The scalar Model interface agrees with the multi-output one, and bad inputs are errors.
#[test]
fn model_interface_and_errors() {
    let arch = ConvArchitecture::cnn(
        2,
        4,
        (3, 3),
        Padding::Same,
        Activation::Relu,
        ConvLayer::GlobalAvgPool,
        1.4,
        Some(0.1),
        Parameterization::Ntk,
    )
    .unwrap();
    let net = ConvNet::new(&arch, (4, 4, 1)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let theta = net.init_params(&mut rng);
    let x = images(&mut rng, 3, 16);
    let y = [0.5, -1.0, 0.2];
    let mut grad = vec![0.0; net.n_params()];
    let loss = Model::loss_and_grad(&net, &theta, x.as_ref(), &y, &mut grad).unwrap();
    let u = Model::forward(&net, &theta, x.as_ref()).unwrap();
    let expected: f64 = u.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 6.0;
    assert!((loss - expected).abs() <= 1e-15);
    let ntk = Model::empirical_ntk(&net, &theta, x.as_ref(), x.as_ref()).unwrap();
    let jac = Model::jacobian(&net, &theta, x.as_ref()).unwrap();
    let jjt = &jac * jac.transpose();
    for i in 0..3 {
        for j in 0..3 {
            assert!((ntk[(i, j)] - jjt[(i, j)]).abs() <= 1e-12 * jjt[(i, i)]);
        }
    }
    assert!(Model::forward(&net, &theta[1..], x.as_ref()).is_err());
    let mut bad = x.clone();
    bad[(0, 0)] = f64::NAN;
    assert!(Model::forward(&net, &theta, bad.as_ref()).is_err());
    assert!(Model::forward(&net, &theta, Mat::<f64>::zeros(2, 15).as_ref()).is_err());
    let multi = ConvArchitecture::new(
        vec![
            conv(2, 3, 1, Padding::Same),
            ConvLayer::Flatten,
            dense(3, None),
        ],
        Parameterization::Ntk,
    )
    .unwrap();
    let multi = ConvNet::new(&multi, (4, 4, 1)).unwrap();
    let theta = multi.init_params(&mut rng);
    assert!(Model::forward(&multi, &theta, x.as_ref()).is_err());
    let mut grad = vec![0.0; multi.n_params()];
    assert!(
        multi
            .loss_and_grad_labels(
                &theta,
                x.as_ref(),
                &[0, 3, 1],
                ClassificationLoss::CrossEntropy,
                &mut grad
            )
            .is_err()
    );
    // A VALID window larger than the image.
    let too_big = ConvArchitecture::new(
        vec![
            conv(2, 5, 1, Padding::Valid),
            ConvLayer::Flatten,
            dense(1, None),
        ],
        Parameterization::Ntk,
    )
    .unwrap();
    assert!(ConvNet::new(&too_big, (4, 4, 1)).is_err());
}

/// The cross-entropy gradient of the fused pass equals the VJP of the softmax residual, and
/// results are bit-identical on 1 and 2 threads (fixed chunking, chunk-order reductions).
#[test]
fn classification_gradient_and_thread_determinism() {
    let arch = &architectures(Parameterization::Ntk)[0];
    let net = ConvNet::new(arch, (6, 5, 2)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let theta = net.init_params(&mut rng);
    let x = images(&mut rng, 9, net.input_dim());
    let labels = [0, 1, 2, 0, 1, 2, 2, 1, 0];
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut grad = vec![0.0; net.n_params()];
            let loss = net
                .loss_and_grad_labels(
                    &theta,
                    x.as_ref(),
                    &labels,
                    ClassificationLoss::CrossEntropy,
                    &mut grad,
                )
                .unwrap();
            (loss, grad)
        })
    };
    let (loss1, grad1) = run(1);
    let (loss2, grad2) = run(2);
    assert_eq!(loss1.to_bits(), loss2.to_bits());
    assert!(
        grad1
            .iter()
            .zip(&grad2)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    let f = net.outputs(&theta, x.as_ref()).unwrap();
    let mut seed = vec![0.0; 27];
    let flat: Vec<f64> = (0..9)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| f[(i, j)])
        .collect();
    let value = ClassificationLoss::CrossEntropy.value_and_seed(&flat, &labels, 3, 9, &mut seed);
    assert!((value - loss1).abs() <= 1e-14);
    let r = Mat::from_fn(9, 3, |i, j| seed[i * 3 + j]);
    let g = net.vjp_outputs(&theta, x.as_ref(), r.as_ref()).unwrap();
    for (a, b) in g.iter().zip(&grad1) {
        assert!((a - b).abs() <= 1e-14);
    }
}
