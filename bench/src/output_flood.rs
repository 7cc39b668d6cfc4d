//! `output-flood`: `yes` in a task with N clients following its live output
//! (`GET /api/tasks/{id}/output/stream`), against the event stream's
//! latency for other subscribers.
//!
//! One fresh tidings; phases in turn, each repeated `reps` times:
//! - `quiet`: the event fan-out alone (subscribers × rate over `secs`);
//! - `yes`: the same with `yes` running in a task nobody follows (what the
//!   task's output costs the server by itself: its log);
//! - `yes+followers`: the same with `followers` streams following `yes`.
//!
//! Each phase reports the event stream's latency (publish → receive) and the
//! server's CPU (from /proc/PID/stat, over the fan-out step), and for the
//! followers: output frames per second per stream and the largest frame.
//! Followers read as fast as they can on a thread of their own.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memchr::memchr_iter;
use serde::Serialize;

use crate::http::{parse_head, take_response, Dechunker, Framing};
use crate::loadgen::{self, GenConfig, LadderPlan};
use crate::servers::{Kind, Programs, Server, TOKEN};

/// The shape of the run.
#[derive(Clone, Debug)]
pub struct FloodPlan {
    /// Streams following the task's output.
    pub followers: usize,
    /// Event stream subscribers whose latency is measured.
    pub subscribers: usize,
    /// Events per second published to them.
    pub rate: f64,
    /// Seconds per phase.
    pub secs: f64,
    /// Repetitions of the three phases.
    pub reps: usize,
}

/// One phase's figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Phase {
    /// `quiet`, `yes` or `yes+followers`.
    pub name: String,
    /// Which repetition.
    pub rep: usize,
    /// Event stream latency, µs.
    pub events_p50_us: u64,
    /// Event stream latency, µs.
    pub events_p99_us: u64,
    /// Events delivered, and whether none was lost or repeated.
    pub deliveries: u64,
    /// No gap, duplicate or missing delivery, the rate held.
    pub events_ok: bool,
    /// Server CPU in cores over the fan-out step.
    pub server_cores: f64,
    /// The generator's CPU in cores (it shares the machine).
    pub gen_cores: f64,
    /// Followers that read their stream to the end of the phase.
    pub followers: usize,
    /// Output frames per second per follower: median and largest.
    pub frames_per_s_median: f64,
    /// Output frames per second per follower, largest.
    pub frames_per_s_max: f64,
    /// The largest output frame seen, bytes.
    pub max_frame: usize,
    /// Output bytes per second per follower, median.
    pub bytes_per_s_median: f64,
    /// `truncated` notices (a follower fell behind the log's cap).
    pub truncated: u64,
    /// Server RSS at the end of the phase, KiB.
    pub server_rss_kib: u64,
}

/// Runs the scenario against a fresh tidings; returns every phase.
pub fn run(programs: &Programs, plan: &FloodPlan, gen: &GenConfig) -> Result<Vec<Phase>, String> {
    let server = Server::start(Kind::Tidings, programs).map_err(|e| e.to_string())?;
    let gen = GenConfig {
        server_pids: server.pids(),
        ..gen.clone()
    };
    let result = phases(&server, plan, &gen);
    server.stop();
    result
}

