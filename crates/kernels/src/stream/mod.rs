//! Streaming kernel computation: an n₁ × n₂ kernel written tile by tile into `.npy` files within
//! a memory budget, resumable after a kill, with progress reported to a [`StreamObserver`].
//!
//! - Tiles come from [`TilePlan`] (fixed order) and are computed by any [`TileKernel`]; their side
//!   is the largest multiple of 128 whose working set (two tiles in flight: one computing while
//!   the previous one is written) fits in the budget ([`tile_side`]).
//! - Output goes to `FILE.partial` (preallocated, positioned writes, see [`crate::npy`]); only
//!   when every tile is written and synced is it renamed to `FILE`, so a file under its final
//!   name is always complete.
//! - After every tile the manifest ([`manifest`]) is rewritten atomically. A run restarted with
//!   the same fingerprint (same kernel description, inputs and storage type) reuses the
//!   manifest's tile plan, re-reads every finished tile and checks its FNV-1a checksum, and
//!   computes only the missing (or corrupt) tiles. Tiles are deterministic, so the result is
//!   bit-identical to an uninterrupted run (and to the in-memory kernel: tile sides are multiples
//!   of the in-memory block size).
//!
//! This is the one implementation behind `cargo xtask kernel --x1 X.npy --out K.npy` and the
//! Python `ntk_lab.kernel_to_npy`; library code never prints, a front end draws progress from the
//! observer's calls.

pub mod manifest;

use crate::error::Error;
use crate::npy::{Dtype, NpyMatrixFile, fnv1a};
use crate::tiled::{TileKernel, TilePlan, TileRange};
use crate::{Result, analytic};
use faer::Mat;
use manifest::{FORMAT, FinishedTile, Manifest, ORDER, OutputEntry};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One kernel written by a run: `name` is `nngp` or `ntk`.
#[derive(Debug, Clone)]
pub struct Output {
    pub name: &'static str,
    pub path: PathBuf,
}

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
    /// Stop (as if killed) after computing this many tiles in this run: the tests' way of
    /// interrupting a run at a known point. `None` in normal use.
    pub stop_after: Option<usize>,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamReport {
    /// Tiles in the plan.
    pub tiles: usize,
    /// Tiles computed by this run.
    pub computed: usize,
    /// Tiles reused from an earlier run (verified by checksum).
    pub reused: usize,
    /// Tile side.
    pub tile: usize,
    /// Whether every tile is done and the files carry their final names.
    pub complete: bool,
    /// Wall time of this run.
    pub seconds: f64,
    /// Kernel entries (of the full matrix, per kernel) per second computed by this run.
    pub entries_per_second: f64,
}

/// Receives the progress of a streaming run (a progress bar, a Python callback); it may stop the
/// run, which then ends as an interrupted one (resumable, [`StreamReport::complete`] false).
pub trait StreamObserver {
    /// Before the first tile: the tile entries this run will compute.
    fn start(&mut self, total_entries: u64) {
        let _ = total_entries;
    }
    /// After each computed tile: the entries computed so far by this run.
    /// [`ControlFlow::Break`] stops the run after the tiles already computed are written.
    fn tile_done(&mut self, entries_done: u64) -> ControlFlow<()> {
        let _ = entries_done;
        ControlFlow::Continue(())
    }
    /// After the last tile of this run (complete or not).
    fn finish(&mut self) {}
}

/// An observer that ignores the progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl StreamObserver for Silent {}

/// Bytes of working memory per tile entry: the f64 tile of each kernel (8 bytes) and its encoded
/// copy and mirror (2 × dtype size), for two tiles in flight:
///
/// $$ b = 2\,n_{\text{kernels}}\,(8 + 2\,s_{\text{dtype}}). $$
pub fn bytes_per_entry(n_kernels: usize, dtype: Dtype) -> u64 {
    (2 * n_kernels * (8 + 2 * dtype.size())) as u64
}

/// Largest tile side chosen from a budget: beyond it tiles gain nothing (each already keeps both
/// cores busy), while more tiles overlap computing and writing better and lose less on a kill.
pub const MAX_TILE: usize = 4096;

/// The tile side for `budget` bytes of tile memory (at most [`MAX_TILE`]): the largest multiple
/// t of 128 with t²·[`bytes_per_entry`] ≤ budget ([`TilePlan::side_for_budget`]).
pub fn tile_side(budget: u64, n_kernels: usize, dtype: Dtype, n_max: usize) -> usize {
    TilePlan::side_for_budget(budget, bytes_per_entry(n_kernels, dtype), n_max).min(MAX_TILE)
}

