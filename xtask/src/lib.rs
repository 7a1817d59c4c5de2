//! The orchestrator of ntk-lab: `cargo xtask reproduce`, `cargo xtask kernel`, `cargo xtask bench`.

pub mod reproduce;
