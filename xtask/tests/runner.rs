//! The runner and report writer, exercised with the test experiments of `common/`.

mod common;

use common::{Behavior, TestExperiment};
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use xtask::reproduce::results::ResultsFile;
use xtask::reproduce::resume::resume_key;
use xtask::reproduce::{Claim, Experiment, Findings, RunConfig, Scale, run};
use xtask::{UsageError, exit_code_for};

fn config(out: &Path) -> RunConfig {
    let mut config = RunConfig::new(Scale::Quick, 7, out);
    config.progress = Some(false);
    config.commit = Some("0123abcd".into());
    config
}

fn read_results(out: &Path) -> (Value, ResultsFile) {
    let text = fs::read_to_string(out.join("results.json")).unwrap();
    (
        serde_json::from_str(&text).unwrap(),
        serde_json::from_str(&text).unwrap(),
    )
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn results_json_has_exactly_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = vec![
        TestExperiment::boxed("good", Behavior::Good),
        TestExperiment::boxed("nan", Behavior::NanClaim),
        TestExperiment::boxed("refutes", Behavior::Refutes),
    ];
    let summary = run(&experiments, &config(dir.path())).unwrap();
    // The NaN claim is a `fail`, so the run fails.
    assert_eq!(summary.exit_code, 1);
    let (json, parsed) = read_results(dir.path());
    assert_eq!(
        keys(&json),
        ["commit", "experiments", "scale", "seed", "threads"]
    );
    assert_eq!(json["commit"], "0123abcd");
    assert_eq!(json["scale"], "quick");
    assert_eq!(json["seed"], 7);
    assert!(json["threads"].as_u64().unwrap() >= 1);
    let list = json["experiments"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    for experiment in list {
        assert_eq!(
            keys(experiment),
            [
                "claims", "data", "figures", "id", "seconds", "source", "title"
            ]
        );
        assert!(experiment["seconds"].as_f64().unwrap() >= 0.0);
        for claim in experiment["claims"].as_array().unwrap() {
            assert_eq!(
                keys(claim),
                [
                    "criterion",
                    "expected",
                    "id",
                    "measured",
                    "statement",
                    "verdict"
                ]
            );
            let verdict = claim["verdict"].as_str().unwrap();
            assert!(["pass", "fail", "refutes-source", "not-judged"].contains(&verdict));
        }
        let figures = experiment["figures"].as_array().unwrap();
        assert_eq!(figures.len(), 1);
        let figure = figures[0].as_str().unwrap();
        assert!(figure.starts_with("figures/") && figure.ends_with(".svg"));
        assert!(dir.path().join(figure).is_file(), "{figure} missing");
    }
    // Non-finite measurement: null and fail.
    let nan_claim = &list[1]["claims"][1];
    assert_eq!(nan_claim["measured"], Value::Null);
    assert_eq!(nan_claim["verdict"], "fail");
    assert_eq!(list[2]["claims"][1]["verdict"], "refutes-source");
    assert_eq!(list[0]["data"]["n_tasks"], 16);
    assert_eq!(parsed.experiments[0].counts().pass, 1);
    // Data files moved into place, staging removed.
    assert!(dir.path().join("data/good-mean.json").is_file());
    let leftovers: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".staging") || n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn report_has_header_summary_and_sections() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = vec![
        TestExperiment::boxed("good", Behavior::Good),
        TestExperiment::boxed("broken", Behavior::Error),
    ];
    let summary = run(&experiments, &config(dir.path())).unwrap();
    assert_eq!(summary.exit_code, 1);
    let report = fs::read_to_string(dir.path().join("REPORT.md")).unwrap();
    for needle in [
        "| git commit | `0123abcd` |",
        "| scale | quick |",
        "| seed | 7 |",
        "| threads |",
        "| CPU |",
        "| total wall time |",
        "| experiment | source | passed | failed | refutes source | seconds |",
        "> The mean of uniform draws is 1/2.",
        "> Second line of the statement.",
        "### Setup",
        "| id | statement | measured | expected | criterion | verdict |",
        "![good-mean.svg](figures/good-mean.svg)",
        "### Measurements",
        "### Interpretation",
        "## good A test experiment | with a pipe",
        "deliberate failure in broken",
    ] {
        assert!(
            report.contains(needle),
            "report lacks {needle:?}:\n{report}"
        );
    }
}

