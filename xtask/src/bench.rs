//! `cargo xtask bench [--quick] [--json] [--scaling]`: the benchmark suite of issue 9.
//!
//! Workloads (float64, d = 64, inputs `x[i][j] = sin(0.7(i+1) + 1.3(j+1)) + 0.1 cos(2.1(i+1)(j+1))`):
//! - `analytic-relu-L3`, `analytic-erf-L3`: NNGP + NTK of
//!   `serial([Dense(512, √2, 0.05), σ]×3, Dense(1, √2, 0.05))`, n = 1000, 2000, 4000, 8000;
//! - `empirical-ntk-mlp`: the full n×n empirical NTK of the 64 → 512 → 512 → 1 ReLU MLP
//!   (NTK parameterization, w_std = √2, b_std = 0.05), n = 256, 1024;
//! - `ntk-gp-predict-inf`, `ntk-gp-predict-10t`: MSE gradient-flow prediction with the analytic
//!   ReLU NTK, 2000 train / 200 test points, at t = ∞ (Cholesky) and at 10 times (eigh), means
//!   only, like neural-tangents' `predict.gradient_descent_mse`; `ntk-gp-predict-inf+cond` is the
//!   t = ∞ prediction plus the condition-number estimate of its solve (no neural-tangents
//!   anchor: it computes none);
//! - `flow-rhs`: one gradient-flow right-hand side (forward + backward) of a width-4096
//!   two-layer ReLU net on n = 256, d = 32;
//! - `gemm`: faer's n×n·n×n product, n = 4000: the machine's float64 GEMM rate in this run;
//! - `cntk-flatten-L3` (n = 200), `cntk-gap-L3` (n = 32, 256): the CNN-GP + CNTK of three
//!   SAME 3×3 ReLU conv layers with a Flatten or GlobalAvgPool readout on 28×28×1 images
//!   ([`conv`]); GAP lines also report seconds per pair;
//! - `conv-net-fwd-bwd`, `conv-net-empirical-ntk`: convolutional networks, see
//!   [`crate::bench_conv_nets`].
//!
//! Each is run once to warm up, then at least [`RUNS`] times, more for fast workloads (as many as
//! fit in [`TIME_BUDGET_S`], at most [`MAX_RUNS`]; the count is the `runs` field); median, min and
//! max are reported with the ratio to neural-tangents' median on the same machine type
//! (`ANCHORS`).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ntk_dynamics::GradientFlow;
use ntk_dynamics::ode::OdeSystem;
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::regression::{GradientDescentMse, MseConfig, TestSet};
use ntk_kernels::{Activation, Architecture, Layer, Parameterization};
use ntk_nets::test_models::{bench_spec, nt_inputs};
use ntk_nets::{Mlp, Model, Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

pub mod conv;

/// Timed runs per workload after the warm-up.
pub const RUNS: usize = 5;
/// Input dimension of every workload but `flow-rhs`.
const D: usize = 64;

/// neural-tangents 0.6.5 medians (seconds) on this machine type, from
/// `reference/anchor_timings.md` (2 threads, float64, `jax.jit`, median of 5 after a warm-up,
/// jax/jaxlib 0.4.23; where two numbers are given there, the lower, quiet-machine one).
/// `gemm` is XLA's 86 GFLOP/s for a 4000² float64 matmul converted to seconds (2·4000³/86e9).
pub const ANCHORS: &[(&str, usize, f64)] = &[
    ("analytic-relu-L3", 1000, 0.054),
    ("analytic-relu-L3", 2000, 0.199),
    ("analytic-relu-L3", 4000, 0.75),
    ("analytic-relu-L3", 8000, 4.34),
    ("analytic-erf-L3", 1000, 0.043),
    ("analytic-erf-L3", 2000, 0.298),
    ("analytic-erf-L3", 4000, 0.63),
    ("analytic-erf-L3", 8000, 3.71),
    ("empirical-ntk-mlp", 256, 0.029),
    ("empirical-ntk-mlp", 1024, 0.15),
    ("ntk-gp-predict-inf", 2000, 0.168),
    ("ntk-gp-predict-10t", 2000, 1.79),
    ("gemm", 4000, 0.1488),
    ("cntk-flatten-L3", 200, 2.04),
];

/// The neural-tangents median for (workload, n), if there is one.
pub fn anchor(workload: &str, n: usize) -> Option<f64> {
    ANCHORS
        .iter()
        .find(|(w, m, _)| *w == workload && *m == n)
        .map(|a| a.2)
}

/// Timings of one workload at one size.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub workload: &'static str,
    pub n: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// Floating-point work per run (for GFLOP/s), if it is well defined.
    pub flops: Option<f64>,
    /// Output entries per run (for entries/s), if meaningful.
    pub entries: Option<f64>,
    /// VmHWM (bytes) measured after the runs, when reset before them.
    pub peak_memory: Option<u64>,
    /// Timed runs behind median/min/max (after one untimed warm-up).
    pub runs: usize,
}

