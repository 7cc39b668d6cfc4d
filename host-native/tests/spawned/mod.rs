//! The built `tidings` binary as a separate process (optionally under
//! `prlimit`, to give it a lowered open-files limit), and a small blocking
//! HTTP/1.1 client for talking to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The token every spawned server uses.
pub const TOKEN: &str = "spawned-token-0123456789";

/// A `tidings` command without any `TIDINGS_*` the test runner may have set.
pub fn tidings() -> Command {
    command(env!("CARGO_BIN_EXE_tidings"))
}

/// `program` without the runner's `TIDINGS_*` variables.
pub fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars() {
        if key.starts_with("TIDINGS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A running `tidings serve`, killed (by its pid) when dropped.
pub struct Spawned {
    pub child: Child,
    /// Kept open: the server's later lines must not hit a closed pipe.
    pub stdout: BufReader<std::process::ChildStdout>,
    pub addr: SocketAddr,
    pub data: tempfile::TempDir,
}

impl Spawned {
    /// Starts `tidings serve` on 127.0.0.1:0 with `args`, under
    /// `prlimit --nofile=<nofile>` when given, and waits for its address.
    pub fn start(nofile: Option<&str>, args: &[&str]) -> Spawned {
        let data = tempfile::tempdir().expect("a temp dir");
        let mut cmd = match nofile {
            Some(limit) => {
                let mut c = command("prlimit");
                c.arg(format!("--nofile={limit}"))
                    .arg(env!("CARGO_BIN_EXE_tidings"));
                c
            }
            None => tidings(),
        };
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--token", TOKEN, "--data"])
            .arg(data.path().join("data"))
            .args(args)
            .env("TIDINGS_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(data.path().join("stderr.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            );
        let mut child = cmd.spawn().expect("tidings runs");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reads the first line");
        let addr = line
            .trim()
            .strip_prefix("tidings listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("an address");
        Spawned {
            child,
            stdout,
            addr,
            data,
        }
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.data.path().join("stderr.log")).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of `/proc/PID/limits` (`Max open files ...`) as (soft, hard).
    pub fn open_files_limit(&self) -> (u64, u64) {
        let limits =
            std::fs::read_to_string(format!("/proc/{}/limits", self.pid())).expect("limits");
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .expect("the open files line");
        let mut numbers = line
            .split_whitespace()
            .filter_map(|w| w.parse::<u64>().ok());
        (numbers.next().expect("soft"), numbers.next().expect("hard"))
    }

    /// Descriptors the process holds now.
    pub fn open_descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// User + system CPU time so far, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        let after = stat.rsplit_once(')').expect("comm").1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // Fields 14 and 15 of stat(5), counted after the command name.
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }

    /// One request with the bearer token; see [`request`].
    pub fn call(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        request(
            self.addr,
            method,
            path,
            &[
                ("authorization", &format!("Bearer {TOKEN}")),
                ("content-type", "application/json"),
            ],
            body,
        )
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one HTTP/1.1 request (with `Host: <addr>` and `Connection: close`)
/// and reads the whole answer: `(status, body)`, or `None` when the server
/// closes or does not answer within 5 s.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).ok()?;
    tcp.write_all(body.as_bytes()).ok()?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// Calls `f` until it returns `Some`, for at most `within`.
pub fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Raises this test process's own soft open-files limit to its hard limit,
/// so it can hold the connections of a flood.
pub fn raise_own_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    hard
}
