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
//! Bodies that find no room wait in one queue across the loops, each with a
//! ticket: only the first may take room (a body already growing its share
//! aside), so a waiting body is never passed over by one that came after
//! it, however often room is made and taken.
//!
//! A share is a plain count of bytes, not a guard that gives itself back on
//! drop: a request travels by value from the loop to a worker, and a guard
//! in it would cost a copy of the whole request on the way (the compiler
//! stops building it in place), for every request, bodies or not.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use reactor::Remote;

use crate::service::{Done, LoopWakes};

pub(crate) struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
    /// Loops with connections waiting for room.
    pub waiting: LoopWakes,
    /// The loops, to wake; set once they exist.
    remotes: OnceLock<Arc<Vec<Remote<Done>>>>,
    /// The bodies waiting for room, all loops together.
    queue: Mutex<Tickets>,
    /// How many tickets are out: a load, for every new body.
    queued: AtomicUsize,
}

/// The tickets of the bodies waiting for room, and the next to hand out:
/// together under one lock, so that tickets join in the order they are
/// numbered.
#[derive(Default)]
struct Tickets {
    next: u64,
    out: BTreeSet<u64>,
}

impl BodyBudget {
    pub fn new(limit: usize) -> BodyBudget {
        BodyBudget {
            limit,
            used: AtomicUsize::new(0),
            waiting: LoopWakes::default(),
            remotes: OnceLock::new(),
            queue: Mutex::new(Tickets::default()),
            queued: AtomicUsize::new(0),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Tickets> {
        // The tickets are never left half-changed: a poisoned lock is as good.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any body waits for room.
    pub fn has_waiters(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
    }

    /// Join the queue of bodies waiting for room: the ticket to show.
    pub fn join_queue(&self) -> u64 {
        let mut queue = self.queue();
        let ticket = queue.next;
        queue.next += 1;
        queue.out.insert(ticket);
        self.queued.fetch_add(1, Ordering::SeqCst);
        ticket
    }

    /// How many bodies wait for room.
    #[cfg(test)]
    pub fn waiters(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Whether `ticket` is the oldest waiting, the one that may take room.
    pub fn is_first(&self, ticket: u64) -> bool {
        self.queue().out.first() == Some(&ticket)
    }

    /// Leave the queue (admitted, or gone); the loops with bodies still
    /// waiting look again, as the next one may fit already.
    pub fn leave_queue(&self, ticket: u64) {
        let left = {
            let mut queue = self.queue();
            let left = queue.out.remove(&ticket);
            if left {
                self.queued.fetch_sub(1, Ordering::SeqCst);
            }
            left
        };
        if left && self.has_waiters() {
            if let Some(remotes) = self.remotes.get() {
                self.waiting.wake(remotes);
            }
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
    use std::sync::atomic::Ordering;
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
        holding_handler_with(|_path| None)
    }

    /// [`holding_handler`], except for the paths `other` answers.
    fn holding_handler_with(
        other: impl Fn(&str) -> Option<http_types::Response> + Send + Sync + 'static,
    ) -> (
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
            if let Some(response) = other(req.path()) {
                return response;
            }
            let len = req.body().len().to_string();
            ResponseBuilder::empty_200().body(len).build().unwrap()
        };
        (handler, entered, release)
    }

    /// For [`holding_handler_with`]: `path` answers with more than the
    /// socket buffers hold, and if `close`, the end of the connection.
    fn big(path: &str, asked: &str, close: bool) -> Option<http_types::Response> {
        (asked == path).then(|| {
            let builder = ResponseBuilder::empty_200();
            let builder = if close {
                builder.header("Connection", "close")
            } else {
                builder
            };
            builder.body(vec![b'x'; 16 << 20]).build().unwrap()
        })
    }

    /// Read a [`big`] response, `200` with a 16 MiB body; what was read
    /// after it is returned.
    fn read_big(c: &mut TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut chunk = vec![0u8; 256 * 1024];
        let end = |got: &[u8]| {
            let head = got.windows(4).position(|w| w == b"\r\n\r\n")?;
            Some(head + 4 + (16 << 20))
        };
        while end(&got).is_none_or(|end| got.len() < end) {
            let n = c.read(&mut chunk).expect("read");
            assert!(n > 0, "closed before the large response ended");
            got.extend_from_slice(&chunk[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 "));
        got.split_off(end(&got).unwrap_or(got.len()))
    }

    /// A client whose `/hold` body takes the whole budget, once its
    /// handler runs (and waits to be released).
    fn hold_all(server: &crate::ServerHandle, entered: &mpsc::Receiver<()>) -> TcpStream {
        let mut a = connect(server);
        a.write_all(&post_head("/hold", BUDGET, false)).unwrap();
        a.write_all(&vec![b'a'; BUDGET]).unwrap();
        entered.recv_timeout(WAIT).expect("the handler runs");
        a
    }

    /// Read the status line's start of a `200` and no more of it.
    fn response_begun(stream: &mut TcpStream) {
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).unwrap();
        assert_eq!(&status, b"HTTP/1.1 200");
    }

    /// Read the `100 Continue` that admits a body; `what` says whose.
    fn expect_continue(stream: &mut TcpStream, what: &str) {
        let mut interim = [0u8; 25];
        stream.read_exact(&mut interim).expect(what);
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
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
        let mut a = hold_all(&server, &entered);
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
        expect_continue(&mut b, "100 Continue once there is room");
        b.write_all(&[b'b'; 1000]).unwrap();
        assert_eq!(response(&mut b), (200, "1000".to_owned()));
        // Every share has been given back: the handlers have returned.
        assert_eq!(budget.used(), 0);
        server.shutdown();
    }

    /// Room made while a large body waits goes to it, not to a smaller body
    /// that came later and fits what is left: that one waits its turn, or a
    /// stream of small bodies could keep a large one out for ever.
    #[test]
    fn a_waiting_body_is_not_passed_over_by_a_later_one() {
        let (handler, entered, release) = holding_handler();
        let server = start(2, handler);
        let budget = &server.shared().budget;
        let mut a = connect(&server);
        a.write_all(&post_head("/hold", BUDGET / 2, false)).unwrap();
        a.write_all(&vec![b'a'; BUDGET / 2]).unwrap();
        entered.recv_timeout(WAIT).expect("the handler runs");

        let mut large = connect(&server);
        large.write_all(&post_head("/large", BUDGET, true)).unwrap();
        wait_until(|| budget.waiters() == 1, || "the large body to wait".into());
        let mut small = connect(&server);
        small.write_all(&post_head("/small", 10, true)).unwrap();
        wait_until(
            || budget.waiters() == 2,
            || "the small body to wait its turn".into(),
        );
        assert_eq!(budget.used(), BUDGET / 2);

        release.send(()).unwrap();
        assert_eq!(response(&mut a), (200, (BUDGET / 2).to_string()));
        expect_continue(&mut large, "100 Continue for the first in line");
        large.write_all(&vec![b'l'; BUDGET]).unwrap();
        assert_eq!(response(&mut large), (200, BUDGET.to_string()));
        expect_continue(&mut small, "100 Continue for the next");
        small.write_all(b"0123456789").unwrap();
        assert_eq!(response(&mut small), (200, "10".to_owned()));
        assert_eq!((budget.used(), budget.waiters()), (0, 0));
        server.shutdown();
    }

    /// A waiting body woken for room that its connection cannot take up
    /// now (its output is over `max_output`: its client does not read)
    /// gives its turn up, rather than hold up the bodies behind it for as
    /// long as its client does not read.
    #[test]
    fn a_body_whose_connection_cannot_take_its_turn_gives_it_up() {
        // `/big`: more than the socket buffers hold, in the loop's memory.
        let (handler, entered, release) = holding_handler_with(|path| big("/big", path, false));
        let server = start(2, handler);
        let shared = server.shared();
        let budget = &shared.budget;
        let mut a = hold_all(&server, &entered);

        // First in line: a body behind a large response its client does
        // not read.
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket
            .set_recv_buffer_size(16 * 1024)
            .expect("receive buffer");
        socket
            .connect(&server.local_addr().into())
            .expect("connect");
        let mut stuck: TcpStream = socket.into();
        let mut wire = b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        // No `Expect`: one would wait for the response to be read before
        // it joins the queue.
        wire.extend_from_slice(&post_head("/stuck", 10, false));
        stuck.write_all(&wire).unwrap();
        wait_until(|| budget.waiters() == 1, || "the body to wait".into());
        wait_until(
            || shared.held_output.load(Ordering::Relaxed) > shared.config.max_output,
            || "the large response to be held".into(),
        );
        let mut next = connect(&server);
        next.write_all(&post_head("/next", 10, true)).unwrap();
        wait_until(|| budget.waiters() == 2, || "the next body to wait".into());

        release.send(()).unwrap();
        assert_eq!(response(&mut a), (200, BUDGET.to_string()));
        expect_continue(&mut next, "100 Continue for the next in line");
        next.write_all(b"0123456789").unwrap();
        assert_eq!(response(&mut next), (200, "10".to_owned()));
        drop(stuck);
        server.shutdown();
    }

    /// A body that gave its turn up (its client was not reading a large
    /// response) and is admitted later is timed from its admission, not
    /// from when it began to wait.
    #[test]
    fn a_body_that_gave_its_turn_up_is_timed_from_its_admission() {
        const TIMEOUT: Duration = Duration::from_secs(2);
        let (handler, entered, release) = holding_handler_with(|path| big("/big", path, false));
        let server = builder(2)
            .body_timeout(TIMEOUT)
            .start(handler)
            .expect("server starts");
        let shared = server.shared();
        let budget = &shared.budget;
        let mut a = hold_all(&server, &entered);

        let mut c = connect(&server);
        let mut wire = b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        // No `Expect`: one would wait for the response to be read before
        // it joins the queue.
        wire.extend_from_slice(&post_head("/late", 10, false));
        c.write_all(&wire).unwrap();
        wait_until(|| budget.waiters() == 1, || "the body to wait".into());
        wait_until(
            || shared.held_output.load(Ordering::Relaxed) > shared.config.max_output,
            || "the large response to be held".into(),
        );
        release.send(()).unwrap();
        assert_eq!(response(&mut a).0, 200);
        wait_until(|| budget.waiters() == 0, || "the turn given up".into());
        // Read the large response, which admits the body as it drains,
        // some way into the timeout, then send the body as late again: past
        // the timeout counted from the wait, well within it from the
        // admission.
        std::thread::sleep(TIMEOUT * 3 / 5);
        read_big(&mut c);
        std::thread::sleep(TIMEOUT * 3 / 5);
        c.write_all(b"0123456789").unwrap();
        assert_eq!(response(&mut c), (200, "10".to_owned()));
        server.shutdown();
    }

    /// A body waiting behind a request whose response closes the
    /// connection will not be read, and leaves the queue then, not when
    /// the connection closes after that response, which takes as long as
    /// the client takes to read it.
    #[test]
    fn a_body_behind_a_closing_response_leaves_the_queue() {
        let (handler, entered, release) = holding_handler_with(|path| big("/close", path, true));
        let server = start(2, handler);
        let budget = &server.shared().budget;
        let mut a = hold_all(&server, &entered);

        // The body behind waits (it is read with the request before it,
        // before that request's handler runs).
        let mut c = connect(&server);
        let mut wire = b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        wire.extend_from_slice(&post_head("/behind", 10, false));
        c.write_all(&wire).unwrap();
        // The response has begun, and the client reads no more of it.
        response_begun(&mut c);
        wait_until(
            || budget.waiters() == 0,
            || "the body behind the closing response to leave the queue".into(),
        );
        assert_eq!(budget.used(), BUDGET, "the first body still holds it all");
        release.send(()).unwrap();
        assert_eq!(response(&mut a).0, 200);
        drop(c);
        server.shutdown();
    }

    /// `/hold` of a [`holding_handler`] followed, in the same write, by the
    /// head of a 1,000-byte upload and part of its body.
    fn held_then_part_of_an_upload() -> Vec<u8> {
        let mut wire = b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        wire.extend_from_slice(&post_head("/up", 1000, false));
        wire.extend_from_slice(b"part");
        wire
    }

    /// A body being read when its connection stops reading (its client
    /// ended its side) gives its share back then, not once the request
    /// before it is answered and the connection closes.
    #[test]
    fn a_body_cut_short_by_the_end_of_its_stream_gives_its_share_back() {
        let (handler, entered, release) = holding_handler();
        let server = start(2, handler);
        let budget = &server.shared().budget;
        let mut c = connect(&server);
        c.write_all(&held_then_part_of_an_upload()).unwrap();
        entered.recv_timeout(WAIT).expect("the handler runs");
        wait_until(|| budget.used() == 1000, || "the upload's share".into());
        c.shutdown(std::net::Shutdown::Write).unwrap();
        // Bounded well inside the handler's own wait: once that ends, the
        // connection closes and would give the share back anyway.
        let by = Instant::now() + WAIT / 2;
        while budget.used() != 0 {
            assert!(
                Instant::now() < by,
                "the share is still held while the handler runs: {}",
                budget.used()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        release.send(()).unwrap();
        assert_eq!(response(&mut c), (200, "0".to_owned()));
        server.shutdown();
    }

    /// Likewise for a body behind a response that closes the connection:
    /// its share comes back when that response is queued, not when the
    /// client has read it all.
    #[test]
    fn a_body_behind_a_closing_response_gives_its_share_back() {
        // `/hold` answers, once released, with more than the socket
        // buffers hold, and the end.
        let (handler, entered, release) = holding_handler_with(|path| big("/hold", path, true));
        let server = start(2, handler);
        let budget = &server.shared().budget;
        let mut c = connect(&server);
        c.write_all(&held_then_part_of_an_upload()).unwrap();
        entered.recv_timeout(WAIT).expect("the handler runs");
        wait_until(|| budget.used() == 1000, || "the upload's share".into());
        release.send(()).unwrap();
        // The response has begun, and the client reads no more of it.
        response_begun(&mut c);
        wait_until(
            || budget.used() == 0,
            || {
                format!(
                    "the share back while the response waits, {} held",
                    budget.used()
                )
            },
        );
        drop(c);
        server.shutdown();
    }

    /// The body budget and body limit of [`large_budget`]: more than the
    /// socket buffers on both sides hold.
    const LARGE: usize = 32 << 20;

    /// `builder` bound to a port of the system's choosing, with a body
    /// budget and a body limit of [`LARGE`], and bodies given an hour, so
    /// that a first body can hold all the room for as long as a test runs.
    fn large_budget(builder: ServerBuilder) -> ServerBuilder {
        builder
            .bind("127.0.0.1:0")
            .limits(Limits {
                max_body_bytes: LARGE as u64,
                ..Limits::default()
            })
            .max_body_memory(LARGE)
            .body_timeout(Duration::from_secs(3600))
    }

    /// On a [`large_budget`] server: a first connection whose body holds the
    /// whole budget, and a second whose body of the same size waits.
    fn one_holds_all_the_next_waits(server: &crate::ServerHandle) -> (TcpStream, TcpStream) {
        let budget = &server.shared().budget;
        let mut first = connect(server);
        first.write_all(&post_head("/first", LARGE, false)).unwrap();
        first.write_all(b"some of it").unwrap();
        wait_until(
            || budget.used() == LARGE,
            || "the first body's share".into(),
        );
        let mut next = connect(server);
        next.write_all(&post_head("/gone", LARGE, false)).unwrap();
        wait_until(|| budget.waiters() == 1, || "the body to wait".into());
        (first, next)
    }

    /// A waiting body whose client resets its connection leaves the queue
    /// at once, though the server had stopped reading it (its input buffer
    /// full), so it does not hold up the bodies behind it.
    #[test]
    fn a_waiting_body_whose_client_resets_leaves_the_queue() {
        let server = large_budget(ServerBuilder::new().workers(2))
            .start(|_req: Request| ResponseBuilder::empty_200().build().unwrap())
            .expect("server starts");
        let budget = &server.shared().budget;
        let (first, mut gone) = one_holds_all_the_next_waits(&server);
        // Send the body until the writes stall: the server has stopped
        // reading, its input buffer full.
        gone.set_write_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let piece = vec![b'g'; 64 * 1024];
        let mut sent = 0;
        while gone.write(&piece).is_ok() {
            sent += piece.len();
            assert!(sent < LARGE, "the server read a body it had no room for");
        }
        socket2::SockRef::from(&gone)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(gone);
        wait_until(
            || budget.waiters() == 0,
            || "the reset body to leave the queue".into(),
        );
        assert_eq!(budget.used(), LARGE, "the first body still holds it all");
        drop(first);
        server.shutdown();
    }

    #[test]
    fn a_body_waiting_for_the_budget_runs_no_head_timeout() {
        const TIMEOUT: Duration = Duration::from_millis(200);
        let (handler, entered, release) = holding_handler();
        let server = builder(2)
            .head_timeout(TIMEOUT)
            .start(handler)
            .expect("server starts");
        let budget = &server.shared().budget;
        let mut a = hold_all(&server, &entered);

        // The head waits for room; its body, sent behind it, waits unread.
        let mut b = connect(&server);
        b.write_all(&post_head("/b", 1000, false)).unwrap();
        wait_until(
            || budget.waiting.asked(),
            || "the second body to wait".into(),
        );
        b.write_all(&[b'b'; 1000]).unwrap();
        // Past the head timeout: a head clock running while the body waits
        // would have answered 408 by now. (The wait itself may last up to
        // the default body timeout, 10 s.)
        std::thread::sleep(TIMEOUT * 3);
        release.send(()).unwrap();
        assert_eq!(response(&mut a), (200, BUDGET.to_string()));
        assert_eq!(response(&mut b), (200, "1000".to_owned()));
        server.shutdown();
    }

    /// A body waits for room at most `body_timeout`, then gets 503 and
    /// leaves the queue: waiting connections do not outlive every clock.
    #[test]
    fn a_body_that_waits_for_room_longer_than_the_body_timeout_gets_503() {
        let (handler, entered, release) = holding_handler();
        let server = builder(2)
            .body_timeout(Duration::from_millis(300))
            .start(handler)
            .expect("server starts");
        let budget = &server.shared().budget;
        let mut a = hold_all(&server, &entered);

        let mut b = connect(&server);
        b.write_all(&post_head("/b", 1000, true)).unwrap();
        assert_eq!(response(&mut b).0, 503);
        assert_eq!(budget.waiters(), 0, "the refused body left the queue");
        release.send(()).unwrap();
        assert_eq!(response(&mut a), (200, BUDGET.to_string()));
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

    /// A chunked body growing its share while its connection's output holds
    /// it back (its client reads a large response slowly) and woken for
    /// room takes the room and is read on: it does not give its wake up
    /// and wait, its clock running, until the output drains.
    #[test]
    fn a_growing_body_woken_while_output_holds_it_back_is_read() {
        const TIMEOUT: Duration = Duration::from_secs(2);
        let (handler, entered, release) = holding_handler_with(|path| big("/big", path, false));
        let server = builder(2)
            .body_timeout(TIMEOUT)
            .body_min_rate(1 << 30)
            .max_output(64 * 1024)
            .start(handler)
            .expect("server starts");
        let shared = server.shared();
        let budget = &shared.budget;
        let mut c = connect(&server);
        let mut wire = b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        wire.extend_from_slice(
            b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        wire.extend_from_slice(format!("3e8\r\n{}\r\n", "c".repeat(1000)).as_bytes());
        c.write_all(&wire).unwrap();
        wait_used(budget, |held| held >= 1000);
        wait_until(
            || shared.held_output.load(Ordering::Relaxed) > shared.config.max_output,
            || "the large response to be held".into(),
        );
        // Another body takes the rest of the budget.
        let rest = BUDGET - budget.used();
        let mut a = connect(&server);
        a.write_all(&post_head("/hold", rest, false)).unwrap();
        a.write_all(&vec![b'a'; rest]).unwrap();
        entered.recv_timeout(WAIT).expect("the handler runs");
        assert_eq!(budget.used(), BUDGET);
        // The rest of the chunked body: its share must grow, and cannot.
        let mut tail = format!("2710\r\n{}\r\n", "d".repeat(10_000)).into_bytes();
        tail.extend_from_slice(b"0\r\n\r\n");
        c.write_all(&tail).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        // Room comes back well within the body's time.
        release.send(()).unwrap();
        assert_eq!(response(&mut a).0, 200);
        // The client reads its large response later than the body timeout.
        std::thread::sleep(TIMEOUT + TIMEOUT / 2);
        let mut extra = read_big(&mut c);
        let mut chunk = [0u8; 8192];
        while !extra.ends_with(b"\r\n\r\n11000") && extra.len() < 200 {
            let n = c.read(&mut chunk).expect("read");
            assert!(
                n > 0,
                "closed after the large response: {:?}",
                String::from_utf8_lossy(&extra)
            );
            extra.extend_from_slice(&chunk[..n]);
        }
        assert!(
            extra.starts_with(b"HTTP/1.1 200 "),
            "{:?}",
            String::from_utf8_lossy(&extra)
        );
        server.shutdown();
    }

    /// A waiting body whose client's reset arrives with data that fills its
    /// input buffer to the end of its storage leaves the queue: the read
    /// that stops there asks the socket for a reset, as one that finds the
    /// buffer full does.
    #[test]
    fn a_waiting_body_reset_with_data_leaves_the_queue() {
        let (entered_tx, entered) = mpsc::channel::<()>();
        let entered_tx = Mutex::new(entered_tx);
        let server = large_budget(ServerBuilder::new().event_loops(1).handlers_on_loop(true))
            .start(move |req: Request| {
                if req.path() == "/sleep" {
                    let _ = entered_tx.lock().map(|tx| tx.send(()));
                    std::thread::sleep(Duration::from_millis(500));
                }
                ResponseBuilder::empty_200().build().unwrap()
            })
            .expect("server starts");
        let budget = &server.shared().budget;
        let (first, mut gone) = one_holds_all_the_next_waits(&server);
        // Most of an input buffer (80 KiB), read by the loop.
        gone.write_all(&vec![b'g'; 70_000]).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        // The loop is busy while the rest of the buffer's worth and a reset
        // arrive together.
        let mut sleeper = connect(&server);
        sleeper
            .write_all(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        entered.recv_timeout(WAIT).expect("the handler runs");
        gone.write_all(&vec![b'g'; 20_000]).unwrap();
        socket2::SockRef::from(&gone)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(gone);
        assert_eq!(response(&mut sleeper).0, 200);
        wait_until(
            || budget.waiters() == 0,
            || "the reset body to leave the queue".into(),
        );
        drop(first);
        server.shutdown();
    }
}
