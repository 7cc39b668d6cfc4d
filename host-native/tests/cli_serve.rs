//! `tidings serve` as a user runs it: settings from TIDINGS_* variables,
//! the printed URL, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tidings() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidings"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TIDINGS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[test]
fn no_auth_from_the_environment_is_refused_off_loopback() {
    for value in ["1", "true", "yes"] {
        let out = tidings()
            .env("TIDINGS_NO_AUTH", value)
            .env("TIDINGS_ADDR", "0.0.0.0:0")
            .env(
                "TIDINGS_DATA",
                std::env::temp_dir().join("tidings-cli-serve-test"),
            )
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("WARNING: --no-auth"), "{err}");
        assert!(err.contains("only allowed on a loopback address"), "{err}");
    }
}

#[cfg(unix)]
#[test]
fn serve_prints_the_url_and_exits_promptly_on_sigterm() {
    let data = tempfile::tempdir().expect("a temp dir");
    let mut child = tidings()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--token",
            "cli-token-0123456789",
        ])
        .env("TIDINGS_DATA", data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("reads");
    assert!(
        first.starts_with("tidings listening on http://127.0.0.1:"),
        "{first}"
    );
    let second = lines.next().expect("a line").expect("reads");
    assert!(second.ends_with("/?token=cli-token-0123456789"), "{second}");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    let sent = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signals");
    let status = child.wait().expect("exits");
    assert!(status.success(), "{status:?}");
    assert!(sent.elapsed() < Duration::from_secs(5));
}