impl Measurement {
    pub fn gflops(&self) -> Option<f64> {
        self.flops.map(|f| f / self.median_s / 1e9)
    }

    /// neural-tangents median / ours (> 1: we are faster).
    pub fn speedup(&self) -> Option<f64> {
        anchor(self.workload, self.n).map(|a| a / self.median_s)
    }
}

/// Seconds of timed runs every workload gets at least: a workload faster than
/// `TIME_BUDGET_S / RUNS` is run more often than [`RUNS`] times (up to [`MAX_RUNS`]), so that
/// its median does not hinge on a handful of runs that a noisy neighbour can disturb.
pub const TIME_BUDGET_S: f64 = 1.0;
/// Most timed runs of one workload (odd, so that the median is one of the runs).
pub const MAX_RUNS: usize = 101;

/// Median, min and max seconds over `runs` timed runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub runs: usize,
}

/// Timed runs for a workload whose warm-up took `warm_up_s`: at least `min_runs`, more (up to
/// [`MAX_RUNS`], odd) while they fit in [`TIME_BUDGET_S`].
pub fn runs_for(min_runs: usize, warm_up_s: f64) -> usize {
    let affordable = if warm_up_s > 0.0 {
        (TIME_BUDGET_S / warm_up_s).floor().min(MAX_RUNS as f64) as usize
    } else {
        MAX_RUNS
    };
    let runs = min_runs.max(affordable).max(1);
    if runs % 2 == 0 && runs < MAX_RUNS {
        runs + 1
    } else {
        runs
    }
}

/// Runs `f` once to warm up (timed, to choose the count with [`runs_for`]) and then at least
/// `min_runs` times.
pub fn time_runs(min_runs: usize, mut f: impl FnMut()) -> Timing {
    let start = Instant::now();
    f();
    let runs = runs_for(min_runs, start.elapsed().as_secs_f64());
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let m = times.len();
    let median_s = if m % 2 == 1 {
        times[m / 2]
    } else {
        0.5 * (times[m / 2 - 1] + times[m / 2])
    };
    Timing {
        median_s,
        min_s: times[0],
        max_s: times[m - 1],
        runs,
    }
}

/// [`time_runs`] of a fallible workload: each result is kept alive through `black_box`, and the
/// last error (if any run failed) is returned with `context`.
pub(crate) fn time_fallible<T, E: std::fmt::Display>(
    runs: usize,
    context: &str,
    mut f: impl FnMut() -> Result<T, E>,
) -> anyhow::Result<Timing> {
    let mut failure = None;
    let times = time_runs(runs, || match f() {
        Ok(value) => {
            black_box(&value);
        }
        Err(e) => failure = Some(e.to_string()),
    });
    match failure {
        Some(e) => Err(anyhow::anyhow!("{context}: {e}")),
        None => Ok(times),
    }
}

/// VmHWM of this process in bytes (Linux), if readable.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The benchmark architecture: [Dense(512, √2, 0.05), σ]×depth + Dense(1, √2, 0.05), NTK
/// parameterization.
pub fn architecture(activation: Activation, depth: usize) -> anyhow::Result<Architecture> {
    let dense = |width| Layer::Dense {
        width,
        w_std: std::f64::consts::SQRT_2,
        b_std: Some(0.05),
    };
    let mut layers = Vec::new();
    for _ in 0..depth {
        layers.push(dense(512));
        layers.push(Layer::Activation(activation));
    }
    layers.push(dense(1));
    Ok(Architecture::new(layers, Parameterization::Ntk)?)
}

fn analytic(name: &'static str, activation: Activation, n: usize) -> anyhow::Result<Measurement> {
    analytic_depth(name, activation, n, 3, RUNS)
}

/// From this size on, an analytic workload runs in a fresh child process of the bench binary
/// (`bench --child …`), so its peak RSS (VmHWM) counts only that process: the binary, the inputs
/// and the kernel calls, not allocations retained from earlier workloads.
pub const PEAK_MEMORY_N: usize = 8000;

