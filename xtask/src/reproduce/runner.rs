//! The runner of `cargo xtask reproduce`: selects experiments, runs each with a [`Context`]
//! (staging directory, progress callback), turns errors and panics into failed experiments, and
//! writes the output directory atomically.
//!
//! Layout of the output directory `DIR`:
//! - `REPORT.md`, `results.json`: written last, each as temp file + rename;
//! - `figures/`, `data/`: each experiment's staged files, moved into place by rename;
//! - `.staging-<pid>-<nanos>/<id>/`: where experiment `id` writes while it runs (removed at the end);
//! - `.resume/`: the `--resume` records ([`super::resume`]), also what `--merge` gathers from the
//!   shard directories ([`super::shard`]); `.resume/<id>.parts/` the parts of an experiment that
//!   has not finished ([`super::parts`]).
//!
//! An interrupted run leaves the previous `REPORT.md` and `results.json` untouched: nothing
//! outside the staging and resume directories changes before all experiments are done.

use super::atomic::{move_files_into_place, write_atomic};
use super::environment;
use super::experiment::{Context, Experiment, Findings, Scale};
use super::parts::{PartStore, remove_parts};
use super::progress::Progress;
use super::report::{Header, render_report};
use super::results::{ClaimRecord, ExperimentRecord, ResultsFile};
use super::resume::{ResumeRecord, ResumeStore, resume_key};
use super::shard::{self, Shard};
use crate::UsageError;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Configuration of one `reproduce` run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub scale: Scale,
    pub seed: u64,
    /// Ids to run (in registry order); `None` runs every experiment.
    pub only: Option<Vec<String>>,
    /// The output directory (`target/reproduce` by default).
    pub out_dir: PathBuf,
    /// Reuse experiments already finished in `out_dir` for the same commit, scale and seed.
    pub resume: bool,
    /// Show progress bars: `Some(true/false)`, or `None` for "iff stderr is a terminal".
    pub progress: Option<bool>,
    /// The commit recorded in the output; `None` asks git.
    pub commit: Option<String>,
    /// Run only this shard's part of the selected experiments (`--shard i/N`).
    pub shard: Option<Shard>,
    /// Merge the finished experiments of these shard output directories instead of running
    /// anything (`--merge`); every selected experiment must have been finished by one shard.
    pub merge_from: Option<Vec<PathBuf>>,
}

impl RunConfig {
    /// A run of every experiment at `scale` with `seed` into `out_dir`, no resume, automatic
    /// progress display, commit from git.
    pub fn new(scale: Scale, seed: u64, out_dir: impl Into<PathBuf>) -> Self {
        RunConfig {
            scale,
            seed,
            only: None,
            out_dir: out_dir.into(),
            resume: false,
            progress: None,
            commit: None,
            shard: None,
            merge_from: None,
        }
    }
}

/// Everything known about one experiment after the run: its `results.json` record and the
/// markdown parts of its report section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentOutcome {
    pub record: ExperimentRecord,
    pub statement: String,
    pub setup: String,
    pub tables: String,
    pub interpretation: String,
    /// Whether this outcome was reused from a previous run (`--resume`).
    #[serde(default)]
    pub resumed: bool,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub results: ResultsFile,
    pub outcomes: Vec<ExperimentOutcome>,
    /// 1 if any experiment errored or any claim failed, else 0.
    pub exit_code: i32,
    pub report_path: PathBuf,
    pub results_path: PathBuf,
    pub wall_seconds: f64,
}

/// The experiments selected by `--only` (in registry order), or all of them. An unknown id is a
/// [`UsageError`] listing the valid ids.
pub fn select<'a>(
    experiments: &'a [Box<dyn Experiment>],
    only: Option<&[String]>,
) -> Result<Vec<&'a dyn Experiment>> {
    let Some(only) = only else {
        return Ok(experiments.iter().map(|e| e.as_ref()).collect());
    };
    let valid: Vec<&str> = experiments.iter().map(|e| e.id()).collect();
    let valid_list = if valid.is_empty() {
        "(none registered)".to_string()
    } else {
        valid.join(", ")
    };
    if only.is_empty() {
        return Err(UsageError::new(format!(
            "--only: no experiment id given; valid ids: {valid_list}"
        ))
        .into());
    }
    let unknown: Vec<&str> = only
        .iter()
        .map(String::as_str)
        .filter(|id| !valid.contains(id))
        .collect();
    if !unknown.is_empty() {
        return Err(UsageError::new(format!(
            "--only: unknown experiment id(s) {}; valid ids: {valid_list}",
            unknown.join(", ")
        ))
        .into());
    }
    Ok(experiments
        .iter()
        .filter(|e| only.iter().any(|id| id == e.id()))
        .map(|e| e.as_ref())
        .collect())
}

