//! The event loop over real sockets on 127.0.0.1, with tiny test services.
//!
//! Every wait is bounded by [`WAIT`], only so that a broken loop fails a test
//! instead of hanging it; nothing here asserts on how fast anything happens.
//! What a service sees is sent to the test over a channel ([`Note`]), in the
//! order the loop made the calls, and the tests assert on that order.

use std::collections::{HashMap, HashSet};
use std::io::{self, ErrorKind, Read, Write};
use std::marker::PhantomData;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use reactor::{Config, Conn, ConnId, Event, EventLoop, Remote, Service};

/// Every wait in these tests is bounded by this, as a failure bound only.
const WAIT: Duration = Duration::from_secs(10);

/// More than a loopback socket pair buffers while the client reads nothing,
/// so writing it has to wait for `WRITABLE`.
const BIG: usize = 8 * 1024 * 1024;

/// What a test service reports to its test.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Note {
    Opened(ConnId),
    Closed(ConnId),
    /// Bytes the service took from its input during one event.
    Read(ConnId, Vec<u8>),
    ReadClosed(ConnId),
    /// A completion's payload.
    Got(ConnId, u64),
    /// A command (completion) was carried out.
    Ack(ConnId),
    /// Unconsumed input, as the service saw it.
    InputLen(ConnId, usize),
    /// Output not yet written, as the service saw it.
    Pending(ConnId, usize),
    Deadline(ConnId),
    Drained(ConnId),
    Shutdown(ConnId),
    Woken(ConnId),
}

/// A service made of one closure over events; it reports every open and
/// close itself, and counts the connections it opened.
struct Script<C, F> {
    log: Sender<Note>,
    on_event: F,
    opened: usize,
    _completion: PhantomData<fn(C)>,
}

/// A [`Script`]'s closure, boxed, for helpers that return one.
type OnEvent<C> = Box<dyn FnMut(&mut Conn<'_, ()>, Event<C>, &Sender<Note>) + Send>;

fn script<C, F>(on_event: F) -> (Script<C, F>, Receiver<Note>)
where
    F: FnMut(&mut Conn<'_, ()>, Event<C>, &Sender<Note>),
{
    let (log, notes) = mpsc::channel();
    let service = Script {
        log,
        on_event,
        opened: 0,
        _completion: PhantomData,
    };
    (service, notes)
}

impl<C, F> Service for Script<C, F>
where
    C: Send + 'static,
    F: FnMut(&mut Conn<'_, ()>, Event<C>, &Sender<Note>) + Send,
{
    type State = ();
    type Completion = C;

    fn open(&mut self, _peer: SocketAddr) {
        self.opened += 1;
    }

    fn event(&mut self, conn: &mut Conn<'_, ()>, event: Event<C>) {
        if let Event::Opened = event {
            let _ = self.log.send(Note::Opened(conn.id()));
        }
        (self.on_event)(conn, event, &self.log);
    }

    fn closed(&mut self, id: ConnId, _state: ()) {
        let _ = self.log.send(Note::Closed(id));
    }
}

/// Echo every byte back, and close once the peer has closed its side and the
/// echo is written. The example of the crate's documentation.
struct Echo;

impl Service for Echo {
    type State = ();
    type Completion = ();
    fn open(&mut self, _peer: SocketAddr) {}
    fn event(&mut self, conn: &mut Conn<'_, ()>, event: Event<()>) {
        if let Event::Readable = event {
            let (_, input, output) = conn.parts();
            output.extend_from_slice(input.bytes());
            let n = input.len();
            input.consume(n);
            if conn.read_closed() {
                conn.close_after_flush();
            }
        }
    }
}

/// Take all input (reporting it), and echo it when `echo` is set.
fn take_input(conn: &mut Conn<'_, ()>, log: &Sender<Note>, echo: bool) -> Vec<u8> {
    let bytes = conn.input().bytes().to_vec();
    conn.input().consume(bytes.len());
    if echo {
        conn.write(&bytes);
    }
    let _ = log.send(Note::Read(conn.id(), bytes.clone()));
    bytes
}

/// A loop running on its own thread. Dropping it stops the loop, so a failed
/// test leaves no loop behind.
struct Running<S: Service> {
    addr: SocketAddr,
    remote: Remote<S::Completion>,
    done: Receiver<io::Result<S>>,
}

fn start<S>(service: S, config: Config) -> Running<S>
where
    S: Service + Send + 'static,
    S::State: Send,
{
    start_counting(service, config, None)
}

/// [`start`], counting held output in `gauge` if given.
fn start_counting<S>(service: S, config: Config, gauge: Option<Arc<AtomicUsize>>) -> Running<S>
where
    S: Service + Send + 'static,
    S::State: Send,
{
    let listener = reactor::bind("127.0.0.1:0".parse().unwrap(), &Default::default()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (mut event_loop, remote) = EventLoop::new(service, vec![listener], config).unwrap();
    if let Some(gauge) = gauge {
        event_loop.count_held_output(gauge);
    }
    let (tx, done) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(event_loop.run());
    });
    Running { addr, remote, done }
}

impl<S: Service> Running<S> {
    /// Wait for `run` to return, and take back the service.
    fn finished(&self) -> S {
        self.done
            .recv_timeout(WAIT)
            .expect("the loop thread returns")
            .expect("run returns Ok")
    }
}

impl<S: Service> Drop for Running<S> {
    fn drop(&mut self) {
        self.remote.shutdown_now();
    }
}

/// A loop configuration whose input buffers hold at most `max` bytes.
fn small_input(max: usize) -> Config {
    Config {
        buffer_size: 4 * 1024,
        max_input: max,
        ..Config::default()
    }
}

fn next(notes: &Receiver<Note>) -> Note {
    notes
        .recv_timeout(WAIT)
        .unwrap_or_else(|e| panic!("no note from the service within {WAIT:?}: {e}"))
}

fn opened(notes: &Receiver<Note>) -> ConnId {
    match next(notes) {
        Note::Opened(id) => id,
        other => panic!("expected Opened, got {other:?}"),
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).expect("read");
    buf
}

fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).expect("read to EOF");
    buf
}