fn analytic_depth(
    name: &'static str,
    activation: Activation,
    n: usize,
    depth: usize,
    runs: usize,
) -> anyhow::Result<Measurement> {
    if n >= PEAK_MEMORY_N {
        analytic_in_child(name, activation, n, depth, runs)
    } else {
        analytic_in_process(name, activation, n, depth, runs, false)
    }
}

fn analytic_in_process(
    name: &'static str,
    activation: Activation,
    n: usize,
    depth: usize,
    runs: usize,
    track_memory: bool,
) -> anyhow::Result<Measurement> {
    let arch = architecture(activation, depth)?;
    let x = nt_inputs(0, n, D);
    let Timing {
        median_s,
        min_s,
        max_s,
        runs,
    } = time_fallible(runs, &format!("{name} n = {n}"), || {
        kernel(&arch, x.as_ref(), None, Get::BOTH)
    })?;
    Ok(Measurement {
        workload: name,
        runs,
        n,
        median_s,
        min_s,
        max_s,
        flops: None,
        entries: Some((n * n) as f64),
        peak_memory: if track_memory { peak_memory() } else { None },
    })
}

/// Workload names the child process accepts (its `Measurement` needs a `'static` name).
const ANALYTIC_NAMES: [&str; 3] = ["analytic-relu-L3", "analytic-erf-L3", "analytic-relu"];

/// Runs one analytic workload in a child process (`bench --child name,activation,n,depth,runs`)
/// and reads back its JSON line, peak memory included.
fn analytic_in_child(
    name: &'static str,
    activation: Activation,
    n: usize,
    depth: usize,
    runs: usize,
) -> anyhow::Result<Measurement> {
    let spec = format!("{name},{},{n},{depth},{runs}", activation.name());
    let mut m = measure_in_child(name, n, &spec)?;
    m.entries = Some((n * n) as f64);
    Ok(m)
}

/// Runs the workload `spec` in a fresh child process of the bench binary (`bench --child
/// SPEC`) and reads back its JSON line: times, run count and the child's peak RSS (VmHWM).
/// The caller fills in the flop and entry counts.
pub(crate) fn measure_in_child(
    name: &'static str,
    n: usize,
    spec: &str,
) -> anyhow::Result<Measurement> {
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "--child", spec])
        .output()?;
    if !output.status.success() {
        anyhow::bail!(
            "{name} n = {n} (child process): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let line = String::from_utf8(output.stdout)?;
    let value: serde_json::Value = serde_json::from_str(line.trim())?;
    let seconds = |key: &str| {
        value[key]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("child output lacks {key}: {line}"))
    };
    let runs = value["runs"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("child output lacks runs: {line}"))? as usize;
    Ok(Measurement {
        workload: name,
        runs,
        n,
        median_s: seconds("median_s")?,
        min_s: seconds("min_s")?,
        max_s: seconds("max_s")?,
        flops: None,
        entries: None,
        peak_memory: value["peak_memory_bytes"].as_u64(),
    })
}

/// The child side of `measure_in_child`: runs the workload `spec` in this fresh process and
/// prints its JSON line with the process's peak RSS. `spec` is
/// `name,activation,n,depth,runs` for an analytic workload and `name,side,n,depth,runs` for a
/// convolutional one (`cntk-flatten-L3`, `cntk-gap-L3`).
pub fn run_child(spec: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = spec.split(',').collect();
    let [name, second, n, depth, runs] = parts[..] else {
        anyhow::bail!("--child expects name,activation|side,n,depth,runs; got {spec:?}");
    };
    let (n, depth, runs): (usize, usize, usize) = (n.parse()?, depth.parse()?, runs.parse()?);
    if let Some(gap) = conv::workload_readout(name) {
        let mut m = conv::cntk_measure(gap, n, second.parse()?, depth, runs)?;
        m.peak_memory = peak_memory();
        println!("{}", json_line(&m, None));
        return Ok(());
    }
    let name = ANALYTIC_NAMES
        .into_iter()
        .find(|known| *known == name)
        .ok_or_else(|| anyhow::anyhow!("unknown workload {name:?}"))?;
    let activation = Activation::from_name(second)
        .ok_or_else(|| anyhow::anyhow!("unknown activation {second:?}"))?;
    let m = analytic_in_process(name, activation, n, depth, runs, true)?;
    println!("{}", json_line(&m, None));
    Ok(())
}

