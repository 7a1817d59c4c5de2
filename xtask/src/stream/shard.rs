//! `--shard i/N` and `--merge-shards N` of the streamed kernel: the tiles of one
//! [`TilePlan`] computed by N independent jobs (Slurm array tasks, or shells), then assembled.
//!
//! - The plan: the tile side is `--tile` if given, else the budget's side shrunk until every shard
//!   has at least 16 tiles ([`ntk_kernels::tile_shards::shard_tile_side`]); the split is
//!   longest-processing-time-first on computed entries
//!   ([`ntk_kernels::tile_shards::shard_tiles`]). Both depend only on (n₁, n₂, symmetric, budget,
//!   N), so every shard finds the same plan on its own.
//! - Shard i of N writes `STEM.shard-i-of-N.*.npy` (full-size files, sparse: only its tiles, as
//!   stored in the final file, are written) and `STEM.shard-i-of-N.manifest.json` (the tile
//!   manifest of [`super::manifest`], `tiles_total` = the shard's tiles). A killed or requeued
//!   shard resumes from its manifest like an unsharded run (finished tiles re-verified by
//!   checksum).
//! - The merge reads the N shard manifests, refuses a missing or incomplete shard, a shard of
//!   other inputs (fingerprint), a missing tile and a tile claimed by two shards, each with one
//!   line naming it; then copies every tile after checking its checksum, writes the mirrored
//!   lower block of a self kernel, and renames the finished files into place with a complete
//!   manifest. Tiles are bit-identical whoever computes them, so the merged file is byte-identical
//!   to the unsharded run's.

use super::manifest::{FORMAT, FinishedTile, Manifest, ORDER};
use super::{
    Output, StreamConfig, StreamReport, check_output_space, checksum, encode_tile, partial_path,
    progress_bar,
};
use crate::UsageError;
use crate::npy::{Dtype, NpyMatrixFile};
use crate::reproduce::shard::Shard;
use anyhow::Result;
use ntk_kernels::tile_shards::{shard_tile_side, shard_tiles};
use ntk_kernels::tiled::{TileKernel, TilePlan, TileRange};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `cargo xtask kernel` does with the tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardMode {
    /// Shard `index` of `count`: compute its tiles into its own part files.
    Shard(Shard),
    /// Assemble the final files from the parts of `count` finished shards.
    Merge(usize),
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    // K.npy → K.shard-1-of-4.npy; K.manifest.json → K.shard-1-of-4.manifest.json.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.find('.') {
        Some(dot) => (&name[..dot], &name[dot..]),
        None => (name.as_str(), ""),
    };
    path.with_file_name(format!("{stem}{suffix}{ext}"))
}

/// The part files and manifest of shard `shard` for the final `outputs` / `manifest_path`.
pub fn shard_paths(
    outputs: &[Output],
    manifest_path: &Path,
    shard: Shard,
) -> (Vec<Output>, PathBuf) {
    let suffix = format!(".shard-{}-of-{}", shard.index, shard.count);
    (
        outputs
            .iter()
            .map(|o| Output {
                name: o.name,
                path: with_suffix(&o.path, &suffix),
            })
            .collect(),
        with_suffix(manifest_path, &suffix),
    )
}

/// The plan every shard of `count` uses for this job.
pub fn shard_plan(
    source: &dyn TileKernel,
    config: &StreamConfig,
    n_outputs: usize,
    count: usize,
) -> Result<TilePlan> {
    let (rows, cols, symmetric) = (source.n_rows(), source.n_cols(), source.symmetric());
    let side = match config.tile {
        Some(tile) => tile,
        None => shard_tile_side(
            rows,
            cols,
            symmetric,
            super::tile_side(config.max_memory, n_outputs, config.dtype, rows.max(cols)),
            count,
        ),
    };
    TilePlan::new(rows, cols, side, symmetric)
        .map_err(|e| UsageError::new(format!("--tile: {e}")).into())
}

fn manifest_for(
    fingerprint: &str,
    plan: &TilePlan,
    dtype: Dtype,
    outputs: &[Output],
    tiles_total: usize,
    finished: Vec<FinishedTile>,
) -> Manifest {
    Manifest {
        format: FORMAT.into(),
        fingerprint: fingerprint.into(),
        rows: plan.n_rows(),
        cols: plan.n_cols(),
        symmetric: plan.symmetric(),
        tile: plan.tile(),
        dtype,
        tiles_total,
        order: ORDER.into(),
        outputs: ntk_kernels::stream::output_entries(outputs),
        complete: false,
        finished,
    }
}

