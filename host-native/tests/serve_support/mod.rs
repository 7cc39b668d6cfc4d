//! Scaffolding for tests that run the real `tidings serve` binary: start it
//! on port 0 with a data directory, talk to it over real sockets with a
//! small blocking HTTP/1.1 client (one connection per request), read its
//! SSE stream, and kill it (-9 or TERM).
//!
//! `TIDINGS_TEST_BINARY` points the tests at another build of `tidings`
//! (for checking that a test fails on an older version).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The token the binary is started with.
pub const TOKEN: &str = "serve-token-0123456789abcdef";

/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The binary under test.
pub fn binary() -> PathBuf {
    std::env::var_os("TIDINGS_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tidings")))
}

/// `tidings serve` with no `TIDINGS_*` variable from the test's own
/// environment.
pub fn command() -> Command {
    let mut cmd = Command::new(binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("TIDINGS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A running `tidings serve`.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    /// The token from the printed dashboard URL.
    pub token: String,
}

impl Serve {
    /// Starts the binary on `data` with the test token, `args` and `env`
    /// added; waits for it to print its address.
    pub fn start(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut cmd = command();
        cmd.args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--reconcile-interval",
            "100ms",
        ])
        .arg("--data")
        .arg(data)
        .args(args)
        .env("TIDINGS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if !env.iter().any(|(k, _)| k.starts_with("TIDINGS_TOKEN")) {
            cmd.args(["--token", TOKEN]);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("tidings starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("tidings prints its address")
            .expect("reads");
        let addr = first
            .strip_prefix("tidings listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .parse()
            .expect("an address");
        let second = lines
            .next()
            .expect("tidings prints the dashboard URL")
            .expect("reads");
        let token = second
            .rsplit_once("?token=")
            .map(|(_, t)| t.to_owned())
            .unwrap_or_else(|| panic!("no token in {second:?}"));
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Serve { child, addr, token }
    }

    /// The pid of the server.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("a pid")
    }

    /// `kill -9`, and waits for it to be gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits for the clean exit.
    pub fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }

    /// One request with the bearer token; `(status, body)`.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        request(self.addr, method, path, Some(&self.token), body)
    }

    /// One request whose answer is JSON.
    pub fn json(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (status, text) = self.request(method, path, body);
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text:?}"));
        (status, value)
    }

    /// `POST /api/events` of `trigger.fired`; the id it got.
    pub fn publish(&self, n: u64) -> String {
        let (status, v) = self.json(
            "POST",
            "/api/events",
            Some(&format!(r#"{{"type":"trigger.fired","data":{{"n":{n}}}}}"#)),
        );
        assert_eq!(status, 202, "{v}");
        v["id"].as_str().expect("an id").to_owned()
    }

    /// `POST /api/tasks` with a shell command; the task.
    pub fn create(&self, command: &str) -> Value {
        let body = serde_json::json!({ "command": command }).to_string();
        let (status, task) = self.json("POST", "/api/tasks", Some(&body));
        assert_eq!(status, 201, "{task}");
        task
    }

    /// Polls `GET /api/tasks/{id}` until `cond` holds for it.
    pub fn wait_task(&self, id: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let began = Instant::now();
        loop {
            let (status, task) = self.json("GET", &format!("/api/tasks/{id}"), None);
            assert_eq!(status, 200, "{task}");
            if cond(&task) {
                return task;
            }
            assert!(
                began.elapsed() < PATIENCE,
                "timed out waiting for {what}: {task}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`); the
/// status and the body (chunked bodies are decoded).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("a read timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("writes");
    stream.write_all(body.as_bytes()).expect("writes");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reads the answer");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        unchunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// An open `GET /api/events` read line by line from a plain socket.
pub struct Stream {
    reader: BufReader<TcpStream>,
}

/// One SSE message as read off the wire.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
    /// A `: comment` line (a keep-alive).
    pub comment: bool,
}

impl Stream {
    /// Opens the stream with `query` (e.g. `?types=task.*`).
    pub fn open(addr: SocketAddr, token: &str, query: &str) -> Stream {
        let mut stream = TcpStream::connect(addr).expect("connects");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let head = format!(
            "GET /api/events{query} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("writes");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).expect("a response head");
            if line == "\r\n" {
                break;
            }
        }
        Stream { reader }
    }

    /// The next frame (chunk sizes of the chunked encoding are skipped).
    pub fn next(&mut self) -> Frame {
        let mut frame = Frame::default();
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .reader
                .read_line(&mut line)
                .expect("stream data in time");
            assert!(n > 0, "the stream ended");
            let l = line.trim_end_matches(['\r', '\n']);
            if let Some(c) = l.strip_prefix(':') {
                let _ = c;
                frame.comment = true;
                return frame;
            }
            if l.is_empty() {
                if !frame.event.is_empty() || !frame.data.is_empty() {
                    return frame;
                }
                continue;
            }
            if let Some(v) = l.strip_prefix("id: ") {
                frame.id = Some(v.to_owned());
            } else if let Some(v) = l.strip_prefix("event: ") {
                frame.event = v.to_owned();
            } else if let Some(v) = l.strip_prefix("data: ") {
                frame.data = v.to_owned();
            }
            // Anything else is a chunk size line or `retry:`.
        }
    }

    /// Frames until one named `event` arrives.
    pub fn until(&mut self, event: &str) -> Vec<Frame> {
        let mut seen = Vec::new();
        loop {
            let f = self.next();
            let done = f.event == event;
            seen.push(f);
            if done {
                return seen;
            }
        }
    }
}

/// The SEQ of an `EPOCH-SEQ` id.
pub fn seq(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("an EPOCH-SEQ id")
}

/// Whether a process exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().chars().next()))
        .flatten()
        .is_some_and(|state| state != 'Z')
}