/// FLOPs of the structured empirical NTK of the 64 → 512 → 512 → 1 MLP with X1 = X2: the Gram
/// products (G⁰G⁰ᵀ: d, Δ¹Δ¹ᵀ/G¹G¹ᵀ/Δ²Δ²ᵀ/G²G²ᵀ: 3·512 in total, lower triangles only, so n²·k
/// multiply-adds = 2·n²·k/2 flops) plus the forward and backward passes 2·2·n·(64·512 + 512·512).
/// FLOPs of the empirical NTK of the 64 → w → w → 1 MLP on n points (X1 = X2): five Gram
/// products on lower triangles, n²·k each (G⁰G⁰ᵀ with k = 64; Δ¹Δ¹ᵀ, G¹G¹ᵀ, Δ²Δ²ᵀ, G²G²ᵀ with
/// k = w), the forward pass 2n(64w + w²) and the backward pass 2n·w² (terms of order n·w
/// dropped).
fn empirical_ntk_flops(n: usize, width: usize) -> f64 {
    let (n, w) = (n as f64, width as f64);
    n * n * (64.0 + 4.0 * w) + 2.0 * n * (64.0 * w + 2.0 * w * w)
}

fn empirical_ntk(n: usize, width: usize, runs: usize) -> anyhow::Result<Measurement> {
    let mut spec = bench_spec();
    spec.hidden_widths = vec![width, width];
    let mlp = Mlp::new(&spec)?.with_parallelism(Par::rayon(0));
    let theta = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(0));
    let x = nt_inputs(0, n, D);
    let Timing {
        median_s,
        min_s,
        max_s,
        runs,
    } = time_fallible(runs, &format!("empirical-ntk-mlp n = {n}"), || {
        mlp.empirical_ntk(&theta, x.as_ref(), x.as_ref())
    })?;
    let flops = empirical_ntk_flops(n, width);
    Ok(Measurement {
        workload: "empirical-ntk-mlp",
        runs,
        n,
        median_s,
        min_s,
        max_s,
        flops: Some(flops),
        entries: Some((n * n) as f64),
        peak_memory: None,
    })
}

/// MSE gradient-flow prediction on the benchmark NTK at `times`; with `diagnostics`, each run
/// also estimates the condition number of the solve (`GradientDescentMse::info`, which at t = ∞
/// is block Lanczos through the Cholesky factor; neural-tangents computes none).
fn gp_predict(times: &[f64], name: &'static str, diagnostics: bool) -> anyhow::Result<Measurement> {
    let (n_train, n_test) = (2000, 200);
    let arch = architecture(Activation::Relu, 3)?;
    let x_train = nt_inputs(0, n_train, D);
    let x_test = nt_inputs(n_train, n_test, D);
    let k_train = kernel(
        &arch,
        x_train.as_ref(),
        None,
        Get {
            nngp: false,
            ntk: true,
        },
    )?
    .ntk
    .ok_or_else(|| anyhow::anyhow!("no NTK returned"))?;
    let k_test = kernel(
        &arch,
        x_test.as_ref(),
        Some(x_train.as_ref()),
        Get {
            nngp: false,
            ntk: true,
        },
    )?
    .ntk
    .ok_or_else(|| anyhow::anyhow!("no NTK returned"))?;
    let y = Mat::from_fn(n_train, 1, |i, _| ((i + 1) as f64 * 0.37).sin());
    let fx_train = Mat::<f64>::zeros(n_train, 1);
    let fx_test = Mat::<f64>::zeros(n_test, 1);
    let Timing {
        median_s,
        min_s,
        max_s,
        runs,
    } = time_fallible(RUNS, name, || {
        GradientDescentMse::new(
            k_train.as_ref(),
            y.as_ref(),
            MseConfig::default(),
            Par::rayon(0),
        )
        .and_then(|flow| {
            let prediction = flow.predict(
                times,
                fx_train.as_ref(),
                Some(TestSet {
                    k_test_train: k_test.as_ref(),
                    fx_test_0: fx_test.as_ref(),
                }),
            )?;
            let info = if diagnostics {
                Some(flow.info(times)?)
            } else {
                None
            };
            Ok((prediction, info))
        })
    })?;
    let n = n_train as f64;
    Ok(Measurement {
        workload: name,
        runs,
        n: n_train,
        median_s,
        min_s,
        max_s,
        // Cholesky n³/3 flops (t = ∞); eigh's count depends on the algorithm: not reported.
        flops: if times.iter().all(|t| t.is_infinite()) {
            Some(n * n * n / 3.0)
        } else {
            None
        },
        entries: None,
        peak_memory: None,
    })
}

