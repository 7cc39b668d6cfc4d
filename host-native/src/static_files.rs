//! Static files from `www/`, with no way out of it.
//!
//! The path is percent-decoded once, every segment is checked (no `..`, no
//! `.` tricks, no separators or NUL smuggled in by encoding), and the file
//! found is canonicalised and must still lie inside the canonical root, which
//! also rules out symlinks that point elsewhere.

use std::path::{Path, PathBuf};

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};

use crate::body::Body;
use crate::error::ApiError;

/// The static file root (canonicalised at start).
#[derive(Clone, Debug)]
pub struct StaticFiles {
    root: Option<PathBuf>,
}

impl StaticFiles {
    /// Serves `root`, or nothing when it is `None` or missing.
    pub fn new(root: Option<&Path>) -> Self {
        StaticFiles {
            root: root.and_then(|r| r.canonicalize().ok()),
        }
    }

    /// The canonical root, if any.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Answers `GET`/`HEAD` for `path`.
    pub async fn serve(&self, method: &Method, path: &str) -> Result<Response<Body>, ApiError> {
        if *method != Method::GET && *method != Method::HEAD {
            return Err(ApiError::MethodNotAllowed { allow: "GET, HEAD" });
        }
        let not_found = || ApiError::NotFound(format!("no such file: {path}"));
        let root = self.root.as_ref().ok_or_else(not_found)?;
        let relative = safe_relative(path).ok_or_else(not_found)?;
        let mut file = root.join(relative);
        if file.is_dir() {
            file.push("index.html");
        }
        let file = file.canonicalize().map_err(|_| not_found())?;
        if !file.starts_with(root) || !file.is_file() {
            return Err(not_found());
        }
        let bytes = tokio::fs::read(&file).await.map_err(|_| not_found())?;
        let len = bytes.len();
        let mut response = Response::new(if *method == Method::HEAD {
            Body::empty()
        } else {
            Body::full(bytes)
        });
        *response.status_mut() = StatusCode::OK;
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&file)));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        if *method == Method::HEAD {
            h.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        Ok(response)
    }
}

/// The request path as a relative path under the root, or `None` when any
/// decoded segment could step outside it.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let mut out = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return None,
            s if s.contains(['\\', '\0', ':']) => return None,
            s => out.push(s),
        }
    }
    Some(out)
}

/// The content type by extension.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_segments_are_refused() {
        assert_eq!(safe_relative("/a/b.js"), Some(PathBuf::from("a/b.js")));
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        for bad in [
            "/../x",
            "/a/%2e%2e/%2e%2e/x",
            "/a/..%2fx",
            "/%2e%2e%5cx",
            "/a%00b",
            "/c:x",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
        // An encoded slash only ever names a deeper file, never an absolute one.
        assert_eq!(
            safe_relative("/%2fetc%2fpasswd"),
            Some(PathBuf::from("etc/passwd"))
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(
            content_type(Path::new("a.js")),
            "text/javascript; charset=utf-8"
        );
    }
}
