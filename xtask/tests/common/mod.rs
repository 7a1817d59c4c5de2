//! Small experiments for exercising the runner (not registered in the real registry).
#![allow(dead_code)]

use rand::RngExt;
use rayon::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use xtask::reproduce::plot::{AxisScale, Chart, Series, render_svg};
use xtask::reproduce::{Claim, Context, Experiment, Findings};

/// What a test experiment does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behavior {
    /// Draws random numbers in parallel, writes a figure and a data file, passes its claims.
    Good,
    /// One claim fails.
    FailingClaim,
    /// One claim measures NaN.
    NanClaim,
    /// Returns an error.
    Error,
    /// Panics.
    Panic,
    /// A claim that refutes the source.
    Refutes,
    /// A claim too small a run cannot decide (quick-scale smoke run).
    NotJudged,
    /// Sleeps in small steps for about `ms` milliseconds, reporting progress.
    Slow(u64),
}

pub struct TestExperiment {
    pub id: &'static str,
    pub behavior: Behavior,
    pub runs: Arc<AtomicUsize>,
}

impl TestExperiment {
    pub fn boxed(id: &'static str, behavior: Behavior) -> Box<dyn Experiment> {
        Box::new(TestExperiment {
            id,
            behavior,
            runs: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn counted(
        id: &'static str,
        behavior: Behavior,
        runs: Arc<AtomicUsize>,
    ) -> Box<dyn Experiment> {
        Box::new(TestExperiment { id, behavior, runs })
    }
}

/// Mean of `n_tasks` × 1000 uniform draws, task k seeded by `ctx.task_seed(k)`, summed in task
/// order: the same value whatever the thread count.
fn parallel_mean(ctx: &Context<'_>, n_tasks: u64) -> f64 {
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;
    let partial: Vec<f64> = (0..n_tasks)
        .into_par_iter()
        .map(|task| {
            let mut rng = ChaCha8Rng::seed_from_u64(ctx.task_seed(task));
            (0..1000).map(|_| rng.random::<f64>()).sum::<f64>()
        })
        .collect();
    partial.iter().sum::<f64>() / (n_tasks as f64 * 1000.0)
}

impl Experiment for TestExperiment {
    fn id(&self) -> &'static str {
        self.id
    }
    fn title(&self) -> &'static str {
        "A test experiment | with a pipe"
    }
    fn source(&self) -> &'static str {
        "test source (Thm 0)"
    }
    fn statement(&self) -> &'static str {
        "The mean of uniform draws is 1/2.\nSecond line of the statement."
    }
    fn run(&self, ctx: &Context<'_>) -> anyhow::Result<Findings> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        match self.behavior {
            Behavior::Error => anyhow::bail!("deliberate failure in {}", self.id),
            Behavior::Panic => panic!("deliberate panic in {}", self.id),
            Behavior::Slow(ms) => {
                for step in 0..ms / 10 {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    (ctx.progress)(step as f64 * 10.0 / ms as f64);
                }
            }
            _ => {}
        }
        let mean = parallel_mean(ctx, 16);
        (ctx.progress)(0.5);
        // 16000 uniforms: standard error sqrt(1/12/16000) ≈ 0.0023; ±0.015 is > 6 SE.
        let mut claims = vec![Claim::check(
            "mean",
            "mean of U(0,1) draws",
            mean,
            "0.5",
            "|mean − 0.5| ≤ 0.015 (> 6 standard errors)",
            (mean - 0.5).abs() <= 0.015,
        )];
        match self.behavior {
            Behavior::FailingClaim => claims.push(Claim::check(
                "impossible",
                "mean exceeds 1",
                mean,
                "> 1",
                "mean > 1",
                mean > 1.0,
            )),
            Behavior::NanClaim => claims.push(Claim::check(
                "nan",
                "a measurement that is not finite",
                f64::NAN,
                "finite",
                "is finite",
                true,
            )),
            Behavior::Refutes => claims.push(Claim::refutes_source(
                "wrong-constant",
                "the slide's constant 2",
                1.0,
                "2",
                "measured 1 with derivation",
            )),
            Behavior::NotJudged => claims.push(Claim::not_judged(
                "undecided",
                "an ordering whose interval contains 0 at this size",
                0.0,
                "> 0",
                "interval [−0.1, 0.1] contains 0: not judged at quick scale",
            )),
            _ => {}
        }
        let (figure_path, figure_rel) = ctx.figure_path("mean.svg");
        let chart = Chart::new("Running mean", "n", "mean")
            .scales(AxisScale::Log, AxisScale::Linear)
            .with(Series::line(
                "mean",
                vec![(1.0, 0.4), (10.0, 0.49), (100.0, mean)],
            ));
        render_svg(&chart, &figure_path)?;
        let (data_path, _) = ctx.data_path("mean.json");
        std::fs::write(&data_path, format!("{{\"mean\":{mean}}}"))?;
        Ok(Findings {
            setup: "16 tasks × 1000 draws.".into(),
            claims,
            figures: vec![figure_rel],
            tables: "| a | b |\n|---|---|\n| 1 | 2 |".into(),
            interpretation: "The draws are uniform.".into(),
            data: serde_json::json!({"mean": mean, "n_tasks": 16}),
        })
    }
}