/// The gradient-flow problem of `flow-rhs`: a two-layer ReLU net (lazy scaling, trained second
/// layer, seed 7), its θ⁰, n inputs of dimension 32 and targets y_i = sin(0.37(i + 1)).
struct FlowProblem {
    model: TwoLayer,
    theta0: Vec<f64>,
    x: Mat<f64>,
    y: Vec<f64>,
}

fn flow_problem(n: usize, width: usize) -> anyhow::Result<FlowProblem> {
    let d = 32;
    let spec = TwoLayerSpec {
        input_dim: d,
        width,
        activation: Activation::Relu,
        scaling: Scaling::Lazy,
        alpha: 1.0,
        w_init_std: 1.0,
        second_layer: SecondLayer::Trained,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let model = TwoLayer::new(spec, &mut rng)?;
    let theta0 = model.init_params(&mut rng);
    let x = nt_inputs(0, n, d);
    let y: Vec<f64> = (0..n).map(|i| ((i + 1) as f64 * 0.37).sin()).collect();
    Ok(FlowProblem {
        model,
        theta0,
        x,
        y,
    })
}

fn flow_rhs(n: usize, width: usize, runs: usize) -> anyhow::Result<Measurement> {
    let FlowProblem {
        model,
        theta0,
        x,
        y,
    } = flow_problem(n, width)?;
    let mut flow = GradientFlow::new(&model, x.as_ref(), &y, &theta0, 1e6)?;
    let mut dtheta = vec![0.0; model.n_params()];
    let Timing {
        median_s,
        min_s,
        max_s,
        runs,
    } = time_fallible(runs, "flow-rhs", || {
        flow.rhs(0.0, &theta0, &mut dtheta)?;
        black_box(&dtheta);
        Ok::<(), ntk_dynamics::Error>(())
    })?;
    // Forward Z = XWᵀ (2nmd), backward ∇W = Mᵀ X (2nmd), readout and elementwise work (≈ 6nm).
    let (nf, mf, df) = (n as f64, width as f64, x.ncols() as f64);
    Ok(Measurement {
        workload: "flow-rhs",
        runs,
        n,
        median_s,
        min_s,
        max_s,
        flops: Some(4.0 * nf * mf * df + 6.0 * nf * mf),
        entries: None,
        peak_memory: None,
    })
}

fn gemm(n: usize) -> Measurement {
    let a = Mat::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5);
    let b = Mat::<f64>::from_fn(n, n, |i, j| ((i * 5 + j * 11) % 19) as f64 / 19.0 - 0.5);
    let mut c = Mat::<f64>::zeros(n, n);
    let Timing {
        median_s,
        min_s,
        max_s,
        runs,
    } = time_runs(RUNS, || {
        matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::rayon(0),
        );
        black_box(&c);
    });
    Measurement {
        workload: "gemm",
        runs,
        n,
        median_s,
        min_s,
        max_s,
        flops: Some(2.0 * (n as f64).powi(3)),
        entries: None,
        peak_memory: None,
    }
}

fn json_line(m: &Measurement, gemm_gflops: Option<f64>) -> String {
    json!({
        "workload": m.workload,
        "n": m.n,
        "median_s": m.median_s,
        "min_s": m.min_s,
        "max_s": m.max_s,
        "gflops": m.gflops(),
        "entries_per_s": m.entries.map(|e| e / m.median_s),
        "neural_tangents_s": anchor(m.workload, m.n),
        "speedup_vs_neural_tangents": m.speedup(),
        "fraction_of_gemm": m.gflops().zip(gemm_gflops).map(|(a, b)| a / b),
        "peak_memory_bytes": m.peak_memory,
        "runs": m.runs,
    })
    .to_string()
}

