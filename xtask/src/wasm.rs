//! Building the wasm client into `www/pkg/` (and an npm-installable package
//! folder), and testing it in a real Chromium: the driver's wasm-bindgen tests
//! and the end-to-end tests of the dashboard against a real `tidings`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::install;
use crate::util::{cmd, fail, probe, root, run, run_counted, Result, StepFailed};

/// The module wasm-bindgen writes next to its glue.
const WASM_FILE: &str = "client_wasm_bg.wasm";
/// The glue ES module.
const GLUE_FILE: &str = "client_wasm.js";

/// The size goal for wasm plus glue, gzipped (issue 8; stretch 10 KB).
const GOAL_GZIPPED: u64 = 15 * 1024;
/// The stretch goal.
const STRETCH_GZIPPED: u64 = 10 * 1024;

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
    }
}

/// Builds client-wasm (profile `wasm`: size-optimised, panic = abort), runs
/// wasm-bindgen (`--target web`) into `www/pkg/`, shrinks the module with
/// wasm-opt when a working one is available, writes the package folder
/// `client-wasm/pkg/`, and prints the sizes against the goal.
pub fn build() -> Result {
    run(&mut cmd(
        "cargo",
        &[
            "build",
            "--quiet",
            "-p",
            "client-wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm",
            // The release build: no std, a small allocator.
            "--no-default-features",
            "--features",
            "tiny",
        ],
    ))?;
    let built = target_dir().join("wasm32-unknown-unknown/wasm/client_wasm.wasm");
    let out = root().join("www/pkg");
    let _ = fs::remove_dir_all(&out);
    run(&mut cmd(
        "wasm-bindgen",
        &[
            "--target",
            "web",
            "--out-dir",
            &out.to_string_lossy(),
            &built.to_string_lossy(),
        ],
    ))?;
    let wasm = out.join(WASM_FILE);
    let glue = out.join(GLUE_FILE);
    let raw = file_size(&wasm)?;
    let raw_gz = gzipped_size(&wasm)?;
    let optimised = match wasm_opt() {
        Some(wasm_opt) => {
            let tmp = out.join("opt.wasm");
            run(&mut cmd(
                &wasm_opt.to_string_lossy(),
                &[
                    "-Oz",
                    "--enable-bulk-memory",
                    "--enable-nontrapping-float-to-int",
                    "--enable-sign-ext",
                    "--enable-mutable-globals",
                    "--enable-reference-types",
                    "--enable-multivalue",
                    &wasm.to_string_lossy(),
                    "-o",
                    &tmp.to_string_lossy(),
                ],
            ))?;
            fs::rename(&tmp, &wasm)?;
            true
        }
        None => {
            eprintln!(
                "wasm-opt: not available (npm `binaryen` in e2e/); the module stays as built"
            );
            false
        }
    };
    // The glue carries every doc comment as JSDoc (the .d.ts keeps them):
    // minify it the way wasm-opt shrinks the module.
    let terser = root().join("e2e/node_modules/.bin/terser");
    if terser.exists() {
        let glue_path = glue.to_string_lossy().into_owned();
        run(&mut cmd(
            &terser.to_string_lossy(),
            &[
                &glue_path,
                "--module",
                "--compress",
                "--mangle",
                "-o",
                &glue_path,
            ],
        ))?;
    } else {
        eprintln!("terser: not available (npm `terser` in e2e/); the glue stays as generated");
    }
    let glue_size = file_size(&glue)?;
    let glue_gz = gzipped_size(&glue)?;
    eprintln!("wasm size: raw {} B ({} B gzipped)", raw, raw_gz);
    let (final_size, final_gz) = (file_size(&wasm)?, gzipped_size(&wasm)?);
    if optimised {
        eprintln!("wasm size after wasm-opt -Oz: {final_size} B ({final_gz} B gzipped)");
    }
    eprintln!("glue JS: {glue_size} B ({glue_gz} B gzipped)");
    let total = final_gz + glue_gz;
    eprintln!(
        "wasm + glue gzipped: {total} B ({:.1} KB) against the goal of {} KB: {}; stretch {} KB: {}",
        total as f64 / 1024.0,
        GOAL_GZIPPED / 1024,
        if total <= GOAL_GZIPPED { "met" } else { "NOT met" },
        STRETCH_GZIPPED / 1024,
        if total <= STRETCH_GZIPPED { "met" } else { "not met" },
    );
    package(&out)
}

/// The npm `binaryen` (installed by `npm ci` in e2e/) — Debian's wasm-opt is
/// too old for current wasm-bindgen output — or a `wasm-opt` on PATH of
/// version 116 or newer.
fn wasm_opt() -> Option<PathBuf> {
    let local = root().join("e2e/node_modules/.bin/wasm-opt");
    if !local.exists() && probe("npm", &["--version"]).is_some() {
        if let Err(e) = install::e2e_packages() {
            eprintln!("npm packages of e2e/: {e}");
        }
    }
    if local.exists() {
        return Some(local);
    }
    let version = probe("wasm-opt", &["--version"])?;
    let number: u32 = version
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())?
        .parse()
        .ok()?;
    (number >= 116).then(|| PathBuf::from("wasm-opt"))
}