/// The work file `PATH.partial` of the output `PATH`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Free bytes for an unprivileged user on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Checks that the directory of output file `path` exists and has `needed` bytes free.
///
/// # Errors
/// [`Error::OutputDirectory`] or [`Error::DiskSpace`].
pub fn check_output_space(path: &Path, needed: u64) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(Error::OutputDirectory {
            dir: dir.to_path_buf(),
        });
    }
    if let Some(free) = free_bytes(dir)
        && free < needed
    {
        return Err(Error::DiskSpace {
            dir: dir.to_path_buf(),
            needed,
            free,
        });
    }
    Ok(())
}

/// FNV-1a checksum (16 hex digits) of a tile's stored bytes.
pub fn checksum(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(bytes.iter().copied(), None))
}

/// The encoded direct block of one kernel of a tile (and its transpose for an off-diagonal tile
/// of a self kernel), and the checksum of the direct block.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub direct: Vec<u8>,
    pub mirror: Option<Vec<u8>>,
    pub checksum: String,
}

fn file_error(message: String) -> Error {
    Error::KernelFile { message }
}

/// Encodes each requested kernel of `tile` for its file, rejecting a non-finite entry.
///
/// # Errors
/// [`Error::KernelFile`] naming the first non-finite entry; [`Error::ShapeMismatch`] if the tile
/// kernel returned a block of another shape or not the requested kernel.
pub fn encode_tile(
    files: &[NpyMatrixFile],
    outputs: &[Output],
    tile: &TileRange,
    kernel: analytic::Kernel,
    symmetric: bool,
) -> Result<Vec<Encoded>> {
    let mut encoded = Vec::with_capacity(outputs.len());
    for (file, output) in files.iter().zip(outputs) {
        let block: &Mat<f64> = match output.name {
            "nngp" => kernel.nngp.as_ref(),
            _ => kernel.ntk.as_ref(),
        }
        .ok_or_else(|| Error::ShapeMismatch {
            arg: "tile kernel",
            expected: format!("the {} kernel", output.name),
            found: "none".into(),
        })?;
        if (block.nrows(), block.ncols()) != (tile.rows.len(), tile.cols.len()) {
            return Err(Error::ShapeMismatch {
                arg: "tile kernel",
                expected: format!("{}x{}", tile.rows.len(), tile.cols.len()),
                found: format!(
                    "{}x{} for tile {}",
                    block.nrows(),
                    block.ncols(),
                    tile.index
                ),
            });
        }
        if let Some((i, j)) = (0..block.nrows())
            .flat_map(|i| (0..block.ncols()).map(move |j| (i, j)))
            .find(|&(i, j)| !block[(i, j)].is_finite())
        {
            return Err(file_error(format!(
                "the {} kernel has a non-finite entry at ({}, {}); the inputs or w_std are too large for this activation",
                output.name,
                tile.rows.start + i,
                tile.cols.start + j
            )));
        }
        let direct = file.encode(block.as_ref(), false);
        let mirror = (symmetric && !tile.is_diagonal()).then(|| file.encode(block.as_ref(), true));
        let checksum = checksum(&direct);
        encoded.push(Encoded {
            direct,
            mirror,
            checksum,
        });
    }
    Ok(encoded)
}

fn write_tile(files: &[NpyMatrixFile], tile: &TileRange, encoded: &[Encoded]) -> Result<()> {
    for (file, enc) in files.iter().zip(encoded) {
        file.write_block(
            tile.rows.start,
            tile.cols.start,
            tile.cols.len(),
            &enc.direct,
        )?;
        if let Some(mirror) = &enc.mirror {
            file.write_block(tile.cols.start, tile.rows.start, tile.rows.len(), mirror)?;
        }
    }
    Ok(())
}

