//! Requests whose client hung up before a worker took them are not run.
//!
//! It tells that the server has closed a connection by the process's open
//! descriptors, so it is a binary of its own: no other test opens or closes
//! sockets beside it.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::{body, get, post, Client, WAIT};
use http_types::{Request, ResponseBuilder};
use server::ServerBuilder;

/// Descriptors the process has open.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Wait (bounded) until the process has `n` descriptors open.
fn wait_for_descriptors(n: usize) {
    let deadline = Instant::now() + WAIT;
    while open_descriptors() != n {
        assert!(
            Instant::now() < deadline,
            "expected {n} open descriptors, have {}",
            open_descriptors()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn requests_queued_behind_a_client_that_reset_are_not_run() {
    const BEHIND: usize = 8;
    const BODY: usize = 64 * 1024;
    let counted = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
    let handler = {
        let counted = Arc::clone(&counted);
        move |req: Request| {
            if req.path() == "/hold" {
                // Keep the only worker busy until the test says so.
                let _ = entered_tx.lock().unwrap().send(());
                let _ = release_rx.lock().unwrap().recv_timeout(WAIT);
            }
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseBuilder::empty_200()
                .body(n.to_string())
                .build()
                .unwrap()
        }
    };
    // A body budget that holds one body: a share not given back by the
    // request dropped unrun would keep every later body out.
    let server = ServerBuilder::new()
        .bind("127.0.0.1:0")
        .workers(1)
        .limits(http_codec::Limits {
            max_body_bytes: BODY as u64,
            ..http_codec::Limits::default()
        })
        .max_body_memory(BODY)
        .start(handler)
        .expect("server starts");
    let before = open_descriptors();

    // One write: the hold, then requests queued behind it for the same
    // (only) worker.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.connect(&server.local_addr().into()).unwrap();
    let mut client = Client::from_stream(socket.into());
    let mut requests = get("/hold");
    requests.extend_from_slice(&post("/count", &"b".repeat(BODY)));
    for _ in 1..BEHIND {
        requests.extend_from_slice(&get("/count"));
    }
    client.send(&requests);
    entered.recv_timeout(WAIT).expect("the handler holds");
    // Our socket and the server's.
    wait_for_descriptors(before + 2);

    // Hang up with a reset, then wait until the server has closed its side.
    let socket = socket2::Socket::from(client.stream);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(socket);
    wait_for_descriptors(before);
    release.send(()).unwrap();

    // The worker takes this after the abandoned batch: of those, only the
    // hold ran.
    // Its body is admitted only if the dropped request's share came back.
    let mut other = Client::connect(server.local_addr());
    other.send(
        format!("POST /count HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: {BODY}\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(other.response().status().as_u16(), 100);
    other.send("b".repeat(BODY).as_bytes());
    let response = other.response();
    assert_eq!(
        body(&response),
        "2",
        "only the hold ran before this request"
    );
    assert_eq!(counted.load(Ordering::SeqCst), 2);
    server.shutdown();
}