/// Creates `out_dir` if needed and checks that files can be created in it; a [`UsageError`] with
/// one clear line otherwise.
pub fn check_output_dir(out_dir: &Path) -> Result<()> {
    let unwritable = |reason: String| -> anyhow::Error {
        UsageError::new(format!(
            "output directory {} is not writable: {reason}",
            out_dir.display()
        ))
        .into()
    };
    fs::create_dir_all(out_dir).map_err(|e| unwritable(e.to_string()))?;
    let probe = out_dir.join(format!(".write-probe-{}", std::process::id()));
    fs::write(&probe, b"probe").map_err(|e| unwritable(e.to_string()))?;
    fs::remove_file(&probe).map_err(|e| unwritable(e.to_string()))?;
    Ok(())
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Checks an experiment's findings against its staged files: every listed figure must exist.
fn check_findings(findings: &Findings, staged: &Path) -> Result<(), String> {
    for figure in &findings.figures {
        if figure.contains("..") || !staged.join(figure).is_file() {
            return Err(format!(
                "figure `{figure}` is listed in the findings but was not written to the staging directory"
            ));
        }
    }
    Ok(())
}

/// Runs one experiment with a fresh staging directory, catching errors and panics.
fn run_one(
    experiment: &dyn Experiment,
    scale: Scale,
    seed: u64,
    staged: &Path,
    progress: &(dyn Fn(f64) + Sync),
    parts: &PartStore,
) -> Result<ExperimentOutcome> {
    for sub in ["figures", "data"] {
        fs::create_dir_all(staged.join(sub))
            .with_context(|| format!("cannot create {}", staged.join(sub).display()))?;
    }
    let ctx = Context {
        scale,
        seed,
        staging_dir: staged.to_path_buf(),
        id: experiment.id(),
        progress,
        parts,
    };
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| experiment.run(&ctx)));
    let seconds = start.elapsed().as_secs_f64();
    let findings = match result {
        Ok(Ok(findings)) => match check_findings(&findings, staged) {
            Ok(()) => Ok(findings),
            Err(message) => Err(message),
        },
        Ok(Err(error)) => Err(crate::one_line(&error)),
        Err(payload) => Err(format!("panicked: {}", panic_message(payload.as_ref()))),
    };
    let mut record = ExperimentRecord {
        id: experiment.id().to_string(),
        title: experiment.title().to_string(),
        source: experiment.source().to_string(),
        seconds,
        claims: Vec::new(),
        figures: Vec::new(),
        data: serde_json::Value::Null,
        error: None,
    };
    let outcome = match findings {
        Ok(findings) => {
            record.claims = findings
                .claims
                .iter()
                .map(ClaimRecord::from_claim)
                .collect();
            record.figures = findings.figures.clone();
            record.data = findings.data.clone();
            ExperimentOutcome {
                record,
                statement: experiment.statement().to_string(),
                setup: findings.setup,
                tables: findings.tables,
                interpretation: findings.interpretation,
                resumed: false,
            }
        }
        Err(message) => {
            record.error = Some(message);
            ExperimentOutcome {
                record,
                statement: experiment.statement().to_string(),
                setup: String::new(),
                tables: String::new(),
                interpretation: String::new(),
                resumed: false,
            }
        }
    };
    Ok(outcome)
}