fn phases(server: &Server, plan: &FloodPlan, gen: &GenConfig) -> Result<Vec<Phase>, String> {
    let mut out = Vec::new();
    for rep in 0..plan.reps {
        for (name, yes, followers) in [
            ("quiet", false, 0),
            ("yes", true, 0),
            ("yes+followers", true, plan.followers),
        ] {
            let task = if yes {
                Some(create_task(server.addr, "yes")?)
            } else {
                None
            };
            let follow = Followers::start(server.addr, task.as_deref(), followers);
            let ladder = LadderPlan {
                subscribers: plan.subscribers,
                stalled: 0,
                steps: vec![(plan.rate, Duration::from_secs_f64(plan.secs), u64::MAX)],
                pad: 64,
                drain: Duration::from_secs(2),
                stop_on_failure: false,
            };
            let result = loadgen::ladder(&server.target(1), &ladder, gen);
            let seen = follow.finish();
            if let Some(id) = &task {
                request(server.addr, "DELETE", &format!("/api/tasks/{id}"), None)?;
            }
            let result = result.map_err(|e| e.to_string())?;
            let step = result.steps.first().ok_or("no step ran")?;
            let mut fps: Vec<f64> = seen.iter().map(Seen::frames_per_s).collect();
            fps.sort_by(f64::total_cmp);
            let mut bps: Vec<f64> = seen.iter().map(Seen::bytes_per_s).collect();
            bps.sort_by(f64::total_cmp);
            let phase = Phase {
                name: name.into(),
                rep,
                events_p50_us: step.latency.p50_us,
                events_p99_us: step.latency.p99_us,
                deliveries: step.deliveries,
                events_ok: step.ok,
                server_cores: step.server_cores,
                gen_cores: step.gen_cores,
                followers: seen.iter().filter(|s| s.error.is_none()).count(),
                frames_per_s_median: median(&fps),
                frames_per_s_max: fps.last().copied().unwrap_or(0.0),
                max_frame: seen.iter().map(|s| s.max_frame).max().unwrap_or(0),
                bytes_per_s_median: median(&bps),
                truncated: seen.iter().map(|s| s.truncated).sum(),
                server_rss_kib: step.server_rss_kib.1,
            };
            eprintln!(
                "output-flood: {name} rep {rep}: events p99 {:.2} ms, server {:.2} cores, {} followers at {:.1} frames/s (max {:.1}), largest frame {} B",
                phase.events_p99_us as f64 / 1e3,
                phase.server_cores,
                phase.followers,
                phase.frames_per_s_median,
                phase.frames_per_s_max,
                phase.max_frame
            );
            if let Some(e) = seen.iter().find_map(|s| s.error.clone()) {
                eprintln!("output-flood: a follower failed: {e}");
            }
            out.push(phase);
        }
    }
    Ok(out)
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// One request on its own connection; the status and body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((head, len)) = take_response(&buf).map_err(|e| e.to_string())? {
            let text = String::from_utf8_lossy(&buf[head.len..len]).into_owned();
            return Ok((head.status, text));
        }
        let n = tcp.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("{method} {path}: closed before the answer"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Starts a task; its id.
fn create_task(addr: SocketAddr, command: &str) -> Result<String, String> {
    let body = serde_json::json!({ "command": command }).to_string();
    let (status, text) = request(addr, "POST", "/api/tasks", Some(&body))?;
    if status != 201 {
        return Err(format!("creating a task: {status} {text}"));
    }
    let task: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    task["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {text}"))
}

/// What one follower saw.
#[derive(Debug, Default)]
struct Seen {
    frames: u64,
    bytes: u64,
    max_frame: usize,
    truncated: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    error: Option<String>,
}

impl Seen {
    fn span_s(&self) -> f64 {
        match (self.first, self.last) {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            _ => 0.0,
        }
    }

    /// Frames after the first, over the time from the first to the last.
    fn frames_per_s(&self) -> f64 {
        let s = self.span_s();
        if s > 0.0 {
            (self.frames.saturating_sub(1)) as f64 / s
        } else {
            0.0
        }
    }

    fn bytes_per_s(&self) -> f64 {
        let s = self.span_s();
        if s > 0.0 {
            self.bytes as f64 / s
        } else {
            0.0
        }
    }
}

/// Splits a dechunked SSE body into frames (at blank lines) and counts the
/// output frames (`id: ` first) and `truncated` notices.
#[derive(Debug, Default)]
struct FrameScan {
    len: usize,
    head: Vec<u8>,
    prev: u8,
}

impl FrameScan {
    fn feed(&mut self, bytes: &[u8], seen: &mut Seen) {
        let mut from = 0;
        for at in memchr_iter(b'\n', bytes) {
            let before = if at > 0 { bytes[at - 1] } else { self.prev };
            self.take(&bytes[from..=at]);
            from = at + 1;
            if before == b'\n' && self.len > 1 {
                if self.head.starts_with(b"id: ") {
                    seen.frames += 1;
                    seen.bytes += self.len as u64;
                    seen.max_frame = seen.max_frame.max(self.len);
                    let now = Instant::now();
                    seen.first.get_or_insert(now);
                    seen.last = Some(now);
                } else if self.head.starts_with(b"event: t") {
                    seen.truncated += 1;
                }
                self.len = 0;
                self.head.clear();
            }
        }
        self.take(&bytes[from..]);
        if let Some(&last) = bytes.last() {
            self.prev = last;
        }
    }

    fn take(&mut self, piece: &[u8]) {
        self.len += piece.len();
        let want = 8usize.saturating_sub(self.head.len());
        self.head.extend_from_slice(&piece[..want.min(piece.len())]);
    }
}

/// The followers, each on a blocking socket of its own thread.
struct Followers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Seen>>,
}

