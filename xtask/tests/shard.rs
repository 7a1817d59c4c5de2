//! `--shard i/N` and `--merge`: shards of a run merged into one report equal the unsharded run.

mod common;

use common::{Behavior, TestExperiment};
use std::fs;
use std::path::{Path, PathBuf};
use xtask::exit_code_for;
use xtask::reproduce::results::ResultsFile;
use xtask::reproduce::shard::Shard;
use xtask::reproduce::{Experiment, RunConfig, Scale, run};

fn config(out: &Path) -> RunConfig {
    let mut config = RunConfig::new(Scale::Quick, 7, out);
    config.progress = Some(false);
    config.commit = Some("0123abcd".into());
    config
}

fn experiments() -> Vec<Box<dyn Experiment>> {
    vec![
        TestExperiment::boxed("a", Behavior::Good),
        TestExperiment::boxed("b", Behavior::FailingClaim),
        TestExperiment::boxed("c", Behavior::Refutes),
        TestExperiment::boxed("d", Behavior::Good),
        TestExperiment::boxed("e", Behavior::Good),
    ]
}

fn results(out: &Path) -> ResultsFile {
    serde_json::from_str(&fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

/// The results with the wall times zeroed (the only field that differs between two runs).
fn without_times(mut results: ResultsFile) -> ResultsFile {
    for e in &mut results.experiments {
        e.seconds = 0.0;
    }
    results
}

fn run_shards(root: &Path, count: usize) -> Vec<PathBuf> {
    let experiments = experiments();
    (0..count)
        .map(|index| {
            let dir = root.join(format!("shard-{index}"));
            let mut cfg = config(&dir);
            cfg.shard = Some(Shard { index, count });
            run(&experiments, &cfg).unwrap();
            dir
        })
        .collect()
}

#[test]
fn shards_partition_the_experiments_and_merge_to_the_single_run() {
    let root = tempfile::tempdir().unwrap();
    let single = root.path().join("single");
    run(&experiments(), &config(&single)).unwrap();

    for count in [1, 2, 3, 5, 7] {
        let shard_root = root.path().join(format!("n{count}"));
        let dirs = run_shards(&shard_root, count);
        // Every experiment ran in exactly one shard.
        let mut ran: Vec<String> = dirs
            .iter()
            .flat_map(|d| results(d).experiments.into_iter().map(|e| e.id))
            .collect();
        ran.sort();
        assert_eq!(ran, ["a", "b", "c", "d", "e"], "N = {count}");

        let merged = shard_root.join("merged");
        let mut cfg = config(&merged);
        cfg.merge_from = Some(dirs.clone());
        let summary = run(&experiments(), &cfg).unwrap();
        assert!(summary.outcomes.iter().all(|o| o.resumed));
        // The FailingClaim experiment makes the merged run fail, as the single run does.
        assert_eq!(summary.exit_code, 1);
        assert_eq!(
            without_times(results(&merged)),
            without_times(results(&single))
        );
        assert!(merged.join("REPORT.md").is_file());
        assert!(merged.join("figures").read_dir().unwrap().next().is_some());
    }
}

#[test]
fn merge_refuses_missing_and_duplicate_experiments() {
    let root = tempfile::tempdir().unwrap();
    let dirs = run_shards(root.path(), 3);

    // Shard 2 missing: an error naming what no shard finished, exit code 2, no report written.
    let merged = root.path().join("merged");
    let mut cfg = config(&merged);
    cfg.merge_from = Some(dirs[..2].to_vec());
    let error = run(&experiments(), &cfg).unwrap_err();
    assert_eq!(exit_code_for(&error), 2);
    assert!(error.to_string().contains("no shard finished"), "{error}");
    assert!(!merged.join("results.json").exists());

    // A full single run given as a fourth "shard": every experiment is finished twice.
    let single = root.path().join("single");
    run(&experiments(), &config(&single)).unwrap();
    let mut all = dirs.clone();
    all.push(single);
    let mut cfg = config(&merged);
    cfg.merge_from = Some(all);
    let error = run(&experiments(), &cfg).unwrap_err();
    assert!(error.to_string().contains("more than one shard"), "{error}");

    // A shard directory that does not exist.
    let mut cfg = config(&merged);
    cfg.merge_from = Some(vec![root.path().join("nope")]);
    let error = run(&experiments(), &cfg).unwrap_err();
    assert_eq!(exit_code_for(&error), 2);
}

#[test]
fn shards_of_another_seed_are_not_merged() {
    let root = tempfile::tempdir().unwrap();
    let dirs = run_shards(root.path(), 2);
    let merged = root.path().join("merged");
    let mut cfg = config(&merged);
    cfg.seed = 8;
    cfg.merge_from = Some(dirs);
    let error = run(&experiments(), &cfg).unwrap_err();
    assert!(error.to_string().contains("no shard finished"), "{error}");
}
