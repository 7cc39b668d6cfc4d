//! Zero or absurd durations and sizes are refused at start with a message
//! naming the flag and exit code 2, before anything is bound or written —
//! from flags and from `TIDINGS_*` variables alike.

mod spawned;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use spawned::tidings;

/// Runs `tidings serve` with `args` and `env`; fails if it is still running
/// after 5 s (a refused setting must stop it at once).
fn serve(args: &[&str], env: &[(&str, &str)], data: &std::path::Path) -> Output {
    let mut child = tidings()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--token",
            "validation-token-0123",
        ])
        .arg("--data")
        .arg(data)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tidings runs");
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().expect("waits").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{args:?} {env:?} was accepted: the server started ({})",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn assert_refused(args: &[&str], env: &[(&str, &str)], flag: &str) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data");
    let out = serve(args, env, &data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    assert!(stderr.contains(flag), "{args:?}: {stderr:?} names {flag}");
    assert!(out.stdout.is_empty(), "nothing was served");
    assert!(!data.exists(), "nothing was written");
}

#[test]
fn zero_durations_are_refused_with_exit_code_2() {
    for flag in [
        "--reconcile-interval",
        "--heartbeat",
        "--header-read-timeout",
        "--body-read-timeout",
        "--idle-timeout",
        "--stream-lifetime",
        "--idle-threshold",
        "--retry",
    ] {
        assert_refused(&[flag, "0"], &[], &format!("{flag} 0ms: must be from"));
    }
}

#[test]
fn zero_counts_and_sizes_are_refused_with_exit_code_2() {
    for flag in [
        "--max-body",
        "--max-event-bytes",
        "--queue",
        "--history",
        "--max-streams",
        "--max-connections",
    ] {
        assert_refused(&[flag, "0"], &[], flag);
    }
}

#[test]
fn absurd_values_are_refused_too() {
    assert_refused(
        &["--heartbeat", "48h"],
        &[],
        "--heartbeat 48h: must be from 10ms to 1h",
    );
    assert_refused(
        &["--max-body", "1GiB"],
        &[],
        "--max-body 1GiB: must be from",
    );
    assert_refused(&["--max-event-bytes", "10"], &[], "--max-event-bytes");
    assert_refused(
        &["--reconcile-interval", "9999h"],
        &[],
        "--reconcile-interval",
    );
    // Every refused setting is listed, not only the first.
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = serve(
        &["--heartbeat", "0", "--queue", "0"],
        &[],
        &dir.path().join("d"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--heartbeat") && stderr.contains("--queue"),
        "{stderr}"
    );
}

#[test]
fn variables_are_validated_like_flags() {
    assert_refused(&[], &[("TIDINGS_HEARTBEAT", "0")], "--heartbeat 0ms");
    assert_refused(
        &[],
        &[("TIDINGS_RECONCILE_INTERVAL", "0s")],
        "--reconcile-interval 0ms",
    );
}

#[test]
fn unreadable_values_are_refused_by_the_parser_with_exit_code_2() {
    for args in [
        ["--allowed-host", "not a host"],
        ["--max-event-bytes", "lots"],
        ["--idle-timeout", "soon"],
    ] {
        let dir = tempfile::tempdir().expect("a temp dir");
        let out = serve(&args, &[], &dir.path().join("d"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(args[0]),
            "{args:?}"
        );
    }
}