#[test]
fn errors_and_panics_fail_only_their_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = vec![
        TestExperiment::boxed("panics", Behavior::Panic),
        TestExperiment::boxed("errors", Behavior::Error),
        TestExperiment::boxed("good", Behavior::Good),
    ];
    let summary = run(&experiments, &config(dir.path())).unwrap();
    assert_eq!(summary.exit_code, 1);
    let (json, _) = read_results(dir.path());
    let list = json["experiments"].as_array().unwrap();
    assert!(
        list[0]["error"]
            .as_str()
            .unwrap()
            .contains("deliberate panic in panics")
    );
    assert!(
        list[1]["error"]
            .as_str()
            .unwrap()
            .contains("deliberate failure in errors")
    );
    assert!(list[2].get("error").is_none());
    assert_eq!(list[2]["claims"][0]["verdict"], "pass");
    // A run of passing experiments exits 0, and refutes-source does not fail it.
    let dir2 = tempfile::tempdir().unwrap();
    let ok = vec![
        TestExperiment::boxed("good", Behavior::Good),
        TestExperiment::boxed("refutes", Behavior::Refutes),
    ];
    assert_eq!(run(&ok, &config(dir2.path())).unwrap().exit_code, 0);
    let failing = vec![TestExperiment::boxed("f", Behavior::FailingClaim)];
    assert_eq!(run(&failing, &config(dir2.path())).unwrap().exit_code, 1);
}

#[test]
fn not_judged_claims_are_neither_pass_nor_fail() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = vec![TestExperiment::boxed("smoke", Behavior::NotJudged)];
    let summary = run(&experiments, &config(dir.path())).unwrap();
    // Not a failure of the run ...
    assert_eq!(summary.exit_code, 0);
    let (json, parsed) = read_results(dir.path());
    assert_eq!(json["experiments"][0]["claims"][1]["verdict"], "not-judged");
    // ... and not counted as a pass either.
    let counts = parsed.experiments[0].counts();
    assert_eq!((counts.pass, counts.fail, counts.not_judged), (1, 0, 1));
    let report = fs::read_to_string(dir.path().join("REPORT.md")).unwrap();
    assert!(report.contains("1 claims pass, 0 fail, 0 refute the source, 1 not judged"));
    assert!(report.contains("| not judged |"));
    assert!(report.contains("not judged (quick scale)"));
}

#[test]
fn only_filters_and_unknown_ids_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = vec![
        TestExperiment::boxed("alpha", Behavior::Good),
        TestExperiment::boxed("beta", Behavior::Good),
    ];
    let mut cfg = config(dir.path());
    cfg.only = Some(vec!["beta".into()]);
    let summary = run(&experiments, &cfg).unwrap();
    assert_eq!(summary.results.experiments.len(), 1);
    assert_eq!(summary.results.experiments[0].id, "beta");

    let empty = tempfile::tempdir().unwrap();
    let mut cfg = config(empty.path());
    cfg.only = Some(vec!["beta".into(), "gamma".into()]);
    let error = run(&experiments, &cfg).unwrap_err();
    assert_eq!(exit_code_for(&error), 2);
    let message = error.to_string();
    assert!(
        message.contains("gamma") && message.contains("alpha, beta"),
        "{message}"
    );
    assert!(error.downcast_ref::<UsageError>().is_some());
    assert!(!empty.path().join("REPORT.md").exists());
}

