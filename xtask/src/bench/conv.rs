//! Convolutional workloads: `cntk-flatten-L3` and `cntk-gap-L3`, the NNGP + NTK of
//! `serial([Conv(64, (3, 3), SAME, W_std=√2, b_std=0.1), Relu()]×3, READOUT, Dense(1, √2, 0.1))`
//! on 28 × 28 × 1 images `x[i][h][w][0] = sin(0.7(i+1) + 1.3(h+1) + 0.5(w+1)) +
//! 0.1 cos(2.1(i+1)(h+1) − 0.9(w+1))` (`reference/conv_timings.md`), and their cost growth in
//! n, P = H·W and depth.

use super::{Measurement, Timing, report_scaling, time_fallible};
use faer::Mat;
use ntk_kernels::analytic::Get;
use ntk_kernels::conv::{self, ConvArchitecture, ConvLayer, Padding};
use ntk_kernels::{Activation, Parameterization};
use std::time::Instant;

/// Image side of the workloads.
pub const SIDE: usize = 28;

/// neural-tangents 0.6.5 on `cntk-gap-L3`, n = 32: did not finish within this many seconds
/// (`reference/conv_timings.md`), a lower bound on its time.
pub const GAP_NT_LOWER_BOUND_S: f64 = 360.0;

/// n images of `side × side × 1` by the formula of `reference/conv_timings.md`, one per row.
pub fn conv_images(n: usize, side: usize) -> Mat<f64> {
    Mat::from_fn(n, side * side, |i, k| {
        let (h, w) = (k / side, k % side);
        let (a, h, w) = ((i + 1) as f64, (h + 1) as f64, (w + 1) as f64);
        (0.7 * a + 1.3 * h + 0.5 * w).sin() + 0.1 * (2.1 * a * h - 0.9 * w).cos()
    })
}

/// The benchmark CNN with `depth` conv layers and the given readout.
pub fn cnn(readout: ConvLayer, depth: usize) -> anyhow::Result<ConvArchitecture> {
    Ok(ConvArchitecture::cnn(
        depth,
        64,
        (3, 3),
        Padding::Same,
        Activation::Relu,
        readout,
        std::f64::consts::SQRT_2,
        Some(0.1),
        Parameterization::Ntk,
    )?)
}

/// Flops of one pair state per spatial entry and conv layer: the H and W stencil passes (3 + 3
/// adds) and the affine map (3) for Σ and for Θ, and ~50 for the ReLU arc-cosine step (the
/// rational arccos, 2 square roots, the products; a square root or division counted as one).
const FLOPS_PER_ENTRY_LAYER: f64 = 2.0 * (6.0 + 3.0) + 50.0;

/// Flops of the kernel of `n` images (self kernel: n(n+1)/2 pair runs) at P = `side²`
/// positions and `depth` layers: P entries per pair and layer for the flatten (diagonal) form,
/// P² for the GAP (full) form, plus Σ⁽⁰⁾ and the readout (2 per entry).
pub fn cntk_flops(gap: bool, n: usize, side: usize, depth: usize) -> f64 {
    let pairs = (n * (n + 1) / 2) as f64;
    let p = (side * side) as f64;
    let entries = if gap { p * p } else { p };
    pairs * entries * (depth as f64 * FLOPS_PER_ENTRY_LAYER + 4.0)
}

/// The workload name of a readout.
fn name(gap: bool) -> &'static str {
    if gap {
        "cntk-gap-L3"
    } else {
        "cntk-flatten-L3"
    }
}

/// Times the conv kernel of `n` images (`side²` pixels, `depth` layers); `runs = 1` is a single
/// run without warm-up (for workloads of minutes), else a warm-up and at least `runs` runs.
pub fn cntk_measure(
    gap: bool,
    n: usize,
    side: usize,
    depth: usize,
    runs: usize,
) -> anyhow::Result<Measurement> {
    let readout = if gap {
        ConvLayer::GlobalAvgPool
    } else {
        ConvLayer::Flatten
    };
    let arch = cnn(readout, depth)?;
    let x = conv_images(n, side);
    let shape = (side, side, 1);
    let evaluate = || conv::kernel(&arch, x.as_ref(), None, shape, Get::BOTH);
    let Timing {
        median_s,
        min_s,
        max_s,
        runs,
    } = if runs == 1 {
        let start = Instant::now();
        std::hint::black_box(evaluate()?);
        let s = start.elapsed().as_secs_f64();
        Timing {
            median_s: s,
            min_s: s,
            max_s: s,
            runs: 1,
        }
    } else {
        time_fallible(runs, &format!("{} n = {n}", name(gap)), evaluate)?
    };
    Ok(Measurement {
        workload: name(gap),
        runs,
        n,
        median_s,
        min_s,
        max_s,
        flops: Some(cntk_flops(gap, n, side, depth)),
        entries: Some((n * n) as f64),
        peak_memory: None,
    })
}

