//! Streaming kernel computation for the CLI: `cargo xtask kernel --x1 X.npy --out K.npy` and
//! `cargo xtask fit` write an n₁ × n₂ kernel tile by tile into `.npy` files within a memory
//! budget, with a progress bar and resume.
//!
//! The streaming writer itself (tile plan and memory budget, positioned writes into
//! `FILE.partial`, the checksummed manifest and resume, the atomic rename when complete) is the
//! library's [`ntk_kernels::stream`], shared with the Python package; this module adds what is
//! the command line's: the [`StreamConfig`] with its progress flag, the indicatif bar (an
//! [`ntk_kernels::stream::StreamObserver`]), the flag names in messages (`--out: …`,
//! `--tile: …`, `--max-memory: …`), the spec parsing and fingerprint, the JSON summary, and the
//! shards ([`shard`]).

pub mod manifest;
pub mod shard;

use crate::UsageError;
use crate::npy::Dtype;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ntk_kernels::stream::StreamObserver;
use ntk_kernels::tiled::TileKernel;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

pub use ntk_kernels::stream::{
    Encoded, MAX_TILE, Output, StreamReport, bytes_per_entry, checksum, default_max_memory,
    encode_tile, free_bytes, output_paths, partial_path, tile_side,
};

/// Settings of a streaming run.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Memory budget in bytes for the tiles in flight (the inputs are counted separately by the
    /// caller, see [`tile_side`]).
    pub max_memory: u64,
    /// Tile side override (a multiple of 128); `None`: from the budget.
    pub tile: Option<usize>,
    /// Storage type of the kernel files.
    pub dtype: Dtype,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// Test hook: stop (as if killed) after computing this many tiles in this run.
    pub stop_after: Option<usize>,
}

impl StreamConfig {
    /// The library's settings (all but the progress flag).
    pub fn library(&self) -> ntk_kernels::stream::StreamConfig {
        ntk_kernels::stream::StreamConfig {
            max_memory: self.max_memory,
            tile: self.tile,
            dtype: self.dtype,
            stop_after: self.stop_after,
        }
    }
}

/// A library error of the streaming code with the CLI's flag names: `--out: …` for the output
/// directory and disk space, `--tile: …` for a rejected tile side (both [`UsageError`]s, exit 2);
/// other errors unchanged (a bad file is exit 2 as well, see [`crate::exit_code_for`]).
pub fn cli_error(error: ntk_kernels::Error) -> anyhow::Error {
    match error {
        ntk_kernels::Error::OutputDirectory { .. } | ntk_kernels::Error::DiskSpace { .. } => {
            UsageError::new(format!("--out: {error}")).into()
        }
        ntk_kernels::Error::TileSide { reason } => {
            UsageError::new(format!("--tile: {reason}")).into()
        }
        other => other.into(),
    }
}

/// Checks that the directory of output file `path` exists and has `needed` bytes free (`what`
/// qualifies the message, e.g. " for shard 1/4"); a [`UsageError`] otherwise.
pub(crate) fn check_output_space(path: &Path, needed: u64, what: &str) -> Result<()> {
    ntk_kernels::stream::check_output_space(path, needed).map_err(|e| match e {
        ntk_kernels::Error::DiskSpace { dir, needed, free } => UsageError::new(format!(
            "--out: not enough disk space in {}{what}: the kernel needs {:.2} GB, {:.2} GB are free",
            dir.display(),
            needed as f64 / 1e9,
            free as f64 / 1e9
        ))
        .into(),
        other => cli_error(other),
    })
}

/// The progress bar of a run as a [`StreamObserver`]: drawn on stderr when `wanted` and stderr
/// is a terminal.
struct Bar {
    bar: Option<ProgressBar>,
    wanted: bool,
}

impl StreamObserver for Bar {
    fn start(&mut self, total_entries: u64) {
        self.bar = Some(progress_bar(total_entries, self.wanted));
    }

    fn tile_done(&mut self, entries_done: u64) -> ControlFlow<()> {
        if let Some(bar) = &self.bar {
            bar.set_position(entries_done);
        }
        ControlFlow::Continue(())
    }

