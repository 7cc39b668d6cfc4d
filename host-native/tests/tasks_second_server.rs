//! A second `tidings serve` on a data directory another server holds exits
//! non-zero with a clear message and touches nothing: the first server's
//! live task keeps running and no file of the directory changes.

mod serve_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serve_support::{command, pid_alive, Serve};

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let meta = std::fs::metadata(&path).expect("meta");
                let bytes = std::fs::read(&path).expect("read");
                out.insert(
                    path.display().to_string(),
                    (bytes, meta.modified().expect("mtime")),
                );
            }
        }
    }
    out
}

#[test]
fn a_second_server_on_the_same_data_directory_refuses_and_touches_nothing() {
    let data = tempfile::tempdir().expect("temp dir");
    let first = Serve::start(data.path(), &[], &[]);
    let task = first.create("echo started; sleep 300");
    let id = task["id"].as_str().expect("an id").to_owned();
    let pid = u32::try_from(task["pid"].as_u64().expect("a pid")).expect("fits");
    first.wait_task(&id, "its output", |t| {
        t["recent_output"]
            .as_str()
            .is_some_and(|o| o.contains("started"))
    });
    // Let the first server settle (no write in flight) before the snapshot.
    std::thread::sleep(Duration::from_millis(300));
    let before = snapshot(data.path());

    let mut second = command()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--token",
            serve_support::TOKEN,
        ])
        .arg("--data")
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the second server runs");
    let began = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().expect("wait") {
            break status;
        }
        if began.elapsed() > Duration::from_secs(5) {
            let _ = second.kill();
            let _ = second.wait();
            panic!("the second server is still running after 5 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "{status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert!(
        stderr.contains("in use by another tidings server"),
        "a clear message: {stderr}"
    );
    assert!(stderr.contains(&format!("pid {}", first.pid())), "{stderr}");

    assert!(pid_alive(pid), "the first server's task still runs");
    assert_eq!(snapshot(data.path()), before, "no file was touched");
    let (status, listed) = first.json("GET", &format!("/api/tasks/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(listed["status"], "running", "{listed}");

    // Once the first server is gone, the directory is free again.
    first.kill9();
    let third = Serve::start(data.path(), &[], &[]);
    let (status, after) = third.json("GET", &format!("/api/tasks/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(after["status"], "error", "{after}");
    third.stop();
}
