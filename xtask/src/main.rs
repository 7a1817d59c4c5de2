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
        /// scale and seed, and the finished parts (kernels, training runs) of an experiment that
        /// was interrupted.
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
        #[command(flatten)]
        files: FileArgs,
    },
    /// Kernel regression / NTK-GP prediction on a data set given as .npy files: streams the
    /// train and test kernels to OUT/kernels/ (resumable), chooses the ridge on a validation
    /// split, solves out of core (CG at t = ∞, Lanczos at finite t) and writes
    /// OUT/predictions.KERNEL.t=T.npy and OUT/summary.json.
    Fit {
        /// The architecture spec (layers, parameterization, get).
        #[arg(long)]
        spec: PathBuf,
        /// Training points and targets: X.npy (n, d) or NHWC, Y.npy integer labels (n,) or
        /// float targets (n, k).
        #[arg(long, num_args = 2, value_names = ["X", "Y"], required_unless_present = "dataset", conflicts_with = "dataset")]
        train: Vec<PathBuf>,
        /// Test points and targets.
        #[arg(long, num_args = 2, value_names = ["X", "Y"], required_unless_present = "dataset", conflicts_with = "dataset")]
        test: Vec<PathBuf>,
        /// Instead of --train/--test, a built-in data set: fashion-mnist (the full 60 000 +
        /// 10 000 images, from --data-dir or Debian's dataset-fashion-mnist package) or
        /// fashion-mnist-subset (the shipped 10 000 + 2 000), written to OUT/data/ as .npy.
        #[arg(long)]
        dataset: Option<String>,
        /// Directory holding the four original Fashion-MNIST .gz files (with --dataset
        /// fashion-mnist; default /usr/share/datasets/fashion-mnist).
        #[arg(long, requires = "dataset")]
        data_dir: Option<PathBuf>,
        /// Preprocessing of a built-in data set's images: standardize (per image: centred, norm
        /// √d) or scale (pixels / 255).
        #[arg(long, default_value = "standardize", requires = "dataset")]
        preprocess: String,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Relative ridges r (ridge = r·tr(K)/n), comma-separated; more than one: chosen on the
        /// validation split.
        #[arg(long, value_delimiter = ',', default_values_t = xtask::fit::DEFAULT_RIDGES.to_vec())]
        ridge: Vec<f64>,
        /// Held-out fraction of the training set for the ridge choice (the last rows).
        #[arg(long, default_value_t = 0.1)]
        validation: f64,
        /// Search the ridge on the last N training rows only (split by --validation); default:
        /// all rows.
        #[arg(long)]
        validation_rows: Option<usize>,
        /// Training times, comma-separated (inf = converged).
        #[arg(long, default_value = "inf")]
        times: String,
        /// Learning rate of the gradient flow (finite times only).
        #[arg(long, default_value_t = 1.0)]
        learning_rate: f64,
        /// Relative residual of the CG solves.
        #[arg(long, default_value_t = 1e-8)]
        rtol: f64,
        /// Storage type of the kernels: f32 or f64.
        #[arg(long, default_value = "f32")]
        dtype: String,
        /// Landmark columns of the Nyström preconditioner of the CG solves (0: Jacobi).
        #[arg(long, default_value_t = xtask::fit::DEFAULT_LANDMARKS)]
        landmarks: usize,
        /// Memory budget (e.g. 8G); default 60% of RAM.
        #[arg(long)]
        max_memory: Option<String>,
        /// No progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Write Slurm job-array scripts (array.sbatch, merge.sbatch, submit.sh, run-local.sh) for a
    /// sharded `kernel …` (file mode) or `reproduce …` command given after `--`.
    Slurm {
        /// Number of array tasks N (shards).
        #[arg(long)]
        shards: usize,
        /// Directory for the scripts and the Slurm logs.
        #[arg(long)]
        job_dir: PathBuf,
        /// CPUs per task (also RAYON_NUM_THREADS).
        #[arg(long, default_value_t = 2)]
        cpus: usize,
        /// Wall-time limit per task (Slurm --time, e.g. 02:00:00).
        #[arg(long)]
        time: Option<String>,
        /// Slurm partition.
        #[arg(long)]
        partition: Option<String>,
        /// The command to shard: `kernel …` or `reproduce …`.
        #[arg(last = true, required = true)]
        command: Vec<String>,
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
        /// Instead: the data-set-scale measurements (streamed vs in-memory kernel throughput at
        /// n = 20 000, stream vs memory predictions at n = 5000, CG time against n); minutes.
        #[arg(long)]
        scale_data: bool,
        /// Only the convolutional kernel workloads (cntk-flatten-L3, cntk-gap-L3) after the
        /// same-run GEMM, and with --scaling only their sweeps.
        #[arg(long)]
        conv: bool,
        /// Internal: run one workload (`name,activation,n,depth,runs`, or `name,side,n,depth,runs`
        /// for a conv one) in this process and print its JSON line with the peak RSS.
        #[arg(long, hide = true)]
        child: Option<String>,
    },
}

