//! Progress bars for `cargo xtask reproduce`: one overall bar with ETA and one per experiment
//! (indicatif), hidden when stderr is not a terminal.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Resolution of a progress bar (ticks per experiment).
const TICKS: u64 = 1000;

/// The progress display of one run.
pub struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
}

impl Progress {
    /// A display for `n_experiments` experiments; `visible = None` shows bars iff stderr is a TTY.
    pub fn new(n_experiments: usize, visible: Option<bool>) -> Self {
        let visible = visible.unwrap_or_else(|| std::io::stderr().is_terminal());
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(n_experiments as u64 * TICKS));
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>12} [{elapsed_precise}] {wide_bar} {percent:>3}% ETA {eta_precise} {msg}",
        ) {
            overall.set_style(style);
        }
        overall.set_prefix("overall");
        Progress { multi, overall }
    }

    /// Starts the bar of experiment number `index` (0-based) with id `id`.
    pub fn start(&self, index: usize, id: &str) -> ExperimentBar {
        let bar = self.multi.add(ProgressBar::new(TICKS));
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>12} [{elapsed_precise}] {bar:40} {percent:>3}% {msg}",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(id.to_string());
        ExperimentBar {
            bar,
            overall: self.overall.clone(),
            base: index as u64 * TICKS,
        }
    }

    /// Finishes the overall bar.
    pub fn finish(&self, message: &str) {
        self.overall.finish_with_message(message.to_string());
    }
}

/// The bar of one running experiment; [`ExperimentBar::set`] is the experiment's progress callback.
pub struct ExperimentBar {
    bar: ProgressBar,
    overall: ProgressBar,
    base: u64,
}

impl ExperimentBar {
    /// Sets the fraction done (clamped to [0, 1]; NaN is ignored).
    pub fn set(&self, fraction: f64) {
        if fraction.is_nan() {
            return;
        }
        let ticks = (fraction.clamp(0.0, 1.0) * TICKS as f64).round() as u64;
        // Progress never goes backwards, whatever the experiment reports.
        if ticks > self.bar.position() {
            self.bar.set_position(ticks);
            self.overall.set_position(self.base + ticks);
        }
    }

    /// Marks the experiment finished with a short status message.
    pub fn finish(&self, message: &str) {
        self.bar.set_position(TICKS);
        self.overall.set_position(self.base + TICKS);
        self.bar.finish_with_message(message.to_string());
    }
}
