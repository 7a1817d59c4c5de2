//! The run's environment for the report header: git commit, date, CPU model, thread count.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The current git commit (`git rev-parse HEAD`), with `-dirty` if tracked files are modified;
/// `"unknown"` outside a git checkout. Modifications inside `out_dir` (the run's own output
/// directory, e.g. the committed report being regenerated) do not count: they cannot change
/// the results.
pub fn git_commit(out_dir: &Path) -> String {
    git_commit_at(Path::new("."), out_dir)
}

/// [`git_commit`] for the checkout containing `dir`.
pub fn git_commit_at(dir: &Path, out_dir: &Path) -> String {
    let head = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty());
    let Some(head) = head else {
        return "unknown".into();
    };
    let mut args = vec![
        "status".to_string(),
        "--porcelain".to_string(),
        "--untracked-files=no".to_string(),
    ];
    if let Ok(out) = std::fs::canonicalize(out_dir) {
        // Pathspecs are relative to the working directory; an absolute exclude works from any.
        args.push("--".to_string());
        args.push(":/".to_string());
        args.push(format!(":(exclude){}", out.display()));
    }
    let dirty = Command::new("git")
        .current_dir(dir)
        .args(&args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty { format!("{head}-dirty") } else { head }
}

/// The CPU model from `/proc/cpuinfo` (`model name`), or `"unknown"`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Current UTC date and time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian).
///
/// # Reference
/// H. Hinnant, "chrono-Compatible Low-Level Date Algorithms" (2013), `civil_from_days`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference instants from `date -u -d @N`.
    #[test]
    fn utc_formatting_matches_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
