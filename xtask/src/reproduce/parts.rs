//! Parts of a long experiment, kept on disk so that `--resume` can continue *inside* it.
//!
//! `--resume` reuses whole experiments ([`super::resume`]); an experiment of hours (say
//! `cnn-vs-cntk --scale full`) that is interrupted would start again from nothing. An experiment
//! can instead compute its expensive pieces through [`super::Context::cached`]: each piece is
//! written, atomically, as JSON to `DIR/.resume/<id>.parts/<key>/<name>.json` when it is done,
//! where `<key>` is the experiment's resume key (commit, scale, seed, id). A later run with
//! `--resume` and the same key reads the piece back instead of computing it; every piece is a
//! deterministic function of (commit, scale, seed), so the result is the one the computation would
//! give. Without `--resume` pieces are computed and written but never read. Once the experiment's
//! own record is saved its parts are removed.

use super::atomic::write_atomic;
use anyhow::{Context as _, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs;
use std::path::{Path, PathBuf};

/// The parts of one experiment run: where they are kept and whether stored ones may be read.
#[derive(Debug, Clone)]
pub struct PartStore {
    dir: PathBuf,
    reuse: bool,
}

impl PartStore {
    /// The parts of experiment `id` under resume key `key` in output directory `out_dir`;
    /// `reuse`: read parts stored by an earlier run (`--resume`).
    pub fn new(out_dir: &Path, id: &str, key: &str, reuse: bool) -> Self {
        PartStore {
            dir: parts_root(out_dir, id).join(key),
            reuse,
        }
    }

    /// The value of part `name`: read back if `reuse` and a readable stored copy exists,
    /// otherwise `compute`d and stored (atomically) before it is returned. A stored copy that
    /// does not parse as `T` is computed again.
    pub fn cached<T, F>(&self, name: &str, compute: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T>,
    {
        let path = self.dir.join(format!("{name}.json"));
        if self.reuse
            && let Some(value) = fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        {
            return Ok(value);
        }
        let value = compute()?;
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomic(&path, &serde_json::to_vec(&value)?)?;
        Ok(value)
    }
}

/// `DIR/.resume/<id>.parts`: the parts of every key of experiment `id`.
fn parts_root(out_dir: &Path, id: &str) -> PathBuf {
    out_dir.join(".resume").join(format!("{id}.parts"))
}

/// Removes every stored part of experiment `id` (after its record is saved).
pub fn remove_parts(out_dir: &Path, id: &str) -> Result<()> {
    let root = parts_root(out_dir, id);
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A part is computed once and read back under `reuse`; without `reuse`, under another key,
    /// or when the stored copy is corrupt, it is computed again; errors are not stored.
    #[test]
    fn parts_are_read_back_only_for_the_same_key_with_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let calls = Cell::new(0);
        let compute = |v: f64| {
            calls.set(calls.get() + 1);
            Ok(vec![v, 0.1 + 0.2])
        };
        let first = PartStore::new(dir.path(), "exp", "k1", false);
        assert_eq!(
            first.cached("a", || compute(1.0)).unwrap(),
            vec![1.0, 0.1 + 0.2]
        );
        // Without reuse: computed again (and the new value stored).
        assert_eq!(first.cached("a", || compute(2.0)).unwrap()[0], 2.0);
        assert_eq!(calls.get(), 2);
        // With reuse, same key: read back bit for bit, no computation.
        let again = PartStore::new(dir.path(), "exp", "k1", true);
        let v: Vec<f64> = again.cached("a", || compute(3.0)).unwrap();
        assert_eq!(v, vec![2.0, 0.1 + 0.2]);
        assert_eq!(calls.get(), 2);
        // Another key (commit, scale or seed): computed.
        let other = PartStore::new(dir.path(), "exp", "k2", true);
        assert_eq!(other.cached("a", || compute(4.0)).unwrap()[0], 4.0);
        assert_eq!(calls.get(), 3);
        // A corrupt stored copy is computed again.
        fs::write(dir.path().join(".resume/exp.parts/k1/a.json"), b"[1.0,").unwrap();
        assert_eq!(again.cached("a", || compute(5.0)).unwrap()[0], 5.0);
        // A failing computation stores nothing.
        let failed: Result<Vec<f64>> = again.cached("b", || anyhow::bail!("no"));
        assert!(failed.is_err());
        assert!(!dir.path().join(".resume/exp.parts/k1/b.json").exists());
        remove_parts(dir.path(), "exp").unwrap();
        assert!(!dir.path().join(".resume/exp.parts").exists());
    }
}
