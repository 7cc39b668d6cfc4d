//! `tidings parse`: the built binary turns an SSE fixture on stdin into JSON
//! lines, exactly as an EventSource would dispatch them.

use std::io::Write;
use std::process::{Command, Stdio};

const FIXTURE: &[u8] = b"\xEF\xBB\xBFretry: 1500\n\
: a comment\n\
id: e-1\n\
event: task.created\n\
data: {\"a\":1}\n\
\n\
data: line one\r\n\
data: line two\r\n\
\r\n\
retry: soon\n\
event: ignored-without-data\n\
\n\
id: e-2\rdata:  leading space\r\r\
data: no blank line at the end";

#[test]
fn parse_prints_one_json_line_per_message_and_valid_retry() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("parse")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(FIXTURE)
        .expect("writes the fixture");
    let out = child.wait_with_output().expect("it exits");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let expected = [
        serde_json::json!({"retry": 1500}),
        serde_json::json!({"type": "task.created", "data": "{\"a\":1}", "id": "e-1"}),
        serde_json::json!({"type": "message", "data": "line one\nline two", "id": "e-1"}),
        serde_json::json!({"type": "message", "data": " leading space", "id": "e-2"}),
    ];
    assert_eq!(lines, expected);
}

#[test]
fn parse_of_empty_input_prints_nothing_and_succeeds() {
    let out = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("parse")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

/// `curl -N ... | tidings parse` must be live: each message is printed as
/// soon as it is parsed, while the input is still open.
#[test]
fn parse_prints_each_message_before_the_input_ends() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::Duration;

    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("parse")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    for n in 1..=3 {
        // Slowly, a piece at a time, as a live stream arrives.
        stdin
            .write_all(format!("id: e-{n}\nevent: tick\n").as_bytes())
            .expect("writes");
        stdin.flush().expect("flushes");
        std::thread::sleep(Duration::from_millis(50));
        stdin
            .write_all(format!("data: {{\"n\":{n}}}\n\n").as_bytes())
            .expect("writes");
        stdin.flush().expect("flushes");
        let line = lines
            .recv_timeout(Duration::from_secs(3))
            .unwrap_or_else(|_| panic!("message {n} printed while the input is still open"));
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(
            v,
            serde_json::json!({"type": "tick", "data": format!("{{\"n\":{n}}}"), "id": format!("e-{n}")})
        );
    }
    drop(stdin);
    assert!(child.wait().expect("exits").success());
    reader.join().expect("the reader ends");
}
