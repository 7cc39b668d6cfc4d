//! After `kill -9` of the real binary, a restarted server never hands out a
//! `SEQ` again (not for `POST /api/events`, not for task events), and every
//! change that was acknowledged survived.

mod serve_support;

use serde_json::Value;
use serve_support::{seq, Serve};

fn task_by_id<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("{id} is listed: {list}"))
}

#[test]
fn seq_never_repeats_and_acknowledged_changes_survive_kill_9() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut handed_out: Vec<u64> = Vec::new();

    let a = Serve::start(data.path(), &[], &[]);
    for n in 0..30 {
        handed_out.push(seq(&a.publish(n)));
    }
    let mut sleepers = Vec::new();
    for i in 0..3 {
        let task = a.create("sleep 300");
        let id = task["id"].as_str().expect("id").to_owned();
        handed_out.push(task["version"].as_u64().expect("version"));
        let (status, renamed) = a.json(
            "POST",
            &format!("/api/tasks/{id}/rename"),
            Some(&format!(r#"{{"name":"kept-{i}"}}"#)),
        );
        assert_eq!(status, 200, "{renamed}");
        handed_out.push(renamed["version"].as_u64().expect("version"));
        sleepers.push(id);
    }
    let (status, killed) = a.json("DELETE", &format!("/api/tasks/{}", sleepers[0]), None);
    assert_eq!(status, 200, "{killed}");
    let killed_version = killed["version"].as_u64().expect("version");
    handed_out.push(killed_version);
    for n in 30..40 {
        handed_out.push(seq(&a.publish(n)));
    }
    let head = a.json("GET", "/api/health", None).1["head"]
        .as_str()
        .map(seq)
        .expect("a head");
    let before = *handed_out.iter().max().expect("seqs");
    assert_eq!(head, before, "the health head is the newest SEQ");
    a.kill9();

    let b = Serve::start(data.path(), &[], &[]);
    let (_, list) = b.json("GET", "/api/tasks", None);
    let cursor = list["cursor"].as_str().map(seq).expect("a cursor");
    assert!(
        cursor >= before,
        "the new epoch starts above every SEQ handed out"
    );
    for (i, id) in sleepers.iter().enumerate() {
        let task = task_by_id(&list, id);
        assert_eq!(
            task["name"],
            format!("kept-{i}"),
            "the rename survived: {task}"
        );
        if i == 0 {
            assert_eq!(task["status"], "killed", "{task}");
            assert_eq!(task["version"], killed_version, "{task}");
        } else {
            // Lost with the server, announced in the new epoch.
            assert_eq!(task["status"], "error", "{task}");
            assert!(
                task["version"].as_u64().expect("version") > before,
                "{task}"
            );
        }
    }
    let mut after = Vec::new();
    for n in 0..30 {
        after.push(seq(&b.publish(n)));
    }
    assert!(
        after.iter().all(|s| *s > before),
        "no SEQ handed out again: {after:?} vs at most {before}"
    );
    assert!(after.windows(2).all(|w| w[0] < w[1]));
    let b_max = *after.last().expect("seqs");
    b.kill9();

    // Killed right after publishing, once more.
    let c = Serve::start(data.path(), &[], &[]);
    let first_c = seq(&c.publish(0));
    assert!(first_c > b_max, "{first_c} after {b_max}");
    c.stop();
}
