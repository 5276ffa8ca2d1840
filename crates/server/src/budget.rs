//! [`BodyBudget`]: the request-body bytes the whole server buffers at once
//! ([`ServerConfig::max_body_memory`](crate::ServerConfig::max_body_memory)).
//!
//! A body is buffered only under a share of the budget for its bytes. A
//! body with a `Content-Length` takes its whole share when its head arrives,
//! so one admitted always finishes (its client willing) and bodies never
//! wait on each other half-read. A chunked body grows its share as it
//! arrives. The share moves with its request to the worker and is given
//! back when the handler returns, or where a request is dropped unrun (its
//! connection closed); giving bytes back wakes the event loops that have
//! connections waiting for room.
//!
//! A share is a plain count of bytes, not a guard that gives itself back on
//! drop: a request travels by value from the loop to a worker, and a guard
//! in it would cost a copy of the whole request on the way (the compiler
//! stops building it in place), for every request, bodies or not.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use reactor::Remote;

use crate::service::{Done, LoopWakes};

pub(crate) struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
    /// Loops with connections waiting for room.
    pub waiting: LoopWakes,
    /// The loops, to wake; set once they exist.
    remotes: OnceLock<Arc<Vec<Remote<Done>>>>,
}

impl BodyBudget {
    pub fn new(limit: usize) -> BodyBudget {
        BodyBudget {
            limit,
            used: AtomicUsize::new(0),
            waiting: LoopWakes::default(),
            remotes: OnceLock::new(),
        }
    }

    /// The loops to wake when bytes are given back.
    pub fn set_remotes(&self, remotes: Arc<Vec<Remote<Done>>>) {
        let _ = self.remotes.set(remotes);
    }

