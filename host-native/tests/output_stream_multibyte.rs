//! UTF-8 sequences stay whole: a task printing multibyte characters one
//! byte at a time (each byte a separate write, read on its own) gets each
//! character in one chunk, never a U+FFFD; a long run of multibyte text cut
//! into 64 KiB frames is cut between characters; ids stay byte offsets, so
//! a resumption from any chunk's id goes on with whole characters. A byte
//! that is not UTF-8 at all is one U+FFFD, and the offsets still count it.

mod common;
mod output_support;

use common::start;
use output_support::{read_to_end, Seen};

/// Every chunk is whole characters: no replacement, and its id falls on a
/// character boundary of the log.
fn assert_whole(seen: &Seen, log: &[u8]) {
    let mut prev = 0usize;
    for (id, text, _) in &seen.chunks {
        let id = *id as usize;
        assert!(!text.contains('\u{FFFD}'), "a replacement in {text:?}");
        assert!(
            std::str::from_utf8(&log[prev..id]).is_ok(),
            "chunk {prev}..{id} is whole characters"
        );
        prev = id;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn characters_written_a_byte_at_a_time_arrive_whole() {
    let server = start(|_| {}).await;
    // é (c3 a9), € (e2 82 ac), 😀 (f0 9f 98 80), each byte its own write.
    let bytes = [
        "\\303", "\\251", "\\342", "\\202", "\\254", "\\360", "\\237", "\\230", "\\200",
    ];
    let script: Vec<String> = bytes
        .iter()
        .map(|b| format!("printf '{b}'; sleep 0.12"))
        .collect();
    let id = server.create_task(&script.join("; ")).await;
    let mut sse = server.output_stream(&id, "", &[]).await;
    let seen = read_to_end(&mut sse).await;
    assert_eq!(seen.text(), "é€😀");
    let ids: Vec<u64> = seen.chunks.iter().map(|c| c.0).collect();
    assert_eq!(ids, [2, 5, 9], "one chunk per character, at its end");
    let (_, log) = server.log(&id);
    assert_eq!(log, "é€😀".as_bytes());
    // Resuming from every id, and from every byte offset, gives the rest
    // decoded from there.
    for from in 0..=log.len() {
        let mut sse = server
            .output_stream(&id, &format!("?from={from}"), &[])
            .await;
        let rest = read_to_end(&mut sse).await;
        assert_eq!(rest.text(), String::from_utf8_lossy(&log[from..]), "{from}");
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_cuts_fall_between_characters() {
    let server = start(|_| {}).await;
    // 20,000 lines of ten `€`: about 620 KB, many 64 KiB frames.
    let id = server.create_task("yes '€€€€€€€€€€' | head -n 20000").await;
    server.wait_final(&id).await;
    let (_, log) = server.log(&id);
    let mut sse = server.output_stream(&id, "", &[]).await;
    let seen = read_to_end(&mut sse).await;
    assert!(seen.chunks.len() >= 9, "{} chunks", seen.chunks.len());
    assert_whole(&seen, &log);
    assert_eq!(seen.text(), String::from_utf8_lossy(&log));
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_byte_is_one_replacement_and_still_counted() {
    let server = start(|_| {}).await;
    let id = server.create_task("printf 'a\\377b'").await;
    let mut sse = server.output_stream(&id, "", &[]).await;
    let seen = read_to_end(&mut sse).await;
    assert_eq!(seen.text(), "a\u{FFFD}b");
    assert_eq!(seen.last_id(), Some(3));
    server.running.shutdown().await;
}
