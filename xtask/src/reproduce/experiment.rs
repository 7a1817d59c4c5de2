//! What an experiment is and what it returns: the contract between the theorem modules in
//! `experiments/` and the runner/report writer.

use super::parts::PartStore;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Problem size of a reproduction run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Every experiment, small: ≤ 3 minutes on 2 cores (CI).
    Quick,
    /// Every experiment at a size where the claims are decisive: ≤ 15 minutes on 2 cores.
    Default,
    /// Paper-scale widths and seeds (hours).
    Full,
}

impl Scale {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scale::Quick => "quick",
            Scale::Default => "default",
            Scale::Full => "full",
        }
    }

    /// Picks one of three values by scale.
    pub fn pick<T>(&self, quick: T, default: T, full: T) -> T {
        match self {
            Scale::Quick => quick,
            Scale::Default => default,
            Scale::Full => full,
        }
    }
}

/// The verdict on one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The measurement agrees with the claim.
    #[serde(rename = "pass")]
    Pass,
    /// The measurement disagrees and we do not know why (exit code 1).
    #[serde(rename = "fail")]
    Fail,
    /// Measurement and a derivation in the report show the source's statement is wrong (exit 0).
    #[serde(rename = "refutes-source")]
    RefutesSource,
    /// The run was too small to decide the claim (a quick-scale smoke run whose interval contains
    /// the threshold): neither confirmed nor refuted, reported as such (exit 0). Never used at
    /// default or full scale, where an undecided claim is a `Fail`.
    #[serde(rename = "not-judged")]
    NotJudged,
}

/// One checked claim, as written to `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub id: String,
    pub statement: String,
    pub measured: f64,
    pub expected: String,
    pub criterion: String,
    pub verdict: Verdict,
}

impl Claim {
    /// A claim whose verdict is `Pass` if `ok`, else `Fail`.
    pub fn check(
        id: &str,
        statement: &str,
        measured: f64,
        expected: impl Into<String>,
        criterion: impl Into<String>,
        ok: bool,
    ) -> Self {
        let verdict = if ok && measured.is_finite() {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        Self::with_verdict(id, statement, measured, expected, criterion, verdict)
    }

    /// A claim that a quick-scale smoke run cannot decide (see [`Verdict::NotJudged`]); the
    /// criterion says why.
    pub fn not_judged(
        id: &str,
        statement: &str,
        measured: f64,
        expected: impl Into<String>,
        criterion: impl Into<String>,
    ) -> Self {
        Self::with_verdict(
            id,
            statement,
            measured,
            expected,
            criterion,
            Verdict::NotJudged,
        )
    }

    /// A claim of the source that the measurement (and a derivation in the report) refutes.
    pub fn refutes_source(
        id: &str,
        statement: &str,
        measured: f64,
        expected: impl Into<String>,
        criterion: impl Into<String>,
    ) -> Self {
        Self::with_verdict(
            id,
            statement,
            measured,
            expected,
            criterion,
            Verdict::RefutesSource,
        )
    }

    fn with_verdict(
        id: &str,
        statement: &str,
        measured: f64,
        expected: impl Into<String>,
        criterion: impl Into<String>,
        verdict: Verdict,
    ) -> Self {
        Claim {
            id: id.to_string(),
            statement: statement.to_string(),
            measured,
            expected: expected.into(),
            criterion: criterion.into(),
            verdict,
        }
    }
}

/// What an experiment returns.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Markdown: the setup chosen (sizes, seeds, where the source is silent).
    pub setup: String,
    /// The checked claims.
    pub claims: Vec<Claim>,
    /// Figure files written through [`Context::figure_path`], relative to the output directory
    /// (`figures/<id>-<name>.svg`).
    pub figures: Vec<String>,
    /// Extra markdown (tables of measurements) for the report.
    pub tables: String,
    /// Markdown: a short interpretation of the results.
    pub interpretation: String,
    /// Free-form numbers for `results.json` (`"data"`).
    pub data: serde_json::Value,
}

/// Everything an experiment may use while it runs.
pub struct Context<'a> {
    pub scale: Scale,
    pub seed: u64,
    /// Directory where figures/data are staged (moved into place atomically by the runner).
    pub staging_dir: PathBuf,
    /// Experiment id (prefix of its files).
    pub id: &'a str,
    /// Progress callback: fraction of this experiment done, in [0, 1].
    pub progress: &'a (dyn Fn(f64) + Sync),
    /// Where [`Context::cached`] keeps the experiment's parts.
    pub parts: &'a PartStore,
}

impl Context<'_> {
    /// A ChaCha8 generator for random stream `stream` of this experiment: the same (seed, id,
    /// stream) always gives the same numbers, whatever the thread count or the order of work.
    pub fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.id.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ h);
        rng.set_stream(stream);
        rng
    }

    /// A seed for task `task` of this experiment (for library calls taking `seed: u64`).
    pub fn task_seed(&self, task: u64) -> u64 {
        use rand_chacha::rand_core::Rng;
        let mut rng = self.rng(0xffff_0000 ^ task);
        rng.next_u64()
    }

    /// Path (inside staging) for figure `name` (e.g. `"gap.svg"`), and the relative name to list
    /// in [`Findings::figures`].
    pub fn figure_path(&self, name: &str) -> (PathBuf, String) {
        let rel = format!("figures/{}-{}", self.id, name);
        (self.staging_dir.join(&rel), rel)
    }

    /// Path (inside staging) for a data file `name` (CSV/JSON), relative name `data/<id>-<name>`.
    pub fn data_path(&self, name: &str) -> (PathBuf, String) {
        let rel = format!("data/{}-{}", self.id, name);
        (self.staging_dir.join(&rel), rel)
    }

    /// Writes `data` as pretty JSON to the data file `name` ([`Context::data_path`], creating the
    /// directory) and returns its relative name. Staged like every output: the runner moves it
    /// into place atomically with the report.
    pub fn write_json(&self, name: &str, data: &serde_json::Value) -> anyhow::Result<String> {
        let (path, rel) = self.data_path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, serde_json::to_string_pretty(data)?)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        Ok(rel)
    }

    /// The staging directory.
    pub fn staging(&self) -> &Path {
        &self.staging_dir
    }

    /// The value of this experiment's part `name` (a deterministic function of commit, scale and
    /// seed): computed and stored, or with `--resume` read back from an interrupted run of the
    /// same key ([`super::parts`]). For pieces of minutes or more.
    pub fn cached<T, F>(&self, name: &str, compute: F) -> anyhow::Result<T>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
        F: FnOnce() -> anyhow::Result<T>,
    {
        self.parts.cached(name, compute)
    }
}

/// A reproducible claim-checking experiment (one module per theorem under `experiments/`).
pub trait Experiment: Sync {
    /// Stable id (a contract: `results.json` and `--only` use it).
    fn id(&self) -> &'static str;
    /// Human title.
    fn title(&self) -> &'static str;
    /// Source: seed + paper + theorem/figure.
    fn source(&self) -> &'static str;
    /// The statement as the source gives it (verbatim quote, markdown).
    fn statement(&self) -> &'static str;
    /// Runs the experiment.
    fn run(&self, ctx: &Context<'_>) -> anyhow::Result<Findings>;
}
