//! Every output chunk's `id:` is the byte offset just past it in the task's
//! log: each chunk is exactly the log's bytes since the previous id, `ready`
//! names the task and the log's span when the stream opened, and the
//! response is an SSE stream.

mod common;
mod output_support;

use common::start;
use output_support::read_to_end;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_chunk_is_the_log_bytes_up_to_its_id() {
    let server = start(|_| {}).await;
    let id = server
        .create_task("for i in 1 2 3 4 5; do echo line $i; sleep 0.15; done")
        .await;
    let mut sse = server.output_stream(&id, "", &[]).await;
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    assert_eq!(
        sse.headers["cache-control"],
        "no-cache, no-store, must-revalidate"
    );
    assert_eq!(sse.headers["x-accel-buffering"], "no");
    let seen = read_to_end(&mut sse).await;
    assert_eq!(seen.ready["task_id"], id.as_str());
    assert_eq!(seen.ready["start"], 0);
    assert_eq!(seen.ready["heartbeat_ms"], 15_000);
    let opened_end = seen.ready["end"].as_u64().expect("end");

    let (start, log) = server.log(&id);
    assert_eq!(start, 0);
    assert!(opened_end <= log.len() as u64);
    let mut prev = 0u64;
    for (offset, text, _) in &seen.chunks {
        assert!(
            *offset > prev,
            "ids strictly increase: {offset} after {prev}"
        );
        let bytes = &log[prev as usize..*offset as usize];
        assert_eq!(text, &String::from_utf8_lossy(bytes), "{prev}..{offset}");
        prev = *offset;
    }
    assert_eq!(prev, log.len() as u64, "the whole log was sent");
    assert!(seen.text().ends_with("line 5\r\n"), "{:?}", seen.text());
    assert!(
        seen.chunks.len() >= 3,
        "lines 150 ms apart come as they are printed: {:?}",
        seen.chunks
    );
    // The wire form: the id line first, then the event name, then the data.
    let first = seen.chunks[0].0;
    let raw = String::from_utf8_lossy(&sse.raw);
    assert!(
        raw.contains(&format!("\nid: {first}\nevent: output\ndata: {{\"text\":")),
        "{raw}"
    );

    // Opened after the task finished: `ready` names the whole log.
    let mut again = server.output_stream(&id, "", &[]).await;
    let all = read_to_end(&mut again).await;
    assert_eq!(all.ready["end"], log.len() as u64);
    assert_eq!(all.text(), String::from_utf8_lossy(&log));
    server.running.shutdown().await;
}
