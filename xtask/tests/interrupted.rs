//! Killing `reproduce` mid-run leaves the previous report intact, and `--resume` then reuses the
//! experiments the killed run had finished. The test re-executes its own binary as the child run.

mod common;

use common::{Behavior, TestExperiment};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use xtask::reproduce::{RunConfig, Scale, run};

const CHILD_ENV: &str = "NTK_LAB_INTERRUPTED_CHILD_DIR";
const TEST_NAME: &str = "killing_a_run_keeps_the_previous_report_and_resume_picks_up";

fn config(out: &Path, seed: u64) -> RunConfig {
    let mut config = RunConfig::new(Scale::Quick, seed, out);
    config.progress = Some(false);
    config.commit = Some("feedface".into());
    config
}

/// The child: a run whose second experiment takes 20 s (it is killed long before).
fn child(out: &Path) {
    let experiments = vec![
        TestExperiment::boxed("good", Behavior::Good),
        TestExperiment::boxed("slow", Behavior::Slow(20_000)),
    ];
    let _ = run(&experiments, &config(out, 8));
}

#[test]
fn killing_a_run_keeps_the_previous_report_and_resume_picks_up() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let previous = vec![TestExperiment::boxed("good", Behavior::Good)];
    run(&previous, &config(dir.path(), 7)).unwrap();
    let old_report = fs::read(dir.path().join("REPORT.md")).unwrap();
    let old_results = fs::read(dir.path().join("results.json")).unwrap();

    for delay_ms in [0u64, 150, 400] {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--test-threads", "1"])
            .env(CHILD_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child has finished `good` (its resume record exists), then kill it.
        let record = dir.path().join(".resume/good.json");
        let start = Instant::now();
        while delay_ms > 0 && start.elapsed() < Duration::from_secs(15) {
            let fresh = fs::read_to_string(&record)
                .map(|t| t.contains("\"seed\": 8"))
                .unwrap_or(false);
            if fresh {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        process.kill().unwrap();
        process.wait().unwrap();
        assert_eq!(fs::read(dir.path().join("REPORT.md")).unwrap(), old_report);
        assert_eq!(
            fs::read(dir.path().join("results.json")).unwrap(),
            old_results
        );
    }

    // --resume with the killed run's commit, scale and seed: `good` is reused, not re-run.
    let runs = Arc::new(AtomicUsize::new(0));
    let experiments = vec![
        TestExperiment::counted("good", Behavior::Good, runs.clone()),
        TestExperiment::boxed("slow", Behavior::Slow(20)),
    ];
    let mut cfg = config(dir.path(), 8);
    cfg.resume = true;
    let summary = run(&experiments, &cfg).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert!(summary.outcomes[0].resumed && !summary.outcomes[1].resumed);
    assert_eq!(summary.exit_code, 0);
    assert!(dir.path().join("figures/good-mean.svg").is_file());
    // Stale staging directories of the killed runs are gone.
    let stale = fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".staging")
        })
        .count();
    assert_eq!(stale, 0);
}