/// The manifest entries of `outputs` (file names only).
pub fn output_entries(outputs: &[Output]) -> Vec<OutputEntry> {
    outputs
        .iter()
        .map(|o| OutputEntry {
            name: o.name.into(),
            file: o
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
        .collect()
}

/// Computes the kernels of `source` into `outputs` (one file per requested kernel), resuming from
/// `manifest_path` when it describes the same `fingerprint`, and reporting progress to
/// `observer`.
///
/// # Errors
/// [`Error::OutputDirectory`], [`Error::DiskSpace`] before anything is written;
/// [`Error::TileSide`] for a rejected `config.tile`; [`Error::KernelFile`] for a file that cannot
/// be written or renamed, a non-finite kernel entry, or a tile whose kernel cannot be computed
/// (`"the kernel cannot be computed: …"`); [`Error::KernelIo`] for a failed read.
pub fn stream_kernel(
    source: &dyn TileKernel,
    fingerprint: &str,
    outputs: &[Output],
    manifest_path: &Path,
    config: &StreamConfig,
    observer: &mut dyn StreamObserver,
) -> Result<StreamReport> {
    let start = Instant::now();
    let (rows, cols, symmetric) = (source.n_rows(), source.n_cols(), source.symmetric());
    let previous = Manifest::read(manifest_path).filter(|m| {
        m.fingerprint == fingerprint
            && (m.rows, m.cols, m.symmetric, m.dtype) == (rows, cols, symmetric, config.dtype)
            && m.outputs.len() == outputs.len()
    });

    // Already complete: nothing to do (the files are checked to exist with the right header).
    if let Some(m) = &previous
        && m.complete
        && outputs
            .iter()
            .all(|o| NpyMatrixFile::open(&o.path, false, Some((rows, cols, config.dtype))).is_ok())
    {
        return Ok(StreamReport {
            tiles: m.tiles_total,
            computed: 0,
            reused: m.tiles_total,
            tile: m.tile,
            complete: true,
            seconds: start.elapsed().as_secs_f64(),
            entries_per_second: 0.0,
        });
    }

    let tile_side = match (&previous, config.tile) {
        (Some(m), _) => m.tile,
        (None, Some(tile)) => tile,
        (None, None) => self::tile_side(
            config.max_memory,
            outputs.len(),
            config.dtype,
            rows.max(cols),
        ),
    };
    let plan = TilePlan::new(rows, cols, tile_side, symmetric).map_err(|e| Error::TileSide {
        reason: e.to_string(),
    })?;

    // Work files: the partial files of an earlier run (or its final files, if it was killed
    // between the renames and the last manifest write), else fresh ones.
    let mut files = Vec::with_capacity(outputs.len());
    let mut finished: BTreeMap<usize, FinishedTile> = BTreeMap::new();
    let resumable = previous.as_ref().is_some_and(|m| {
        outputs
            .iter()
            .all(|o| partial_path(&o.path).exists() || o.path.exists())
            && m.tile == plan.tile()
    });
    if let (true, Some(m)) = (resumable, previous.as_ref()) {
        for o in outputs {
            let partial = partial_path(&o.path);
            if !partial.exists() {
                std::fs::rename(&o.path, &partial)
                    .map_err(|e| file_error(format!("cannot rename {}: {e}", o.path.display())))?;
            }
            files.push(NpyMatrixFile::open(
                &partial,
                true,
                Some((rows, cols, config.dtype)),
            )?);
        }
        // Keep the finished tiles whose bytes on disk still match their checksums.
        for tile in &m.finished {
            let ok = outputs.iter().zip(&files).all(|(o, f)| {
                let want = tile.checksums.get(o.name);
                let bytes =
                    f.read_block_bytes(tile.rows[0]..tile.rows[1], tile.cols[0]..tile.cols[1]);
                matches!((want, bytes), (Some(w), Ok(b)) if *w == checksum(&b))
            });
            if ok {
                finished.insert(tile.index, tile.clone());
            }
        }
    } else {
        let needed =
            (outputs.len() as u64) * (rows as u64) * (cols as u64) * config.dtype.size() as u64;
        for o in outputs {
            check_output_space(&o.path, needed)?;
            // A stale complete file of another run must not pass for this run's output.
            let _ = std::fs::remove_file(&o.path);
            files.push(NpyMatrixFile::create(
                &partial_path(&o.path),
                rows,
                cols,
                config.dtype,
            )?);
        }
    }

    let mut manifest = Manifest {
        format: FORMAT.into(),
        fingerprint: fingerprint.into(),
        rows,
        cols,
        symmetric,
        tile: plan.tile(),
        dtype: config.dtype,
        tiles_total: plan.len(),
        order: ORDER.into(),
        outputs: output_entries(outputs),
        complete: false,
        finished: finished.values().cloned().collect(),
    };
    manifest.write(manifest_path)?;

    let todo: Vec<TileRange> = plan
        .tiles()
        .filter(|t| !finished.contains_key(&t.index))
        .collect();
    let reused = plan.len() - todo.len();
    observer.start(todo.iter().map(|t| t.entries() as u64).sum());
    let mut computed = 0;
    let mut entries_done: u64 = 0;
    // Pipeline: tile k is computed while tile k−1 is written.
    let mut pending: Option<(TileRange, Vec<Encoded>)> = None;
    let record = |manifest: &mut Manifest, tile: &TileRange, encoded: &[Encoded]| -> Result<()> {
        manifest.finished.push(FinishedTile {
            index: tile.index,
            rows: [tile.rows.start, tile.rows.end],
            cols: [tile.cols.start, tile.cols.end],
            checksums: outputs
                .iter()
                .zip(encoded)
                .map(|(o, e)| (o.name.to_string(), e.checksum.clone()))
                .collect(),
        });
        manifest.finished.sort_by_key(|t| t.index);
        manifest.write(manifest_path)
    };
    for tile in todo.iter() {
        if config.stop_after == Some(computed) {
            break;
        }
        let (result, written) = rayon::join(
            || {
                source
                    .compute(tile)
                    .map_err(|e| file_error(format!("the kernel cannot be computed: {e}")))
                    .and_then(|k| encode_tile(&files, outputs, tile, k, symmetric))
            },
            || match pending.take() {
                Some((t, enc)) => write_tile(&files, &t, &enc).map(|_| Some((t, enc))),
                None => Ok(None),
            },
        );
        if let Some((t, enc)) = written? {
            record(&mut manifest, &t, &enc)?;
        }
        pending = Some((tile.clone(), result?));
        computed += 1;
        entries_done += tile.entries() as u64;
        if observer.tile_done(entries_done).is_break() {
            break;
        }
    }
    if let Some((t, enc)) = pending.take() {
        write_tile(&files, &t, &enc)?;
        record(&mut manifest, &t, &enc)?;
    }
    observer.finish();
    let seconds = start.elapsed().as_secs_f64();
    let complete = manifest.finished.len() == plan.len();
    if complete {
        for (file, o) in files.iter().zip(outputs) {
            file.sync()?;
            std::fs::rename(partial_path(&o.path), &o.path)
                .map_err(|e| file_error(format!("cannot rename to {}: {e}", o.path.display())))?;
        }
        manifest.complete = true;
        manifest.write(manifest_path)?;
    }
    let full_entries = entries_done as f64
        * if symmetric {
            // Each off-diagonal tile entry stands for two entries of the matrix.
            (rows * cols) as f64 / plan.computed_entries() as f64
        } else {
            1.0
        };
    Ok(StreamReport {
        tiles: plan.len(),
        computed,
        reused,
        tile: plan.tile(),
        complete,
        seconds,
        entries_per_second: if seconds > 0.0 {
            full_entries / seconds
        } else {
            0.0
        },
    })
}

/// Parses a memory size: `8G`, `512M`, `1.5GB`, `4096` (bytes); K/M/G/T are powers of 1024.
/// `None` if it is not a positive size.
pub fn parse_memory(text: &str) -> Option<u64> {
    let t = text.trim().trim_end_matches(['B', 'b']);
    let (number, scale) = match t.chars().last() {
        Some(c @ ('K' | 'k' | 'M' | 'm' | 'G' | 'g' | 'T' | 't')) => (
            &t[..t.len() - 1],
            match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => 1 << 40,
            },
        ),
        _ => (t, 1),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Some((v * scale as f64) as u64),
        _ => None,
    }
}

/// The default memory budget: 60% of `MemTotal` (from `/proc/meminfo`), 4 GiB if unreadable.
pub fn default_max_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(4 << 30, |kb| kb * 1024 / 10 * 6)
}

