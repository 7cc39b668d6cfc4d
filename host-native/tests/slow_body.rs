//! A request body must arrive within `--body-read-timeout`: a client that
//! announces 64 KiB and sends nothing (or stops halfway) gets `408` with a
//! JSON error, and its connection is closed instead of kept for ever.

mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{start, TOKEN};

const DEADLINE: Duration = Duration::from_millis(400);

/// Sends a POST head announcing 64 KiB plus `sent` of the body, then reads
/// until the server closes: (the answer, how long after the head it came).
async fn announce_and_stall(addr: std::net::SocketAddr, sent: &[u8]) -> (String, Duration) {
    let mut tcp = TcpStream::connect(addr).await.expect("connects");
    let head = format!(
        "POST /api/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n"
    );
    tcp.write_all(head.as_bytes())
        .await
        .expect("writes the head");
    tcp.write_all(sent).await.expect("writes part of the body");
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the server gives up on the body and closes")
        .ok();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408_and_the_connection_closes() {
    let server = start(|c| c.body_read_timeout = DEADLINE).await;
    let head = server.running.hub.cursor();
    for sent in [&b""[..], &br#"{"type":"trigger.fired","data":{"pad":""#[..]] {
        let (answer, after) = announce_and_stall(server.running.addr, sent).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{answer}"
        );
        assert!(answer.contains(r#"{"error":"#), "{answer}");
        assert!(after >= DEADLINE - Duration::from_millis(50), "{after:?}");
        assert!(after < DEADLINE + Duration::from_secs(2), "{after:?}");
    }
    assert_eq!(server.running.hub.cursor(), head, "nothing was published");
    // Bodies that do arrive are unaffected.
    server.post_event("trigger.fired", 1).await;
    server.running.shutdown().await;
}