fn human_line(m: &Measurement, gemm_gflops: Option<f64>) -> String {
    let rate = match (m.gflops(), m.entries) {
        (Some(g), _) => format!(
            "{g:7.1} GFLOP/s{}",
            gemm_gflops.map_or(String::new(), |r| format!(" ({:.0}% GEMM)", 100.0 * g / r))
        ),
        (None, Some(e)) => format!("{:7.1} M entries/s", e / m.median_s / 1e6),
        _ => String::new(),
    };
    let ratio = match (anchor(m.workload, m.n), m.speedup()) {
        (Some(a), Some(s)) => format!("nt {a:.3} s, nt/ours = {s:.2}"),
        _ if m.workload == "cntk-gap-L3" && m.n == 32 => format!(
            "nt did not finish within {} s, nt/ours > {:.0}; {:.2} ms/pair",
            conv::GAP_NT_LOWER_BOUND_S,
            conv::GAP_NT_LOWER_BOUND_S / m.median_s,
            1e3 * conv::seconds_per_pair(m)
        ),
        _ if m.workload == "cntk-gap-L3" => {
            format!(
                "no nt anchor; {:.2} ms/pair",
                1e3 * conv::seconds_per_pair(m)
            )
        }
        _ => "no nt anchor".to_string(),
    };
    let memory = m.peak_memory.map_or(String::new(), |b| {
        format!(", peak RSS {:.2} GB", b as f64 / 1e9)
    });
    format!(
        "{:<20} n = {:>5}  median {:>9.4} s  (min {:.4}, max {:.4}, {} runs)  {rate}  {ratio}{memory}",
        m.workload, m.n, m.median_s, m.min_s, m.max_s, m.runs
    )
}

/// The convolutional kernel workloads only: the same-run GEMM rate, `cntk-flatten-L3` and
/// `cntk-gap-L3` (each in a child process, with its peak RSS), and their cost-growth sweeps with
/// `scaling`.
pub fn run_conv(quick: bool, json: bool, scaling: bool) -> anyhow::Result<()> {
    let g = gemm(4000);
    let gemm_gflops = g.gflops();
    let emit = |m: &Measurement| {
        if json {
            println!("{}", json_line(m, gemm_gflops));
        } else {
            println!("{}", human_line(m, gemm_gflops));
        }
    };
    emit(&g);
    for m in conv::workloads(quick)? {
        emit(&m);
    }
    if scaling {
        conv::run_scaling(quick, json)?;
    }
    Ok(())
}

/// Runs the benchmark suite and prints one line per workload (JSON with `json`).
/// `quick` keeps every workload at its smallest size; `scaling` adds the cost-growth sweeps.
pub fn run(quick: bool, json: bool, scaling: bool) -> anyhow::Result<()> {
    let emit = |m: &Measurement, gemm_gflops: Option<f64>| {
        if json {
            println!("{}", json_line(m, gemm_gflops));
        } else {
            println!("{}", human_line(m, gemm_gflops));
        }
    };
    if !json {
        println!(
            "ntk-lab bench: {} thread(s), ≥ {RUNS} runs (≥ {TIME_BUDGET_S} s) after a warm-up, float64{}",
            rayon::current_num_threads(),
            if quick { ", --quick" } else { "" }
        );
    }
    let g = gemm(4000);
    let gemm_gflops = g.gflops();
    emit(&g, gemm_gflops);
    let sizes: &[usize] = if quick {
        &[1000]
    } else {
        &[1000, 2000, 4000, 8000]
    };
    for (name, activation) in [
        ("analytic-relu-L3", Activation::Relu),
        ("analytic-erf-L3", Activation::Erf),
    ] {
        for &n in sizes {
            emit(&analytic(name, activation, n)?, gemm_gflops);
        }
    }
    let ntk_sizes: &[usize] = if quick { &[256] } else { &[256, 1024] };
    for &n in ntk_sizes {
        emit(&empirical_ntk(n, 512, RUNS)?, gemm_gflops);
    }
    emit(
        &gp_predict(&[f64::INFINITY], "ntk-gp-predict-inf", false)?,
        gemm_gflops,
    );
    emit(
        &gp_predict(&[f64::INFINITY], "ntk-gp-predict-inf+cond", true)?,
        gemm_gflops,
    );
    let ten_times: Vec<f64> = (0..10).map(|k| 10f64.powf(k as f64 - 2.0)).collect();
    emit(
        &gp_predict(&ten_times, "ntk-gp-predict-10t", false)?,
        gemm_gflops,
    );
    emit(&flow_rhs(256, 4096, RUNS)?, gemm_gflops);
    for m in conv::workloads(quick)? {
        emit(&m, gemm_gflops);
    }
    for m in crate::bench_conv_nets::measurements(quick)? {
        emit(&m, gemm_gflops);
    }
    if scaling {
        run_scaling(quick, json)?;
        conv::run_scaling(quick, json)?;
    }
    Ok(())
}

/// Least-squares slope of log y against log x.
fn log_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let m = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / m, ly.iter().sum::<f64>() / m);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// One cost-growth sweep in seconds: see [`report_scaling_of`].
fn report_scaling(json: bool, what: &str, variable: &str, points: &[(f64, f64)]) {
    report_scaling_of(json, what, variable, points, |v| format!("{v:.4} s"));
}