/// The tile budget left by `max_memory` after the inputs (`input_bytes`); `None` if the inputs
/// alone take it all.
pub fn tile_budget(max_memory: u64, input_bytes: u64) -> Option<u64> {
    max_memory.checked_sub(input_bytes).filter(|b| *b > 0)
}

/// The output files of output path `out` for the requested kernels: `out` itself for one kernel,
/// `STEM.nngp.npy` and `STEM.ntk.npy` for both; the manifest is `STEM.manifest.json`.
pub fn output_paths(out: &Path, nngp: bool, ntk: bool) -> (Vec<Output>, PathBuf) {
    let stem = out.with_extension("");
    let with = |suffix: &str| {
        let mut name = stem.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let names: Vec<&'static str> = [("nngp", nngp), ("ntk", ntk)]
        .into_iter()
        .filter_map(|(n, w)| w.then_some(n))
        .collect();
    let outputs = if names.len() == 1 {
        vec![Output {
            name: names[0],
            path: out.to_path_buf(),
        }]
    } else {
        names
            .iter()
            .map(|&name| Output {
                name,
                path: with(&format!(".{name}.npy")),
            })
            .collect()
    };
    (outputs, with(".manifest.json"))
}

/// The fingerprint of a job (16 hex digits): FNV-1a 64 of
/// `"{description}|{x1:016x}|{x2:?}|{dtype:?}"`, where `description` identifies the kernel (the
/// CLI uses its spec as compact JSON) and `x1`, `x2` are the inputs' fingerprints
/// ([`crate::npy::InputArray::fingerprint`]).
pub fn fingerprint(description: &str, x1: u64, x2: Option<u64>, dtype: Dtype) -> String {
    let text = format!("{description}|{x1:016x}|{x2:?}|{dtype:?}");
    format!("{:016x}", fnv1a(text.into_bytes(), None))
}
