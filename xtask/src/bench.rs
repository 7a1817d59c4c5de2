//! `cargo xtask bench [--quick] [--json]`: the benchmark suite (not yet available).

use crate::UsageError;

/// Runs the benchmark suite. Not yet available: always a usage error (exit code 2).
pub fn run(quick: bool, json: bool) -> anyhow::Result<()> {
    let _ = (quick, json);
    Err(UsageError::new(
        "`cargo xtask bench` is not yet available in this version of ntk-lab; use `cargo bench -p <crate>`",
    )
    .into())
}
