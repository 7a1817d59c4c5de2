//! `cargo xtask`: the command line of ntk-lab's orchestrator.

use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use xtask::reproduce::{self, RunConfig, Scale};
use xtask::{UsageError, exit_code_for, one_line};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "ntk-lab tasks: reproduce the theory, evaluate kernels, benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Re-derive every claim of the lecture material numerically and write REPORT.md,
    /// results.json, figures/ and data/ (exit 1 if any claim fails or an experiment errors).
    Reproduce {
        /// Problem size: quick (≤ 3 min, CI), default (≤ 15 min), full (paper scale).
        #[arg(long, value_enum, default_value = "default")]
        scale: Scale,
        /// Run only these experiment ids (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Option<Vec<String>>,
        /// Run every experiment except these ids (comma-separated).
        #[arg(long, value_delimiter = ',', conflicts_with = "only")]
        skip: Option<Vec<String>>,
        /// Output directory.
        #[arg(long, default_value = "target/reproduce")]
        out: PathBuf,
        /// Base seed of every random stream.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Reuse experiments already finished in the output directory for the same commit,
        /// scale and seed.
        #[arg(long)]
        resume: bool,
        /// Run only shard i of N (0-based) of the selected experiments, split by cost; each shard
        /// writes its own output directory (see docs/cluster.md).
        #[arg(long, value_name = "i/N", conflicts_with = "merge")]
        shard: Option<String>,
        /// Write the one report from these finished shard output directories (comma-separated)
        /// instead of running experiments; same --scale, --seed and selection as the shards.
        #[arg(long, value_delimiter = ',', value_name = "DIR,DIR")]
        merge: Option<Vec<PathBuf>>,
    },
    /// Evaluate infinite-width NNGP/NTK kernels (and Mercer spectra) from a JSON spec.
    #[command(long_about = KERNEL_HELP)]
    Kernel {
        /// The spec file; read from stdin if absent or `-`.
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// Run the benchmark suite.
    Bench {
        /// Small sizes only.
        #[arg(long)]
        quick: bool,
        /// Machine-readable JSON output.
        #[arg(long)]
        json: bool,
        /// Also measure how cost grows with n, depth and width (fitted exponents).
        #[arg(long)]
        scaling: bool,
        /// Internal: run one analytic workload (`name,activation,n,depth,runs`) in this process
        /// and print its JSON line with the peak RSS (used for per-workload peak memory).
        #[arg(long, hide = true)]
        child: Option<String>,
    },
}

const KERNEL_HELP: &str = r#"Evaluate infinite-width NNGP/NTK kernels (and Mercer spectra) from a JSON spec.

Spec (unknown fields are errors):
  {"layers": [{"dense": {"width": 512, "w_std": 1.41, "b_std": 0.1}},
              {"activation": "relu"},
              {"dense": {"width": 1, "w_std": 1.0}}],
   "parameterization": "ntk" | "standard",          (default "ntk")
   "x1": [[...], ...],  "x2": [[...], ...],          (x2 optional, default x1)
   "get": ["nngp", "ntk"],                           (default both)
   "mercer": {"sphere_dim": p, "degrees": K}}        (optional)

Layers: {"dense": {"width": n, "w_std": w (default 1), "b_std": b}} (b_std null/absent = no bias)
or {"activation": NAME} with NAME one of relu, erf, identity, gelu, softplus, tanh, exp, sin,
{"activation": "leaky_relu", "alpha": 0.1}, {"activation": "abrelu", "a": -0.2, "b": 1.0}.
The last layer is the dense readout.

Output: {"nngp": [[...]], "ntk": [[...]], "mercer": {"nngp": [mu_0, ...], "ntk": [...]}}.
A bad spec exits with code 2 and one line naming the field."#;

fn read_spec(path: Option<PathBuf>) -> anyhow::Result<String> {
    match path {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(&path).map_err(|e| {
            UsageError::new(format!("cannot read spec {}: {e}", path.display())).into()
        }),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| UsageError::new(format!("cannot read spec from stdin: {e}")))?;
            Ok(text)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Reproduce {
            scale,
            only,
            skip,
            out,
            seed,
            resume,
            shard,
            merge,
        } => {
            let registry = reproduce::experiments::registry();
            let mut config = RunConfig::new(scale, seed, out);
            config.only = match skip {
                Some(skip) => Some(complement(&registry, &skip)?),
                None => only,
            };
            config.resume = resume;
            config.shard = shard
                .as_deref()
                .map(reproduce::shard::Shard::parse)
                .transpose()?;
            config.merge_from = merge;
            let summary = reproduce::run(&registry, &config)?;
            let failed: Vec<&str> = summary
                .results
                .experiments
                .iter()
                .filter(|e| e.is_failure())
                .map(|e| e.id.as_str())
                .collect();
            eprintln!(
                "reproduce: {} experiments in {:.1} s; report {}{}",
                summary.results.experiments.len(),
                summary.wall_seconds,
                summary.report_path.display(),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!("; failed: {}", failed.join(", "))
                }
            );
            Ok(summary.exit_code)
        }
        Command::Kernel { spec } => {
            let text = read_spec(spec)?;
            let output = xtask::kernel::run_spec(&text)?;
            println!("{output}");
            Ok(0)
        }
        Command::Bench {
            quick,
            json,
            scaling,
            child,
        } => {
            match child {
                Some(spec) => xtask::bench::run_child(&spec)?,
                None => xtask::bench::run(quick, json, scaling)?,
            }
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::from(exit_code_for(&error) as u8)
        }
    }
}

/// The ids of `registry` not in `skip` (`--skip`); an unknown id is a usage error.
fn complement(
    registry: &[Box<dyn reproduce::Experiment>],
    skip: &[String],
) -> anyhow::Result<Vec<String>> {
    let ids: Vec<&str> = registry.iter().map(|e| e.id()).collect();
    if let Some(unknown) = skip.iter().find(|id| !ids.contains(&id.as_str())) {
        return Err(UsageError::new(format!(
            "--skip: unknown experiment id {unknown}; valid ids: {}",
            ids.join(", ")
        ))
        .into());
    }
    Ok(ids
        .into_iter()
        .filter(|id| !skip.iter().any(|s| s == id))
        .map(str::to_string)
        .collect())
}