/// Computes the tiles of shard `shard` into its part files (see the module documentation).
pub fn stream_shard(
    source: &dyn TileKernel,
    fingerprint: &str,
    outputs: &[Output],
    manifest_path: &Path,
    config: &StreamConfig,
    shard: Shard,
) -> Result<StreamReport> {
    let start = Instant::now();
    let plan = shard_plan(source, config, outputs.len(), shard.count)?;
    let mine: Vec<TileRange> = shard_tiles(&plan, shard.count)?.swap_remove(shard.index);
    let (parts, part_manifest) = shard_paths(outputs, manifest_path, shard);
    let (rows, cols) = (plan.n_rows(), plan.n_cols());
    let expect = Some((rows, cols, config.dtype));

    let previous = Manifest::read(&part_manifest).filter(|m| {
        m.fingerprint == fingerprint
            && (m.rows, m.cols, m.symmetric, m.dtype, m.tile)
                == (rows, cols, plan.symmetric(), config.dtype, plan.tile())
            && m.outputs.len() == parts.len()
    });
    let report = |computed: usize, reused: usize, entries: u64, complete: bool| {
        let seconds = start.elapsed().as_secs_f64();
        StreamReport {
            tiles: mine.len(),
            computed,
            reused,
            tile: plan.tile(),
            complete,
            seconds,
            entries_per_second: if seconds > 0.0 {
                entries as f64 / seconds
            } else {
                0.0
            },
        }
    };
    if let Some(m) = &previous
        && m.complete
        && parts
            .iter()
            .all(|o| NpyMatrixFile::open(&o.path, false, expect).is_ok())
    {
        return Ok(report(0, mine.len(), 0, true));
    }

    let mut files = Vec::with_capacity(parts.len());
    let mut finished: BTreeMap<usize, FinishedTile> = BTreeMap::new();
    let resumable = previous.is_some()
        && parts
            .iter()
            .all(|o| partial_path(&o.path).exists() || o.path.exists());
    if resumable {
        let m = previous.as_ref().expect("resumable implies a manifest");
        for o in &parts {
            let partial = partial_path(&o.path);
            if !partial.exists() {
                std::fs::rename(&o.path, &partial).map_err(|e| {
                    UsageError::new(format!("cannot rename {}: {e}", o.path.display()))
                })?;
            }
            files.push(NpyMatrixFile::open(&partial, true, expect)?);
        }
        for tile in &m.finished {
            let ok = parts.iter().zip(&files).all(|(o, f)| {
                let bytes = f.read_block_bytes(tile.rows[0]..tile.rows[1], tile.cols[0]..tile.cols[1]);
                matches!((tile.checksums.get(o.name), bytes), (Some(w), Ok(b)) if *w == checksum(&b))
            });
            if ok {
                finished.insert(tile.index, tile.clone());
            }
        }
    } else {
        let entries: u64 = mine.iter().map(|t| t.entries() as u64).sum();
        let needed = parts.len() as u64 * entries * config.dtype.size() as u64;
        for o in &parts {
            check_output_space(
                &o.path,
                needed,
                &format!(" for shard {}/{}", shard.index, shard.count),
            )?;
            let _ = std::fs::remove_file(&o.path);
            files.push(NpyMatrixFile::create(
                &partial_path(&o.path),
                rows,
                cols,
                config.dtype,
            )?);
        }
    }

    let mut manifest = manifest_for(
        fingerprint,
        &plan,
        config.dtype,
        &parts,
        mine.len(),
        finished.values().cloned().collect(),
    );
    manifest.write(&part_manifest)?;
    let todo: Vec<&TileRange> = mine
        .iter()
        .filter(|t| !finished.contains_key(&t.index))
        .collect();
    let reused = mine.len() - todo.len();
    let bar = progress_bar(
        todo.iter().map(|t| t.entries() as u64).sum(),
        config.progress,
    );
    let (mut computed, mut entries) = (0, 0u64);
    for tile in todo {
        if config.stop_after == Some(computed) {
            break;
        }
        let kernel = source.compute(tile).map_err(|e| {
            anyhow::Error::from(UsageError::new(format!(
                "the kernel cannot be computed: {e}"
            )))
        })?;
        // Only the direct block goes into a part file; the merge writes the mirror.
        let encoded = encode_tile(&files, &parts, tile, kernel, false)?;
        for (file, enc) in files.iter().zip(&encoded) {
            file.write_block(
                tile.rows.start,
                tile.cols.start,
                tile.cols.len(),
                &enc.direct,
            )?;
        }
        manifest.finished.push(FinishedTile {
            index: tile.index,
            rows: [tile.rows.start, tile.rows.end],
            cols: [tile.cols.start, tile.cols.end],
            checksums: parts
                .iter()
                .zip(&encoded)
                .map(|(o, e)| (o.name.to_string(), e.checksum.clone()))
                .collect(),
        });
        manifest.finished.sort_by_key(|t| t.index);
        manifest.write(&part_manifest)?;
        computed += 1;
        entries += tile.entries() as u64;
        bar.set_position(entries);
    }
    bar.finish_and_clear();
    let complete = manifest.finished.len() == mine.len();
    if complete {
        for (file, o) in files.iter().zip(&parts) {
            file.sync()?;
            std::fs::rename(partial_path(&o.path), &o.path).map_err(|e| {
                UsageError::new(format!("cannot rename to {}: {e}", o.path.display()))
            })?;
        }
        manifest.complete = true;
        manifest.write(&part_manifest)?;
    }
    Ok(report(computed, reused, entries, complete))
}