/// One cost-growth sweep: its points (x, y), the fitted log–log exponent, as a JSON line or a
/// human line with each y written by `value`.
fn report_scaling_of(
    json: bool,
    what: &str,
    variable: &str,
    points: &[(f64, f64)],
    value: impl Fn(f64) -> String,
) {
    let (x, y): (Vec<f64>, Vec<f64>) = points.iter().cloned().unzip();
    let slope = log_slope(&x, &y);
    if json {
        println!(
            "{}",
            json!({"scaling": what, "variable": variable, "points": points, "fitted_exponent": slope})
        );
    } else {
        let list: Vec<String> = points
            .iter()
            .map(|&(a, b)| format!("{variable}={a}: {}", value(b)))
            .collect();
        println!(
            "scaling {what}: {}; fitted exponent {slope:.2}",
            list.join(", ")
        );
    }
}

/// Cost growth (issue 9): analytic kernel time against n and depth, empirical NTK against width
/// and n, gradient-flow RHS cost and whole-flow cost per unit flow time against width. At least
/// three runs per point after a warm-up.
fn run_scaling(quick: bool, json: bool) -> anyhow::Result<()> {
    let runs = 3;
    let ns: &[usize] = if quick {
        &[500, 1000, 2000]
    } else {
        &[1000, 2000, 4000, 8000, 16000]
    };
    let points: Vec<(f64, f64)> = ns
        .iter()
        .map(|&n| {
            analytic_depth("analytic-relu-L3", Activation::Relu, n, 3, runs)
                .map(|m| (n as f64, m.median_s))
        })
        .collect::<anyhow::Result<_>>()?;
    report_scaling(json, "analytic-relu-L3 time vs n", "n", &points);
    let depths: &[usize] = if quick {
        &[1, 2, 4, 8]
    } else {
        &[1, 2, 4, 8, 12, 16, 20]
    };
    let points: Vec<(f64, f64)> = depths
        .iter()
        .map(|&depth| {
            analytic_depth("analytic-relu", Activation::Relu, 2000, depth, runs)
                .map(|m| (depth as f64, m.median_s))
        })
        .collect::<anyhow::Result<_>>()?;
    report_scaling(json, "analytic-relu time vs depth (n = 2000)", "L", &points);
    let widths: &[usize] = if quick {
        &[128, 256, 512]
    } else {
        &[256, 512, 1024, 2048]
    };
    let points: Vec<(f64, f64)> = widths
        .iter()
        .map(|&w| empirical_ntk(256, w, runs).map(|m| (w as f64, m.median_s)))
        .collect::<anyhow::Result<_>>()?;
    report_scaling(
        json,
        "empirical-ntk-mlp time vs width (n = 256)",
        "width",
        &points,
    );
    let ntk_ns: &[usize] = if quick {
        &[128, 256, 512]
    } else {
        &[256, 512, 1024, 2048]
    };
    let points: Vec<(f64, f64)> = ntk_ns
        .iter()
        .map(|&n| empirical_ntk(n, 512, runs).map(|m| (n as f64, m.median_s)))
        .collect::<anyhow::Result<_>>()?;
    report_scaling(
        json,
        "empirical-ntk-mlp time vs n (width 512)",
        "n",
        &points,
    );
    let flow_widths: &[usize] = if quick {
        &[512, 1024, 2048]
    } else {
        &[1024, 2048, 4096, 8192, 16384]
    };
    let points: Vec<(f64, f64)> = flow_widths
        .iter()
        .map(|&w| flow_rhs(256, w, runs).map(|m| (w as f64, m.median_s)))
        .collect::<anyhow::Result<_>>()?;
    report_scaling(
        json,
        "flow-rhs time per RHS vs width (n = 256)",
        "width",
        &points,
    );
    // The whole flow: wall time and right-hand sides per unit of flow time (adaptive
    // Dormand–Prince at the default tolerances, t ∈ [0, FLOW_T]).
    let flows: Vec<(f64, f64, f64)> = flow_widths
        .iter()
        .map(|&w| flow_per_unit_time(256, w).map(|(s, evals)| (w as f64, s, evals)))
        .collect::<anyhow::Result<_>>()?;
    let seconds: Vec<(f64, f64)> = flows.iter().map(|&(w, s, _)| (w, s)).collect();
    report_scaling(
        json,
        "gradient-flow time per unit flow time vs width (n = 256)",
        "width",
        &seconds,
    );
    let evals: Vec<(f64, f64)> = flows.iter().map(|&(w, _, e)| (w, e)).collect();
    report_scaling_of(
        json,
        "gradient-flow RHS evaluations per unit flow time vs width (n = 256)",
        "width",
        &evals,
        |v| format!("{v:.0}"),
    );
    Ok(())
}

