//! Starting and stopping the servers under test: tidings and its peers.
//!
//! Every run gets a fresh server on a fresh loopback port, so one run's
//! leftovers (memory, lagging queues) never colour the next.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::procstat::children_of;
use crate::target::{PublishStyle, Target};

/// The servers the suite knows.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, clap::ValueEnum,
)]
pub enum Kind {
    /// This project's server.
    Tidings,
    /// axum + tokio::sync::broadcast + Sse/KeepAlive.
    Axum,
    /// sse-starlette + uvicorn, a bounded asyncio.Queue per subscriber.
    Starlette,
    /// nginx + the nchan module.
    Nchan,
}

impl Kind {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tidings => "tidings",
            Kind::Axum => "axum",
            Kind::Starlette => "starlette",
            Kind::Nchan => "nchan",
        }
    }
}

/// Where each server's program is.
#[derive(Clone, Debug)]
pub struct Programs {
    /// The `tidings` binary.
    pub tidings: PathBuf,
    /// Extra arguments for `tidings serve` (limits raised for benchmarks).
    pub tidings_args: Vec<String>,
    /// The `axum-peer` binary.
    pub axum: PathBuf,
    /// A Python with sse-starlette and uvicorn installed.
    pub python: PathBuf,
    /// bench/peers/starlette_peer.py.
    pub starlette_script: PathBuf,
    /// The nginx binary (with the nchan module available).
    pub nginx: PathBuf,
    /// bench/peers/nchan.conf.template.
    pub nchan_template: PathBuf,
    /// Scratch space for data dirs and configs.
    pub scratch: PathBuf,
}

/// Why a server did not come up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The program could not be started.
    #[error("cannot start {0}: {1}")]
    Spawn(String, std::io::Error),
    /// Scratch files could not be written.
    #[error("scratch files: {0}")]
    Scratch(#[from] std::io::Error),
    /// It did not listen in time.
    #[error("{0} did not listen on {1} within {2:?}")]
    NotListening(&'static str, SocketAddr, Duration),
    /// It exited at once.
    #[error("{0} exited at start ({1})")]
    Exited(&'static str, String),
}

/// The benchmark token given to tidings.
pub const TOKEN: &str = "bench-token-0123456789";

/// A running server.
pub struct Server {
    /// Which one.
    pub kind: Kind,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts `kind` and waits until it accepts connections.
    pub fn start(kind: Kind, p: &Programs) -> Result<Server, ServerError> {
        let port = free_port()?;
        let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], port));
        let dir = p.scratch.join(format!("{}-{port}", kind.name()));
        std::fs::create_dir_all(&dir)?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let mut c = match kind {
            Kind::Tidings => {
                let mut c = Command::new(&p.tidings);
                c.arg("serve")
                    .args(["--addr", &addr.to_string(), "--token", TOKEN])
                    .arg("--data")
                    .arg(dir.join("data"))
                    .args(&p.tidings_args);
                c
            }
            Kind::Axum => {
                let mut c = Command::new(&p.axum);
                c.args(["--addr", &addr.to_string()]);
                c
            }
            Kind::Starlette => {
                let mut c = Command::new(&p.python);
                c.arg(&p.starlette_script)
                    .args(["--port", &port.to_string()]);
                c
            }
            Kind::Nchan => {
                let template = std::fs::read_to_string(&p.nchan_template)?;
                std::fs::create_dir_all(dir.join("tmp"))?;
                let conf = template
                    .replace("{PORT}", &port.to_string())
                    .replace("{DIR}", &dir.display().to_string());
                let conf_path = dir.join("nginx.conf");
                std::fs::write(&conf_path, conf)?;
                let mut c = Command::new(&p.nginx);
                c.arg("-p").arg(&dir).arg("-c").arg(&conf_path);
                c
            }
        };
        let child = c
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| ServerError::Spawn(c.get_program().to_string_lossy().into_owned(), e))?;
        let mut server = Server { kind, addr, child };
        server.wait_listening(Duration::from_secs(20), &dir)?;
        Ok(server)
    }

    fn wait_listening(&mut self, limit: Duration, dir: &Path) -> Result<(), ServerError> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
                return Err(ServerError::Exited(
                    self.kind.name(),
                    format!("{status}: {tail}"),
                ));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                // nginx's workers start just after the master listens.
                std::thread::sleep(Duration::from_millis(100));
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(ServerError::NotListening(
            self.kind.name(),
            self.addr,
            limit,
        ))
    }

    /// The processes whose CPU and memory count as the server's.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        if self.kind == Kind::Nchan {
            pids.extend(children_of(self.child.id()));
        }
        pids
    }

    /// How the generator reaches it; `run` names a fresh nchan channel.
    pub fn target(&self, run: u64) -> Target {
        target_for(self.kind, self.addr, run)
    }

    /// Stops it: TERM and a short wait (nginx's master takes its workers
    /// down), then KILL.
    pub fn stop(mut self) {
        let pids = self.pids();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in pids.iter().skip(1) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// How the generator reaches a server of `kind` at `addr`; `run` names a
/// fresh nchan channel (so nothing of an earlier run is replayed).
pub fn target_for(kind: Kind, addr: SocketAddr, run: u64) -> Target {
    let (sub_path, pub_path, token, style) = match kind {
        Kind::Tidings => (
            "/api/events".to_string(),
            "/api/events".to_string(),
            Some(TOKEN.to_string()),
            PublishStyle::Envelope,
        ),
        Kind::Axum | Kind::Starlette => (
            "/api/events".to_string(),
            "/api/events".to_string(),
            None,
            PublishStyle::Envelope,
        ),
        Kind::Nchan => (
            format!("/sub?id=bench{run}"),
            format!("/pub?id=bench{run}"),
            None,
            PublishStyle::RawBody,
        ),
    };
    Target {
        addr,
        sub_path,
        pub_path,
        token,
        style,
    }
}