    fn finish(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Computes the kernels of `source` into `outputs` (one file per requested kernel), resuming from
/// `manifest_path` when it describes the same `fingerprint`
/// ([`ntk_kernels::stream::stream_kernel`] with a progress bar).
///
/// # Errors
/// A [`UsageError`] for an unwritable location, too little disk space, or a bad `--tile`; the
/// library's error (exit 2 for a bad file or a non-finite kernel entry) otherwise.
pub fn stream_kernel(
    source: &dyn TileKernel,
    fingerprint: &str,
    outputs: &[Output],
    manifest_path: &Path,
    config: &StreamConfig,
) -> Result<StreamReport> {
    let mut bar = Bar {
        bar: None,
        wanted: config.progress,
    };
    ntk_kernels::stream::stream_kernel(
        source,
        fingerprint,
        outputs,
        manifest_path,
        &config.library(),
        &mut bar,
    )
    .map_err(cli_error)
}

pub(crate) fn progress_bar(total: u64, wanted: bool) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if !wanted || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {percent}% {human_pos}/{human_len} entries, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Parses a memory size: `8G`, `512M`, `1.5GB`, `4096` (bytes); K/M/G/T are powers of 1024
/// ([`ntk_kernels::stream::parse_memory`]).
pub fn parse_memory(text: &str) -> Result<u64> {
    ntk_kernels::stream::parse_memory(text).ok_or_else(|| {
        UsageError::new(format!(
            "--max-memory: expected a size like 8G or 512M, found {text}"
        ))
        .into()
    })
}

/// Input files and settings of `cargo xtask kernel --spec S --x1 X.npy [--x2 X2.npy] --out K.npy`.
#[derive(Debug, Clone)]
pub struct FileJob {
    pub spec_text: String,
    pub x1: PathBuf,
    pub x2: Option<PathBuf>,
    pub out: PathBuf,
    pub config: StreamConfig,
}

/// The fingerprint of a job: spec (as parsed JSON, so formatting does not matter), inputs,
/// storage type.
///
/// The hash itself is [`ntk_kernels::stream::fingerprint`] with the spec as compact JSON.
pub fn fingerprint(spec_text: &str, x1: u64, x2: Option<u64>, dtype: Dtype) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(spec_text)?;
    Ok(ntk_kernels::stream::fingerprint(
        &value.to_string(),
        x1,
        x2,
        dtype,
    ))
}

/// Runs a [`FileJob`] with the analytic fully-connected kernels and returns the one-line JSON
/// summary (outputs, manifest, [`StreamReport`]).
pub fn run_file_job(job: &FileJob) -> Result<String> {
    run_file_job_with(job, None)
}

/// [`run_file_job`], or one shard of it / the merge of its shards ([`shard`]).
pub fn run_file_job_with(job: &FileJob, mode: Option<shard::ShardMode>) -> Result<String> {
    let (architecture, get) = crate::kernel::spec::parse_file_spec(&job.spec_text)
        .map_err(|e| UsageError::new(e.to_string()))?;
    let x1 = crate::npy::read_inputs(&job.x1, "--x1")?;
    let x2 = match &job.x2 {
        Some(path) => Some(crate::npy::read_inputs(path, "--x2")?),
        None => None,
    };
    if let Some(x2) = &x2
        && x2.matrix.ncols() != x1.matrix.ncols()
    {
        return Err(UsageError::new(format!(
            "--x2: points have {} coordinates (shape {:?}) but --x1 points have {} (shape {:?})",
            x2.matrix.ncols(),
            x2.shape,
            x1.matrix.ncols(),
            x1.shape
        ))
        .into());
    }
    let (outputs, manifest_path) = output_paths(&job.out, get.nngp, get.ntk);
    if outputs.is_empty() {
        return Err(UsageError::new("spec field `get`: no kernel requested").into());
    }
    let inputs = 8
        * (x1.matrix.nrows() * x1.matrix.ncols()
            + x2.as_ref()
                .map_or(0, |x| x.matrix.nrows() * x.matrix.ncols())) as u64;
    let budget =
        ntk_kernels::stream::tile_budget(job.config.max_memory, inputs).ok_or_else(|| {
            UsageError::new(format!(
                "--max-memory: the inputs alone take {:.2} GB",
                inputs as f64 / 1e9
            ))
        })?;
    let mut config = job.config.clone();
    config.max_memory = budget;
    let fingerprint = fingerprint(
        &job.spec_text,
        x1.fingerprint,
        x2.as_ref().map(|x| x.fingerprint),
        config.dtype,
    )?;
    let source = ntk_kernels::tiled::AnalyticTiles {
        architecture: &architecture,
        x1: x1.matrix.as_ref(),
        x2: x2.as_ref().map(|x| x.matrix.as_ref()),
        get: ntk_kernels::analytic::Get {
            nngp: get.nngp,
            ntk: get.ntk,
        },
    };
    let report = match mode {
        None => stream_kernel(&source, &fingerprint, &outputs, &manifest_path, &config)?,
        Some(shard::ShardMode::Shard(which)) => {
            let report = shard::stream_shard(
                &source,
                &fingerprint,
                &outputs,
                &manifest_path,
                &config,
                which,
            )?;
            let (parts, part_manifest) = shard::shard_paths(&outputs, &manifest_path, which);
            return Ok(serde_json::json!({
                "shard": [which.index, which.count],
                "outputs": parts.iter().map(|o| (o.name.to_string(), serde_json::Value::from(o.path.display().to_string()))).collect::<serde_json::Map<_, _>>(),
                "manifest": part_manifest.display().to_string(),
                "shape": [source.n_rows(), source.n_cols()],
                "report": report,
            })
            .to_string());
        }
        Some(shard::ShardMode::Merge(count)) => {
            let merged = shard::merge_shards(
                &fingerprint,
                &outputs,
                &manifest_path,
                (source.n_rows(), source.n_cols(), source.symmetric()),
                config.dtype,
                count,
            )?;
            return Ok(serde_json::json!({
                "outputs": outputs.iter().map(|o| (o.name.to_string(), serde_json::Value::from(o.path.display().to_string()))).collect::<serde_json::Map<_, _>>(),
                "manifest": manifest_path.display().to_string(),
                "shape": [source.n_rows(), source.n_cols()],
                "merge": merged,
            })
            .to_string());
        }
    };
    let summary = serde_json::json!({
        "outputs": outputs.iter().map(|o| (o.name.to_string(), serde_json::Value::from(o.path.display().to_string()))).collect::<serde_json::Map<_, _>>(),
        "manifest": manifest_path.display().to_string(),
        "shape": [source.n_rows(), source.n_cols()],
        "report": report,
    });
    Ok(summary.to_string())
}