    /// Bytes held by shares now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// Bytes free now.
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.used())
    }

    /// Raise the share `held` to `bytes`, if the budget has room for the
    /// difference. Returns whether it holds them.
    pub fn grow(&self, held: &mut usize, bytes: usize) -> bool {
        let more = bytes.saturating_sub(*held);
        if more == 0 {
            return true;
        }
        let taken = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(more).filter(|&total| total <= self.limit)
            });
        if taken.is_err() {
            return false;
        }
        *held = bytes;
        true
    }

    /// Raise the share `held` to `bytes` whatever the room: for bytes
    /// already buffered (a body that arrived whole with its head), which
    /// waiting cannot save. Later bodies wait until the excess is given back.
    pub fn force(&self, held: &mut usize, bytes: usize) {
        let more = bytes.saturating_sub(*held);
        if more > 0 {
            self.used.fetch_add(more, Ordering::SeqCst);
            *held = bytes;
        }
    }

    /// Give back a share, and wake the loops waiting for room.
    pub fn give_back(&self, held: usize) {
        if held == 0 {
            return;
        }
        self.used.fetch_sub(held, Ordering::SeqCst);
        if let Some(remotes) = self.remotes.get() {
            self.waiting.wake(remotes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_hold_what_they_grow_to_until_given_back() {
        let budget = BodyBudget::new(100);
        let (mut a, mut b) = (0, 0);
        assert!(budget.grow(&mut a, 60));
        assert!(!budget.grow(&mut b, 41), "over the limit");
        assert_eq!(b, 0);
        assert!(budget.grow(&mut b, 40));
        assert_eq!((budget.used(), budget.room()), (100, 0));
        assert!(budget.grow(&mut a, 60), "held already");
        assert!(!budget.grow(&mut a, 61));
        budget.give_back(std::mem::take(&mut b));
        assert!(budget.grow(&mut a, 100));
        assert_eq!(a, 100);
        // Bytes already buffered are counted past the limit, and keep
        // others out until given back.
        let mut c = 0;
        budget.force(&mut c, 30);
        assert_eq!((budget.used(), budget.room()), (130, 0));
        budget.give_back(a);
        assert!(!budget.grow(&mut b, 71));
        assert!(budget.grow(&mut b, 70));
        budget.give_back(b);
        budget.give_back(c);
        assert_eq!(budget.used(), 0);
        let mut huge = 0;
        assert!(!budget.grow(&mut huge, usize::MAX));
        assert_eq!((budget.used(), huge), (0, 0));
    }
}

#[cfg(test)]
pub(crate) mod server_tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::{mpsc, Mutex};
    use std::time::{Duration, Instant};

    use http_codec::{Limits, ResponseDecoded, ResponseDecoder};
    use http_types::{Request, ResponseBuilder};

    use crate::ServerBuilder;

    pub(crate) const WAIT: Duration = Duration::from_secs(10);
    const BUDGET: usize = 256 * 1024;

    /// Read one response; its status and body.
    pub(crate) fn response(stream: &mut TcpStream) -> (u16, String) {
        responses(stream, 1).remove(0)
    }

    /// Read `n` responses, pipelined; each one's status and body.
    pub(crate) fn responses(stream: &mut TcpStream, n: usize) -> Vec<(u16, String)> {
        let mut decoder = ResponseDecoder::default();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let mut got = Vec::new();
        loop {
            match decoder.decode(&buf, false).expect("a valid response") {
                ResponseDecoded::Message {
                    response, consumed, ..
                } => {
                    let body = response.body().as_bytes().unwrap_or_default();
                    let body = String::from_utf8_lossy(body).into_owned();
                    got.push((response.status().as_u16(), body));
                    buf.drain(..consumed);
                    if got.len() == n {
                        return got;
                    }
                    continue;
                }
                ResponseDecoded::Partial { consumed } => {
                    buf.drain(..consumed);
                }
            }
            let n = stream.read(&mut chunk).expect("read");
            assert!(n > 0, "closed before a response");
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A server whose body budget, and body limit, is `BUDGET`.
    fn start(workers: usize, handler: impl crate::Handler) -> crate::ServerHandle {
        builder(workers).start(handler).expect("server starts")
    }

    /// [`start`]'s server, not yet started.
    fn builder(workers: usize) -> ServerBuilder {
        ServerBuilder::new()
            .bind("127.0.0.1:0")
            .workers(workers)
            .limits(Limits {
                max_body_bytes: BUDGET as u64,
                ..Limits::default()
            })
            .max_body_memory(BUDGET)
    }

    /// A handler that answers with the length of the body; for `/hold`, it
    /// first says it has begun, then waits to be released.
    fn holding_handler() -> (
        impl Fn(Request) -> http_types::Response + Send + Sync + 'static,
        mpsc::Receiver<()>,
        mpsc::Sender<()>,
    ) {
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
        let handler = move |req: Request| {
            if req.path() == "/hold" {
                let _ = entered_tx.lock().map(|tx| tx.send(()));
                let _ = release_rx.lock().map(|rx| rx.recv_timeout(WAIT));
            }
            let len = req.body().len().to_string();
            ResponseBuilder::empty_200().body(len).build().unwrap()
        };
        (handler, entered, release)
    }

    /// A client with a bounded wait on every read.
    pub(crate) fn connect(server: &crate::ServerHandle) -> TcpStream {
        let stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream
    }

    fn post_head(path: &str, len: usize, expect: bool) -> Vec<u8> {
        let expect = if expect {
            "Expect: 100-continue\r\n"
        } else {
            ""
        };
        format!("POST {path} HTTP/1.1\r\nHost: t\r\n{expect}Content-Length: {len}\r\n\r\n")
            .into_bytes()
    }

    #[test]
    fn a_body_waits_while_others_hold_the_budget_and_its_head_gets_no_continue() {
        let (handler, entered, release) = holding_handler();
        let server = start(2, handler);
        let budget = &server.shared().budget;
        let mut a = connect(&server);
        a.write_all(&post_head("/hold", BUDGET, false)).unwrap();
        a.write_all(&vec![b'a'; BUDGET]).unwrap();
        entered.recv_timeout(WAIT).expect("the handler runs");
        // The body is held (exactly, not its vector's doubled room) until
        // the handler returns.
        assert_eq!(budget.used(), BUDGET);

        let mut b = connect(&server);
        b.write_all(&post_head("/b", 1000, true)).unwrap();
        let deadline = Instant::now() + WAIT;
        while !budget.waiting.asked() {
            assert!(Instant::now() < deadline, "the second body never waited");
            std::thread::sleep(Duration::from_millis(1));
        }
        b.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let early = b.read(&mut byte);
        assert!(
            early
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "no 100 Continue while waiting: {early:?}"
        );
        b.set_nonblocking(false).unwrap();

        release.send(()).unwrap();
        assert_eq!(response(&mut a), (200, BUDGET.to_string()));
        let mut interim = [0u8; 25];
        b.read_exact(&mut interim)
            .expect("100 Continue once there is room");
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        b.write_all(&[b'b'; 1000]).unwrap();
        assert_eq!(response(&mut b), (200, "1000".to_owned()));
        // Every share has been given back: the handlers have returned.
        assert_eq!(budget.used(), 0);
        server.shutdown();
    }

    #[test]
    fn a_body_waiting_for_the_budget_runs_no_head_timeout() {
        const HEAD_TIMEOUT: Duration = Duration::from_millis(200);
        let (handler, entered, release) = holding_handler();
        let server = builder(2)
            .head_timeout(HEAD_TIMEOUT)
            .start(handler)
            .expect("server starts");
        let budget = &server.shared().budget;
        let mut a = connect(&server);
        a.write_all(&post_head("/hold", BUDGET, false)).unwrap();
        a.write_all(&vec![b'a'; BUDGET]).unwrap();
        entered.recv_timeout(WAIT).expect("the handler runs");

        // The head waits for room; its body, sent behind it, waits unread.
        let mut b = connect(&server);
        b.write_all(&post_head("/b", 1000, false)).unwrap();
        wait_until(
            || budget.waiting.asked(),
            || "the second body to wait".into(),
        );
        b.write_all(&[b'b'; 1000]).unwrap();
        // Past the head timeout: a clock running while the body waits would
        // have answered 408 by now.
        std::thread::sleep(HEAD_TIMEOUT * 3);
        release.send(()).unwrap();
        assert_eq!(response(&mut a), (200, BUDGET.to_string()));
        assert_eq!(response(&mut b), (200, "1000".to_owned()));
        server.shutdown();
    }

    /// Wait (bounded) until `done` holds; `waited_for` says for what.
    pub(crate) fn wait_until(done: impl Fn() -> bool, waited_for: impl Fn() -> String) {
        let deadline = Instant::now() + WAIT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {}",
                waited_for()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Wait (bounded) until the bytes the budget holds pass `check`.
    fn wait_used(budget: &super::BodyBudget, check: impl Fn(usize) -> bool) {
        wait_until(
            || check(budget.used()),
            || format!("the budget ({} bytes held)", budget.used()),
        );
    }

    #[test]
    fn a_body_cut_off_or_refused_gives_its_share_back() {
        let server = start(1, |_req: Request| {
            ResponseBuilder::empty_200().build().unwrap()
        });
        let budget = &server.shared().budget;
        // The client goes away halfway through its body.
        let mut c = connect(&server);
        c.write_all(&post_head("/", 200_000, false)).unwrap();
        c.write_all(&[b'x'; 100_000]).unwrap();
        wait_used(budget, |held| held == 200_000);
        drop(c);
        wait_used(budget, |held| held == 0);
        // A chunk over the body limit is refused.
        let mut c = connect(&server);
        c.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        c.write_all(format!("3e8\r\n{}\r\n", "c".repeat(1000)).as_bytes())
            .unwrap();
        wait_used(budget, |held| held >= 1000);
        c.write_all(b"fffffff\r\n").unwrap();
        assert_eq!(response(&mut c).0, 413);
        assert_eq!(budget.used(), 0);
        server.shutdown();
    }

    #[test]
    fn a_chunked_body_grows_its_share_and_gives_it_back() {
        let handler = |req: Request| {
            let len = req.body().len().to_string();
            ResponseBuilder::empty_200().body(len).build().unwrap()
        };
        let server = start(1, handler);
        let mut c = connect(&server);
        c.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        // 200 KiB in 1000-byte chunks: more than any one read.
        let chunk = format!("3e8\r\n{}\r\n", "c".repeat(1000));
        for _ in 0..150 {
            c.write_all(chunk.as_bytes()).unwrap();
        }
        // What has arrived is counted, the vector's room included.
        wait_used(&server.shared().budget, |held| held >= 150_000);
        for _ in 150..200 {
            c.write_all(chunk.as_bytes()).unwrap();
        }
        c.write_all(b"0\r\n\r\n").unwrap();
        assert_eq!(response(&mut c), (200, "200000".to_owned()));
        assert_eq!(server.shared().budget.used(), 0);
        server.shutdown();
    }
}