/// `client-wasm/pkg/`: the same files with a package.json, so another SPA can
/// `npm install ../tidings/client-wasm/pkg`.
fn package(out: &Path) -> Result {
    let pkg = root().join("client-wasm/pkg");
    let _ = fs::remove_dir_all(&pkg);
    fs::create_dir_all(&pkg)?;
    let files = [
        GLUE_FILE,
        "client_wasm.d.ts",
        WASM_FILE,
        "client_wasm_bg.wasm.d.ts",
    ];
    for f in files {
        fs::copy(out.join(f), pkg.join(f))
            .map_err(|e| StepFailed(format!("copy {f} into client-wasm/pkg: {e}")))?;
    }
    let manifest = format!(
        r#"{{
  "name": "tidings-client",
  "version": "{}",
  "description": "Live events for the browser: EventSource driven by Tidings' client state machine (wasm)",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "module": "{GLUE_FILE}",
  "main": "{GLUE_FILE}",
  "types": "client_wasm.d.ts",
  "files": {files},
  "sideEffects": ["./snippets/*"]
}}
"#,
        env!("CARGO_PKG_VERSION"),
        files = json_array(&files),
    );
    fs::write(pkg.join("package.json"), manifest)?;
    Ok(())
}

fn json_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)
        .map_err(|e| StepFailed(format!("{}: {e}", path.display())))?
        .len())
}

fn gzipped_size(path: &Path) -> Result<u64> {
    let out = cmd("gzip", &["-9", "-c", &path.to_string_lossy()])
        .output()
        .map_err(|e| StepFailed(format!("cannot run gzip: {e}")))?;
    if !out.status.success() {
        return fail(format!("gzip {} failed", path.display()));
    }
    Ok(out.stdout.len() as u64)
}

/// Runs client-wasm's wasm-bindgen tests in headless Chromium (chromedriver).
pub fn test_browser() -> Result {
    let chromedriver = probe("which", &["chromedriver"]).unwrap_or_else(|| "chromedriver".into());
    // No `--quiet`: cargo passes it on to the test binary, and
    // wasm-bindgen-test-runner 0.2.129 rejects it ("unexpected argument").
    let mut c = cmd(
        "cargo",
        &[
            "test",
            "-p",
            "client-wasm",
            "--target",
            "wasm32-unknown-unknown",
        ],
    );
    c.env("CHROMEDRIVER", chromedriver)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "60");
    run_counted(&mut c)
}

/// Runs the end-to-end tests: installs e2e/'s npm packages when missing,
/// builds `tidings` and the wasm package, then `node --test` in e2e/ (the
/// tests start and stop the server themselves).
pub fn test_e2e() -> Result {
    browser_prerequisites()?;
    let tidings = target_dir().join("debug/tidings");
    let mut c = cmd(
        "node",
        &[
            "--test",
            "--test-concurrency=1",
            // A test that hangs (a socket left open after a failure) fails
            // after this instead of stalling CI.
            "--test-timeout=180000",
            "--test-reporter=tap",
            "tests/",
        ],
    );
    c.current_dir(root().join("e2e"))
        .env("TIDINGS_BIN", tidings)
        .env("TIDINGS_WWW", root().join("www"));
    run_counted(&mut c)
}

/// Builds what the browser scripts need: `tidings` (debug) and the wasm package.
fn browser_prerequisites() -> Result {
    install::e2e_packages()?;
    run(&mut cmd(
        "cargo",
        &["build", "--quiet", "-p", "host-native", "--bin", "tidings"],
    ))?;
    build()
}

/// `cargo xtask screenshot`: rewrites `docs/screenshot.png` (the README
/// picture) from a real server and Chromium: `node e2e/screenshot.js`.
pub fn screenshot() -> Result {
    install::chromium()?;
    browser_prerequisites()?;
    let mut c = cmd("node", &["screenshot.js"]);
    c.current_dir(root().join("e2e"))
        .env("TIDINGS_BIN", target_dir().join("debug/tidings"))
        .env("TIDINGS_WWW", root().join("www"));
    run(&mut c)
}

/// `cargo xtask bench-dashboard`: the dashboard's main-thread time per
/// applied event in Chromium, 1,000 tasks, 200 events/s (a benchmark, not a
/// test: it prints figures and asserts nothing). Uses a release `tidings`.
pub fn bench_dashboard() -> Result {
    install::chromium()?;
    install::e2e_packages()?;
    run(&mut cmd(
        "cargo",
        &[
            "build",
            "--quiet",
            "--release",
            "-p",
            "host-native",
            "--bin",
            "tidings",
        ],
    ))?;
    build()?;
    let mut c = cmd("node", &["bench/main-thread.js"]);
    c.current_dir(root().join("e2e"))
        .env("TIDINGS_BIN", target_dir().join("release/tidings"))
        .env("TIDINGS_WWW", root().join("www"));
    run(&mut c)
}
