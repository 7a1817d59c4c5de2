//! Writes that never leave a half-written file: write a temp file next to the target, flush it to
//! disk, then `rename` it over the target (atomic on POSIX file systems). If anything fails before
//! the rename, the temp file is removed and the previous target is untouched.

use anyhow::{Context as _, Result};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp-file name next to `target`, unique within and across processes.
fn temp_path_for(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{name}.tmp-{}-{unique}", std::process::id());
    match target.parent() {
        Some(parent) => parent.join(tmp),
        None => PathBuf::from(tmp),
    }
}

/// Writes `target` atomically with the bytes produced by `write`: the content goes to a temp file
/// in the same directory, which is synced and renamed over `target` only if `write` succeeds.
pub fn write_atomic_with<F>(target: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let tmp = temp_path_for(target);
    let result = (|| -> Result<()> {
        let file = fs::File::create(&tmp)
            .with_context(|| format!("cannot create temp file {}", tmp.display()))?;
        let mut writer = BufWriter::new(file);
        write(&mut writer).with_context(|| format!("cannot write {}", tmp.display()))?;
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot flush {}", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot sync {}", tmp.display()))?;
        drop(file);
        fs::rename(&tmp, target)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), target.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `target` atomically (temp file + rename).
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(target, |w| w.write_all(bytes))
}

/// Copies the directory tree `from` into `to` (created if needed), files only.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let source = entry.path();
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&source, &dest)?;
        } else {
            fs::copy(&source, &dest).with_context(|| {
                format!("cannot copy {} to {}", source.display(), dest.display())
            })?;
        }
    }
    Ok(())
}

/// Relative paths (with `/` separators) of all files under `root`, sorted.
pub fn list_files(root: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        if !dir.exists() {
            return Ok(());
        }
        for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// Moves every file of the staged tree `staged` to the same relative path under `dest` by
/// `rename` (each file replaces its previous version atomically). Both must be on one file system
/// (the staging directory lives inside the output directory for that reason).
pub fn move_files_into_place(staged: &Path, dest: &Path) -> Result<Vec<String>> {
    let files = list_files(staged)?;
    for rel in &files {
        let from = staged.join(rel);
        let to = dest.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::rename(&from, &to)
            .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
    }
    Ok(files)
}
