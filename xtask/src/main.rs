//! `cargo xtask`: the project's commands, runnable the same way on a laptop
//! and in CI.
//!
//! - `cargo xtask run [-- ARGS]`: build the dashboard's wasm client, then run
//!   the `tidings` server with the dashboard on its embedded defaults.
//! - `cargo xtask test`: install what is missing (wasm target, wasm-bindgen-cli,
//!   Chromium, npm packages), then fmt, clippy, docs, native tests, the core's
//!   tests on wasm32, the browser tests, end-to-end tests and a benchmark smoke.
//! - `cargo xtask wasm`: build `www/pkg/` only, and print its size.
//! - `cargo xtask screenshot`: refresh the README picture (`docs/screenshot.png`)
//!   from a real server and Chromium (tests never write tracked files).
//! - `cargo xtask bench-dashboard`: main-thread time per applied event in
//!   Chromium with 1,000 tasks and 200 events/s.
//! - `cargo xtask bench [--quick|--full]`: the benchmark suite against peers.

mod bench;
mod install;
mod util;
mod wasm;

use std::process::ExitCode;
use std::time::Instant;

use util::{cmd, run, run_counted, tally, Result};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((t, rest)) => (t.as_str(), rest),
        None => ("help", &[][..]),
    };
    let outcome = match task {
        "run" => run_server(rest),
        "test" => test_all(),
        "wasm" => install::wasm_target()
            .and_then(|()| install::wasm_bindgen_cli())
            .and_then(|()| wasm::build()),
        "bench" => bench::run(rest),
        "screenshot" => wasm::screenshot(),
        "bench-dashboard" => wasm::bench_dashboard(),
        _ => {
            eprintln!(
                "usage: cargo xtask <run [-- ARGS] | test | wasm | screenshot | bench [--quick|--full] | bench-dashboard>"
            );
            return if task == "help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(args: &[String]) -> Result {
    install::wasm_target()?;
    install::wasm_bindgen_cli()?;
    wasm::build()?;
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--")
        .collect();
    let mut all = vec![
        "run",
        "--release",
        "-p",
        "host-native",
        "--bin",
        "tidings",
        "--",
        "serve",
    ];
    all.extend(args);
    run(&mut cmd("cargo", &all))
}

/// One named step of `cargo xtask test`.
type Step = (&'static str, fn() -> Result);

fn test_all() -> Result {
    let started = Instant::now();
    let steps: Vec<Step> = vec![
        ("install: wasm32 target", install::wasm_target),
        ("install: wasm-bindgen-cli", install::wasm_bindgen_cli),
        ("install: chromium", install::chromium),
        ("fmt", || {
            run(&mut cmd("cargo", &["fmt", "--all", "--", "--check"]))
        }),
        ("clippy (native)", || {
            run(&mut cmd(
                "cargo",
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ))
        }),
        ("clippy (wasm32)", || {
            run(&mut cmd(
                "cargo",
                &[
                    "clippy",
                    "-p",
                    "broker-core",
                    "-p",
                    "client-wasm",
                    "--target",
                    "wasm32-unknown-unknown",
                    // Benchmarks are native-only (criterion): lint the library and tests.
                    "--lib",
                    "--tests",
                    "--",
                    "-D",
                    "warnings",
                ],
            ))
        }),
        (
            "clippy (broker-core without serde, as the browser builds it)",
            || {
                run(&mut cmd(
                    "cargo",
                    &[
                        "clippy",
                        "-p",
                        "broker-core",
                        "--no-default-features",
                        "--target",
                        "wasm32-unknown-unknown",
                        "--lib",
                        "--",
                        "-D",
                        "warnings",
                    ],
                ))
            },
        ),
        ("clippy (client-wasm release build, no std)", || {
            run(&mut cmd(
                "cargo",
                &[
                    "clippy",
                    "-p",
                    "client-wasm",
                    "--no-default-features",
                    "--features",
                    "tiny",
                    "--target",
                    "wasm32-unknown-unknown",
                    "--lib",
                    "--",
                    "-D",
                    "warnings",
                ],
            ))
        }),
        ("docs", || {
            let mut c = cmd("cargo", &["doc", "--workspace", "--no-deps", "--quiet"]);
            c.env("RUSTDOCFLAGS", "-D warnings");
            run(&mut c)
        }),
        ("native tests", || {
            run_counted(&mut cmd("cargo", &["test", "--workspace", "--quiet"]))
        }),
        ("broker-core on wasm32 (node)", || {
            run_counted(&mut cmd(
                "cargo",
                &[
                    "test",
                    "-p",
                    "broker-core",
                    "--target",
                    // No --quiet: cargo would forward it to wasm-bindgen-test-runner,
                    // which rejects it.
                    "wasm32-unknown-unknown",
                ],
            ))
        }),
        ("wasm build", wasm::build),
        ("client-wasm in Chromium", wasm::test_browser),
        ("end to end in Chromium", wasm::test_e2e),
        ("load generator smoke", bench::smoke),
    ];
    let mut failed = Vec::new();
    for (name, step) in steps {
        eprintln!("\n=== {name}");
        let t = Instant::now();
        match step() {
            Ok(()) => eprintln!("=== {name}: ok ({:.1}s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                eprintln!("=== {name}: FAILED: {e}");
                failed.push(name);
                if name.starts_with("install") {
                    break;
                }
            }
        }
    }
    let (passed, failed_tests) = tally::totals();
    eprintln!(
        "\nxtask test: {:.0}s, failed steps: {:?}",
        started.elapsed().as_secs_f64(),
        failed
    );
    println!("tests: {passed} passed, {failed_tests} failed");
    if failed.is_empty() {
        Ok(())
    } else {
        util::fail(format!("{} step(s) failed", failed.len()))
    }
}
