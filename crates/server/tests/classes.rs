//! The scheduling classes of the server's threads, on Linux: with batch
//! workers (the default), the thread that drives the event loop is in the
//! default class and the others in the batch class, also after a worker
//! has taken the loop over from a thread held in a handler. On its own
//! in this binary, since it looks at every thread of the process.
#![cfg(target_os = "linux")]

mod common;

use std::time::Instant;

use common::{blocking_echo, body, get, warm_up, Client, WAIT};
use server::{QuickBatches, ServerBuilder};

const SCHED_OTHER: u32 = 0;
const SCHED_BATCH: u32 = 3;

/// The name and scheduling policy of each thread of this process.
fn threads() -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("tasks") {
        let path = task.expect("task").path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("stat")),
        ) else {
            // Ended meanwhile.
            continue;
        };
        // Field 41 (policy); the fields after the name start at field 3.
        let after_name = &stat[stat.rfind(')').expect("stat") + 1..];
        let policy = after_name
            .split_whitespace()
            .nth(41 - 3)
            .and_then(|p| p.parse().ok())
            .expect("policy");
        out.push((comm.trim().to_owned(), policy));
    }
    out
}

/// The server's loop and worker threads in each class: (default, batch).
fn classes() -> (Vec<String>, Vec<String>) {
    let (mut normal, mut batch) = (Vec::new(), Vec::new());
    for (name, policy) in threads() {
        if !name.starts_with("http-loop") && !name.starts_with("http-worker") {
            continue;
        }
        match policy {
            SCHED_OTHER => normal.push(name),
            SCHED_BATCH => batch.push(name),
            other => panic!("{name} in class {other}"),
        }
    }
    normal.sort();
    batch.sort();
    (normal, batch)
}

/// Wait until `f` holds of the classes (bounded), and return them.
fn classes_once(f: impl Fn(&[String], &[String]) -> bool) -> (Vec<String>, Vec<String>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (normal, batch) = classes();
        if f(&normal, &batch) || Instant::now() > deadline {
            return (normal, batch);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn the_thread_that_drives_the_loop_is_in_the_default_class() {
    if threads().iter().any(|(_, policy)| *policy != SCHED_OTHER) {
        // Run under another class (say `chrt`): threads keep it.
        return;
    }
    let (handler, entered, release) = blocking_echo();
    let server = ServerBuilder::new()
        .bind("127.0.0.1:0")
        .workers(2)
        .quick_batches(QuickBatches::Reader)
        .start(handler)
        .expect("server starts");
    let addr = server.local_addr();
    let (normal, batch) = classes_once(|n, b| n.len() == 1 && b.len() == 2);
    assert_eq!(normal, ["http-loop-0"]);
    assert_eq!(batch, ["http-worker-0", "http-worker-1"]);

    // The loop's thread blocks in a handler of a quick batch; a worker
    // takes the loop over and answers another connection.
    warm_up(addr);
    let mut blocked = Client::connect(addr);
    blocked.send(&get("/block"));
    entered.recv_timeout(WAIT).expect("the handler runs");
    let mut other = Client::connect(addr);
    other.send(&get("/other"));
    assert_eq!(body(&other.response()), "/other ");
    release.send(()).unwrap();
    assert_eq!(body(&blocked.response()), "/block ");

    // The worker that drives the loop now is in the default class; the
    // thread that drove it before has become a worker in the batch class.
    let (normal, batch) = classes_once(|n, b| {
        n.len() == 1 && n[0].starts_with("http-worker") && b.contains(&"http-loop-0".to_owned())
    });
    assert_eq!(normal.len(), 1, "one thread drives the loop: {normal:?}");
    assert!(normal[0].starts_with("http-worker"), "{normal:?}");
    assert_eq!(batch.len(), 2, "{batch:?}");
    assert!(batch.contains(&"http-loop-0".to_owned()), "{batch:?}");
    server.shutdown();
}
