//! `cargo xtask reproduce`: re-derive every claim of the lecture material numerically.

pub mod experiment;
pub mod experiments;

pub use experiment::{Claim, Context, Experiment, Findings, Scale, Verdict};