/// Removes staging directories left by interrupted runs (concurrent runs into one output
/// directory are not supported).
fn remove_stale_staging(out_dir: &Path) {
    if let Ok(entries) = fs::read_dir(out_dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".staging-") {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Runs the selected `experiments` and writes `REPORT.md`, `results.json`, `figures/` and
/// `data/` into `config.out_dir`.
///
/// Usage errors (unknown `--only` id, unwritable output directory) are [`UsageError`]s, detected
/// before any experiment runs. An experiment that returns an error or panics is recorded as
/// failed (with its message) and the others still run. The summary's `exit_code` is 1 if any
/// experiment failed or any claim has verdict `fail`, else 0.
pub fn run(experiments: &[Box<dyn Experiment>], config: &RunConfig) -> Result<RunSummary> {
    let mut selected = select(experiments, config.only.as_deref())?;
    if let Some(shard) = config.shard {
        let ids = shard::ids_of_shard(&selected, shard);
        selected.retain(|e| ids.iter().any(|id| id == e.id()));
    }
    let out_dir = config.out_dir.as_path();
    check_output_dir(out_dir)?;
    let wall = Instant::now();
    let commit = config
        .commit
        .clone()
        .unwrap_or_else(|| environment::git_commit(out_dir));
    let merging = config.merge_from.is_some();
    if let Some(dirs) = &config.merge_from {
        shard::gather(&selected, dirs, out_dir, &commit, config.scale, config.seed)?;
    }
    let date = environment::utc_now();

    remove_stale_staging(out_dir);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let staging = out_dir.join(format!(".staging-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
    let store = ResumeStore::new(out_dir);
    let progress = Progress::new(selected.len(), config.progress);

    let mut outcomes = Vec::with_capacity(selected.len());
    for (index, experiment) in selected.iter().enumerate() {
        let id = experiment.id();
        let staged = staging.join(id);
        let key = resume_key(&commit, config.scale, config.seed, id);
        let bar = progress.start(index, id);
        let reused = if config.resume || merging {
            store.load(id, &key)
        } else {
            None
        };
        if merging && reused.is_none() {
            // `shard::gather` checked every record; one that vanished since is an error, never
            // a silent re-run inside a merge job.
            anyhow::bail!(
                "--merge: the record of {id} disappeared from {}",
                out_dir.display()
            );
        }
        let outcome = match reused {
            Some(record) => {
                store.restore_files(id, &staged)?;
                bar.finish("reused (--resume)");
                ExperimentOutcome {
                    resumed: true,
                    ..record.outcome
                }
            }
            None => {
                let callback = |fraction: f64| bar.set(fraction);
                let parts = PartStore::new(out_dir, id, &key, config.resume);
                let outcome = run_one(
                    *experiment,
                    config.scale,
                    config.seed,
                    &staged,
                    &callback,
                    &parts,
                )?;
                let status = if let Some(error) = &outcome.record.error {
                    format!("error: {error}")
                } else {
                    let counts = outcome.record.counts();
                    let not_judged = if counts.not_judged > 0 {
                        format!(", {} not judged", counts.not_judged)
                    } else {
                        String::new()
                    };
                    format!(
                        "{} pass, {} fail, {} refutes-source{not_judged}",
                        counts.pass, counts.fail, counts.refutes_source
                    )
                };
                bar.finish(&status);
                if outcome.record.error.is_none() {
                    let files = super::atomic::list_files(&staged)?;
                    store.save(
                        &ResumeRecord {
                            key,
                            commit: commit.clone(),
                            scale: config.scale,
                            seed: config.seed,
                            id: id.to_string(),
                            files,
                            outcome: outcome.clone(),
                        },
                        &staged,
                    )?;
                    remove_parts(out_dir, id)?;
                }
                outcome
            }
        };
        outcomes.push(outcome);
    }
    progress.finish("done");

    let results = ResultsFile {
        commit: commit.clone(),
        scale: config.scale.as_str().to_string(),
        seed: config.seed,
        threads: rayon::current_num_threads(),
        experiments: outcomes.iter().map(|o| o.record.clone()).collect(),
    };

    // Move each finished experiment's figures and data into place (each file by rename).
    for outcome in &outcomes {
        if outcome.record.error.is_none() {
            let staged = staging.join(&outcome.record.id);
            if staged.exists() {
                move_files_into_place(&staged, out_dir)?;
            }
        }
    }
    let wall_seconds = wall.elapsed().as_secs_f64();
    let header = Header {
        commit,
        date,
        scale: config.scale.as_str().to_string(),
        seed: config.seed,
        threads: results.threads,
        cpu_model: environment::cpu_model(),
        wall_seconds,
    };
    let results_path = out_dir.join("results.json");
    let report_path = out_dir.join("REPORT.md");
    write_atomic(&results_path, results.to_json()?.as_bytes())?;
    write_atomic(&report_path, render_report(&header, &outcomes).as_bytes())?;
    let _ = fs::remove_dir_all(&staging);

    Ok(RunSummary {
        exit_code: results.exit_code(),
        results,
        outcomes,
        report_path,
        results_path,
        wall_seconds,
    })
}
