//! The `REPORT.md` writer: header, summary table, then one section per experiment.

use super::experiment::Verdict;
use super::runner::ExperimentOutcome;
use std::fmt::Write as _;

/// The header of the report: where and how the run was made.
#[derive(Debug, Clone)]
pub struct Header {
    pub commit: String,
    pub date: String,
    pub scale: String,
    pub seed: u64,
    pub threads: usize,
    pub cpu_model: String,
    pub wall_seconds: f64,
}

/// A markdown table cell: pipes escaped, newlines flattened.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\r\n", " ")
        .replace('\n', " ")
}

/// A measured value for a table: 4 significant digits, scientific notation outside [1e-3, 1e5).
pub fn format_number(value: Option<f64>) -> String {
    match value {
        None => "non-finite".to_string(),
        Some(0.0) => "0".to_string(),
        Some(v) if (1e-3..1e5).contains(&v.abs()) => {
            let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
            format!("{v:.digits$}")
        }
        Some(v) => format!("{v:.3e}"),
    }
}

fn verdict_text(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "**fail**",
        Verdict::RefutesSource => "refutes-source",
        Verdict::NotJudged => "not judged (quick scale)",
    }
}

/// A GitHub-style anchor for a section titled `title`.
fn anchor(title: &str) -> String {
    title
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c)
            } else if c == ' ' {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The whole `REPORT.md`.
pub fn render_report(header: &Header, outcomes: &[ExperimentOutcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# ntk-lab reproduction report\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| git commit | `{}` |", cell(&header.commit));
    let _ = writeln!(out, "| date | {} |", cell(&header.date));
    let _ = writeln!(out, "| scale | {} |", cell(&header.scale));
    let _ = writeln!(out, "| seed | {} |", header.seed);
    let _ = writeln!(out, "| threads | {} |", header.threads);
    let _ = writeln!(out, "| CPU | {} |", cell(&header.cpu_model));
    let _ = writeln!(out, "| total wall time | {:.1} s |", header.wall_seconds);
    let _ = writeln!(out);

    let (mut pass, mut fail, mut refutes, mut not_judged, mut errors) = (0, 0, 0, 0, 0);
    for outcome in outcomes {
        let counts = outcome.record.counts();
        pass += counts.pass;
        fail += counts.fail;
        refutes += counts.refutes_source;
        not_judged += counts.not_judged;
        errors += usize::from(outcome.record.error.is_some());
    }
    // Only a quick-scale smoke run has claims it cannot judge; say so, and name them per row.
    let not_judged_text = if not_judged > 0 {
        format!(", {not_judged} not judged (too small a run to decide them; neither pass nor fail)")
    } else {
        String::new()
    };
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(
        out,
        "{} experiments: {pass} claims pass, {fail} fail, {refutes} refute the source{not_judged_text}; {errors} experiments did not run to completion.\n",
        outcomes.len()
    );
    // The "not judged" column appears only in runs that have such claims (quick scale).
    let (judged_head, judged_rule) = if not_judged > 0 {
        (" not judged |", "---|")
    } else {
        ("", "")
    };
    let _ = writeln!(
        out,
        "| experiment | source | passed | failed | refutes source |{judged_head} seconds |\n|---|---|---|---|---|{judged_rule}---|"
    );
    for outcome in outcomes {
        let record = &outcome.record;
        let counts = record.counts();
        let failed = if record.error.is_some() {
            format!("{} + error", counts.fail)
        } else {
            counts.fail.to_string()
        };
        let resumed = if outcome.resumed { " (reused)" } else { "" };
        let judged_cell = if not_judged > 0 {
            format!(" {} |", counts.not_judged)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| [{}](#{}) | {} | {} | {} | {} |{judged_cell} {:.1}{resumed} |",
            cell(&record.id),
            anchor(&format!("{} {}", record.id, record.title)),
            cell(&record.source),
            counts.pass,
            failed,
            counts.refutes_source,
            record.seconds
        );
    }
    let _ = writeln!(out);

    for outcome in outcomes {
        render_experiment(&mut out, outcome);
    }
    out
}

fn render_experiment(out: &mut String, outcome: &ExperimentOutcome) {
    let record = &outcome.record;
    let _ = writeln!(out, "## {} {}\n", record.id, record.title);
    let _ = writeln!(out, "**Source:** {}\n", record.source);
    if !outcome.statement.trim().is_empty() {
        for line in outcome.statement.trim().lines() {
            let _ = writeln!(out, "> {line}");
        }
        let _ = writeln!(out);
    }
    if let Some(error) = &record.error {
        let _ = writeln!(
            out,
            "**The experiment did not run to completion:** {}\n",
            cell(error)
        );
        return;
    }
    if !outcome.setup.trim().is_empty() {
        let _ = writeln!(out, "### Setup\n\n{}\n", outcome.setup.trim());
    }
    let _ = writeln!(out, "### Claims\n");
    if record.claims.is_empty() {
        let _ = writeln!(out, "(no claims)\n");
    } else {
        let _ = writeln!(
            out,
            "| id | statement | measured | expected | criterion | verdict |\n|---|---|---|---|---|---|"
        );
        for claim in &record.claims {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&claim.id),
                cell(&claim.statement),
                format_number(claim.measured),
                cell(&claim.expected),
                cell(&claim.criterion),
                verdict_text(claim.verdict)
            );
        }
        let _ = writeln!(out);
    }
    if !record.figures.is_empty() {
        let _ = writeln!(out, "### Figures\n");
        for figure in &record.figures {
            let name = figure.rsplit('/').next().unwrap_or(figure);
            let _ = writeln!(out, "![{name}]({figure})\n");
        }
    }
    if !outcome.tables.trim().is_empty() {
        let _ = writeln!(out, "### Measurements\n\n{}\n", outcome.tables.trim());
    }
    if !outcome.interpretation.trim().is_empty() {
        let _ = writeln!(
            out,
            "### Interpretation\n\n{}\n",
            outcome.interpretation.trim()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(format_number(Some(0.123456)), "0.1235");
        assert_eq!(format_number(Some(-12.3456)), "-12.35");
        assert_eq!(format_number(Some(1234.4)), "1234");
        assert_eq!(format_number(Some(1.5e-7)), "1.500e-7");
        assert_eq!(format_number(None), "non-finite");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
