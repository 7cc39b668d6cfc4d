//! `tidings serve --history-bytes`: a zero or absurd budget is refused at
//! start with a message and exit code 2, from the flag or the variable.

use std::process::Command;

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
fn a_zero_or_absurd_history_byte_budget_is_refused_with_exit_code_2() {
    let data = tempfile::tempdir().expect("a temp dir");
    for bad in ["0", "100", "99999999999999999999", "lots"] {
        let out = tidings()
            .args(["serve", "--addr", "127.0.0.1:0", "--history-bytes", bad])
            .env("TIDINGS_DATA", data.path())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--history-bytes"), "{err}");
    }
    let out = tidings()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("TIDINGS_HISTORY_BYTES", "0")
        .env("TIDINGS_DATA", data.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        std::fs::read_dir(data.path())
            .expect("exists")
            .next()
            .is_none(),
        "touched nothing"
    );
}

#[test]
fn serve_help_lists_the_flag_and_its_variable() {
    let out = tidings().args(["serve", "--help"]).output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--history-bytes"), "{help}");
    assert!(help.contains("TIDINGS_HISTORY_BYTES"), "{help}");
}
