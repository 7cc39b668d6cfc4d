//! The data directory is private to its user: the directory and its folders
//! are 0700 and every file the server writes in it (records, logs, the lock,
//! the reserved sequence) is 0600, also when the directory was created
//! wider by an older version.

mod serve_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serve_support::Serve;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every folder and file under `dir`, with its mode.
fn modes(dir: &Path) -> Vec<(String, bool, u32)> {
    let mut out = vec![(dir.display().to_string(), true, mode(dir))];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            let is_dir = path.is_dir();
            out.push((path.display().to_string(), is_dir, mode(&path)));
            if is_dir {
                stack.push(path);
            }
        }
    }
    out
}

#[test]
fn every_folder_is_0700_and_every_file_0600() {
    let parent = tempfile::tempdir().expect("temp dir");
    // An existing directory as older versions left it: 0755, a 0644 log.
    let data = parent.path().join("data");
    std::fs::create_dir_all(data.join("tasks")).expect("mkdir");
    for dir in [&data, &data.join("tasks")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let old_log = data.join("tasks").join("old.log");
    std::fs::write(&old_log, b"old output\n").expect("write");
    std::fs::set_permissions(&old_log, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let serve = Serve::start(&data, &[], &[]);
    let task = serve.create("echo some output");
    let id = task["id"].as_str().expect("an id").to_owned();
    serve.wait_task(&id, "completion", |t| t["status"] == "completed");
    let (status, _) = serve.json(
        "POST",
        &format!("/api/tasks/{id}/rename"),
        Some(r#"{"name":"renamed"}"#),
    );
    assert_eq!(status, 200);

    let all = modes(&data);
    let files: Vec<&str> = all
        .iter()
        .filter(|(_, d, _)| !d)
        .map(|(p, _, _)| p.as_str())
        .collect();
    for suffix in ["lock", "seq", &format!("{id}.json"), &format!("{id}.log")] {
        assert!(
            files.iter().any(|f| f.ends_with(suffix)),
            "{suffix} in {files:?}"
        );
    }
    for (path, is_dir, mode) in &all {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{path} is {mode:o}");
    }
    serve.stop();
}