/// The readout of a conv workload name: `Some(true)` for GAP, `Some(false)` for flatten.
pub fn workload_readout(name: &str) -> Option<bool> {
    [false, true]
        .into_iter()
        .find(|&gap| self::name(gap) == name)
}

/// One workload in a fresh child process, so that its peak RSS (VmHWM) counts only that kernel:
/// the binary, the images, the n × n outputs and the per-worker pair state.
fn measure_in_child(gap: bool, n: usize, runs: usize) -> anyhow::Result<Measurement> {
    let spec = format!("{},{SIDE},{n},3,{runs}", name(gap));
    let mut m = super::measure_in_child(name(gap), n, &spec)?;
    m.flops = Some(cntk_flops(gap, n, SIDE, 3));
    m.entries = Some((n * n) as f64);
    Ok(m)
}

/// The timed workloads, each in its own process (peak RSS): flatten at n = 200, GAP at n = 32
/// (and 256 unless `quick`).
pub fn workloads(quick: bool) -> anyhow::Result<Vec<Measurement>> {
    let mut out = vec![measure_in_child(false, 200, super::RUNS)?];
    out.push(measure_in_child(true, 32, if quick { 1 } else { 3 })?);
    if !quick {
        out.push(measure_in_child(true, 256, 1)?);
    }
    Ok(out)
}

/// Seconds per pair run of a GAP measurement (n(n+1)/2 pair runs).
pub fn seconds_per_pair(m: &Measurement) -> f64 {
    m.median_s / (m.n * (m.n + 1) / 2) as f64
}

/// Cost growth of both forms in n, P = side² and depth (three runs per point after a warm-up).
pub fn run_scaling(quick: bool, json: bool) -> anyhow::Result<()> {
    let runs = 3;
    let sweep =
        |gap: bool, ns: &[usize], side: usize, depth: usize| -> anyhow::Result<Vec<(f64, f64)>> {
            ns.iter()
                .map(|&n| cntk_measure(gap, n, side, depth, runs).map(|m| (n as f64, m.median_s)))
                .collect()
        };
    let (flat_ns, gap_ns): (&[usize], &[usize]) = if quick {
        (&[50, 100, 200], &[4, 8, 16])
    } else {
        (&[100, 200, 400, 800], &[8, 16, 32])
    };
    report_scaling(
        json,
        "cntk-flatten-L3 time vs n (28x28)",
        "n",
        &sweep(false, flat_ns, SIDE, 3)?,
    );
    report_scaling(
        json,
        "cntk-gap-L3 time vs n (28x28)",
        "n",
        &sweep(true, gap_ns, SIDE, 3)?,
    );
    let sides: &[usize] = if quick {
        &[8, 12, 16]
    } else {
        &[8, 12, 16, 20, 28]
    };
    for (gap, n) in [(false, 100), (true, 8)] {
        let points: Vec<(f64, f64)> = sides
            .iter()
            .map(|&side| {
                cntk_measure(gap, n, side, 3, runs).map(|m| ((side * side) as f64, m.median_s))
            })
            .collect::<anyhow::Result<_>>()?;
        let what = format!("{} time vs P = H*W (n = {n})", name(gap));
        report_scaling(json, &what, "P", &points);
    }
    let depths: &[usize] = if quick { &[1, 2, 4] } else { &[1, 2, 4, 8] };
    for (gap, n, side) in [(false, 100, SIDE), (true, 8, 16)] {
        let points: Vec<(f64, f64)> = depths
            .iter()
            .map(|&depth| {
                cntk_measure(gap, n, side, depth, runs).map(|m| (depth as f64, m.median_s))
            })
            .collect::<anyhow::Result<_>>()?;
        let what = format!("{} time vs depth (n = {n}, {side}x{side})", name(gap));
        report_scaling(json, &what, "L", &points);
    }
    Ok(())
}
