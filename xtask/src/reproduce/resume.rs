//! `--resume`: experiments already finished in the output directory for the same commit, scale and
//! seed are reused instead of re-run.
//!
//! After each experiment that ran to completion (whatever its verdicts), the runner stores
//! `DIR/.resume/<id>/` (its staged figures and data) and then, atomically, `DIR/.resume/<id>.json`
//! (a [`ResumeRecord`]: the content hash of (commit, scale, seed, id) and the experiment's outcome).
//! The JSON is written last, so a record exists only if its files are complete. An experiment that
//! errored or panicked is never reused.

use super::atomic::{copy_tree, write_atomic};
use super::experiment::Scale;
use super::runner::ExperimentOutcome;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// Version tag of the record format, part of the hash.
const FORMAT: &str = "ntk-lab-resume-v1";

/// The content hash identifying a finished experiment: 64-bit FNV-1a over
/// `FORMAT \0 commit \0 scale \0 seed \0 id`, as 16 hex digits.
///
/// # Reference
/// G. Fowler, L. C. Noll, K.-P. Vo, D. Eastlake, "The FNV Non-Cryptographic Hash Algorithm",
/// IETF draft-eastlake-fnv (FNV-1a, 64-bit offset basis and prime).
pub fn resume_key(commit: &str, scale: Scale, seed: u64, id: &str) -> String {
    let seed_text = seed.to_string();
    let parts = [FORMAT, commit, scale.as_str(), seed_text.as_str(), id];
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        // Each part followed by a NUL separator, so ("ab","c") and ("a","bc") differ.
        for byte in part.bytes().chain(std::iter::once(0u8)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// What `DIR/.resume/<id>.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResumeRecord {
    pub key: String,
    pub commit: String,
    pub scale: Scale,
    pub seed: u64,
    pub id: String,
    /// Files (relative paths such as `figures/<id>-x.svg`) stored in `DIR/.resume/<id>/`.
    pub files: Vec<String>,
    pub outcome: ExperimentOutcome,
}

/// The resume store of an output directory.
#[derive(Debug, Clone)]
pub struct ResumeStore {
    root: PathBuf,
}

impl ResumeStore {
    /// The store in `out_dir/.resume`.
    pub fn new(out_dir: &Path) -> Self {
        ResumeStore {
            root: out_dir.join(".resume"),
        }
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.json"))
    }

    fn files_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Saves a finished experiment: its staged files (copied from `staged_dir`) then the record.
    pub fn save(&self, record: &ResumeRecord, staged_dir: &Path) -> Result<()> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create {}", self.root.display()))?;
        // Invalidate any previous record first, so that a crash below leaves no stale record.
        let record_path = self.record_path(&record.id);
        if record_path.exists() {
            fs::remove_file(&record_path)
                .with_context(|| format!("cannot remove {}", record_path.display()))?;
        }
        let files_dir = self.files_dir(&record.id);
        if files_dir.exists() {
            fs::remove_dir_all(&files_dir)
                .with_context(|| format!("cannot remove {}", files_dir.display()))?;
        }
        copy_tree(staged_dir, &files_dir)?;
        let json = serde_json::to_vec_pretty(record)?;
        write_atomic(&record_path, &json)
    }

    /// The record of experiment `id` if one exists for exactly this `key` with all its files;
    /// `None` otherwise (missing, unreadable, other commit/scale/seed, or incomplete).
    pub fn load(&self, id: &str, key: &str) -> Option<ResumeRecord> {
        let text = fs::read(self.record_path(id)).ok()?;
        let record: ResumeRecord = serde_json::from_slice(&text).ok()?;
        if record.key != key || record.id != id || record.outcome.record.error.is_some() {
            return None;
        }
        let files_dir = self.files_dir(id);
        if !record.files.iter().all(|f| files_dir.join(f).is_file()) {
            return None;
        }
        Some(record)
    }

    /// Copies the stored files of experiment `id` into `staged_dir`.
    pub fn restore_files(&self, id: &str, staged_dir: &Path) -> Result<()> {
        let files_dir = self.files_dir(id);
        if files_dir.exists() {
            copy_tree(&files_dir, staged_dir)?;
        }
        Ok(())
    }
}
