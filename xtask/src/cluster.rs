//! `cargo xtask slurm`: Slurm job arrays for sharded work (see `docs/cluster.md`).
//!
//! ntk-lab has no scheduler of its own. A sharded job is N independent invocations of one command
//! with `--shard i/N` (i = 0..N−1) and one merge invocation; this module writes them as
//! - `DIR/array.sbatch`: `#SBATCH --array=0-(N−1)`, task i runs the command with
//!   `--shard $SLURM_ARRAY_TASK_ID/N`;
//! - `DIR/merge.sbatch`: the merge, run once every array task succeeded;
//! - `DIR/submit.sh`: `sbatch --parsable array.sbatch`, then `sbatch
//!   --dependency=afterok:<array id> merge.sbatch`;
//! - `DIR/run-local.sh`: the same shards one after another (or `-j` at a time) and the merge,
//!   without Slurm, for a laptop.
//!
//! Two commands can be sharded: `kernel` (tiles of a streamed kernel; merge `--merge-shards N`)
//! and `reproduce` (experiments; shard i writes `OUT/shard-i`, merge `--merge OUT/shard-0,…`).
//! Resources: `--mem` is the kernel's `--max-memory` budget plus [`MEMORY_MARGIN_BYTES`] for the
//! inputs and the process (or 4 GiB for `reproduce`), `--cpus-per-task` the threads each task uses.

use crate::UsageError;
use anyhow::{Context as _, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Memory asked of Slurm beyond a kernel task's `--max-memory` (inputs, binary, page tables).
pub const MEMORY_MARGIN_BYTES: u64 = 1 << 30;

/// Memory asked for one `reproduce` shard.
pub const REPRODUCE_MEMORY_BYTES: u64 = 4 << 30;

/// What `cargo xtask slurm` generates.
#[derive(Debug, Clone)]
pub struct SlurmJob {
    /// Number of array tasks N.
    pub shards: usize,
    /// Where the scripts (and the Slurm logs) go.
    pub job_dir: PathBuf,
    /// CPUs per task (`--cpus-per-task`, also `RAYON_NUM_THREADS`).
    pub cpus: usize,
    /// Wall-time limit per task (`--time`), if given.
    pub time: Option<String>,
    /// Partition (`--partition`), if given.
    pub partition: Option<String>,
    /// The xtask binary the tasks run (absolute path).
    pub binary: PathBuf,
    /// The working directory of every task (absolute path).
    pub workdir: PathBuf,
    /// The sharded command and its arguments: `kernel …` or `reproduce …`.
    pub command: Vec<String>,
}

/// The kind of sharded command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Kernel,
    Reproduce,
}

fn kind_of(command: &[String]) -> Result<Kind> {
    match command.first().map(String::as_str) {
        Some("kernel") => Ok(Kind::Kernel),
        Some("reproduce") => Ok(Kind::Reproduce),
        other => Err(UsageError::new(format!(
            "slurm: the command after `--` must be `kernel …` or `reproduce …`, found {other:?}"
        ))
        .into()),
    }
}

/// The value of `--flag VALUE` or `--flag=VALUE` in `args`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let prefix = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(&prefix)
        }
    })
}