/// `n` bytes that are not all alike, so a lost or repeated chunk shows.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn assert_same_bytes(got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "byte count");
    if let Some(at) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("bytes differ first at offset {at}");
    }
}

/// The part of a `ConnId`'s debug form before its generation, i.e. its slot.
/// (The slot is not public; its `Debug` form is the only way to see it.)
fn slot(id: ConnId) -> String {
    let text = format!("{id:?}");
    text.split("generation").next().unwrap().to_owned()
}

#[test]
fn echo_sends_back_what_the_client_writes() {
    let running = start(Echo, Config::default());
    let mut client = connect(running.addr);
    for i in 0..50 {
        let message = format!("message {i}");
        client.write_all(message.as_bytes()).unwrap();
        assert_eq!(read_n(&mut client, message.len()), message.as_bytes());
    }
    // More than one read's worth, and more than the input bound.
    let big = pattern(1024 * 1024);
    client.write_all(&big).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_same_bytes(&read_to_eof(&mut client), &big);
}

#[test]
fn half_close_is_read_closed_and_close_after_flush_writes_pending_output_first() {
    let tail = pattern(4 * 1024 * 1024);
    let tail_for_service = tail.clone();
    let (service, notes) = script(move |conn, event: Event<()>, log| {
        if let Event::Readable = event {
            take_input(conn, log, true);
            if conn.read_closed() {
                let _ = log.send(Note::ReadClosed(conn.id()));
                // Far more than the socket takes at once: the close has to
                // wait for the rest to be written.
                conn.write(&tail_for_service);
                conn.close_after_flush();
            }
        }
    });
    let running = start(service, Config::default());
    let mut client = connect(running.addr);
    let id = opened(&notes);
    client.write_all(b"hello").unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let got = read_to_eof(&mut client);
    assert_eq!(&got[..5], b"hello");
    assert_same_bytes(&got[5..], &tail);

    let mut read = Vec::new();
    loop {
        match next(&notes) {
            Note::Read(i, bytes) if i == id => read.extend(bytes),
            Note::ReadClosed(i) if i == id => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(read, b"hello");
    assert_eq!(next(&notes), Note::Closed(id));
}

#[test]
fn open_is_given_the_peer_and_closed_gives_the_state_back() {
    struct Peers(Sender<(&'static str, SocketAddr)>);
    impl Service for Peers {
        type State = SocketAddr;
        type Completion = ();
        fn open(&mut self, peer: SocketAddr) -> SocketAddr {
            let _ = self.0.send(("open", peer));
            peer
        }
        fn event(&mut self, conn: &mut Conn<'_, SocketAddr>, event: Event<()>) {
            match event {
                Event::Opened => {
                    let _ = self.0.send(("state", *conn.state()));
                    let _ = self.0.send(("peer", conn.peer()));
                }
                Event::Readable if conn.read_closed() => conn.close(),
                _ => {}
            }
        }
        fn closed(&mut self, _id: ConnId, state: SocketAddr) {
            let _ = self.0.send(("closed", state));
        }
    }
    let (log, notes) = mpsc::channel();
    let running = start(Peers(log), Config::default());
    let client = connect(running.addr);
    let me = client.local_addr().unwrap();
    for what in ["open", "state", "peer"] {
        assert_eq!(notes.recv_timeout(WAIT).unwrap(), (what, me));
    }
    drop(client);
    assert_eq!(notes.recv_timeout(WAIT).unwrap(), ("closed", me));
}

/// Reports completions and writes them to the connection; closes when the
/// peer does.
fn completion_writer() -> (Script<u64, OnEvent<u64>>, Receiver<Note>) {
    let on_event: OnEvent<u64> = Box::new(|conn, event, log| match event {
        Event::Completion(n) => {
            let _ = log.send(Note::Got(conn.id(), n));
            conn.write(format!("{n};").as_bytes());
        }
        Event::Readable => {
            take_input(conn, log, false);
            if conn.read_closed() {
                conn.close();
            }
        }
        _ => {}
    });
    script(on_event)
}

#[test]
fn a_completion_from_another_thread_reaches_its_live_connection() {
    let (service, notes) = completion_writer();
    let running = start(service, Config::default());
    let mut client = connect(running.addr);
    let id = opened(&notes);
    let remote = running.remote.clone();
    thread::spawn(move || remote.complete(id, 42))
        .join()
        .unwrap();
    assert_eq!(next(&notes), Note::Got(id, 42));
    assert_eq!(read_n(&mut client, 3), b"42;");
}

#[test]
fn a_completion_for_a_closed_connection_never_reaches_the_one_reusing_its_slot() {
    let (service, notes) = completion_writer();
    let running = start(service, Config::default());

    let first = connect(running.addr);
    let old = opened(&notes);
    assert!(running.remote.is_open(old));
    drop(first);
    assert_eq!(next(&notes), Note::Read(old, Vec::new()));
    assert_eq!(next(&notes), Note::Closed(old));
    assert!(!running.remote.is_open(old));

    let mut second = connect(running.addr);
    let new = opened(&notes);
    assert_ne!(old, new);
    assert_eq!(
        slot(old),
        slot(new),
        "the new connection should reuse the slot, or this test shows nothing"
    );
    assert!(running.remote.is_open(new));
    assert!(
        !running.remote.is_open(old),
        "the slot's new holder is not the old connection"
    );

    // Completions are taken in the order they were queued, so a stale one
    // that got through would be seen before the fresh one.
    running.remote.complete(old, 1);
    running.remote.complete(new, 2);
    assert_eq!(next(&notes), Note::Got(new, 2));
    running
        .remote
        .complete_all([(old, 3), (new, 4), (old, 5), (new, 6)]);
    assert_eq!(next(&notes), Note::Got(new, 4));
    assert_eq!(next(&notes), Note::Got(new, 6));
    assert_eq!(read_n(&mut second, 6), b"2;4;6;");
}

#[test]
fn completions_sent_in_bursts_from_other_threads_all_arrive_in_order() {
    const CONNS: usize = 4;
    const PER_PRODUCER: u64 = 2_000;
    let (service, notes) = script(|conn, event: Event<u64>, log| {
        if let Event::Completion(n) = event {
            let _ = log.send(Note::Got(conn.id(), n));
        }
    });
    let running = start(service, Config::default());
    let clients: Vec<TcpStream> = (0..CONNS).map(|_| connect(running.addr)).collect();
    let ids: Vec<ConnId> = (0..CONNS).map(|_| opened(&notes)).collect();

    // A payload is `producer << 32 | sequence number`.
    let payload = |producer: u64, seq: u64| (producer << 32) | seq;
    let mut producers = Vec::new();
    // Producer 0: everything in one `complete_all`.
    let (remote, conns) = (running.remote.clone(), ids.clone());
    producers.push(thread::spawn(move || {
        remote.complete_all(
            (0..PER_PRODUCER).flat_map(|s| conns.iter().map(move |&id| (id, payload(0, s)))),
        );
    }));
    // Producer 1: one `complete` per completion.
    let (remote, conns) = (running.remote.clone(), ids.clone());
    producers.push(thread::spawn(move || {
        for s in 0..PER_PRODUCER {
            for &id in &conns {
                remote.complete(id, payload(1, s));
            }
        }
    }));
    // Producer 2: many small batches.
    let (remote, conns) = (running.remote.clone(), ids.clone());
    producers.push(thread::spawn(move || {
        let all: Vec<(ConnId, u64)> = (0..PER_PRODUCER)
            .flat_map(|s| conns.iter().map(move |&id| (id, payload(2, s))))
            .collect();
        for batch in all.chunks(7) {
            remote.complete_all(batch.iter().copied());
        }
    }));
    for p in producers {
        p.join().unwrap();
    }

    let mut expected: HashMap<(ConnId, u64), u64> = HashMap::new();
    let total = 3 * PER_PRODUCER as usize * CONNS;
    for _ in 0..total {
        match next(&notes) {
            Note::Got(id, n) => {
                assert!(ids.contains(&id), "completion for an unknown {id:?}");
                let seq = expected.entry((id, n >> 32)).or_insert(0);
                assert_eq!(n & 0xffff_ffff, *seq, "out of order for {id:?}");
                *seq += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(expected.values().all(|&seq| seq == PER_PRODUCER));
    // And nothing more: the next one is this.
    running.remote.complete(ids[0], u64::MAX);
    assert_eq!(next(&notes), Note::Got(ids[0], u64::MAX));
    drop(clients);
}

#[test]
fn paused_reading_leaves_input_in_the_kernel_and_resuming_reads_it_without_a_new_edge() {
    let (service, notes) = script(|conn, event: Event<()>, log| match event {
        Event::Readable => {
            let bytes = take_input(conn, log, false);
            if bytes == b"pause" {
                conn.set_reading(false);
            }
        }
        Event::Completion(()) => {
            assert!(!conn.is_reading());
            let _ = log.send(Note::InputLen(conn.id(), conn.input().len()));
            conn.set_reading(true);
        }
        _ => {}
    });
    let running = start(service, Config::default());
    let mut paused = connect(running.addr);
    let a = opened(&notes);
    let mut marker = connect(running.addr);
    let m = opened(&notes);

    paused.write_all(b"pause").unwrap();
    assert_eq!(next(&notes), Note::Read(a, b"pause".to_vec()));

    // These bytes arrive while reading is off: their readiness edge is used
    // up while the loop does not read. The marker, sent after them on
    // another connection, shows that the loop has been through that edge.
    paused.write_all(b"later").unwrap();
    marker.write_all(b"marker").unwrap();
    assert_eq!(
        next(&notes),
        Note::Read(m, b"marker".to_vec()),
        "nothing may be read from a paused connection"
    );

    // Resume. The client sends nothing more, so no new edge comes: the bytes
    // must be read because reading was turned back on.
    running.remote.complete(a, ());
    assert_eq!(
        next(&notes),
        Note::InputLen(a, 0),
        "the loop read input while paused"
    );
    let mut later = Vec::new();
    while later.len() < 5 {
        match next(&notes) {
            Note::Read(id, bytes) if id == a => later.extend(bytes),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(later, b"later");
}

/// A connection that is not being read, its reading paused or its input
/// buffer full, is still closed as soon as its peer resets it, not when
/// the service next reads or writes: a service may be waiting on it for
/// as long as its peer is silent.
#[test]
fn a_reset_is_noticed_while_a_connection_is_not_read() {
    const MAX: usize = 8 * 1024;
    // The service consumes nothing; it pauses on `pause`, and writes two
    // bytes when told to, so that the client can leave one unread and
    // reset the connection by closing.
    let (service, notes) = script(|conn, event: Event<()>, log| match event {
        Event::Readable => {
            if conn.input().bytes().starts_with(b"pause") {
                conn.set_reading(false);
            }
            let _ = log.send(Note::InputLen(conn.id(), conn.input().len()));
        }
        Event::Completion(()) => conn.write(b"xy"),
        _ => {}
    });
    let running = start(service, small_input(MAX));
    let reset = |mut client: TcpStream, id: ConnId| {
        running.remote.complete(id, ());
        assert_eq!(read_n(&mut client, 1), b"x");
        // Closed with a byte unread: the kernel resets the connection.
        drop(client);
        loop {
            match next(&notes) {
                Note::Closed(closed) if closed == id => break,
                Note::InputLen(i, _) if i == id => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    };

    let mut paused = connect(running.addr);
    let a = opened(&notes);
    paused.write_all(b"pause").unwrap();
    assert_eq!(next(&notes), Note::InputLen(a, 5));
    reset(paused, a);

    let mut full = connect(running.addr);
    let b = opened(&notes);
    full.write_all(&pattern(4 * MAX)).unwrap();
    loop {
        match next(&notes) {
            Note::InputLen(i, len) if i == b && len == MAX => break,
            Note::InputLen(i, _) if i == b => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    reset(full, b);
}

/// Connect to `running` and send it `n` bytes of [`pattern`] from a thread
/// (the kernel's buffers fill up while the loop waits): the connection, the
/// bytes, and the thread, which gives the client back.
fn send_pattern<S: Service>(
    running: &Running<S>,
    notes: &Receiver<Note>,
    n: usize,
) -> (ConnId, Vec<u8>, thread::JoinHandle<io::Result<TcpStream>>) {
    let mut client = connect(running.addr);
    let id = opened(notes);
    let data = pattern(n);
    let to_send = data.clone();
    let writer = thread::spawn(move || client.write_all(&to_send).map(|()| client));
    (id, data, writer)
}

#[test]
fn input_never_grows_past_max_input_and_reading_resumes_once_consumed() {
    const MAX: usize = 8 * 1024;
    const SENT: usize = 256 * 1024;
    // The service consumes nothing until told to.
    let (service, notes) = script(|conn, event: Event<()>, log| match event {
        Event::Readable => {
            let _ = log.send(Note::InputLen(conn.id(), conn.input().len()));
        }
        Event::Completion(()) => {
            take_input(conn, log, false);
        }
        _ => {}
    });
    let running = start(service, small_input(MAX));
    let (id, data, writer) = send_pattern(&running, &notes, SENT);

    let mut consumed = Vec::new();
    let mut full = 0;
    while consumed.len() < SENT {
        let len = match next(&notes) {
            Note::InputLen(i, len) if i == id => len,
            other => panic!("unexpected {other:?}"),
        };
        assert!(len <= MAX, "input grew to {len}, past max_input {MAX}");
        if len == MAX {
            full += 1;
        }
        if len == MAX || consumed.len() + len == SENT {
            // Nothing more can come until the service consumes: the buffer
            // is full, or everything has been read.
            running.remote.complete(id, ());
            match next(&notes) {
                Note::Read(i, bytes) if i == id => {
                    assert_eq!(bytes.len(), len);
                    consumed.extend(bytes);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(full > 0, "the bound was never reached");
    assert_same_bytes(&consumed, &data);
    let _client = writer.join().unwrap().expect("write");
}

#[test]
fn input_consumed_as_it_comes_is_read_through_a_buffer_of_the_usual_size() {
    // A stream the service takes as it comes (a request body, say) is
    // handed over a buffer at a time: the buffer is not grown, and freed
    // and grown again, for every read of it.
    const SENT: usize = 1024 * 1024;
    let (service, notes) = script(|conn, event: Event<()>, log| {
        if let Event::Readable = event {
            let _ = log.send(Note::InputLen(conn.id(), conn.input().len()));
            take_input(conn, log, false);
        }
    });
    let config = Config::default();
    let running = start(service, config);
    let (id, data, writer) = send_pattern(&running, &notes, SENT);
    let mut consumed = Vec::new();
    while consumed.len() < SENT {
        match next(&notes) {
            Note::InputLen(i, len) if i == id => {
                assert!(len <= config.buffer_size, "{len} bytes read at once");
            }
            Note::Read(i, bytes) if i == id => consumed.extend(bytes),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_same_bytes(&consumed, &data);
    let _client = writer.join().unwrap().expect("write");
}

/// A command for the deadline tests.
enum Cmd {
    SetDeadline(Option<Instant>),
    Probe,
}

fn deadline_script() -> (Script<Cmd, OnEvent<Cmd>>, Receiver<Note>) {
    let on_event: OnEvent<Cmd> = Box::new(|conn, event, log| match event {
        Event::Completion(cmd) => {
            if let Cmd::SetDeadline(at) = cmd {
                conn.set_deadline(at);
            }
            let _ = log.send(Note::Ack(conn.id()));
        }
        Event::Deadline => {
            let _ = log.send(Note::Deadline(conn.id()));
        }
        _ => {}
    });
    script(on_event)
}

#[test]
fn a_deadline_fires_once() {
    let (service, notes) = deadline_script();
    let running = start(service, Config::default());
    let _client = connect(running.addr);
    let id = opened(&notes);
    let soon = Instant::now() + Duration::from_millis(20);
    running.remote.complete(id, Cmd::SetDeadline(Some(soon)));
    assert_eq!(next(&notes), Note::Ack(id));
    assert_eq!(next(&notes), Note::Deadline(id));
    // A probe queued after the deadline fired is answered before any second
    // firing could be: there is none.
    running.remote.complete(id, Cmd::Probe);
    assert_eq!(next(&notes), Note::Ack(id));
}

#[test]
fn a_deadline_cleared_or_replaced_before_it_is_due_does_not_fire() {
    let (service, notes) = deadline_script();
    let running = start(service, Config::default());
    let _client = connect(running.addr);
    let id = opened(&notes);

    // Each pair is carried out in one turn of the loop: the first sets a
    // deadline already past (so it is queued, and due in that very turn), the
    // second clears or replaces it before the turn's timers are looked at.
    let past = Instant::now();
    let far = Instant::now() + Duration::from_secs(3600);
    for second in [None, Some(far)] {
        running.remote.complete_all([
            (id, Cmd::SetDeadline(Some(past))),
            (id, Cmd::SetDeadline(second)),
        ]);
        assert_eq!(next(&notes), Note::Ack(id));
        assert_eq!(next(&notes), Note::Ack(id));
        // Queued after the acks, so taken in a later turn than the timers of
        // the turn above: a wrongly fired deadline would come first.
        running.remote.complete(id, Cmd::Probe);
        assert_eq!(next(&notes), Note::Ack(id), "a cleared deadline fired");
    }

    // The same past deadline, left alone, does fire.
    running.remote.complete(id, Cmd::SetDeadline(Some(past)));
    assert_eq!(next(&notes), Note::Ack(id));
    assert_eq!(next(&notes), Note::Deadline(id));
}

#[test]
fn a_deadline_rearmed_in_the_past_fires_again_without_starving_other_connections() {
    let mut rearm = HashSet::new();
    let mut fired = 0;
    let (service, notes) = script(move |conn, event: Event<()>, log| match event {
        Event::Completion(()) => {
            rearm.insert(conn.id());
            conn.set_deadline(Some(conn.now()));
        }
        Event::Deadline => {
            fired += 1;
            if fired <= 3 {
                let _ = log.send(Note::Deadline(conn.id()));
            }
            if rearm.contains(&conn.id()) {
                conn.set_deadline(Some(conn.now()));
            }
        }
        Event::Readable => {
            take_input(conn, log, true);
        }
        _ => {}
    });
    let running = start(service, Config::default());
    let _spinning = connect(running.addr);
    let a = opened(&notes);
    let mut other = connect(running.addr);
    let b = opened(&notes);

    running.remote.complete(a, ());
    for _ in 0..3 {
        assert_eq!(next(&notes), Note::Deadline(a));
    }
    // The loop keeps turning: another connection is still served.
    other.write_all(b"ping").unwrap();
    assert_eq!(read_n(&mut other, 4), b"ping");
    assert_eq!(next(&notes), Note::Read(b, b"ping".to_vec()));
}

/// Check that connection `id` has output pending after the loop has flushed
/// it at least once, its client having read nothing: the loop stopped at
/// `WouldBlock` and has to wait for `WRITABLE`. The service reports
/// [`Note::Pending`] on each completion. The first completion may be taken
/// in the turn that opened the connection, before that turn's flush; the
/// second, sent once the first has been answered, is taken in a later turn.
fn assert_blocked_after_a_flush<C>(
    remote: &Remote<C>,
    id: ConnId,
    notes: &Receiver<Note>,
    cmds: [C; 2],
) {
    for cmd in cmds {
        remote.complete(id, cmd);
        match next(notes) {
            Note::Pending(i, pending) if i == id => assert!(
                pending > 0,
                "all output fit in the socket: this test would not show that \
                 writing resumes on WRITABLE"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn output_larger_than_the_socket_buffers_reaches_a_slow_reader_whole() {
    let data = Arc::new(pattern(BIG));
    let for_service = Arc::clone(&data);
    let (service, notes) = script(move |conn, event: Event<()>, log| match event {
        Event::Opened => conn.send(for_service.to_vec()),
        Event::Completion(()) => {
            let _ = log.send(Note::Pending(conn.id(), conn.pending_output()));
        }
        Event::Drained => {
            let _ = log.send(Note::Drained(conn.id()));
            conn.close_after_flush();
        }
        _ => {}
    });
    let running = start(service, Config::default());
    let mut client = connect(running.addr);
    let id = opened(&notes);

    // The client has read nothing: the loop wrote what the socket took and
    // is left with the rest, to be written on WRITABLE.
    assert_blocked_after_a_flush(&running.remote, id, &notes, [(), ()]);

    // Read slowly, in small pieces.
    let mut got = Vec::with_capacity(BIG);
    let mut chunk = [0u8; 4096];
    for i in 0.. {
        let n = client.read(&mut chunk).expect("read");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
        if i % 64 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    assert_same_bytes(&got, &data);
    assert_eq!(next(&notes), Note::Drained(id));
    assert_eq!(next(&notes), Note::Closed(id));
}

#[test]
fn output_queued_by_write_and_send_arrives_in_the_order_it_was_queued() {
    // Pieces of several sizes, each telling where it belongs.
    let piece =
        |tag: u8, len: usize| -> Vec<u8> { (0..len).map(|i| tag ^ (i % 199) as u8).collect() };
    let first = [piece(1, 4), piece(2, BIG), piece(3, 3)];
    let second = [
        piece(4, 5),
        piece(5, 64 * 1024),
        piece(6, 100),
        piece(7, 20 * 1024),
        piece(8, 2),
    ];
    let want: Vec<u8> = first.iter().chain(&second).flatten().copied().collect();
    let (service, notes) = script(move |conn, event: Event<bool>, log| match event {
        Event::Opened => {
            conn.write(&first[0]);
            conn.send(first[1].clone());
            conn.write(&first[2]);
        }
        Event::Completion(queue_second) => {
            let _ = log.send(Note::Pending(conn.id(), conn.pending_output()));
            if !queue_second {
                return;
            }
            // Queued while the first batch is only partly written.
            conn.write(&second[0]);
            conn.send(second[1].clone());
            conn.send(second[2].clone());
            conn.send(second[3].clone());
            conn.write(&second[4]);
            conn.close_after_flush();
        }
        _ => {}
    });
    let running = start(service, Config::default());
    let mut client = connect(running.addr);
    let id = opened(&notes);
    assert_blocked_after_a_flush(&running.remote, id, &notes, [false, true]);
    assert_same_bytes(&read_to_eof(&mut client), &want);
    assert_eq!(next(&notes), Note::Closed(id));
}

#[test]
fn a_client_that_stops_reading_is_closed_after_write_timeout() {
    let (service, notes) = script(|conn, event: Event<()>, _log| {
        if let Event::Opened = event {
            conn.send(pattern(BIG));
        }
    });
    let config = Config {
        write_timeout: Duration::from_millis(50),
        ..Config::default()
    };
    let running = start(service, config);
    let _client = connect(running.addr);
    let id = opened(&notes);
    assert_eq!(next(&notes), Note::Closed(id));
}

/// A service that answers a connection's first input with `reply`, asks to
/// linger, and closes after the reply; input after that is dropped.
fn replies_then_lingers(reply: Arc<Vec<u8>>) -> (Script<(), OnEvent<()>>, Receiver<Note>) {
    let mut answered = HashSet::new();
    script(Box::new(move |conn, event, _log| {
        if let Event::Readable = event {
            let n = conn.input().len();
            conn.input().consume(n);
            if n > 0 && answered.insert(conn.id()) {
                conn.send(reply.to_vec());
                conn.linger_on_close();
                conn.close_after_flush();
            }
        }
    }))
}

/// Keep writing to `stream` on another thread until `stop` is set (or 1 GiB
/// is written), then shut down the write side; the thread returns how many
/// bytes it wrote and the error that stopped it, if any.
fn keep_writing(
    stream: &TcpStream,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<(usize, Option<ErrorKind>)> {
    let mut stream = stream.try_clone().expect("clone");
    thread::spawn(move || {
        let chunk = [b'u'; 16 * 1024];
        let mut sent = 0;
        while !stop.load(Ordering::SeqCst) && sent < 1 << 30 {
            match stream.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) => return (sent, Some(e.kind())),
            }
        }
        let _ = stream.shutdown(Shutdown::Write);
        (sent, None)
    })
}

/// A client with a small receive window, so a large reply is still in the
/// server's socket when the server is done writing it.
fn connect_small_window(addr: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

#[test]
fn a_lingering_close_lets_a_peer_that_is_still_sending_read_all_of_its_reply() {
    // Closing outright while the peer sends would reset the connection and
    // throw away the part of the reply still in the server's socket.
    let reply = Arc::new(pattern(4 * 1024 * 1024));
    let (service, notes) = replies_then_lingers(Arc::clone(&reply));
    let config = Config {
        linger_timeout: WAIT,
        linger_bytes: usize::MAX,
        ..Config::default()
    };
    let running = start(service, config);
    let mut client = connect_small_window(running.addr);
    let id = opened(&notes);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(&client, Arc::clone(&stop));
    // The reply, then the end of the server's stream, while the client
    // still sends.
    let got = read_to_eof(&mut client);
    assert_same_bytes(&got, &reply);
    stop.store(true, Ordering::SeqCst);
    // The server read and dropped what the client sent after the reply, and
    // closed once the client had finished.
    let (sent, error) = writer.join().expect("writer");
    assert_eq!(error, None, "after {sent} bytes");
    assert_eq!(next(&notes), Note::Closed(id));
}

#[test]
fn lingering_ends_at_linger_timeout_or_after_linger_bytes() {
    // A loop under `config` with a client that has had its reply and the
    // end of the server's stream.
    let lingering = |config: Config| {
        let (service, notes) = replies_then_lingers(Arc::new(b"bye".to_vec()));
        let running = start(service, config);
        let mut client = connect(running.addr);
        let id = opened(&notes);
        client.write_all(b"hi").unwrap();
        assert_eq!(read_to_eof(&mut client), b"bye");
        (running, notes, client, id)
    };

    // A peer that neither sends nor closes.
    let (_running, notes, _quiet, id) = lingering(Config {
        linger_timeout: Duration::from_millis(50),
        ..Config::default()
    });
    assert_eq!(next(&notes), Note::Closed(id));

    // A peer that sends on and on.
    let (_running, notes, flood, id) = lingering(Config {
        linger_timeout: WAIT,
        linger_bytes: 64 * 1024,
        ..Config::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, error) = keep_writing(&flood, stop).join().expect("writer");
    assert!(error.is_some(), "{sent} bytes taken after the reply");
    assert_eq!(next(&notes), Note::Closed(id));
}

#[test]
fn shutdown_now_returns_the_service_closes_connections_and_the_listener() {
    let (service, notes) = completion_writer();
    let running = start(service, Config::default());
    let mut client = connect(running.addr);
    let id = opened(&notes);

    running.remote.shutdown_now();
    let service = running.finished();
    assert_eq!(service.opened, 1);
    assert_eq!(next(&notes), Note::Closed(id));
    assert_eq!(read_to_eof(&mut client), b"");
    let refused = TcpStream::connect(running.addr).expect_err("the listener is closed");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);

    // A remote outliving its loop is harmless.
    running.remote.complete(id, 1);
    running.remote.wake();
    running.remote.shutdown_graceful(Instant::now());
}

#[test]
fn completions_for_a_loop_that_has_ended_are_dropped_not_kept() {
    let (service, notes) = script(|conn: &mut Conn<'_, ()>, event, log: &Sender<Note>| {
        if let Event::Readable = event {
            take_input(conn, log, false);
        }
    });
    let running = start(service, Config::default());
    let _client = connect(running.addr);
    let id = opened(&notes);
    running.remote.shutdown_now();
    running.finished();

    // Sent after the loop ended: the payload is released at once, not held
    // in the queue for as long as a `Remote` lives.
    let payload = Arc::new(());
    running.remote.complete(id, Arc::clone(&payload));
    running
        .remote
        .complete_all((0..3).map(|_| (id, Arc::clone(&payload))));
    assert_eq!(Arc::strong_count(&payload), 1);
}

#[test]
fn graceful_shutdown_stops_accepting_and_waits_for_open_connections() {
    let (service, notes) = script(|conn, event: Event<()>, log| match event {
        Event::Shutdown => {
            let _ = log.send(Note::Shutdown(conn.id()));
        }
        Event::Completion(()) => {
            let _ = log.send(Note::Ack(conn.id()));
            conn.write(b"bye");
            conn.close_after_flush();
        }
        _ => {}
    });
    let running = start(service, Config::default());
    let mut client = connect(running.addr);
    let id = opened(&notes);

    running
        .remote
        .shutdown_graceful(Instant::now() + Duration::from_secs(3600));
    assert_eq!(next(&notes), Note::Shutdown(id));
    // The listener was closed before connections were told.
    let refused = TcpStream::connect(running.addr).expect_err("the listener is closed");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    assert!(
        matches!(running.done.try_recv(), Err(TryRecvError::Empty)),
        "the loop stopped with a connection open and its deadline far away"
    );

    // The connection is still served, and once it closes the loop ends.
    running.remote.complete(id, ());
    assert_eq!(next(&notes), Note::Ack(id));
    assert_eq!(read_to_eof(&mut client), b"bye");
    assert_eq!(next(&notes), Note::Closed(id));
    running.finished();
}

#[test]
fn graceful_shutdown_closes_what_is_still_open_at_its_deadline() {
    let (service, notes) = script(|conn, event: Event<()>, log| {
        if let Event::Shutdown = event {
            // Ignored: the connection stays open.
            let _ = log.send(Note::Shutdown(conn.id()));
        }
    });
    let running = start(service, Config::default());
    let mut client = connect(running.addr);
    let id = opened(&notes);
    running.remote.shutdown_graceful(Instant::now());
    running.finished();
    assert_eq!(next(&notes), Note::Shutdown(id));
    assert_eq!(next(&notes), Note::Closed(id));
    assert_eq!(read_to_eof(&mut client), b"");
}

#[test]
fn at_max_connections_the_loop_accepts_again_once_one_closes() {
    let (service, notes) = script(|conn, event: Event<()>, _log| {
        if let Event::Readable = event {
            let bytes = conn.input().bytes().to_vec();
            conn.input().consume(bytes.len());
            conn.write(&bytes);
            if conn.read_closed() {
                conn.close_after_flush();
            }
        }
    });
    let config = Config {
        max_connections: 1,
        ..Config::default()
    };
    let running = start(service, config);
    let mut first = connect(running.addr);
    let a = opened(&notes);

    // The kernel completes this handshake, but the loop must not take it.
    let mut second = connect(running.addr);
    second.write_all(b"second").unwrap();
    // A round trip on the first connection, after the second connected.
    first.write_all(b"first").unwrap();
    assert_eq!(read_n(&mut first, 5), b"first");
    assert_eq!(
        notes.try_recv(),
        Err(TryRecvError::Empty),
        "a connection was accepted past max_connections"
    );

    drop(first);
    assert_eq!(next(&notes), Note::Closed(a));
    let b = opened(&notes);
    assert_ne!(a, b);
    // Its early bytes waited in the kernel.
    assert_eq!(read_n(&mut second, 6), b"second");
}

#[test]
fn remote_wake_runs_end_of_batch_and_the_connections_it_names_are_woken() {
    /// Wakes whatever is listed in `wanted`; a woken connection asks to be
    /// woken again, three times in all, with nothing else happening.
    struct Waking {
        wanted: Arc<Mutex<Vec<ConnId>>>,
        log: Sender<Note>,
    }
    impl Service for Waking {
        type State = usize;
        type Completion = ();
        fn open(&mut self, _peer: SocketAddr) -> usize {
            0
        }
        fn event(&mut self, conn: &mut Conn<'_, usize>, event: Event<()>) {
            match event {
                Event::Opened => {
                    let _ = self.log.send(Note::Opened(conn.id()));
                }
                Event::Wake => {
                    let _ = self.log.send(Note::Woken(conn.id()));
                    conn.write(b"w");
                    *conn.state() += 1;
                    if *conn.state() < 3 {
                        self.wanted.lock().unwrap().push(conn.id());
                    }
                }
                _ => {}
            }
        }
        fn end_of_batch(&mut self, wake: &mut Vec<ConnId>) {
            wake.append(&mut self.wanted.lock().unwrap());
        }
    }
    let wanted = Arc::new(Mutex::new(Vec::new()));
    let (log, notes) = mpsc::channel();
    let service = Waking {
        wanted: Arc::clone(&wanted),
        log,
    };
    let running = start(service, Config::default());
    let mut client = connect(running.addr);
    let id = opened(&notes);

    // Nothing happens on any socket: only the wake makes the loop look.
    wanted.lock().unwrap().push(id);
    running.remote.wake();
    for _ in 0..3 {
        assert_eq!(next(&notes), Note::Woken(id));
    }
    assert_eq!(read_n(&mut client, 3), b"www");
}

#[test]
fn a_listener_whose_accepts_keep_failing_does_not_stall_the_loop() {
    let listener = reactor::bind("127.0.0.1:0".parse().unwrap(), &Default::default()).unwrap();
    let addr = listener.local_addr().unwrap();
    let kept = listener.try_clone().unwrap();
    let (event_loop, remote) = EventLoop::new(Echo, vec![listener], Config::default()).unwrap();
    let loop_thread = thread::spawn(move || event_loop.run().map(|_| ()));
    let mut client = connect(addr);
    client.write_all(b"before").unwrap();
    assert_eq!(read_n(&mut client, 6), b"before");
    // A listening socket shut for reading stops listening: every accept
    // fails (EINVAL on Linux), and the shutdown wakes the loop to try.
    socket2::SockRef::from(&kept)
        .shutdown(Shutdown::Read)
        .unwrap();
    for i in 0..20 {
        let message = format!("after {i}");
        client.write_all(message.as_bytes()).unwrap();
        assert_eq!(read_n(&mut client, message.len()), message.as_bytes());
    }
    remote.shutdown_now();
    loop_thread.join().unwrap().unwrap();
}

/// Output a peer does not read is counted in the held-output gauge while
/// the socket takes no more, heap bytes only, and leaves it once written.
#[test]
fn held_output_counts_unwritten_heap_bytes_until_they_are_written() {
    static STATIC_BIG: [u8; BIG] = [7; BIG];
    let (service, _notes) = script(|conn: &mut Conn<'_, ()>, event: Event<()>, _log| {
        if let Event::Readable = event {
            let n = conn.input().len();
            conn.input().consume(n);
            if n > 0 {
                conn.send_static(&STATIC_BIG);
                conn.send(pattern(BIG));
            }
        }
    });
    let gauge = Arc::new(AtomicUsize::new(0));
    let running = start_counting(service, Config::default(), Some(Arc::clone(&gauge)));

    let mut client = connect(running.addr);
    client.write_all(b"go").unwrap();
    let start = Instant::now();
    while gauge.load(Ordering::Relaxed) == 0 {
        assert!(start.elapsed() < WAIT, "nothing counted as held");
        thread::yield_now();
    }
    // The kernel took some of the static bytes at most: the owned vector
    // is all that may count.
    let held = gauge.load(Ordering::Relaxed);
    assert!(
        held <= BIG,
        "{held} bytes counted, more than the heap holds"
    );

    assert!(read_n(&mut client, BIG).iter().all(|&b| b == 7));
    assert_same_bytes(&read_n(&mut client, BIG), &pattern(BIG));
    let start = Instant::now();
    while gauge.load(Ordering::Relaxed) != 0 {
        assert!(start.elapsed() < WAIT, "written output still counted");
        thread::yield_now();
    }
}