#[test]
fn unwritable_output_directory_is_a_usage_error_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    fs::write(&blocker, "not a directory").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let experiments = vec![TestExperiment::counted(
        "good",
        Behavior::Good,
        runs.clone(),
    )];
    let error = run(&experiments, &config(&blocker.join("out"))).unwrap_err();
    assert_eq!(exit_code_for(&error), 2);
    assert!(error.to_string().contains("is not writable"), "{error}");
    assert!(!error.to_string().contains('\n'));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_failing_results_write_leaves_the_previous_report() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = vec![TestExperiment::boxed("good", Behavior::Good)];
    run(&experiments, &config(dir.path())).unwrap();
    let old_report = fs::read_to_string(dir.path().join("REPORT.md")).unwrap();
    // results.json cannot be replaced (a non-empty directory is in the way): the run errors and
    // REPORT.md, written after results.json, keeps the previous content.
    fs::remove_file(dir.path().join("results.json")).unwrap();
    fs::create_dir_all(dir.path().join("results.json/blocker")).unwrap();
    let mut cfg = config(dir.path());
    cfg.seed = 8;
    assert!(run(&experiments, &cfg).is_err());
    assert_eq!(
        fs::read_to_string(dir.path().join("REPORT.md")).unwrap(),
        old_report
    );
    let temp_files: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(temp_files.is_empty(), "{temp_files:?}");
}

#[test]
fn resume_reuses_finished_experiments_for_the_same_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let runs_a = Arc::new(AtomicUsize::new(0));
    let runs_b = Arc::new(AtomicUsize::new(0));
    let make = || -> Vec<Box<dyn Experiment>> {
        vec![
            TestExperiment::counted("a", Behavior::Good, runs_a.clone()),
            TestExperiment::counted("b", Behavior::Error, runs_b.clone()),
        ]
    };
    let first = run(&make(), &config(dir.path())).unwrap();
    assert_eq!(
        (runs_a.load(Ordering::SeqCst), runs_b.load(Ordering::SeqCst)),
        (1, 1)
    );
    assert!(dir.path().join(".resume/a.json").is_file());
    assert!(
        !dir.path().join(".resume/b.json").exists(),
        "errored runs are not stored"
    );

    // Same commit, scale and seed with --resume: `a` is reused (with its figure), `b` re-runs.
    let mut cfg = config(dir.path());
    cfg.resume = true;
    fs::remove_dir_all(dir.path().join("figures")).unwrap();
    let second = run(&make(), &cfg).unwrap();
    assert_eq!(
        (runs_a.load(Ordering::SeqCst), runs_b.load(Ordering::SeqCst)),
        (1, 2)
    );
    assert!(second.outcomes[0].resumed);
    assert!(dir.path().join("figures/a-mean.svg").is_file());
    assert_eq!(first.results.normalized(), second.results.normalized());

    // Another seed, scale or commit: re-run.
    for change in 0..3 {
        let mut cfg = config(dir.path());
        cfg.resume = true;
        match change {
            0 => cfg.seed = 99,
            1 => cfg.scale = Scale::Default,
            _ => cfg.commit = Some("fedcba98".into()),
        }
        run(&make(), &cfg).unwrap();
        assert_eq!(runs_a.load(Ordering::SeqCst), 2 + change);
    }
    // Without --resume everything runs.
    run(&make(), &config(dir.path())).unwrap();
    assert_eq!(runs_a.load(Ordering::SeqCst), 5);
}

#[test]
fn resume_keys_separate_every_component() {
    let base = resume_key("abc", Scale::Quick, 1, "exp");
    assert_eq!(base, resume_key("abc", Scale::Quick, 1, "exp"));
    assert_eq!(base.len(), 16);
    let others = [
        resume_key("abd", Scale::Quick, 1, "exp"),
        resume_key("abc", Scale::Full, 1, "exp"),
        resume_key("abc", Scale::Quick, 2, "exp"),
        resume_key("abc", Scale::Quick, 1, "exp2"),
        // Field boundaries matter: ("ab", "cexp") must not collide with ("abc", "exp").
        resume_key("ab", Scale::Quick, 1, "cexp"),
    ];
    for other in others {
        assert_ne!(base, other);
    }
}