/// File mode of `cargo xtask kernel`: inputs and output as `.npy`, streamed tile by tile.
#[derive(clap::Args)]
struct FileArgs {
    /// Points x1 as a float32/float64 .npy of shape (n, d) or NHWC (n, H, W, C): switches to
    /// file mode (the spec then holds only layers/parameterization/get).
    #[arg(long, requires = "out")]
    x1: Option<PathBuf>,
    /// Points x2 (default: the self kernel of x1).
    #[arg(long, requires = "x1")]
    x2: Option<PathBuf>,
    /// Output .npy (one kernel) or its stem (both kernels: STEM.nngp.npy, STEM.ntk.npy), with
    /// the resume manifest STEM.manifest.json beside it.
    #[arg(long, requires = "x1")]
    out: Option<PathBuf>,
    /// Storage type of the kernel file(s): f32 or f64.
    #[arg(long, default_value = "f64")]
    dtype: String,
    /// Memory budget (e.g. 8G, 512M); default 60% of the machine's RAM.
    #[arg(long)]
    max_memory: Option<String>,
    /// Tile side (a multiple of 128); default from the budget.
    #[arg(long)]
    tile: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Compute only shard i of N (0-based) of the tiles, into STEM.shard-i-of-N.* part files
    /// (resumable); see docs/cluster.md.
    #[arg(
        long,
        value_name = "i/N",
        requires = "x1",
        conflicts_with = "merge_shards"
    )]
    shard: Option<String>,
    /// Assemble the output from the part files of N finished shards (checksums verified).
    #[arg(long, value_name = "N", requires = "x1")]
    merge_shards: Option<usize>,
}

impl FileArgs {
    fn shard_mode(&self) -> anyhow::Result<Option<xtask::stream::shard::ShardMode>> {
        use xtask::stream::shard::ShardMode;
        Ok(match (&self.shard, self.merge_shards) {
            (Some(text), _) => Some(ShardMode::Shard(xtask::reproduce::shard::Shard::parse(
                text,
            )?)),
            (None, Some(count)) => Some(ShardMode::Merge(count)),
            (None, None) => None,
        })
    }

    fn stream_config(&self) -> anyhow::Result<xtask::stream::StreamConfig> {
        Ok(xtask::stream::StreamConfig {
            max_memory: match &self.max_memory {
                Some(text) => xtask::stream::parse_memory(text)?,
                None => xtask::stream::default_max_memory(),
            },
            tile: self.tile,
            dtype: xtask::npy::parse_dtype(&self.dtype)?,
            progress: !self.no_progress,
            stop_after: None,
        })
    }
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
A bad spec exits with code 2 and one line naming the field.

File mode (data-set scale): --x1 X.npy [--x2 X2.npy] --out K.npy [--dtype f32|f64]
[--max-memory 8G] [--tile N]: the spec holds layers/parameterization/get only; the kernel is
written tile by tile into K.npy (STEM.nngp.npy and STEM.ntk.npy for both kernels) within the
memory budget, with STEM.manifest.json listing finished tiles and their checksums. Rerunning the
same command after a kill resumes and gives a bit-identical file. Prints a one-line JSON summary."#;

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
        Command::Kernel { spec, files } => {
            let text = read_spec(spec)?;
            if let (Some(x1), Some(out)) = (&files.x1, &files.out) {
                let job = xtask::stream::FileJob {
                    spec_text: text,
                    x1: x1.clone(),
                    x2: files.x2.clone(),
                    out: out.clone(),
                    config: files.stream_config()?,
                };
                println!(
                    "{}",
                    xtask::stream::run_file_job_with(&job, files.shard_mode()?)?
                );
                return Ok(0);
            }
            let output = xtask::kernel::run_spec(&text)?;
            println!("{output}");
            Ok(0)
        }
        Command::Fit {
            spec,
            mut train,
            mut test,
            dataset,
            data_dir,
            preprocess,
            out,
            ridge,
            validation,
            validation_rows,
            times,
            learning_rate,
            rtol,
            dtype,
            landmarks,
            max_memory,
            no_progress,
        } => {
            if let Some(name) = dataset {
                let dataset = xtask::fit::dataset::BuiltinDataset::parse(&name, data_dir)?;
                let preprocessing = xtask::fit::dataset::parse_preprocessing(&preprocess)?;
                let files =
                    xtask::fit::dataset::export(&dataset, preprocessing, &out.join("data"))?;
                train = vec![files.train_x, files.train_y];
                test = vec![files.test_x, files.test_y];
            }
            let job = xtask::fit::FitJob {
                spec_text: read_spec(Some(spec))?,
                train_x: train[0].clone(),
                train_y: train[1].clone(),
                test_x: test[0].clone(),
                test_y: test[1].clone(),
                out,
                stream: xtask::stream::StreamConfig {
                    max_memory: match max_memory {
                        Some(text) => xtask::stream::parse_memory(&text)?,
                        None => xtask::stream::default_max_memory(),
                    },
                    tile: None,
                    dtype: xtask::npy::parse_dtype(&dtype)?,
                    progress: !no_progress,
                    stop_after: None,
                },
                ridges: ridge,
                validation,
                validation_rows,
                times: xtask::fit::parse_times(&times)?,
                learning_rate,
                cg: ntk_kernels::regression::CgConfig {
                    rtol,
                    ..Default::default()
                },
                landmarks,
            };
            let summary = xtask::fit::run_fit(&job)?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(0)
        }
        Command::Slurm {
            shards,
            job_dir,
            cpus,
            time,
            partition,
            command,
        } => {
            let cwd = std::env::current_dir()?;
            let job = xtask::cluster::SlurmJob {
                shards,
                job_dir: if job_dir.is_absolute() {
                    job_dir
                } else {
                    cwd.join(job_dir)
                },
                cpus,
                time,
                partition,
                binary: std::env::current_exe()?,
                workdir: cwd,
                command,
            };
            for path in job.write()? {
                println!("{}", path.display());
            }
            Ok(0)
        }
        Command::Bench {
            quick,
            json,
            scaling,
            scale_data,
            conv,
            child,
        } => {
            if scale_data {
                xtask::bench_scale::run(json)?;
                return Ok(0);
            }
            match child {
                Some(spec) => xtask::bench::run_child(&spec)?,
                None if conv => xtask::bench::run_conv(quick, json, scaling)?,
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
