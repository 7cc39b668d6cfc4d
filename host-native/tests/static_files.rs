//! Static files: index at `/`, content types, and no way out of `www/`.

mod common;

use hyper::Request;

use common::start;

fn www() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("a temp dir");
    let www = root.path().join("www");
    std::fs::create_dir_all(www.join("pkg")).expect("mkdir");
    std::fs::write(www.join("index.html"), "<!doctype html><title>t</title>").expect("write");
    std::fs::write(www.join("app.js"), "export {}").expect("write");
    std::fs::write(www.join("pkg/client.wasm"), b"\0asm\x01\0\0\0").expect("write");
    std::fs::write(www.join("style.css"), "a{}").expect("write");
    std::fs::write(root.path().join("secret.txt"), "top secret").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.txt"), www.join("link.txt"))
        .expect("symlink");
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_served_with_their_content_types_and_index_at_the_root() {
    let root = www();
    let dir = root.path().join("www");
    let server = start(|c| c.www = Some(dir)).await;
    for (path, ct, body) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<!doctype html><title>t</title>",
        ),
        (
            "/index.html",
            "text/html; charset=utf-8",
            "<!doctype html><title>t</title>",
        ),
        ("/app.js", "text/javascript; charset=utf-8", "export {}"),
        ("/style.css", "text/css; charset=utf-8", "a{}"),
    ] {
        let (status, headers, text) = server
            .send(Request::get(format!("{}{path}", server.base)), "")
            .await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(headers["content-type"], ct, "{path}");
        assert_eq!(text, body);
    }
    let (status, headers, _) = server
        .send(Request::get(format!("{}/pkg/client.wasm", server.base)), "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/wasm");
    let (status, headers, text) = server
        .send(Request::head(format!("{}/app.js", server.base)), "")
        .await;
    assert_eq!((status.as_u16(), text.as_str()), (200, ""));
    assert_eq!(headers["content-length"], "9");
    let (status, headers, _) = server
        .send(Request::post(format!("{}/app.js", server.base)), "")
        .await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "GET, HEAD");
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_path_leads_out_of_www() {
    let root = www();
    let dir = root.path().join("www");
    let server = start(|c| c.www = Some(dir)).await;
    let addr = server.running.addr;
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/pkg/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/link.txt",
        "/%2fetc%2fpasswd",
        "//etc/passwd",
        "/nope.html",
        "/index.html%00.js",
    ] {
        // Raw request line: a client library would normalise the dots away.
        let text = raw_get(addr, path).await;
        let status_line = text.lines().next().unwrap_or("");
        assert!(
            status_line.contains(" 404 ") || status_line.contains(" 400 "),
            "{path}: {status_line}"
        );
        assert!(!text.contains("top secret"), "{path} leaked the file");
        assert!(!text.contains("root:"), "{path} leaked /etc/passwd");
    }
    server.running.shutdown().await;
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.expect("writes");
    let mut out = Vec::new();
    tokio::time::timeout(common::PATIENCE, tcp.read_to_end(&mut out))
        .await
        .expect("an answer in time")
        .expect("reads");
    String::from_utf8_lossy(&out).into_owned()
}