#[test]
fn results_are_identical_with_one_and_two_threads() {
    let make = || -> Vec<Box<dyn Experiment>> {
        vec![
            TestExperiment::boxed("good", Behavior::Good),
            TestExperiment::boxed("refutes", Behavior::Refutes),
        ]
    };
    let mut texts = Vec::new();
    for threads in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let summary = pool.install(|| run(&make(), &config(dir.path()))).unwrap();
        assert_eq!(summary.results.threads, threads);
        let (_, parsed) = read_results(dir.path());
        texts.push(parsed.normalized().to_json().unwrap());
    }
    assert_eq!(texts[0], texts[1]);
}

/// The `-dirty` mark ignores edits inside the run's own output directory (regenerating the
/// committed report) but not edits anywhere else.
#[test]
fn dirty_mark_ignores_the_output_directory_only() {
    use std::process::Command;
    use xtask::reproduce::environment::git_commit_at;
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .current_dir(repo.path())
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    git(&["init", "-q"]);
    let out = repo.path().join("docs/reproduction");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("REPORT.md"), "old").unwrap();
    fs::write(repo.path().join("src.rs"), "fn a() {}").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "init"]);
    let clean = git_commit_at(repo.path(), &out);
    assert_eq!(clean.len(), 40, "{clean}");
    fs::write(out.join("REPORT.md"), "new").unwrap();
    assert_eq!(git_commit_at(repo.path(), &out), clean);
    fs::write(repo.path().join("src.rs"), "fn b() {}").unwrap();
    assert_eq!(git_commit_at(repo.path(), &out), format!("{clean}-dirty"));
}

/// An experiment with one expensive part (counted) that fails after the part while `fail` is
/// set: an interrupted long experiment.
struct Parted {
    computed: Arc<AtomicUsize>,
    fail: bool,
}

impl Experiment for Parted {
    fn id(&self) -> &'static str {
        "parted"
    }
    fn title(&self) -> &'static str {
        "An experiment with a stored part"
    }
    fn source(&self) -> &'static str {
        "test source"
    }
    fn statement(&self) -> &'static str {
        "0.1 + 0.2 is stored and read back bit for bit."
    }
    fn run(&self, ctx: &xtask::reproduce::Context<'_>) -> anyhow::Result<Findings> {
        let value: f64 = ctx.cached("sum", || {
            self.computed.fetch_add(1, Ordering::SeqCst);
            Ok(0.1 + 0.2)
        })?;
        if self.fail {
            anyhow::bail!("interrupted after the part");
        }
        Ok(Findings {
            claims: vec![Claim::check(
                "sum",
                "the stored part is the computed value",
                value,
                "0.1 + 0.2",
                "bitwise equal",
                value.to_bits() == (0.1f64 + 0.2).to_bits(),
            )],
            ..Findings::default()
        })
    }
}

/// An experiment that stopped after a part resumes from it with `--resume` (the part is not
/// computed again and the result is the same); a finished experiment leaves no parts; without
/// `--resume` parts are computed again.
#[test]
fn resume_continues_inside_an_interrupted_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let computed = Arc::new(AtomicUsize::new(0));
    let make = |fail: bool| -> Vec<Box<dyn Experiment>> {
        vec![Box::new(Parted {
            computed: computed.clone(),
            fail,
        })]
    };
    let first = run(&make(true), &config(dir.path())).unwrap();
    assert!(first.outcomes[0].record.error.is_some());
    assert_eq!(computed.load(Ordering::SeqCst), 1);
    assert!(dir.path().join(".resume/parted.parts").is_dir());

    // Without --resume the part is computed again.
    run(&make(true), &config(dir.path())).unwrap();
    assert_eq!(computed.load(Ordering::SeqCst), 2);

    // With --resume it is read back; the experiment finishes and its parts are removed.
    let mut cfg = config(dir.path());
    cfg.resume = true;
    let resumed = run(&make(false), &cfg).unwrap();
    assert_eq!(computed.load(Ordering::SeqCst), 2);
    assert!(resumed.outcomes[0].record.error.is_none());
    assert_eq!(resumed.outcomes[0].record.counts().pass, 1);
    assert!(!dir.path().join(".resume/parted.parts").exists());
    assert!(dir.path().join(".resume/parted.json").is_file());
}
