//! `truncated {"from": N}` when the asked offset is older than the log still
//! keeps (`--task-log-max`): the stream says from where it goes on — the
//! first whole character at or after the log's start — and its text from
//! there is the log's.

mod common;
mod output_support;

use common::start;
use output_support::read_to_end;

const CAP: u64 = 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_older_than_the_kept_log_is_truncated_to_its_start() {
    let server = start(|c| c.task_log_max = CAP).await;
    let id = server
        .create_task("i=0; while [ $i -lt 400 ]; do echo \"line $i\"; i=$((i+1)); done")
        .await;
    server.wait_final(&id).await;
    let (start, log) = server.log(&id);
    assert!(start > 0, "older output was dropped");

    for (query, headers) in [
        ("", vec![]),
        ("?from=0", vec![]),
        ("", vec![("last-event-id", "5")]),
    ] {
        let mut sse = server.output_stream(&id, query, &headers).await;
        let seen = read_to_end(&mut sse).await;
        assert_eq!(seen.ready["start"], start);
        assert_eq!(
            seen.truncated,
            vec![(0, start)],
            "one truncated, before any chunk: {query} {headers:?}"
        );
        assert_eq!(seen.text(), String::from_utf8_lossy(&log));
        assert!(seen.text().ends_with("line 399\r\n"));
        assert_eq!(seen.end.as_deref(), Some("finished"));
    }
    // From the start itself: nothing was lost, nothing is said.
    let mut exact = server
        .output_stream(&id, &format!("?from={start}"), &[])
        .await;
    let seen = read_to_end(&mut exact).await;
    assert!(seen.truncated.is_empty());
    assert_eq!(seen.text(), String::from_utf8_lossy(&log));
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_inside_a_character_goes_on_from_the_next_whole_one() {
    let server = start(|c| c.task_log_max = CAP).await;
    // Three-byte characters in 23-byte writes, paced so that each is read
    // on its own: every compaction keeps the newest 512 bytes of a log
    // ending at a write's end, so the log starts at byte 17 of a write —
    // the last byte of a `€`.
    let id = server
        .create_task(
            "i=0; while [ $i -lt 90 ]; do printf '€€€€€€€ab'; i=$((i+1)); sleep 0.002; done",
        )
        .await;
    server.wait_final(&id).await;
    let (start, log) = server.log(&id);
    assert!(start > 0);
    let mut sse = server.output_stream(&id, "", &[]).await;
    let seen = read_to_end(&mut sse).await;
    let [(0, from)] = seen.truncated[..] else {
        panic!("one truncated first: {seen:?}");
    };
    let skipped = (from - start) as usize;
    let tail = log.iter().take_while(|b| *b & 0xc0 == 0x80).count();
    assert!(
        tail > 0,
        "the log starts inside a character: {:x?}",
        &log[..4]
    );
    assert_eq!(skipped, tail, "exactly the character's tail is skipped");
    assert!(log[skipped] & 0xc0 != 0x80, "it goes on at a character");
    assert_eq!(seen.text(), String::from_utf8_lossy(&log[skipped..]));
    assert!(
        !seen.text().contains('\u{FFFD}'),
        "no replacement from the cut"
    );
    server.running.shutdown().await;
}
