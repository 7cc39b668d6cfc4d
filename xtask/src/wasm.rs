//! Building the wasm client into www/pkg and testing it in a real Chromium.
//! (Owned by the client-wasm work; placeholders until it lands.)

use crate::util::Result;

/// Builds client-wasm (release, size-optimised) into `www/pkg/`.
pub fn build() -> Result {
    Ok(())
}

/// Runs client-wasm's wasm-bindgen tests in headless Chromium.
pub fn test_browser() -> Result {
    Ok(())
}

/// Runs the end-to-end tests in headless Chromium against a real server.
pub fn test_e2e() -> Result {
    Ok(())
}
