//! The manifest beside a streamed kernel: what is being computed (a fingerprint of spec and
//! inputs), the tile plan, and every finished tile with the checksum of its bytes. Written
//! atomically (temporary file, then rename) after every tile, so a killed run always leaves a
//! manifest that describes tiles really on disk.
//!
//! Format `ntk-lab-tiles/1` (JSON):
//! `{"format", "fingerprint", "rows", "cols", "symmetric", "tile", "dtype", "tiles_total",
//!   "order", "outputs": [{"name", "file"}], "complete", "finished": [{"index", "rows": [r0, r1],
//!   "cols": [c0, c1], "checksums": {"nngp": "…", "ntk": "…"}}]}`.
//! A checksum is FNV-1a 64 (hex) of the tile's bytes as stored (row-major, the tile's own rows ×
//! cols block; the mirrored lower block of a self kernel is its transpose and not hashed
//! separately). Tile indices follow [`crate::tiled::TilePlan`]'s fixed order, so shards of
//! one plan can be merged by index.

use crate::npy::Dtype;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The format tag of this manifest version.
pub const FORMAT: &str = "ntk-lab-tiles/1";

/// The fixed tile order, as documented in the manifest itself.
pub const ORDER: &str = "row-major over block indices (bi, bj); upper block triangle bj >= bi for a symmetric (self) kernel";

/// One output file of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputEntry {
    pub name: String,
    pub file: String,
}

/// One finished tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedTile {
    pub index: usize,
    pub rows: [usize; 2],
    pub cols: [usize; 2],
    pub checksums: BTreeMap<String, String>,
}

/// The manifest (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub fingerprint: String,
    pub rows: usize,
    pub cols: usize,
    pub symmetric: bool,
    pub tile: usize,
    pub dtype: Dtype,
    pub tiles_total: usize,
    pub order: String,
    pub outputs: Vec<OutputEntry>,
    pub complete: bool,
    pub finished: Vec<FinishedTile>,
}

impl Manifest {
    /// Reads a manifest; `None` if absent or not parseable as this format (then the run starts
    /// afresh).
    pub fn read(path: &Path) -> Option<Manifest> {
        let text = std::fs::read_to_string(path).ok()?;
        let manifest: Manifest = serde_json::from_str(&text).ok()?;
        (manifest.format == FORMAT).then_some(manifest)
    }

    /// Writes the manifest atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::KernelFile {
            message: format!("cannot encode the manifest {}: {e}", path.display()),
        })?;
        std::fs::write(&tmp, text + "\n")
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| Error::KernelFile {
                message: format!("cannot write {}: {e}", path.display()),
            })
    }
}
