//! `cargo xtask reproduce`: re-derive every claim of the lecture material numerically.
//!
//! - [`experiment`]: the contract between the theorem modules and the runner;
//! - [`experiments`]: the registry of theorem modules, in report order;
//! - [`runner`]: runs experiments (progress, panics, `--resume`) and writes the output;
//! - [`results`]: the `results.json` schema; [`report`]: the `REPORT.md` writer;
//! - [`atomic`]: temp-file + rename writes; [`resume`]: the per-experiment resume records;
//! - [`shard`]: `--shard i/N` (split across jobs) and `--merge` (one report from the shards);
//! - [`fit`]: power-law/linear fits with bootstrap intervals, Spearman ρ; [`plot`]: SVG charts.

pub mod atomic;
pub mod environment;
pub mod experiment;
pub mod experiments;
pub mod fit;
pub mod parts;
pub mod plot;
pub mod progress;
pub mod report;
pub mod results;
pub mod resume;
pub mod runner;
pub mod shard;

pub use experiment::{Claim, Context, Experiment, Findings, Scale, Verdict};
pub use runner::{RunConfig, RunSummary, run};
