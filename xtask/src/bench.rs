//! The benchmark suite against peers (`cargo xtask bench [--quick|--full]`)
//! and the load generator's smoke run in CI.
//!
//! The suite installs its peers from the ordinary registries (Debian's
//! nginx + nchan, a pip venv with sse-starlette, uvicorn and matplotlib),
//! builds tidings and the generator in release mode, runs
//! `tidings-bench suite`, and draws the plots. Results land in
//! `bench/results/<mode>/`.

use std::path::{Path, PathBuf};

use crate::util::{self, cmd, fail, probe, root, tally, Result};

/// Arguments tidings gets in every benchmark: streams capped above what the
/// generator opens (the open-files limit here is 20,000).
const TIDINGS_BENCH_ARGS: &[&str] = &["--max-streams", "19000"];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

/// A tiny run of the load generator against a real server (part of CI):
/// 20 streams × 50 events against a fresh tidings; fails unless every event
/// arrived once and in order. Debug builds: they share CI's test build.
pub fn smoke() -> Result {
    util::run(&mut cmd(
        "cargo",
        &[
            "build",
            "--quiet",
            "-p",
            "host-native",
            "--bin",
            "tidings",
            "-p",
            "tidings-bench",
            "--bin",
            "tidings-bench",
        ],
    ))?;
    let dir = target_dir().join("debug");
    let tidings = dir.join("tidings");
    let mut args = vec![
        "smoke".to_string(),
        "--tidings".to_string(),
        tidings.display().to_string(),
    ];
    for a in TIDINGS_BENCH_ARGS {
        args.push(format!("--tidings-arg={a}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = util::run(&mut cmd(
        &dir.join("tidings-bench").display().to_string(),
        &args,
    ));
    match outcome {
        Ok(()) => {
            tally::record(1, 0);
            Ok(())
        }
        Err(e) => {
            tally::record(0, 1);
            Err(e)
        }
    }
}

/// The whole suite: `args` are what followed `cargo xtask bench`
/// (`--quick` (default) or `--full`, and optionally `--servers a,b`).
pub fn run(args: &[String]) -> Result {
    let mut mode = "quick";
    let mut servers: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => mode = "quick",
            "--full" => mode = "full",
            "--servers" => servers = it.next().cloned(),
            "--" => {}
            other => {
                return fail(format!(
                    "unknown bench argument {other}: use --quick, --full, --servers a,b"
                ))
            }
        }
    }
    let venv = target_dir().join("bench-venv");
    install_peers(&venv)?;
    util::run(&mut cmd(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "host-native",
            "-p",
            "tidings-bench",
            "--bins",
        ],
    ))?;
    let release = target_dir().join("release");
    let out = root().join("bench").join("results").join(mode);
    let header = machine_header(mode);
    let mut a: Vec<String> = vec![
        "suite".into(),
        "--mode".into(),
        mode.into(),
        "--out".into(),
        out.display().to_string(),
        "--tidings".into(),
        release.join("tidings").display().to_string(),
        "--axum".into(),
        release.join("axum-peer").display().to_string(),
        "--python".into(),
        venv.join("bin").join("python").display().to_string(),
        "--header".into(),
        header,
    ];
    if let Some(s) = servers {
        a.push("--servers".into());
        a.push(s);
    }
    for t in TIDINGS_BENCH_ARGS {
        a.push(format!("--tidings-arg={t}"));
    }
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    util::run(&mut cmd(
        &release.join("tidings-bench").display().to_string(),
        &a,
    ))?;
    let plot = root().join("bench").join("plot.py");
    util::run(&mut cmd(
        &venv.join("bin").join("python").display().to_string(),
        &[&plot.display().to_string(), &out.display().to_string()],
    ))?;
    eprintln!(
        "results: {}/summary.md (tables), runs.json, summary.csv, *.svg",
        out.display()
    );
    Ok(())
}

/// nginx + nchan from Debian; sse-starlette, uvicorn and matplotlib in a venv.
fn install_peers(venv: &Path) -> Result {
    let nchan = Path::new("/usr/lib/nginx/modules/ngx_nchan_module.so");
    if probe("nginx", &["-v"]).is_none() || !nchan.exists() {
        util::run(&mut cmd("apt-get", &["update", "-qq"]))?;
        let mut c = cmd(
            "apt-get",
            &[
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "nginx",
                "libnginx-mod-nchan",
            ],
        );
        c.env("DEBIAN_FRONTEND", "noninteractive");
        util::run(&mut c)?;
    }
    let python = venv.join("bin").join("python");
    let py = python.display().to_string();
    if probe(
        &py,
        &[
            "-c",
            "import sse_starlette, uvicorn, uvloop, httptools, matplotlib",
        ],
    )
    .is_none()
    {
        if !python.exists() {
            util::run(&mut cmd(
                "python3",
                &["-m", "venv", &venv.display().to_string()],
            ))?;
        }
        util::run(&mut cmd(
            &py,
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "sse-starlette",
                "uvicorn",
                "uvloop",
                "httptools",
                "matplotlib",
            ],
        ))?;
    }
    Ok(())
}

/// The machine and the command, for the top of summary.md.
fn machine_header(mode: &str) -> String {
    let nproc = probe("nproc", &[]).unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default();
    let kernel = probe("uname", &["-r"]).unwrap_or_default();
    let date = probe("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let rev = probe("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_default();
    format!(
        "### Results ({mode} mode, {date})\n\nMachine: {nproc} cores, {cpu}, Linux {kernel}; commit {rev}.\n\
Command: `cargo xtask bench --{mode}`. Server and load generator share the machine.\n"
    )
}