impl Followers {
    fn start(addr: SocketAddr, task: Option<&str>, n: usize) -> Followers {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = match task {
            Some(id) => (0..n)
                .map(|_| {
                    let (stop, path) = (stop.clone(), format!("/api/tasks/{id}/output/stream"));
                    std::thread::spawn(move || {
                        let mut seen = Seen::default();
                        if let Err(e) = follow(addr, &path, &stop, &mut seen) {
                            seen.error = Some(e);
                        }
                        seen
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        Followers { stop, threads }
    }

    fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .filter_map(|t| t.join().ok())
            .collect()
    }
}

fn follow(addr: SocketAddr, path: &str, stop: &AtomicBool, seen: &mut Seen) -> Result<(), String> {
    let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut head_buf = Vec::new();
    let mut body_started = false;
    let mut dechunk = Dechunker::default();
    let mut scan = FrameScan::default();
    while !stop.load(Ordering::Relaxed) {
        let n = match tcp.read(&mut buf) {
            Ok(0) => return Err("the stream closed".into()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut bytes = &buf[..n];
        if !body_started {
            head_buf.extend_from_slice(bytes);
            let Some(head) = parse_head(&head_buf).map_err(|e| e.to_string())? else {
                continue;
            };
            if head.status != 200 || head.framing != Framing::Chunked {
                return Err(format!("status {} ({:?})", head.status, head.framing));
            }
            body_started = true;
            let rest = head_buf.split_off(head.len);
            dechunk
                .feed(&rest, &mut |p| scan.feed(p, seen))
                .map_err(|e| e.to_string())?;
            bytes = &[];
        }
        dechunk
            .feed(bytes, &mut |p| scan.feed(p, seen))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The phases as a markdown table: medians over the repetitions.
pub fn table(phases: &[Phase], plan: &FloodPlan) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "| phase ({} event subscribers at {} events/s; medians of {} runs of {} s) | events p50 | events p99 | server CPU | followers | output frames/s per stream (median / max) | largest frame | output per stream |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        plan.subscribers, plan.rate, plan.reps, plan.secs
    ));
    let quiet_p99 = med(phases, "quiet", |p| p.events_p99_us as f64);
    for name in ["quiet", "yes", "yes+followers"] {
        let p99 = med(phases, name, |p| p.events_p99_us as f64);
        let ratio = if quiet_p99 > 0.0 {
            p99 / quiet_p99
        } else {
            0.0
        };
        let any = phases.iter().any(|p| p.name == name && p.followers > 0);
        out.push_str(&format!(
            "| {name} | {:.2} ms | {:.2} ms ({ratio:.2}×) | {:.2} cores | {} | {} | {} | {} |\n",
            med(phases, name, |p| p.events_p50_us as f64) / 1e3,
            p99 / 1e3,
            med(phases, name, |p| p.server_cores),
            med(phases, name, |p| p.followers as f64),
            if any {
                format!(
                    "{:.1} / {:.1}",
                    med(phases, name, |p| p.frames_per_s_median),
                    med(phases, name, |p| p.frames_per_s_max)
                )
            } else {
                "–".into()
            },
            if any {
                format!(
                    "{} B",
                    phases
                        .iter()
                        .filter(|p| p.name == name)
                        .map(|p| p.max_frame)
                        .max()
                        .unwrap_or(0)
                )
            } else {
                "–".into()
            },
            if any {
                format!(
                    "{:.2} MiB/s",
                    med(phases, name, |p| p.bytes_per_s_median) / (1024.0 * 1024.0)
                )
            } else {
                "–".into()
            },
        ));
    }
    out
}

fn med(phases: &[Phase], name: &str, f: impl Fn(&Phase) -> f64) -> f64 {
    let mut v: Vec<f64> = phases.iter().filter(|p| p.name == name).map(f).collect();
    v.sort_by(f64::total_cmp);
    median(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_counted_wherever_the_bytes_are_cut() {
        let stream = "retry: 2000\nevent: ready\ndata: {}\n\nevent: truncated\ndata: {\"from\":5}\n\nid: 9\nevent: output\ndata: {\"text\":\"abc\"}\n\n: keep-alive\n\nid: 12\nevent: output\ndata: {\"text\":\"d\\n\"}\n\n";
        for cut in 1..stream.len() {
            let mut seen = Seen::default();
            let mut scan = FrameScan::default();
            let (a, b) = stream.as_bytes().split_at(cut);
            scan.feed(a, &mut seen);
            scan.feed(b, &mut seen);
            assert_eq!((seen.frames, seen.truncated), (2, 1), "cut at {cut}");
            // The larger of the two output frames.
            assert_eq!(
                seen.max_frame,
                "id: 12\nevent: output\ndata: {\"text\":\"d\\n\"}\n\n".len(),
                "cut at {cut}"
            );
        }
    }
}
