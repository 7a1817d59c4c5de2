//! Benchmark workloads of the convolutional networks of `ntk-nets` (same JSON lines as
//! [`crate::bench`]):
//! - `conv-net-fwd-bwd`: one cross-entropy loss + gradient (forward and backward pass) of a
//!   batch of n = 128 28×28×1 images through [Conv(64, 3×3, SAME), ReLU]×3 → GlobalAvgPool →
//!   Dense(10) (NTK parameterization);
//! - `conv-net-empirical-ntk`: the n×n empirical NTK of the same network with a Dense(1) readout
//!   on n = 64 images (Jacobian rows and one Gram GEMM).
//!
//! FLOPs count the GEMMs only: per Conv layer and image 2·S·F·C (forward P Wᵀ), 2·S·F·C (weight
//! gradient δᵀP) and, above the first layer, 2·S·F·C (input delta δW), with S output positions,
//! F = 9·C_in the fan-in and C = 64 output channels; the empirical NTK adds 2·n²·P for JJᵀ.
//! im2col copies, activations and pooling are not counted: the fraction of the GEMM rate is
//! therefore a lower bound on the GEMM efficiency of the passes.

use crate::bench::{Measurement, RUNS, Timing, time_fallible};
use faer::Mat;
use ntk_kernels::conv::Shape;
use ntk_kernels::{Activation, ConvArchitecture, ConvLayer, Padding, Parameterization};
use ntk_nets::{ClassificationLoss, ConvNet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SIDE: usize = 28;
const CHANNELS: usize = 64;

fn architecture(outputs: usize) -> anyhow::Result<ConvArchitecture> {
    let mut layers = Vec::new();
    for _ in 0..3 {
        layers.push(ConvLayer::Conv {
            channels: CHANNELS,
            filter: (3, 3),
            strides: (1, 1),
            padding: Padding::Same,
            w_std: std::f64::consts::SQRT_2,
            b_std: Some(0.05),
        });
        layers.push(ConvLayer::Activation(Activation::Relu));
    }
    layers.push(ConvLayer::GlobalAvgPool);
    layers.push(ConvLayer::Dense {
        width: outputs,
        w_std: 1.0,
        b_std: Some(0.05),
    });
    Ok(ConvArchitecture::new(layers, Parameterization::Ntk)?)
}

/// GEMM FLOPs of one forward + backward pass of one image (see the module docs).
fn pass_flops(arch: &ConvArchitecture) -> anyhow::Result<f64> {
    let shapes = arch.shapes((SIDE, SIDE, 1))?;
    let mut c_in = 1;
    let mut flops = 0.0;
    let mut first = true;
    for (layer, shape) in arch.layers().iter().zip(&shapes) {
        if let (ConvLayer::Conv { filter, .. }, Shape::Image { h, w, c }) = (layer, shape) {
            let per = 2.0 * (h * w * filter.0 * filter.1 * c_in * c) as f64;
            flops += if first { 2.0 * per } else { 3.0 * per };
            first = false;
            c_in = *c;
        }
    }
    Ok(flops)
}

fn images(n: usize) -> Mat<f64> {
    Mat::from_fn(n, SIDE * SIDE, |i, j| {
        (0.7 * (i + 1) as f64 + 1.3 * (j + 1) as f64).sin()
            + 0.1 * (2.1 * ((i + 1) * (j + 1)) as f64).cos()
    })
}

fn measurement(workload: &'static str, n: usize, timing: Timing, flops: f64) -> Measurement {
    Measurement {
        workload,
        n,
        median_s: timing.median_s,
        min_s: timing.min_s,
        max_s: timing.max_s,
        flops: Some(flops),
        entries: None,
        peak_memory: None,
        runs: timing.runs,
    }
}

/// `conv-net-fwd-bwd` at n = 128.
pub fn forward_backward(n: usize, runs: usize) -> anyhow::Result<Measurement> {
    let arch = architecture(10)?;
    let net = ConvNet::new(&arch, (SIDE, SIDE, 1))?;
    let theta = net.init_params(&mut ChaCha8Rng::seed_from_u64(0));
    let x = images(n);
    let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let mut grad = vec![0.0; net.n_params()];
    let timing = time_fallible(runs, "conv-net-fwd-bwd", || {
        net.loss_and_grad_labels(
            &theta,
            x.as_ref(),
            &labels,
            ClassificationLoss::CrossEntropy,
            &mut grad,
        )
    })?;
    let flops = n as f64 * pass_flops(&arch)?;
    Ok(measurement("conv-net-fwd-bwd", n, timing, flops))
}

/// `conv-net-empirical-ntk` at n = 64.
pub fn empirical_ntk(n: usize, runs: usize) -> anyhow::Result<Measurement> {
    let arch = architecture(1)?;
    let net = ConvNet::new(&arch, (SIDE, SIDE, 1))?;
    let theta = net.init_params(&mut ChaCha8Rng::seed_from_u64(0));
    let x = images(n);
    let timing = time_fallible(runs, "conv-net-empirical-ntk", || {
        net.empirical_ntk_outputs(&theta, x.as_ref(), x.as_ref())
    })?;
    let flops = n as f64 * pass_flops(&arch)? + 2.0 * (n * n) as f64 * net.n_params() as f64;
    Ok(measurement("conv-net-empirical-ntk", n, timing, flops))
}

/// Both workloads (the same sizes with `quick`: they take about a second each).
pub fn measurements(_quick: bool) -> anyhow::Result<Vec<Measurement>> {
    Ok(vec![forward_backward(128, RUNS)?, empirical_ntk(64, RUNS)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layer 1: 2·784·9·64 per product, two products; layers 2, 3: 2·784·576·64, three each.
    #[test]
    fn pass_flops_count_every_gemm() {
        let arch = architecture(10).unwrap();
        let expected =
            2.0 * 2.0 * (784 * 9 * 64) as f64 + 2.0 * 3.0 * 2.0 * (784 * 576 * 64) as f64;
        assert_eq!(pass_flops(&arch).unwrap(), expected);
    }
}