/// What a merge did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergeReport {
    pub shards: usize,
    pub tiles: usize,
    pub tile: usize,
    pub seconds: f64,
}

/// The row-major transpose of an `r` × `c` block of `size`-byte elements.
fn transpose_bytes(bytes: &[u8], r: usize, c: usize, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; bytes.len()];
    for i in 0..r {
        for j in 0..c {
            let from = (i * c + j) * size;
            let to = (j * r + i) * size;
            out[to..to + size].copy_from_slice(&bytes[from..from + size]);
        }
    }
    out
}

/// Assembles the final `outputs` (and `manifest_path`) of a `rows` × `cols` job from the parts of
/// `count` finished shards (see the module documentation).
pub fn merge_shards(
    fingerprint: &str,
    outputs: &[Output],
    manifest_path: &Path,
    (rows, cols, symmetric): (usize, usize, bool),
    dtype: Dtype,
    count: usize,
) -> Result<MergeReport> {
    let start = Instant::now();
    if count == 0 {
        return Err(UsageError::new("--merge-shards: at least one shard is needed").into());
    }
    // Every shard's manifest: present, of this job, complete, on one tile side.
    let mut shards = Vec::with_capacity(count);
    for index in 0..count {
        let shard = Shard { index, count };
        let (parts, part_manifest) = shard_paths(outputs, manifest_path, shard);
        let m = Manifest::read(&part_manifest).ok_or_else(|| {
            UsageError::new(format!(
                "--merge-shards: shard {index}/{count} has no manifest {} (not run yet?)",
                part_manifest.display()
            ))
        })?;
        if m.fingerprint != fingerprint
            || (m.rows, m.cols, m.symmetric, m.dtype) != (rows, cols, symmetric, dtype)
        {
            return Err(UsageError::new(format!(
                "--merge-shards: shard {index}/{count} ({}) was computed for other inputs, spec or dtype",
                part_manifest.display()
            ))
            .into());
        }
        if !m.complete {
            return Err(UsageError::new(format!(
                "--merge-shards: shard {index}/{count} is not finished ({} of {} tiles); rerun or requeue it",
                m.finished.len(),
                m.tiles_total
            ))
            .into());
        }
        shards.push((parts, m));
    }
    let tile = shards[0].1.tile;
    if let Some((i, _)) = shards.iter().enumerate().find(|(_, (_, m))| m.tile != tile) {
        return Err(UsageError::new(format!(
            "--merge-shards: shard {i}/{count} used tile side {} but shard 0 used {tile}",
            shards[i].1.tile
        ))
        .into());
    }
    let plan = TilePlan::new(rows, cols, tile, symmetric)
        .map_err(|e| UsageError::new(format!("--merge-shards: {e}")))?;
    let tiles: Vec<TileRange> = plan.tiles().collect();
    let mut owner: Vec<Option<(usize, &FinishedTile)>> = vec![None; tiles.len()];
    for (s, (_, m)) in shards.iter().enumerate() {
        for t in &m.finished {
            let Some(planned) = tiles.get(t.index) else {
                return Err(UsageError::new(format!(
                    "--merge-shards: shard {s}/{count} lists tile {} outside the plan of {} tiles",
                    t.index,
                    tiles.len()
                ))
                .into());
            };
            if [planned.rows.start, planned.rows.end] != t.rows
                || [planned.cols.start, planned.cols.end] != t.cols
            {
                return Err(UsageError::new(format!(
                    "--merge-shards: shard {s}/{count} tile {} has other bounds than the plan",
                    t.index
                ))
                .into());
            }
            if let Some((other, _)) = owner[t.index] {
                return Err(UsageError::new(format!(
                    "--merge-shards: tile {} was computed by shards {other}/{count} and {s}/{count}; remove one",
                    t.index
                ))
                .into());
            }
            owner[t.index] = Some((s, t));
        }
    }
    let missing: Vec<usize> = (0..tiles.len()).filter(|&k| owner[k].is_none()).collect();
    if !missing.is_empty() {
        return Err(UsageError::new(format!(
            "--merge-shards: {} tile(s) missing from every shard (first: {:?})",
            missing.len(),
            &missing[..missing.len().min(5)]
        ))
        .into());
    }

    let expect = Some((rows, cols, dtype));
    let part_files: Vec<Vec<NpyMatrixFile>> = shards
        .iter()
        .map(|(parts, _)| {
            parts
                .iter()
                .map(|o| NpyMatrixFile::open(&o.path, false, expect).map_err(anyhow::Error::from))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut files = Vec::with_capacity(outputs.len());
    for o in outputs {
        let _ = std::fs::remove_file(&o.path);
        files.push(NpyMatrixFile::create(
            &partial_path(&o.path),
            rows,
            cols,
            dtype,
        )?);
    }
    let size = dtype.size();
    for (tile, entry) in tiles.iter().zip(&owner) {
        let (s, finished) = entry.expect("checked above");
        for (k, o) in outputs.iter().enumerate() {
            let bytes = part_files[s][k].read_block_bytes(tile.rows.clone(), tile.cols.clone())?;
            if finished.checksums.get(o.name) != Some(&checksum(&bytes)) {
                return Err(UsageError::new(format!(
                    "--merge-shards: tile {} of the {} kernel in shard {s}/{count} does not match its checksum (file {} damaged?)",
                    tile.index,
                    o.name,
                    shards[s].0[k].path.display()
                ))
                .into());
            }
            files[k].write_block(tile.rows.start, tile.cols.start, tile.cols.len(), &bytes)?;
            if symmetric && !tile.is_diagonal() {
                let mirror = transpose_bytes(&bytes, tile.rows.len(), tile.cols.len(), size);
                files[k].write_block(tile.cols.start, tile.rows.start, tile.rows.len(), &mirror)?;
            }
        }
    }
    for (file, o) in files.iter().zip(outputs) {
        file.sync()?;
        std::fs::rename(partial_path(&o.path), &o.path)
            .map_err(|e| UsageError::new(format!("cannot rename to {}: {e}", o.path.display())))?;
    }
    let finished: Vec<FinishedTile> = owner
        .iter()
        .map(|e| e.expect("checked").1.clone())
        .collect();
    let mut manifest = manifest_for(fingerprint, &plan, dtype, outputs, plan.len(), finished);
    manifest.complete = true;
    manifest.write(manifest_path)?;
    Ok(MergeReport {
        shards: count,
        tiles: plan.len(),
        tile,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_paths_keep_the_extensions() {
        let outputs = vec![Output {
            name: "ntk",
            path: "/d/K.ntk.npy".into(),
        }];
        let (parts, manifest) = shard_paths(
            &outputs,
            Path::new("/d/K.manifest.json"),
            Shard { index: 1, count: 4 },
        );
        assert_eq!(parts[0].path, Path::new("/d/K.shard-1-of-4.ntk.npy"));
        assert_eq!(manifest, Path::new("/d/K.shard-1-of-4.manifest.json"));
    }

    #[test]
    fn transpose_of_bytes() {
        // 2 × 3 block of 2-byte elements.
        let bytes: Vec<u8> = (0..12).collect();
        let t = transpose_bytes(&bytes, 2, 3, 2);
        assert_eq!(t, vec![0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
        assert_eq!(transpose_bytes(&t, 3, 2, 2), bytes);
    }
}