/// Flow time integrated by [`flow_per_unit_time`]. The flow is stiff (≈ 1000 right-hand sides
/// per unit time at n = 256: the explicit integrator's step is limited by λ_max of the empirical
/// NTK over n, which does not grow with the width), so half a unit keeps the widest point to a
/// few seconds per run; over [0, 0.1] the start-up of the step-size control (h₀ selection,
/// growth) made the counts vary by 3× between widths.
const FLOW_T: f64 = 0.5;

/// Gradient flow of the `flow-rhs` network (width `width`, n points, d = 32) over [0, FLOW_T]
/// by adaptive Dormand–Prince (`ntk_dynamics::gradient_flow`, default tolerances): (median wall
/// seconds, right-hand-side evaluations) per unit of flow time.
fn flow_per_unit_time(n: usize, width: usize) -> anyhow::Result<(f64, f64)> {
    let FlowProblem {
        model,
        theta0,
        x,
        y,
    } = flow_problem(n, width)?;
    let config = ntk_dynamics::FlowConfig::new(FLOW_T);
    let mut evals = 0;
    let timing = time_fallible(3, "gradient flow", || {
        ntk_dynamics::gradient_flow(
            &model,
            x.as_ref(),
            &y,
            &theta0,
            &[FLOW_T],
            &config,
            |_, _| Ok(()),
        )
        .map(|stats| evals = stats.rhs_evals)
    })?;
    Ok((timing.median_s / FLOW_T, evals as f64 / FLOW_T))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run count: never below the minimum, as many as fit the budget, odd, capped.
    #[test]
    fn runs_fill_the_time_budget() {
        assert_eq!(runs_for(5, 1.3), 5); // GEMM n = 4000: slower than the budget
        assert_eq!(runs_for(5, 0.3), 5); // 3 fit, the minimum wins
        assert_eq!(runs_for(5, 0.05), 21); // 20 fit, made odd
        assert_eq!(runs_for(5, 0.0017), MAX_RUNS); // 588 fit, capped
        assert_eq!(runs_for(5, 0.0), MAX_RUNS);
        assert_eq!(runs_for(0, 10.0), 1);
        // The timing itself: the median of the counted runs.
        let mut calls = 0;
        let timing = time_runs(5, || calls += 1);
        assert_eq!(calls, timing.runs + 1); // plus the warm-up
        assert!(timing.min_s <= timing.median_s && timing.median_s <= timing.max_s);
    }

    /// The empirical-NTK FLOP count against a layer-by-layer count from the benchmark spec:
    /// layer l (fan_in → width) contributes a Gram product of its inputs (k = fan_in) and, if
    /// hidden, of its deltas (k = width), n² flops per unit of k on lower triangles; the forward
    /// pass 2n·fan_in·width per layer; the backward pass 2n·width·fan_in per layer above the
    /// first (δ⁽ˡ⁻¹⁾ = δ⁽ˡ⁾W⁽ˡ⁾). The O(n·w) readout products are the only terms dropped.
    #[test]
    fn empirical_ntk_flops_count_every_product() {
        let spec = bench_spec();
        let n = 1024.0;
        let mut fans = vec![spec.input_dim];
        fans.extend(&spec.hidden_widths);
        fans.push(1);
        let layers: Vec<(f64, f64)> = fans
            .windows(2)
            .map(|w| (w[0] as f64, w[1] as f64))
            .collect();
        let hidden = layers.len() - 1;
        let gram: f64 = layers.iter().map(|&(fan_in, _)| fan_in).sum::<f64>()
            + layers[..hidden]
                .iter()
                .map(|&(_, width)| width)
                .sum::<f64>();
        let forward: f64 = layers.iter().map(|&(i, o)| 2.0 * n * i * o).sum();
        let backward: f64 = layers[1..].iter().map(|&(i, o)| 2.0 * n * i * o).sum();
        let direct = n * n * gram + forward + backward;
        let formula = empirical_ntk_flops(1024, spec.hidden_widths[0]);
        // The formula drops the readout's 2n·512 forward and backward flops: 4n·512 in all.
        assert!(((direct - formula) - 4.0 * n * 512.0).abs() < 1e-6 * direct);
    }
}
