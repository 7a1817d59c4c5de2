//! The `results.json` schema (read by other tools: extend, never rename).
//!
//! ```json
//! {"commit":str,"scale":str,"seed":u64,"threads":usize,
//!  "experiments":[{"id":str,"title":str,"source":str,"seconds":f64,
//!    "claims":[{"id":str,"statement":str,"measured":f64|null,"expected":str,"criterion":str,
//!               "verdict":"pass"|"fail"|"refutes-source"|"not-judged"}],
//!    "figures":[str],"data":{…},"error":str (only if the experiment failed to run)}]}
//! ```
//!
//! A non-finite measurement is written as `null` and its verdict is forced to `fail`. `not-judged`
//! (added after the first three) marks a claim a quick-scale smoke run was too small to decide; it
//! does not fail the run and is counted apart from `pass`. The fields
//! `seconds` (timing) and `threads` (the machine) are the only ones that may differ between two
//! runs with the same commit, scale and seed; [`ResultsFile::normalized`] removes them.

use super::experiment::{Claim, Verdict};
use serde::{Deserialize, Serialize};

/// The whole `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    pub commit: String,
    pub scale: String,
    pub seed: u64,
    pub threads: usize,
    pub experiments: Vec<ExperimentRecord>,
}

/// One experiment's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    pub id: String,
    pub title: String,
    pub source: String,
    pub seconds: f64,
    pub claims: Vec<ClaimRecord>,
    pub figures: Vec<String>,
    pub data: serde_json::Value,
    /// The error message if the experiment returned an error or panicked (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One claim as written to `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub id: String,
    pub statement: String,
    /// `None` (JSON `null`) if the measurement was not finite.
    pub measured: Option<f64>,
    pub expected: String,
    pub criterion: String,
    pub verdict: Verdict,
}

impl ClaimRecord {
    /// The record of a claim: a non-finite measurement becomes `null` with verdict `fail`.
    pub fn from_claim(claim: &Claim) -> Self {
        let finite = claim.measured.is_finite();
        ClaimRecord {
            id: claim.id.clone(),
            statement: claim.statement.clone(),
            measured: finite.then_some(claim.measured),
            expected: claim.expected.clone(),
            criterion: claim.criterion.clone(),
            verdict: if finite { claim.verdict } else { Verdict::Fail },
        }
    }
}

/// Counts of verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerdictCounts {
    pub pass: usize,
    pub fail: usize,
    pub refutes_source: usize,
    pub not_judged: usize,
}

impl ExperimentRecord {
    /// Counts of pass / fail / refutes-source / not-judged among this experiment's claims.
    pub fn counts(&self) -> VerdictCounts {
        let mut counts = VerdictCounts::default();
        for claim in &self.claims {
            match claim.verdict {
                Verdict::Pass => counts.pass += 1,
                Verdict::Fail => counts.fail += 1,
                Verdict::RefutesSource => counts.refutes_source += 1,
                Verdict::NotJudged => counts.not_judged += 1,
            }
        }
        counts
    }

    /// Whether this experiment makes the run fail (an error, or a `fail` verdict).
    pub fn is_failure(&self) -> bool {
        self.error.is_some() || self.counts().fail > 0
    }
}

impl ResultsFile {
    /// The JSON text as written to disk (pretty, trailing newline).
    pub fn to_json(&self) -> anyhow::Result<String> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }

    /// The results without the fields that legitimately vary between identical runs
    /// (`threads`, and every experiment's `seconds`): equal for the same commit, scale and seed.
    pub fn normalized(&self) -> ResultsFile {
        let mut copy = self.clone();
        copy.threads = 0;
        for experiment in &mut copy.experiments {
            experiment.seconds = 0.0;
        }
        copy
    }

    /// Exit code of the run: 1 if any experiment errored or any claim failed, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.experiments.iter().any(ExperimentRecord::is_failure) {
            1
        } else {
            0
        }
    }
}
