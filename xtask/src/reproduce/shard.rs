//! `--shard i/N` and `--merge`: the experiments of one `reproduce` run split across N jobs (Slurm
//! array tasks, or N shells on a laptop), then merged into the one `REPORT.md` / `results.json`.
//!
//! The split is a fixed function of the experiment ids and their costs, so every shard computes
//! the same plan without talking to the others. Costs are the wall times of the committed
//! default-scale run (`docs/reproduction/results.json`, compiled into the binary so all shards of
//! one build agree); an experiment missing there costs the median. The plan is the longest-
//! processing-time-first rule: experiments in decreasing cost (ties in registry order), each given
//! to the currently least-loaded shard (ties to the lowest index). Its makespan is at most
//! 4/3 − 1/(3N) times the optimum (Graham 1969).
//!
//! Each shard is an ordinary run into its own output directory; its per-experiment resume records
//! (`.resume/`, see [`super::resume`]) carry the experiment outcome and files. The merge copies
//! the records of every shard directory into the output directory and runs with `--resume`
//! semantics in a mode that refuses to run anything: a missing experiment (a shard that did not
//! finish) or one finished by two shards is an error naming the experiment and the directories.
//!
//! # Reference
//! R. L. Graham, "Bounds on multiprocessing timing anomalies", SIAM J. Appl. Math. 17 (1969).

use super::atomic::copy_tree;
use super::experiment::{Experiment, Scale};
use super::resume::{ResumeStore, resume_key};
use crate::UsageError;
use anyhow::{Context as _, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The committed default-scale results whose `seconds` are the shard costs.
const COSTS_JSON: &str = include_str!("../../../docs/reproduction/results.json");

/// Shard `index` of `count` (0-based), as given by `--shard i/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `i/N` with 0 ≤ i < N; anything else is a [`UsageError`].
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || -> anyhow::Error {
            UsageError::new(format!(
                "--shard: expected i/N with 0 <= i < N (e.g. 0/4), found `{text}`"
            ))
            .into()
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The cost (seconds at default scale) of each id, in the order given.
pub fn costs(ids: &[&str]) -> Vec<f64> {
    let known: Vec<(String, f64)> = serde_json::from_str::<serde_json::Value>(COSTS_JSON)
        .ok()
        .and_then(|v| v.get("experiments").cloned())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            Some((
                e.get("id")?.as_str()?.to_string(),
                e.get("seconds")?.as_f64()?,
            ))
        })
        .collect();
    let mut sorted: Vec<f64> = known.iter().map(|(_, s)| *s).collect();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.is_empty() {
        1.0
    } else {
        sorted[sorted.len() / 2]
    };
    ids.iter()
        .map(|id| {
            known
                .iter()
                .find(|(k, _)| k == id)
                .map_or(median, |(_, s)| *s)
                // A floor so that a 0-second experiment still counts as one unit of work.
                .max(0.01)
        })
        .collect()
}

/// The longest-processing-time-first split of items with `costs` into `count` shards (the same
/// rule as the kernel tiles' [`ntk_kernels::tile_shards::lpt_partition`]).
pub fn plan(costs: &[f64], count: usize) -> Vec<Vec<usize>> {
    ntk_kernels::tile_shards::lpt_partition(costs, count)
}

/// The ids of `selected` that shard `shard` runs.
pub fn ids_of_shard(selected: &[&dyn Experiment], shard: Shard) -> Vec<String> {
    let ids: Vec<&str> = selected.iter().map(|e| e.id()).collect();
    let shards = plan(&costs(&ids), shard.count);
    shards[shard.index]
        .iter()
        .map(|&i| ids[i].to_string())
        .collect()
}

/// Copies into `out_dir/.resume` the record of every `selected` experiment from the one shard
/// directory that finished it (for `commit`, `scale`, `seed`). Errors, naming experiment and
/// directories, if an experiment was finished by no shard or by more than one.
pub fn gather(
    selected: &[&dyn Experiment],
    shard_dirs: &[PathBuf],
    out_dir: &Path,
    commit: &str,
    scale: Scale,
    seed: u64,
) -> Result<()> {
    if shard_dirs.is_empty() {
        return Err(UsageError::new("--merge: no shard directory given").into());
    }
    for dir in shard_dirs {
        if !dir.is_dir() {
            return Err(UsageError::new(format!(
                "--merge: shard directory {} does not exist",
                dir.display()
            ))
            .into());
        }
    }
    let target = out_dir.join(".resume");
    fs::create_dir_all(&target).with_context(|| format!("cannot create {}", target.display()))?;
    let mut missing = Vec::new();
    for experiment in selected {
        let id = experiment.id();
        let key = resume_key(commit, scale, seed, id);
        let found: Vec<&PathBuf> = shard_dirs
            .iter()
            .filter(|dir| ResumeStore::new(dir).load(id, &key).is_some())
            .collect();
        match found.as_slice() {
            [] => missing.push(id.to_string()),
            [dir] => {
                let source = dir.join(".resume");
                if fs::canonicalize(&source).ok() != fs::canonicalize(&target).ok() {
                    copy_tree(&source.join(id), &target.join(id))?;
                    let record = source.join(format!("{id}.json"));
                    fs::copy(&record, target.join(format!("{id}.json")))
                        .with_context(|| format!("cannot copy {}", record.display()))?;
                }
            }
            many => {
                let dirs: Vec<String> = many.iter().map(|d| d.display().to_string()).collect();
                return Err(UsageError::new(format!(
                    "--merge: experiment {id} was finished by more than one shard ({}); keep one",
                    dirs.join(", ")
                ))
                .into());
            }
        }
    }
    if !missing.is_empty() {
        return Err(UsageError::new(format!(
            "--merge: no shard finished {} (for commit {commit}, scale {}, seed {seed}); rerun those shards",
            missing.join(", "),
            scale.as_str()
        ))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_valid_shards() {
        assert_eq!(Shard::parse("0/4").unwrap(), Shard { index: 0, count: 4 });
        assert_eq!(Shard::parse("3/4").unwrap(), Shard { index: 3, count: 4 });
        for bad in ["4/4", "1/0", "x/2", "2", "-1/3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plan_is_a_partition_with_lpt_balance() {
        let costs = [
            71.7, 10.3, 6.8, 4.1, 19.5, 5.6, 61.3, 28.3, 14.4, 0.4, 1.0, 9.0,
        ];
        for count in 1..=6 {
            let shards = plan(&costs, count);
            let mut all: Vec<usize> = shards.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..costs.len()).collect::<Vec<_>>());
            // Greedy list scheduling: the last item placed on the fullest shard started when that
            // shard was the least loaded, so makespan <= total/N + (1 - 1/N)·max item (Graham 1969).
            let total: f64 = costs.iter().sum();
            let makespan = shards
                .iter()
                .map(|s| s.iter().map(|&i| costs[i]).sum::<f64>())
                .fold(0.0, f64::max);
            let bound = total / count as f64 + (1.0 - 1.0 / count as f64) * 71.7;
            assert!(makespan <= bound + 1e-9, "N={count}: {makespan} vs {bound}");
        }
    }

    #[test]
    fn committed_costs_are_read() {
        // Every registered experiment of the committed report has a recorded time.
        let c = costs(&["interpolator", "no-such-experiment"]);
        assert!(c[0] > 1.0 && c[1] > 0.0);
    }
}
