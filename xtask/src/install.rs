//! Installing what the build and tests need on a fresh machine. Each step
//! checks first and does nothing when the tool is already there.

use crate::util::{cmd, fail, probe, run, Result};

/// wasm-bindgen-cli must be the exact version of the `wasm-bindgen` crate
/// pinned in the root Cargo.toml (`=0.2.129`): a mismatch fails when the
/// generated glue is loaded. Change both together.
pub const WASM_BINDGEN_VERSION: &str = "0.2.129";

/// The Rust target for the browser.
pub fn wasm_target() -> Result {
    let installed = probe("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    run(&mut cmd(
        "rustup",
        &["target", "add", "wasm32-unknown-unknown"],
    ))
}

/// `wasm-bindgen` and `wasm-bindgen-test-runner` at [`WASM_BINDGEN_VERSION`].
pub fn wasm_bindgen_cli() -> Result {
    let have = probe("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(WASM_BINDGEN_VERSION) {
        return Ok(());
    }
    run(&mut cmd(
        "cargo",
        &[
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
            "--locked",
        ],
    ))
}

/// Debian's Chromium and its driver, for the browser tests.
pub fn chromium() -> Result {
    if probe("chromium", &["--version"]).is_some()
        && probe("chromedriver", &["--version"]).is_some()
    {
        return Ok(());
    }
    let root = probe("id", &["-u"]).as_deref() == Some("0");
    let sudo: &[&str] = if root { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let all: Vec<&str> = sudo
            .iter()
            .chain(["apt-get"].iter())
            .chain(args.iter())
            .copied()
            .collect();
        let mut c = cmd(all[0], &all[1..]);
        c.env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut c)
    };
    apt(&["update"])?;
    apt(&[
        "install",
        "-y",
        "--no-install-recommends",
        "chromium",
        "chromium-driver",
    ])?;
    if probe("chromedriver", &["--version"]).is_none() {
        return fail("chromium-driver installed but chromedriver is not on PATH");
    }
    Ok(())
}

/// e2e/'s npm packages (Playwright's core, binaryen's wasm-opt), from its
/// package-lock.json with `npm ci`, when node_modules is missing or older than
/// the lock file.
pub fn e2e_packages() -> Result {
    let e2e = crate::util::root().join("e2e");
    let lock = e2e.join("package-lock.json");
    let stamp = e2e.join("node_modules/.package-lock.json");
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(installed), Some(locked)) = (modified(&stamp), modified(&lock)) {
        if installed >= locked {
            return Ok(());
        }
    }
    if probe("npm", &["--version"]).is_none() {
        return fail("npm is missing: install Node.js 20 or newer (it brings npm)");
    }
    let mut c = cmd("npm", &["ci", "--no-audit", "--no-fund"]);
    c.current_dir(&e2e);
    run(&mut c)
}
