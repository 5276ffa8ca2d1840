//! The scheduling classes of the server's threads, on Linux: with batch
//! workers (the default), the thread that drives the event loop is in the
//! default class and the others in the batch class, also after a worker
//! has taken the loop over from a thread held in a handler. On its own
//! in this binary, since it looks at every thread of the process.
#![cfg(target_os = "linux")]

mod common;

use std::sync::{mpsc, Mutex};
use std::time::Instant;

use common::{body, get, Client, WAIT};
use http_types::{Request, ResponseBuilder};

const SCHED_OTHER: u32 = 0;
const SCHED_BATCH: u32 = 3;

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

/// The calling thread's name and scheduling policy.
fn this_thread() -> (String, u32) {
    let name = std::thread::current().name().unwrap_or("").to_owned();
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
    (name, policy_in(&stat))
}

/// The policy in the text of a `stat` file: field 41; the fields after the
/// name (which may hold spaces) start at field 3.
fn policy_in(stat: &str) -> u32 {
    let after_name = &stat[stat.rfind(')').expect("stat") + 1..];
    after_name
        .split_whitespace()
        .nth(41 - 3)
        .and_then(|p| p.parse().ok())
        .expect("policy")
}

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
        out.push((comm.trim().to_owned(), policy_in(&stat)));
    }
    out
}

/// The policy of the server thread called `name`.
fn policy_of(name: &str) -> Option<u32> {
    threads()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p)
}

/// Wait (bounded) until `f` holds.
fn eventually(f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while !f() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    true
}

/// A handler that answers `/block` and `/report` with the name and class
/// of the thread that ran it (reading them is slow, so other requests,
/// which keep the handlers' average quick, get no report); `/block` says
/// so first (on the returned receiver) and then waits for a release, or
/// for the test to end and drop the sender.
fn reporting() -> (
    impl server::Handler,
    mpsc::Receiver<(String, u32)>,
    mpsc::Sender<()>,
) {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
    let handler = move |req: Request| {
        let body = match req.path() {
            "/block" | "/report" => {
                let (name, policy) = this_thread();
                if req.path() == "/block" {
                    let _ = entered_tx.lock().unwrap().send((name.clone(), policy));
                    let _ = release_rx.lock().unwrap().recv();
                }
                format!("{name} {policy}")
            }
            _ => String::new(),
        };
        ResponseBuilder::empty_200().body(body).build().unwrap()
    };
    (handler, entered, release)
}

/// Which thread, in which class, ran a request for `path` on a new
/// connection.
fn ran_on(addr: std::net::SocketAddr, path: &str) -> (String, u32) {
    let mut c = Client::connect(addr);
    c.send(&get(path));
    let answer = body(&c.response());
    let (name, policy) = answer.rsplit_once(' ').expect("name and class");
    (name.to_owned(), policy.parse().expect("class"))
}

#[test]
fn the_thread_that_drives_the_loop_is_in_the_default_class() {
    if threads().iter().any(|(_, policy)| *policy != SCHED_OTHER) {
        // Run under another class (say `chrt`): threads keep it.
        return;
    }
    let (handler, entered, release) = reporting();
    let server = common::start_reader(2, handler);
    let addr = server.local_addr();
    assert!(
        eventually(|| {
            let (normal, batch) = classes();
            normal == ["http-loop-0"] && batch == ["http-worker-0", "http-worker-1"]
        }),
        "at start: {:?}",
        classes()
    );

    // Until `/block` runs as a quick batch on the thread that drives the
    // loop (requests go to the workers while the handlers' average says
    // slow), then that thread blocks in it.
    let mut blocked = None;
    for _ in 0..20 {
        // Quick requests one after another bring the average down (each
        // batch weighs an eighth of it).
        let mut warm = Client::connect(addr);
        for _ in 0..40 {
            warm.send(&get("/quick"));
            warm.response();
        }
        let mut c = Client::connect(addr);
        c.send(&get("/block"));
        let (name, policy) = entered.recv_timeout(WAIT).expect("the handler runs");
        if policy == SCHED_OTHER {
            blocked = Some((name, c));
            break;
        }
        release.send(()).unwrap();
        c.response();
    }
    let (blocked_name, mut blocked) = blocked.expect("a quick batch on the driving thread");

    // Another thread takes the loop over and drives it: quick batches now
    // run on it, and it is in the default class.
    let (driver, policy) = ran_on(addr, "/report");
    assert_ne!(driver, blocked_name);
    assert_eq!(
        policy, SCHED_OTHER,
        "{driver} drives the loop in class {policy}"
    );

    // Released, the thread that drove before finds the loop taken and
    // becomes a worker, in the batch class.
    release.send(()).unwrap();
    blocked.response();
    assert!(
        eventually(|| policy_of(&blocked_name) == Some(SCHED_BATCH)),
        "{blocked_name} in class {:?} as a worker",
        policy_of(&blocked_name)
    );
    let (normal, batch) = classes();
    assert_eq!(normal, [driver], "one thread in the default class");
    assert_eq!(batch.len(), 2, "{batch:?}");
    server.shutdown();
}