/// `args` without `--flag VALUE` / `--flag=VALUE`.
fn without_flag(args: &[String], flag: &str) -> Vec<String> {
    let prefix = format!("{flag}=");
    let mut out = Vec::with_capacity(args.len());
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a == flag {
            skip = true;
            continue;
        }
        if a.starts_with(&prefix) {
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// Single-quotes `word` for a POSIX shell.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// Bytes → a Slurm `--mem` value in MiB (rounded up).
fn mem_mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

impl SlurmJob {
    fn kind(&self) -> Result<Kind> {
        kind_of(&self.command)
    }

    /// The memory each task asks for, in bytes.
    pub fn task_memory(&self) -> Result<u64> {
        Ok(match self.kind()? {
            Kind::Kernel => {
                let budget = match flag_value(&self.command, "--max-memory") {
                    Some(text) => crate::stream::parse_memory(text)?,
                    None => crate::stream::default_max_memory(),
                };
                budget + MEMORY_MARGIN_BYTES
            }
            Kind::Reproduce => REPRODUCE_MEMORY_BYTES,
        })
    }

    /// The command line of array task `$SLURM_ARRAY_TASK_ID` (as shell text) and of the merge.
    pub fn commands(&self) -> Result<(String, String)> {
        let binary = quote(&self.binary.display().to_string());
        let n = self.shards;
        match self.kind()? {
            Kind::Kernel => {
                let base = join(&self.command);
                Ok((
                    format!("{binary} {base} --shard \"$SLURM_ARRAY_TASK_ID/{n}\""),
                    format!("{binary} {base} --merge-shards {n}"),
                ))
            }
            Kind::Reproduce => {
                let out = flag_value(&self.command, "--out")
                    .unwrap_or("target/reproduce")
                    .to_string();
                let base = join(&without_flag(&self.command, "--out"));
                let shard_dir = |i: &str| format!("{out}/shard-{i}");
                let dirs: Vec<String> = (0..n).map(|i| shard_dir(&i.to_string())).collect();
                Ok((
                    format!(
                        "{binary} {base} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --out {}\"$SLURM_ARRAY_TASK_ID\"",
                        quote(&format!("{out}/shard-"))
                    ),
                    format!(
                        "{binary} {base} --merge {} --out {}",
                        quote(&dirs.join(",")),
                        quote(&out)
                    ),
                ))
            }
        }
    }

    fn header(&self, name: &str, array: bool) -> Result<String> {
        let mut text = String::from("#!/usr/bin/env bash\n");
        let log = self
            .job_dir
            .join(if array { "array-%a.log" } else { "merge.log" });
        writeln!(text, "#SBATCH --job-name=ntk-lab-{name}")?;
        if array {
            writeln!(text, "#SBATCH --array=0-{}", self.shards - 1)?;
        }
        writeln!(text, "#SBATCH --ntasks=1")?;
        writeln!(text, "#SBATCH --cpus-per-task={}", self.cpus)?;
        writeln!(text, "#SBATCH --mem={}M", mem_mib(self.task_memory()?))?;
        // A killed or failed task may be requeued (`scontrol requeue`); its shard resumes from
        // its manifest or resume records.
        writeln!(text, "#SBATCH --requeue")?;
        writeln!(text, "#SBATCH --output={}", log.display())?;
        if let Some(time) = &self.time {
            writeln!(text, "#SBATCH --time={time}")?;
        }
        if let Some(partition) = &self.partition {
            writeln!(text, "#SBATCH --partition={partition}")?;
        }
        writeln!(text, "set -euo pipefail")?;
        writeln!(text, "cd {}", quote(&self.workdir.display().to_string()))?;
        writeln!(text, "export RAYON_NUM_THREADS={}", self.cpus)?;
        Ok(text)
    }

    /// The four scripts: (file name, contents, executable).
    pub fn scripts(&self) -> Result<Vec<(&'static str, String)>> {
        if self.shards == 0 {
            return Err(UsageError::new("slurm: --shards must be at least 1").into());
        }
        if self.cpus == 0 {
            return Err(UsageError::new("slurm: --cpus must be at least 1").into());
        }
        let (task, merge) = self.commands()?;
        let name = match self.kind()? {
            Kind::Kernel => "kernel",
            Kind::Reproduce => "reproduce",
        };
        let array = format!("{}{task}\n", self.header(name, true)?);
        let merge_script = format!("{}{merge}\n", self.header(&format!("{name}-merge"), false)?);
        let dir = quote(&self.job_dir.display().to_string());
        let submit = format!(
            "#!/usr/bin/env bash\n\
             # Submits the {n}-task array, then the merge once every task succeeded.\n\
             set -euo pipefail\n\
             array=$(sbatch --parsable {dir}/array.sbatch)\n\
             array=${{array%%;*}}\n\
             merge=$(sbatch --parsable --dependency=afterok:\"$array\" {dir}/merge.sbatch)\n\
             echo \"array job $array, merge job ${{merge%%;*}}\"\n",
            n = self.shards
        );
        let local_task = task.replace("$SLURM_ARRAY_TASK_ID", "$i");
        let local = format!(
            "#!/usr/bin/env bash\n\
             # The same shards without Slurm: JOBS at a time (default 1), then the merge.\n\
             set -euo pipefail\n\
             JOBS=${{JOBS:-1}}\n\
             cd {workdir}\n\
             export RAYON_NUM_THREADS={cpus}\n\
             for i in $(seq 0 {last}); do\n\
             \x20   {local_task} &\n\
             \x20   while [ \"$(jobs -rp | wc -l)\" -ge \"$JOBS\" ]; do wait -n; done\n\
             done\n\
             wait\n\
             {merge}\n",
            workdir = quote(&self.workdir.display().to_string()),
            cpus = self.cpus,
            last = self.shards - 1,
        );
        Ok(vec![
            ("array.sbatch", array),
            ("merge.sbatch", merge_script),
            ("submit.sh", submit),
            ("run-local.sh", local),
        ])
    }

    /// Writes the scripts into `job_dir` (created if needed); returns their paths.
    pub fn write(&self) -> Result<Vec<PathBuf>> {
        let scripts = self.scripts()?;
        std::fs::create_dir_all(&self.job_dir).map_err(|e| {
            UsageError::new(format!(
                "slurm: cannot create {}: {e}",
                self.job_dir.display()
            ))
        })?;
        let mut paths = Vec::new();
        for (name, text) in scripts {
            let path = self.job_dir.join(name);
            crate::reproduce::atomic::write_atomic(&path, text.as_bytes())?;
            make_executable(&path)?;
            paths.push(path);
        }
        Ok(paths)
    }
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = std::fs::metadata(path)
        .with_context(|| format!("cannot stat {}", path.display()))?
        .permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(path, permissions)
        .with_context(|| format!("cannot chmod {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(command: &[&str]) -> SlurmJob {
        SlurmJob {
            shards: 4,
            job_dir: "/jobs/k".into(),
            cpus: 2,
            time: Some("01:00:00".into()),
            partition: None,
            binary: "/repo/target/release/xtask".into(),
            workdir: "/repo".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn kernel_scripts_shard_and_merge() {
        let j = job(&[
            "kernel",
            "--spec",
            "a b.json",
            "--max-memory",
            "2G",
            "--out",
            "K.npy",
        ]);
        let scripts = j.scripts().unwrap();
        let array = &scripts[0].1;
        assert!(array.contains("#SBATCH --array=0-3"));
        assert!(array.contains("#SBATCH --mem=3072M"), "{array}");
        assert!(array.contains("'a b.json'"));
        assert!(array.contains("--shard \"$SLURM_ARRAY_TASK_ID/4\""));
        assert!(scripts[1].1.contains("--merge-shards 4"));
        assert!(scripts[2].1.contains("--dependency=afterok:"));
        assert!(scripts[3].1.contains("--shard \"$i/4\""));
    }

    #[test]
    fn reproduce_scripts_use_one_directory_per_shard() {
        let j = job(&["reproduce", "--scale", "quick", "--out", "out"]);
        let (task, merge) = j.commands().unwrap();
        assert!(
            task.contains("--out out/shard-\"$SLURM_ARRAY_TASK_ID\""),
            "{task}"
        );
        assert!(merge.contains("--merge out/shard-0,out/shard-1,out/shard-2,out/shard-3"));
        assert!(merge.ends_with("--out out"));
    }

    #[test]
    fn other_commands_are_refused() {
        assert!(job(&["bench"]).scripts().is_err());
        let mut j = job(&["kernel"]);
        j.shards = 0;
        assert!(j.scripts().is_err());
    }
}
