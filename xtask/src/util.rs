//! Small process helpers shared by every xtask step.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Every step fails with a message a person can act on.
pub type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// A failed step, with what to do about it.
#[derive(Debug)]
pub struct StepFailed(pub String);

impl fmt::Display for StepFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for StepFailed {}

/// Fails with `msg`.
pub fn fail<T>(msg: impl Into<String>) -> Result<T> {
    Err(Box::new(StepFailed(msg.into())))
}

/// The workspace root (the parent of xtask/).
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A command that runs in the workspace root.
pub fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).current_dir(root());
    c
}

/// Runs a command to completion, echoing it first; fails on a non-zero exit.
pub fn run(c: &mut Command) -> Result {
    eprintln!("$ {}", describe(c));
    let status = c
        .status()
        .map_err(|e| StepFailed(format!("cannot run {}: {e}", describe(c))))?;
    if status.success() {
        Ok(())
    } else {
        fail(format!("`{}` failed ({status})", describe(c)))
    }
}

/// Runs a command and returns its trimmed stdout, or None when it cannot run
/// or fails (used for "is this installed?" probes).
pub fn probe(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Test counts gathered from every runner's summary lines, so that the last
/// line of `cargo xtask test` says how many tests ran in all.
pub mod tally {
    use std::sync::atomic::{AtomicU64, Ordering};

    static PASSED: AtomicU64 = AtomicU64::new(0);
    static FAILED: AtomicU64 = AtomicU64::new(0);

    /// Adds what one runner reported.
    pub fn record(passed: u64, failed: u64) {
        PASSED.fetch_add(passed, Ordering::Relaxed);
        FAILED.fetch_add(failed, Ordering::Relaxed);
    }

    /// (passed, failed) so far.
    pub fn totals() -> (u64, u64) {
        (
            PASSED.load(Ordering::Relaxed),
            FAILED.load(Ordering::Relaxed),
        )
    }

    /// Reads the counts from one summary line, if it is one: cargo's and
    /// wasm-bindgen-test's `test result: ok. N passed; M failed; ...`, and
    /// node's test runner's `# pass N` / `# fail M` (TAP) or `ℹ pass N`.
    pub fn parse_line(line: &str) -> Option<(u64, u64)> {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("test result: ") {
            let num_before = |word: &str| -> Option<u64> {
                let idx = rest.find(word)?;
                rest[..idx].split_whitespace().last()?.parse().ok()
            };
            return Some((num_before(" passed")?, num_before(" failed").unwrap_or(0)));
        }
        let rest = line
            .strip_prefix("# ")
            .or_else(|| line.strip_prefix("ℹ "))?;
        let (word, n) = rest.split_once(' ')?;
        let n: u64 = n.trim().parse().ok()?;
        match word {
            "pass" => Some((n, 0)),
            "fail" => Some((0, n)),
            _ => None,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::parse_line;

        #[test]
        fn reads_the_summary_lines_of_each_runner() {
            assert_eq!(
                parse_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"),
                Some((12, 0))
            );
            assert_eq!(
                parse_line("test result: FAILED. 3 passed; 2 failed; 0 ignored"),
                Some((3, 2))
            );
            assert_eq!(parse_line("# pass 8"), Some((8, 0)));
            assert_eq!(parse_line("ℹ fail 1"), Some((0, 1)));
            assert_eq!(parse_line("# tests 9"), None);
            assert_eq!(parse_line("running 3 tests"), None);
        }
    }
}

/// Runs a test runner, echoing its output and adding its summary lines to the
/// [`tally`]. Fails on a non-zero exit.
pub fn run_counted(c: &mut Command) -> Result {
    use std::io::{BufRead, BufReader, Write};
    eprintln!("$ {}", describe(c));
    let mut child = c
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| StepFailed(format!("cannot run {}: {e}", describe(c))))?;
    if let Some(out) = child.stdout.take() {
        let stdout = std::io::stdout();
        for line in BufReader::new(out)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if let Some((p, f)) = tally::parse_line(&line) {
                tally::record(p, f);
            }
            let _ = writeln!(stdout.lock(), "{line}");
        }
    }
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        fail(format!("`{}` failed ({status})", describe(c)))
    }
}
