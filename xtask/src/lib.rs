//! The orchestrator of ntk-lab: `cargo xtask reproduce`, `cargo xtask kernel`, `cargo xtask bench`.
//!
//! The binary (`src/main.rs`) is a thin clap front end; everything it does is a library call here,
//! so integration tests drive the same code paths:
//! - [`reproduce::runner::run`] runs the registered experiments and writes `REPORT.md`,
//!   `results.json`, `figures/` and `data/` atomically;
//! - [`kernel::run_spec`] evaluates a JSON kernel specification;
//! - [`bench::run`] runs the benchmark suite.
//!
//! Errors are `anyhow` errors; an error that wraps a [`UsageError`] (bad flags, bad spec,
//! unwritable output directory) exits with code 2, any other error with code 1.

pub mod bench;
pub mod bench_conv_nets;
pub mod bench_scale;
pub mod cluster;
pub mod fit;
pub mod kernel;
pub mod npy;
pub mod reproduce;
pub mod stream;

/// A usage or input error: the command line or an input file is wrong. The binary prints its
/// one-line message and exits with code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// A usage error with the given one-line message.
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

/// The exit code for an error: 2 if it is (or wraps) a [`UsageError`] or a caller's error of the
/// library's `.npy`/streaming code ([`ntk_kernels::Error::is_usage`]: a bad input file, an
/// unusable output location), else 1.
pub fn exit_code_for(error: &anyhow::Error) -> i32 {
    if error.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause
                .downcast_ref::<ntk_kernels::Error>()
                .is_some_and(ntk_kernels::Error::is_usage)
    }) {
        2
    } else {
        1
    }
}

/// One line describing an error and its causes (`a: b: c`), for the binary's stderr.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
