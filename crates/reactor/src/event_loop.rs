//! [`EventLoop`], [`Service`], [`Conn`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::remote::{EndOnDrop, Shared, GRACEFUL, IMMEDIATE, RUNNING};
use crate::{Buffer, ConnId, Remote};

const WAKER: Token = Token(usize::MAX);
/// Rounds of [`Service::end_of_batch`] wakes per batch, at most.
const MAX_WAKE_ROUNDS: usize = 64;
/// Rounds of writing and re-reading in one go, after which the loop polls
/// (without blocking) before going on: a connection whose client keeps its
/// socket full, and reads what comes back, would otherwise be served round
/// after round while no other connection's events are looked at.
const MAX_FLUSH_ROUNDS: usize = 16;
/// Drained output vectors up to this capacity are kept for reuse; larger
/// ones (a big response brought its own) are freed.
const POOLED_OUTPUT_MAX: usize = 16 * 1024;
/// Output handed over whole from this size on is queued as it is, not
/// copied behind what is already pending.
const WHOLE_FROM: usize = 16 * 1024;
/// Accept errors in a row, other than running out of descriptors or
/// memory, after which accepting pauses for `accept_backoff`.
const MAX_ACCEPT_FAILURES: usize = 64;
/// Timer entries of closed connections kept before the heap is pruned (24
/// bytes each).
const STALE_TIMERS: usize = 1024;
/// Listener `i` has token `LISTENER_BASE - i`.
const LISTENER_BASE: usize = usize::MAX - 1;

/// Settings of one event loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Open connections at most; at the cap the loop stops accepting until one
    /// closes.
    pub max_connections: usize,
    /// Size of a fresh input buffer, and of the buffers kept in the pool.
    pub buffer_size: usize,
    /// A connection's input never grows past this; once it is full, reading
    /// pauses until the service has consumed `buffer_size` bytes of it (or
    /// a quarter of it, if less), so that a read never moves many bytes to
    /// make room for a few. A service that waits for more of a message
    /// before it consumes any must therefore take messages of at most
    /// `max_input` less that much.
    pub max_input: usize,
    /// A connection whose pending output makes no progress for this long is
    /// closed (a client that stopped reading).
    pub write_timeout: Duration,
    /// How many idle buffers the loop keeps for reuse.
    pub pool_buffers: usize,
    /// Capacity of the reused `Events`.
    pub events: usize,
    /// How long to stop accepting after the process runs out of file
    /// descriptors (EMFILE/ENFILE) or memory, or after 64 other accept
    /// errors in a row, instead of spinning on the error.
    pub accept_backoff: Duration,
    /// A connection the service asked to linger
    /// ([`Conn::linger_on_close`]) reads and drops what its peer still
    /// sends for at most this long after its output is written, before it
    /// closes.
    pub linger_timeout: Duration,
    /// ... and at most this many bytes. Either at zero: close at once.
    pub linger_bytes: usize,
}

impl Config {
    /// How much room a full input buffer needs before it is read again:
    /// a fresh buffer's worth, or a quarter of `max_input` if less, so that
    /// a read moves at most a few bytes for each it gains (see
    /// `Buffer::spare`).
    fn reread_room(&self) -> usize {
        self.buffer_size.min(self.max_input / 4).max(1)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_connections: 10_000,
            buffer_size: 16 * 1024,
            max_input: 80 * 1024,
            write_timeout: Duration::from_secs(30),
            pool_buffers: 256,
            events: 1024,
            accept_backoff: Duration::from_millis(100),
            linger_timeout: Duration::from_secs(2),
            linger_bytes: 1024 * 1024,
        }
    }
}

/// What happened to a connection.
#[derive(Debug)]
pub enum Event<C> {
    /// The connection was just accepted.
    Opened,
    /// New input arrived, or the peer closed its side ([`Conn::read_closed`]).
    Readable,
    /// Work handed to another thread came back through [`Remote::complete`].
    Completion(C),
    /// The deadline set with [`Conn::set_deadline`] passed.
    Deadline,
    /// All pending output was written.
    Drained,
    /// A graceful shutdown began: finish what is in flight and close.
    Shutdown,
    /// The service asked for this connection to be woken, from
    /// [`Service::end_of_batch`].
    Wake,
}

/// A protocol plugged into an [`EventLoop`].
pub trait Service {
    /// Per-connection protocol state.
    type State;
    /// What other threads send back through [`Remote`].
    type Completion: Send + 'static;

    /// A connection was accepted from `peer`: its initial state.
    fn open(&mut self, peer: SocketAddr) -> Self::State;

    /// Something happened on a connection.
    fn event(&mut self, conn: &mut Conn<'_, Self::State>, event: Event<Self::Completion>);

    /// The connection closed (either side, or an error); its state is given
    /// back. Completions still on their way for it will be dropped.
    fn closed(&mut self, _id: ConnId, _state: Self::State) {}

    /// Called after each batch of events, before the loop blocks: the place
    /// to hand a batch of work to other threads. Connections pushed onto
    /// `wake` get [`Event::Wake`] (e.g. ones waiting for room in a queue),
    /// after which this is called again, until it pushes none (or a bound).
    fn end_of_batch(&mut self, _wake: &mut Vec<ConnId>) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    No,
    AfterFlush,
    Now,
    /// Output written and the write side shut down: what the peer still
    /// sends is read and dropped (counted in `Entry::written`) until it
    /// closes its side, the deadline passes or `linger_bytes` are dropped.
    /// The service sees no more events.
    Lingering,
}

/// The loop's drained output vectors, empty, for output to start in.
struct Spares {
    pool: Vec<Vec<u8>>,
    /// At most this many are kept (`pool_buffers`).
    max: usize,
}

impl Spares {
    /// Keep a written-out vector if it is small and there is room; else
    /// free it.
    fn keep(&mut self, mut v: Vec<u8>) {
        if v.capacity() > 0 && v.capacity() <= POOLED_OUTPUT_MAX && self.pool.len() < self.max {
            v.clear();
            self.pool.push(v);
        }
    }
}

/// A large piece of output, queued whole.
enum Chunk {
    Owned(Vec<u8>),
    Static(&'static [u8]),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Static(s) => s,
        }
    }
}

struct Entry<S> {
    generation: u32,
    stream: TcpStream,
    peer: SocketAddr,
    input: Buffer,
    /// Large output queued whole, to be written before `output`, in order.
    before: Vec<Chunk>,
    /// The tail of the output, where small writes are appended.
    output: Vec<u8>,
    /// Bytes written of the first piece of output (`before[0]`, or
    /// `output` when `before` is empty). While lingering, when no output is
    /// left, the bytes read and dropped so far (a field of its own would
    /// make every idle connection larger).
    written: usize,
    state: S,
    reading: bool,
    read_closed: bool,
    /// Whether WRITABLE is registered.
    want_write: bool,
    closing: Closing,
    /// Linger before closing after a flush ([`Conn::linger_on_close`]).
    linger: bool,
    deadline: Option<Instant>,
    write_deadline: Option<Instant>,
    /// The deadline of this connection's live timer-heap entry.
    queued: Option<Instant>,
    /// Listed in `dirty` for flushing.
    dirty: bool,
    /// The last write hit `WouldBlock`: wait for WRITABLE before trying again.
    blocked: bool,
    /// Reading stopped because the input buffer was full, not because the
    /// socket was empty: read again once the service has made room.
    full: bool,
    /// The bytes of this connection counted in the loop's held-output gauge
    /// (see [`EventLoop::count_held_output`]; at most `u32::MAX`).
    held: u32,
}

impl<S> Entry<S> {
    fn has_pending(&self) -> bool {
        !self.before.is_empty() || self.output.len() > self.written
    }

    fn pending_len(&self) -> usize {
        let before: usize = self.before.iter().map(|c| c.bytes().len()).sum();
        // Saturating: a service that shortens `output` below what was written
        // of it leaves nothing pending, not an overflow.
        (before + self.output.len()).saturating_sub(self.written)
    }

    /// The pending bytes that are in heap memory (static chunks are not).
    fn pending_heap_len(&self) -> usize {
        let mut total = self.output.len();
        for chunk in &self.before {
            if let Chunk::Owned(v) = chunk {
                total += v.len();
            }
        }
        // `written` counts in the first piece; a static one holds no memory.
        match self.before.first() {
            Some(Chunk::Static(_)) => total,
            _ => total.saturating_sub(self.written),
        }
    }

    /// Bring this connection's part of `gauge` up to date: its pending
    /// heap bytes while its writes would block, else nothing.
    fn recount_held(&mut self, gauge: Option<&AtomicUsize>) {
        let Some(gauge) = gauge else {
            return;
        };
        let now = if self.blocked {
            u32::try_from(self.pending_heap_len()).unwrap_or(u32::MAX)
        } else {
            0
        };
        if now > self.held {
            gauge.fetch_add((now - self.held) as usize, Ordering::Relaxed);
        } else if now < self.held {
            gauge.fetch_sub((self.held - now) as usize, Ordering::Relaxed);
        }
        self.held = now;
    }

    /// Queue `chunk` after everything pending.
    fn push_chunk(&mut self, chunk: Chunk) {
        if self.before.is_empty() && self.output.len() == self.written {
            // Nothing pending: the chunk is first, nothing of it written.
            self.output.clear();
            self.written = 0;
        } else if !self.output.is_empty() {
            // The tail's bytes go first (`written` still counts in the
            // first piece, whichever it now is).
            self.before
                .push(Chunk::Owned(std::mem::take(&mut self.output)));
        }
        self.before.push(chunk);
    }

    /// Account for `n` bytes written, dropping the chunks they finish (an
    /// output vector among them goes back to `spares`).
    fn advance(&mut self, mut n: usize, spares: &mut Spares) {
        while let Some(first) = self.before.first() {
            let left = first.bytes().len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            if let Chunk::Owned(v) = self.before.remove(0) {
                spares.keep(v);
            }
            self.written = 0;
        }
        self.written += n;
    }

    /// Write what is pending, in one system call: the first pieces at once
    /// when large output is queued.
    fn write_some(&mut self) -> io::Result<usize> {
        if self.before.is_empty() {
            return self.stream.write(&self.output[self.written..]);
        }
        let mut slices = [IoSlice::new(&[]); 4];
        let mut n = 0;
        for chunk in self.before.iter().take(slices.len()) {
            let bytes = chunk.bytes();
            slices[n] = IoSlice::new(if n == 0 {
                &bytes[self.written..]
            } else {
                bytes
            });
            n += 1;
        }
        if n < slices.len() && self.before.len() == n && !self.output.is_empty() {
            slices[n] = IoSlice::new(&self.output);
            n += 1;
        }
        // `sendmsg` with `MSG_NOSIGNAL`, as std's `write` does with `send`: a
        // peer that has gone away is an error here, never a `SIGPIPE`.
        #[cfg(target_os = "linux")]
        let flags = libc::MSG_NOSIGNAL;
        #[cfg(not(target_os = "linux"))]
        let flags = 0;
        socket2::SockRef::from(&self.stream).send_vectored_with_flags(&slices[..n], flags)
    }
}

/// A connection, as a [`Service`] sees it during an event.
pub struct Conn<'a, S> {
    id: ConnId,
    entry: &'a mut Entry<S>,
    now: Instant,
    /// The loop's drained output vectors, for output to start in.
    outputs: &'a mut Spares,
}

impl<S> Conn<'_, S> {
    /// This connection's address in the loop.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.entry.peer
    }

    /// The time the loop woke up for this batch of events.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The protocol state.
    pub fn state(&mut self) -> &mut S {
        &mut self.entry.state
    }

    /// State, unconsumed input and the output vector at once (see
    /// [`output`](Conn::output): append to it only).
    pub fn parts(&mut self) -> (&mut S, &mut Buffer, &mut Vec<u8>) {
        let e = &mut *self.entry;
        (&mut e.state, &mut e.input, &mut e.output)
    }

    /// Unconsumed input.
    pub fn input(&mut self) -> &mut Buffer {
        &mut self.entry.input
    }

    /// Append output; it is written at the end of the batch, together with
    /// anything else queued, in as few writes as the socket allows. The
    /// vector may still hold bytes already written, so append only: its
    /// length is not what is pending ([`pending_output`](Conn::pending_output) is).
    pub fn output(&mut self) -> &mut Vec<u8> {
        let e = &mut *self.entry;
        if e.output.capacity() == 0 {
            if let Some(reused) = self.outputs.pool.pop() {
                e.output = reused;
            }
        }
        &mut e.output
    }

    /// Queue a copy of `bytes` as output, in a vector the loop reuses.
    pub fn write(&mut self, bytes: &[u8]) {
        self.output().extend_from_slice(bytes);
    }

    /// Queue `bytes` as output, taking the vector itself (no copy) when
    /// nothing else is pending or it is large (16 KiB or more): for bodies.
    pub fn send(&mut self, bytes: Vec<u8>) {
        let e = &mut *self.entry;
        if !e.has_pending() {
            e.output = bytes;
            e.written = 0;
        } else if bytes.len() >= WHOLE_FROM {
            e.push_chunk(Chunk::Owned(bytes));
        } else {
            self.write(&bytes);
        }
    }

    /// Queue `bytes` as output; large ones (16 KiB or more) are written
    /// from where they are, never copied.
    pub fn send_static(&mut self, bytes: &'static [u8]) {
        if bytes.len() >= WHOLE_FROM {
            self.entry.push_chunk(Chunk::Static(bytes));
        } else {
            self.write(bytes);
        }
    }

    /// Bytes queued and not yet written.
    pub fn pending_output(&self) -> usize {
        self.entry.pending_len()
    }

    /// Pause (`false`) or resume reading. While paused, input stays in the
    /// kernel's buffers and the peer is slowed by TCP flow control.
    pub fn set_reading(&mut self, reading: bool) {
        self.entry.reading = reading;
    }

    /// Whether reading is on.
    pub fn is_reading(&self) -> bool {
        self.entry.reading
    }

    /// Whether the peer has closed its side: no more input will come.
    pub fn read_closed(&self) -> bool {
        self.entry.read_closed
    }

    /// Close at once, dropping pending output.
    pub fn close(&mut self) {
        self.entry.closing = Closing::Now;
    }

    /// Close once pending output is written.
    pub fn close_after_flush(&mut self) {
        if self.entry.closing == Closing::No {
            self.entry.closing = Closing::AfterFlush;
        }
    }

    /// Whether the connection is closing.
    pub fn is_closing(&self) -> bool {
        self.entry.closing != Closing::No
    }

    /// When this connection closes once its output is written
    /// ([`close_after_flush`](Conn::close_after_flush)) and its peer may
    /// still be sending, linger instead of closing at once: shut down the
    /// write side (the peer reads the output, then the end of the stream),
    /// then read and drop what the peer sends until it closes its side, for
    /// at most [`Config::linger_timeout`] and [`Config::linger_bytes`].
    ///
    /// A socket closed with unread input, or that receives input after it
    /// is closed, sends a reset, and a reset can destroy output the peer
    /// has not read yet. Use this when the service stops reading before the
    /// peer has finished sending (a refused upload, requests sent after the
    /// last one answered), so the peer gets to read its last response. Not
    /// needed when the peer has already closed its side; [`close`](Conn::close)
    /// still closes at once.
    pub fn linger_on_close(&mut self) {
        self.entry.linger = true;
    }

    /// Deliver [`Event::Deadline`] at `deadline` (`None`: never). Replaces any
    /// earlier deadline.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.entry.deadline = deadline;
    }
}

/// Whether a connection that is not being read (its input buffer full, or
/// reading paused) has been reset by its peer: asked of its socket on a
/// hang-up or error event, or a read made to catch up, never per read.
/// A reset must not wait for the service to consume or resume: nothing
/// more will come, or go, and the service may be waiting on this
/// connection for as long as its peer is silent (for room in a budget,
/// say), holding what others wait for.
fn reset_while_not_reading<T>(entry: &mut Entry<T>) -> bool {
    matches!(entry.stream.take_error(), Ok(Some(_)))
}

/// One event loop: a thread's worth of connections.
pub struct EventLoop<S: Service> {
    /// Marks the loop ended for its [`Remote`]s when it goes away.
    _end: EndOnDrop<S::Completion>,
    poll: Poll,
    events: Events,
    listeners: Vec<Listening>,
    conns: Slab<Entry<S::State>>,
    next_generation: u32,
    shared: Arc<Shared<S::Completion>>,
    service: S,
    config: Config,
    /// `config.reread_room()`.
    reread_room: usize,
    /// Deadlines: at most one live entry per open connection, plus entries of
    /// closed connections (see [`prune_timers`](Self::prune_timers)).
    timers: BinaryHeap<Reverse<(Instant, ConnId)>>,
    dirty: Vec<ConnId>,
    to_read: Vec<ConnId>,
    to_wake: Vec<ConnId>,
    /// This turn's ready connections: (id, readable, writable, peer closed),
    /// kept to reuse its allocation.
    ready: Vec<(ConnId, bool, bool, bool)>,
    pool: Vec<Vec<u8>>,
    outputs: Spares,
    completions: Vec<(ConnId, S::Completion)>,
    /// Accepting stopped at the connection cap.
    at_cap: bool,
    /// Accepting stopped after EMFILE/ENFILE until then.
    accept_resume: Option<Instant>,
    /// Graceful shutdown in progress, until this deadline.
    draining: Option<Instant>,
    /// Poll without blocking next time: work was left over (cleared once a
    /// poll returns, so an interrupted one leaves it set).
    again: bool,
    /// Where held output is counted ([`count_held_output`](Self::count_held_output)).
    held_output: Option<Arc<AtomicUsize>>,
}

/// A listening socket of the loop.
struct Listening {
    socket: TcpListener,
    /// Whether the connections it gives are known to come with Nagle's
    /// algorithm off.
    nodelay: Nodelay,
}

/// Whether a connection accepted from a listening socket starts with the
/// listener's `TCP_NODELAY`: Linux copies it to each connection whose
/// handshake completes after the listener has it.
const NODELAY_INHERITED: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Where an accepted connection's `TCP_NODELAY` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nodelay {
    /// Each connection sets its own (the listener does not pass it on).
    Own,
    /// The listener passes it on now, but connections that were already
    /// waiting when it was set did not get it: each sets its own until the
    /// listener's queue has once been found empty.
    Draining,
    /// Every connection still to come has it from the listener.
    Inherited,
}

/// Make `listener` non-blocking and turn Nagle's algorithm off on it, so that
/// (where the kernel passes the option on) the connections it accepts need no
/// `setsockopt` of their own.
fn prepare_listener(listener: &std::net::TcpListener) -> io::Result<Nodelay> {
    listener.set_nonblocking(true)?;
    let passes_on = NODELAY_INHERITED && socket2::SockRef::from(listener).set_nodelay(true).is_ok();
    Ok(if passes_on {
        Nodelay::Draining
    } else {
        Nodelay::Own
    })
}

/// Turn Nagle's algorithm off on an accepted connection, unless it came so
/// from its listener: a response goes out whole at once, not after the
/// client's delayed ACK.
fn set_up_accepted(stream: &TcpStream, nodelay: Nodelay) {
    if nodelay != Nodelay::Inherited {
        let _ = stream.set_nodelay(true);
    }
}

fn is_fd_exhaustion(e: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux.
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12))
}

/// Put `id`'s deadline `at` in the timer heap, unless its live entry is due
/// no later (an earlier entry wakes it, and the later deadline is queued
/// then).
fn queue_timer<S>(
    timers: &mut BinaryHeap<Reverse<(Instant, ConnId)>>,
    entry: &mut Entry<S>,
    id: ConnId,
    at: Instant,
) {
    if entry.queued.is_none_or(|q| at < q) {
        entry.queued = Some(at);
        timers.push(Reverse((at, id)));
    }
}

/// Whether the timer-heap entry `(at, id)` is live: `id` is still open and
/// `at` is its queued deadline. Any other heap entry is stale.
fn live_timer<S>(conns: &Slab<Entry<S>>, at: Instant, id: ConnId) -> bool {
    conns
        .get(id.index())
        .is_some_and(|e| e.generation == id.generation() && e.queued == Some(at))
}

impl<S: Service> EventLoop<S> {
    /// A loop serving `listeners` (non-blocking std listeners, as [`crate::bind`]
    /// makes; several loops may share one through `try_clone`).
    pub fn new(
        service: S,
        listeners: Vec<std::net::TcpListener>,
        config: Config,
    ) -> io::Result<(EventLoop<S>, Remote<S::Completion>)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let mut listening = Vec::with_capacity(listeners.len());
        for (i, l) in listeners.into_iter().enumerate() {
            let nodelay = prepare_listener(&l)?;
            let mut socket = TcpListener::from_std(l);
            poll.registry()
                .register(&mut socket, Token(LISTENER_BASE - i), Interest::READABLE)?;
            listening.push(Listening { socket, nodelay });
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Some(Vec::new())),
            waker,
            stop: std::sync::atomic::AtomicU8::new(RUNNING),
            drain_deadline: Mutex::new(None),
            open: (0..config.max_connections.min(crate::remote::OPEN_SLOTS_MAX))
                .map(|_| std::sync::atomic::AtomicU32::new(0))
                .collect(),
        });
        let remote = Remote {
            shared: Arc::clone(&shared),
        };
        let event_loop = EventLoop {
            _end: EndOnDrop(Arc::clone(&shared)),
            poll,
            events: Events::with_capacity(config.events.max(16)),
            listeners: listening,
            conns: Slab::new(),
            next_generation: 0,
            shared,
            service,
            config,
            reread_room: config.reread_room(),
            timers: BinaryHeap::new(),
            dirty: Vec::new(),
            to_read: Vec::new(),
            to_wake: Vec::new(),
            ready: Vec::new(),
            pool: Vec::new(),
            outputs: Spares {
                pool: Vec::new(),
                max: config.pool_buffers,
            },
            completions: Vec::new(),
            at_cap: false,
            accept_resume: None,
            draining: None,
            again: false,
            held_output: None,
        };
        Ok((event_loop, remote))
    }

    /// Count in `gauge` the output this loop's connections hold because
    /// their peers read it slower than it is produced: the bytes in heap
    /// memory still pending once a write would block (static bytes are not
    /// counted), updated after each write and each event. Several loops may
    /// share one gauge. Not counted unless this is called.
    pub fn count_held_output(&mut self, gauge: Arc<AtomicUsize>) {
        self.held_output = Some(gauge);
    }

    /// Run until shut down through [`Remote`]; returns the service.
    pub fn run(mut self) -> io::Result<S> {
        while self.turn()? {}
        Ok(self.finish())
    }

    /// One turn of [`run`](Self::run): wait for events (or the next
    /// deadline), handle them, the completions and the expired deadlines,
    /// then let the service hand out work and write what is queued. Returns
    /// `false` once the loop is shut down; then call
    /// [`finish`](Self::finish).
    ///
    /// A loop is `Send`: it may be driven by different threads in turn, one
    /// at a time, so that a thread can hand it to another while it does
    /// something slow.
    pub fn turn(&mut self) -> io::Result<bool> {
        let now = Instant::now();
        match self.shared.stop.load(Ordering::SeqCst) {
            IMMEDIATE => return Ok(false),
            GRACEFUL if self.draining.is_none() => self.begin_drain(now),
            _ => {}
        }
        if let Some(deadline) = self.draining {
            if self.conns.is_empty() || now >= deadline {
                return Ok(false);
            }
        }
        let timeout = self
            .next_wakeup()
            .map(|at| at.saturating_duration_since(now));
        match self.poll.poll(&mut self.events, timeout) {
            // Wakes still wanted (`again`) are kept for the next turn.
            Ok(()) => self.again = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        self.dispatch_events(now);
        self.take_completions(now);
        self.expire_timers(now);
        if self.accept_resume.is_some_and(|at| at <= now) {
            self.accept_resume = None;
            self.accept_all(now);
        }
        self.end_of_batch(now);
        self.flush_dirty(now);
        Ok(true)
    }

    /// Run `f` on each item's connection as an event would (the items of
    /// closed connections are dropped), then let the service hand out work
    /// and write what is queued: for a thread that drives the loop and has
    /// finished work for its connections itself.
    pub fn visit_each<T>(
        &mut self,
        items: impl IntoIterator<Item = (ConnId, T)>,
        mut f: impl FnMut(&mut S, &mut Conn<'_, S::State>, T),
    ) {
        let now = Instant::now();
        for (id, item) in items {
            self.with_conn(id, now, |s, conn| f(s, conn, item));
        }
        self.end_of_batch(now);
        self.flush_dirty(now);
    }

    /// Let the service hand out work and wake connections, and write what
    /// is queued, as at the end of a turn: for a thread that has just taken
    /// the loop over from another.
    pub fn end_turn(&mut self) {
        let now = Instant::now();
        self.end_of_batch(now);
        self.flush_dirty(now);
    }

    /// Poll without blocking at the next [`turn`](Self::turn): for a thread
    /// that drives the loop and has work of its own to come back to.
    pub fn poll_soon(&mut self) {
        self.again = true;
    }

    /// The service, between turns.
    pub fn service_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// Close what is still open once [`turn`](Self::turn) has said the loop
    /// is shut down; returns the service.
    pub fn finish(mut self) -> S {
        // Accept nothing more while closing what is open.
        self.at_cap = false;
        for mut l in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut l.socket);
        }
        let ids: Vec<ConnId> = self.live_ids();
        for id in ids {
            self.close(id);
        }
        self.service
    }

    fn live_ids(&self) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter_map(|(i, e)| ConnId::new(i, e.generation))
            .collect()
    }

    fn next_wakeup(&self) -> Option<Instant> {
        if self.again {
            return Some(Instant::now());
        }
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        [timer, self.accept_resume, self.draining]
            .into_iter()
            .flatten()
            .min()
    }

    fn begin_drain(&mut self, now: Instant) {
        let deadline = self
            .shared
            .drain_deadline
            .lock()
            .map(|d| *d)
            .unwrap_or_else(|p| *p.into_inner())
            .unwrap_or(now);
        self.draining = Some(deadline);
        for mut l in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut l.socket);
        }
        for id in self.live_ids() {
            self.with_conn(id, now, |s, c| s.event(c, Event::Shutdown));
        }
        self.end_of_batch(now);
        self.flush_dirty(now);
    }

    fn dispatch_events(&mut self, now: Instant) {
        let mut accept = false;
        let mut ready = std::mem::take(&mut self.ready);
        for event in self.events.iter() {
            let token = event.token();
            if token == WAKER {
                continue;
            }
            if token.0 <= LISTENER_BASE && token.0 > LISTENER_BASE - self.listeners.len() {
                accept = true;
                continue;
            }
            if let Some(id) = ConnId::from_token(token) {
                let hup = event.is_read_closed() || event.is_error();
                let readable = event.is_readable() || hup;
                let writable = event.is_writable() || event.is_write_closed();
                ready.push((id, readable, writable, hup));
            }
        }
        for &(id, readable, writable, hup) in &ready {
            if writable {
                self.flush(id, now);
            }
            if readable {
                self.read(id, now, hup);
            }
        }
        ready.clear();
        self.ready = ready;
        if accept {
            self.accept_all(now);
        }
        // Connections that resumed reading during the batch: their readiness
        // edge may have passed, so read now (once; those a read lists again
        // are read in `flush_dirty`'s rounds).
        self.read_listed(now);
    }

    /// Read each connection listed in `to_read` once, to the end.
    fn read_listed(&mut self, now: Instant) {
        let mut reading = std::mem::take(&mut self.to_read);
        for id in reading.drain(..) {
            self.read(id, now, true);
        }
        if self.to_read.is_empty() {
            self.to_read = reading;
        }
    }

    fn accept_all(&mut self, now: Instant) {
        if self.draining.is_some() || self.accept_resume.is_some() {
            return;
        }
        for i in 0..self.listeners.len() {
            let mut failures = 0;
            loop {
                if self.conns.len() >= self.config.max_connections {
                    self.at_cap = true;
                    return;
                }
                let listening = &mut self.listeners[i];
                match listening.socket.accept() {
                    Ok((stream, peer)) => {
                        failures = 0;
                        set_up_accepted(&stream, listening.nodelay);
                        self.insert(stream, peer, now);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // Whatever waited before the listener had the
                        // option has been taken.
                        if listening.nodelay == Nodelay::Draining {
                            listening.nodelay = Nodelay::Inherited;
                        }
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if is_fd_exhaustion(&e) => {
                        self.accept_resume = Some(now + self.config.accept_backoff);
                        return;
                    }
                    // The peer gave up before we accepted (ECONNABORTED and
                    // the like): on to the next one. An error that keeps
                    // coming is not that: pause as for descriptors, rather
                    // than spin here and serve nothing else.
                    Err(_) => {
                        failures += 1;
                        if failures >= MAX_ACCEPT_FAILURES {
                            self.accept_resume = Some(now + self.config.accept_backoff);
                            return;
                        }
                    }
                }
            }
        }
        self.at_cap = false;
    }

    fn insert(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1) & crate::GENERATION_MASK;
        let slot = self.conns.vacant_entry();
        let Some(id) = ConnId::new(slot.key(), generation) else {
            return;
        };
        if self
            .poll
            .registry()
            .register(&mut stream, id.token(), Interest::READABLE)
            .is_err()
        {
            return;
        }
        let state = self.service.open(peer);
        self.shared.set_open(id, true);
        slot.insert(Entry {
            generation: id.generation(),
            stream,
            peer,
            input: Buffer::default(),
            before: Vec::new(),
            output: Vec::new(),
            written: 0,
            state,
            reading: true,
            read_closed: false,
            want_write: false,
            closing: Closing::No,
            linger: false,
            deadline: None,
            write_deadline: None,
            queued: None,
            dirty: false,
            blocked: false,
            full: false,
            held: 0,
        });
        self.with_conn(id, now, |s, c| s.event(c, Event::Opened));
    }

    /// Run `f` on a live connection, then settle what it asked for.
    fn with_conn(
        &mut self,
        id: ConnId,
        now: Instant,
        f: impl FnOnce(&mut S, &mut Conn<'_, S::State>),
    ) {
        let Some(entry) = self.conns.get_mut(id.index()) else {
            return;
        };
        if entry.generation != id.generation() || entry.closing == Closing::Lingering {
            return;
        }
        let was_reading = entry.reading;
        {
            let mut conn = Conn {
                id,
                entry,
                now,
                outputs: &mut self.outputs,
            };
            f(&mut self.service, &mut conn);
        }
        self.settle(id, was_reading);
    }

    fn settle(&mut self, id: ConnId, was_reading: bool) {
        let Some(entry) = self.conns.get_mut(id.index()) else {
            return;
        };
        if entry.closing == Closing::Now {
            self.close(id);
            return;
        }
        if entry.blocked || entry.held != 0 {
            entry.recount_held(self.held_output.as_deref());
        }
        let pending = entry.has_pending();
        let flush = !entry.blocked && (pending || entry.closing == Closing::AfterFlush);
        if flush && !entry.dirty {
            entry.dirty = true;
            self.dirty.push(id);
        }
        if (entry.reading && !was_reading)
            || (entry.full
                && entry.reading
                && entry.input.len() + self.reread_room <= self.config.max_input)
        {
            // The readiness edge may have passed while reading was off or the
            // buffer full: read now, to the end.
            entry.full = false;
            self.to_read.push(id);
        }
        let effective = match (entry.deadline, entry.write_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = effective {
            queue_timer(&mut self.timers, entry, id, at);
        }
        if entry.input.is_empty() && entry.input.capacity() > 0 {
            let storage = entry.input.take_storage();
            self.recycle(storage);
        }
    }

    fn recycle(&mut self, storage: Vec<u8>) {
        if storage.len() == self.config.buffer_size && self.pool.len() < self.config.pool_buffers {
            self.pool.push(storage);
        }
    }

    /// Read what the socket has. `thorough`: read to `WouldBlock` or the end
    /// even after a short read, because an edge may have passed (the event
    /// reported the peer's close, or reading was paused).
    fn read(&mut self, id: ConnId, now: Instant, thorough: bool) {
        let Some(entry) = self.conns.get_mut(id.index()) else {
            return;
        };
        if entry.generation != id.generation() {
            return;
        }
        if entry.closing == Closing::Lingering {
            self.discard(id);
            return;
        }
        if entry.read_closed {
            return;
        }
        if !entry.reading {
            // Not read while paused; a reset is still noticed (see
            // `reset_while_not_reading`).
            if thorough && reset_while_not_reading(entry) {
                self.close(id);
            }
            return;
        }
        if entry.input.capacity() == 0 {
            let storage = self
                .pool
                .pop()
                .unwrap_or_else(|| vec![0; self.config.buffer_size]);
            entry.input = Buffer::with_storage(storage);
        }
        let mut got = false;
        loop {
            // Once a read has filled the buffer to the end of its storage,
            // the service consumes what came before the buffer is moved or
            // grown for more: a body it takes as it comes then goes through
            // a buffer of the usual size, and the read goes on once it has
            // (`settle`).
            let stop = got && entry.input.at_end(self.config.max_input);
            let spare: &mut [u8] = if stop {
                &mut []
            } else {
                entry.input.spare(self.config.max_input, self.reread_room)
            };
            if spare.is_empty() {
                entry.full = true;
                // A buffer too full to be read again before the service
                // consumes: a reset is still noticed (see
                // `reset_while_not_reading`).
                if thorough
                    && entry.input.len() + self.reread_room > self.config.max_input
                    && reset_while_not_reading(entry)
                {
                    self.close(id);
                    return;
                }
                break;
            }
            let room = spare.len();
            match entry.stream.read(spare) {
                Ok(0) => {
                    entry.read_closed = true;
                    got = true;
                    break;
                }
                Ok(n) => {
                    entry.input.filled(n);
                    got = true;
                    // A short read emptied the kernel's queue: another edge
                    // will come with more data (or with the peer's FIN,
                    // unless this event already reported it).
                    if n < room && !thorough {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(id);
                    return;
                }
            }
        }
        if got {
            self.with_conn(id, now, |s, c| s.event(c, Event::Readable));
        } else {
            self.settle(id, true);
        }
    }

    fn flush(&mut self, id: ConnId, now: Instant) {
        let Some(entry) = self.conns.get_mut(id.index()) else {
            return;
        };
        // A lingering connection has written all it will.
        if entry.generation != id.generation() || entry.closing == Closing::Lingering {
            return;
        }
        let had_output = entry.has_pending();
        entry.blocked = false;
        while entry.has_pending() {
            match entry.write_some() {
                Ok(0) => {
                    self.close(id);
                    return;
                }
                Ok(n) => {
                    entry.advance(n, &mut self.outputs);
                    entry.write_deadline = Some(now + self.config.write_timeout);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    entry.blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(id);
                    return;
                }
            }
        }
        let pending = entry.has_pending();
        entry.recount_held(self.held_output.as_deref());
        if pending {
            if entry.write_deadline.is_none() {
                entry.write_deadline = Some(now + self.config.write_timeout);
            }
        } else {
            // An idle connection holds no buffer: a small one goes back to
            // the loop's spares for the next response, a large one is freed.
            self.outputs.keep(std::mem::take(&mut entry.output));
            entry.written = 0;
            entry.write_deadline = None;
        }
        if pending != entry.want_write {
            let interest = if pending {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            entry.want_write = pending;
            if self
                .poll
                .registry()
                .reregister(&mut entry.stream, id.token(), interest)
                .is_err()
            {
                self.close(id);
                return;
            }
        }
        if !pending && entry.closing == Closing::AfterFlush {
            self.close_or_linger(id, now);
            return;
        }
        if had_output && !pending {
            self.with_conn(id, now, |s, c| s.event(c, Event::Drained));
        } else {
            self.settle(id, true);
        }
    }

    fn flush_dirty(&mut self, now: Instant) {
        // Draining may queue more output (a parked response, say); go round
        // until nothing new is queued, or come back after a poll.
        for round in 0.. {
            if self.dirty.is_empty() && self.to_read.is_empty() {
                return;
            }
            if round == MAX_FLUSH_ROUNDS {
                self.again = true;
                return;
            }
            let mut dirty = std::mem::take(&mut self.dirty);
            for &id in &dirty {
                if let Some(e) = self.conns.get_mut(id.index()) {
                    if e.generation == id.generation() {
                        e.dirty = false;
                    }
                }
            }
            for &id in &dirty {
                self.flush(id, now);
            }
            // Keep the list's allocation for the next turn.
            dirty.clear();
            if self.dirty.is_empty() {
                self.dirty = dirty;
            }
            // Those a read here lists again (reading made room) are read in
            // the next round.
            self.read_listed(now);
            self.end_of_batch(now);
        }
    }

    /// Let the service hand out work and wake connections; again after each
    /// round of wakes (they may free or need room), a bounded number of times.
    fn end_of_batch(&mut self, now: Instant) {
        for _ in 0..MAX_WAKE_ROUNDS {
            let mut wake = std::mem::take(&mut self.to_wake);
            self.service.end_of_batch(&mut wake);
            if wake.is_empty() {
                self.to_wake = wake;
                return;
            }
            for id in wake.drain(..) {
                self.with_conn(id, now, |s, c| s.event(c, Event::Wake));
            }
            self.to_wake = wake;
        }
        // Out of rounds with wakes still wanted: come back without blocking.
        self.again = true;
    }

    fn take_completions(&mut self, now: Instant) {
        {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(queue) = queue.as_mut() {
                std::mem::swap(queue, &mut self.completions);
            }
        }
        let mut completions = std::mem::take(&mut self.completions);
        for (id, c) in completions.drain(..) {
            self.with_conn(id, now, |s, conn| s.event(conn, Event::Completion(c)));
        }
        self.completions = completions;
    }

    /// Drop the timer entries of closed connections once they outnumber the
    /// open ones (plus [`STALE_TIMERS`]), and give back room left by a burst:
    /// without this, each closed connection's entry would stay until its
    /// deadline, so the heap would grow with the rate of connections times
    /// the idle timeout rather than with the connections open. Each pass
    /// removes at least `STALE_TIMERS` entries, so its cost is a constant
    /// per closed connection.
    fn prune_timers(&mut self) {
        let live = self.conns.len();
        if self.timers.len() <= 2 * live + STALE_TIMERS {
            return;
        }
        let conns = &self.conns;
        self.timers
            .retain(|&Reverse((at, id))| live_timer(conns, at, id));
        // Room from a burst goes back; room the next pass needs stays.
        let keep = 2 * live + STALE_TIMERS;
        if self.timers.capacity() > 4 * keep {
            self.timers.shrink_to(keep);
        }
    }

    fn expire_timers(&mut self, now: Instant) {
        // Take the due entries first: a deadline set again during this pass
        // waits for the next one, so a service that re-arms a past deadline
        // cannot trap the loop here.
        let mut due = Vec::new();
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            due.push((at, id));
        }
        for (at, id) in due {
            if !live_timer(&self.conns, at, id) {
                continue;
            }
            let Some(entry) = self.conns.get_mut(id.index()) else {
                continue;
            };
            entry.queued = None;
            let lingered_out =
                entry.closing == Closing::Lingering && entry.deadline.is_some_and(|d| d <= now);
            if lingered_out || entry.write_deadline.is_some_and(|d| d <= now) {
                // The peer stopped reading, or has had its time to finish
                // sending: give up on it.
                self.close(id);
                continue;
            }
            if entry.deadline.is_some_and(|d| d <= now) {
                entry.deadline = None;
                self.with_conn(id, now, |s, c| s.event(c, Event::Deadline));
            } else {
                self.settle(id, true);
            }
        }
    }

    /// Close a connection whose output is all written, lingering first if
    /// the service asked for it and the peer may still be sending.
    fn close_or_linger(&mut self, id: ConnId, now: Instant) {
        let Some(entry) = self.conns.get_mut(id.index()) else {
            return;
        };
        if !entry.linger
            || entry.read_closed
            || self.config.linger_timeout.is_zero()
            || self.config.linger_bytes == 0
            || entry.stream.shutdown(std::net::Shutdown::Write).is_err()
        {
            self.close(id);
            return;
        }
        entry.closing = Closing::Lingering;
        entry.written = 0;
        entry.write_deadline = None;
        entry.full = false;
        let at = now + self.config.linger_timeout;
        entry.deadline = Some(at);
        queue_timer(&mut self.timers, entry, id, at);
        // Unread input goes with the service's interest in it.
        let storage = entry.input.take_storage();
        self.recycle(storage);
        // Input may be waiting already, its readiness edge long passed.
        self.discard(id);
    }

    /// Read and drop what a lingering connection's peer has sent; close it
    /// at the end of its stream, on an error, or past its byte allowance.
    fn discard(&mut self, id: ConnId) {
        let Some(entry) = self.conns.get_mut(id.index()) else {
            return;
        };
        if entry.closing != Closing::Lingering {
            return;
        }
        let mut scratch = self
            .pool
            .pop()
            .unwrap_or_else(|| vec![0; self.config.buffer_size]);
        let done = loop {
            match entry.stream.read(&mut scratch) {
                Ok(0) => break true,
                Ok(n) => {
                    entry.written = entry.written.saturating_add(n);
                    if entry.written >= self.config.linger_bytes {
                        break true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        self.recycle(scratch);
        if done {
            self.close(id);
        }
    }

    fn close(&mut self, id: ConnId) {
        let Some(entry) = self.conns.get(id.index()) else {
            return;
        };
        if entry.generation != id.generation() {
            return;
        }
        let mut entry = self.conns.remove(id.index());
        entry.blocked = false;
        entry.recount_held(self.held_output.as_deref());
        // No `deregister`: the stream is never duplicated, so dropping it
        // closes the last descriptor of the socket, which takes it out of
        // the epoll set (a system call saved per connection). Events for it
        // already in hand carry a generation that no longer matches.
        self.shared.set_open(id, false);
        let storage = entry.input.take_storage();
        self.recycle(storage);
        self.service.closed(id, entry.state);
        drop(entry.stream);
        self.prune_timers();
        if self.at_cap {
            let now = Instant::now();
            self.accept_all(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accept from `listener` until it has given `n` connections (bounded
    /// wait).
    fn accept_n(listener: &TcpListener, n: usize) -> Vec<TcpStream> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < n {
            match listener.accept() {
                Ok((stream, _)) => got.push(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "no connection to accept");
                    std::thread::yield_now();
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        got
    }

    #[test]
    fn accepted_connections_have_nagle_off() {
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            // A host without IPv6 skips that half.
            let Ok(listener) = std::net::TcpListener::bind(addr) else {
                continue;
            };
            // As the loop does: prepare the listener, then set up each
            // connection it accepts.
            let nodelay = prepare_listener(&listener).expect("prepare");
            let _client = std::net::TcpStream::connect(listener.local_addr().expect("addr"))
                .expect("connect");
            let stream = accept_n(&TcpListener::from_std(listener), 1).remove(0);
            set_up_accepted(&stream, nodelay);
            assert!(stream.nodelay().expect("getsockopt"), "{addr}");
        }
    }

    #[test]
    fn where_the_kernel_passes_nodelay_on_a_new_connection_needs_no_setsockopt() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let nodelay = prepare_listener(&listener).expect("prepare");
        if !NODELAY_INHERITED {
            assert_eq!(nodelay, Nodelay::Own);
            return;
        }
        assert_eq!(nodelay, Nodelay::Draining);
        // A connection made after the listener had the option gets it from
        // the listener alone.
        let _client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let stream = accept_n(&TcpListener::from_std(listener), 1).remove(0);
        assert!(stream.nodelay().expect("getsockopt"));
    }

    /// Accept until `event_loop` holds `n` connections (bounded wait).
    fn accept_until<S: Service>(event_loop: &mut EventLoop<S>, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while event_loop.conns.len() < n {
            assert!(Instant::now() < deadline, "connections not accepted");
            event_loop.accept_all(Instant::now());
            std::thread::yield_now();
        }
    }

    /// A service that does nothing: enough to run a loop's accepting.
    struct Idle;

    impl Service for Idle {
        type State = ();
        type Completion = ();
        fn open(&mut self, _peer: SocketAddr) {}
        fn event(&mut self, _conn: &mut Conn<'_, ()>, _event: Event<()>) {}
    }

    /// Arms a far deadline on every connection it opens, as an idle timeout
    /// does.
    struct FarDeadline;

    impl Service for FarDeadline {
        type State = ();
        type Completion = ();
        fn open(&mut self, _peer: SocketAddr) {}
        fn event(&mut self, conn: &mut Conn<'_, ()>, event: Event<()>) {
            if let Event::Opened = event {
                conn.set_deadline(Some(conn.now() + Duration::from_secs(3600)));
            }
        }
    }

    #[test]
    fn closed_connections_timers_do_not_pile_up() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (mut event_loop, _remote) =
            EventLoop::new(FarDeadline, vec![listener], Config::default()).expect("loop");
        // One connection stays open throughout; the rest open and close one
        // after the other.
        let mut clients = vec![std::net::TcpStream::connect(addr).expect("connect")];
        accept_until(&mut event_loop, 1);
        let mut most = 0;
        for _ in 0..3 * STALE_TIMERS {
            clients.push(std::net::TcpStream::connect(addr).expect("connect"));
            accept_until(&mut event_loop, 2);
            let newest = event_loop
                .conns
                .iter()
                .map(|(i, e)| ConnId::new(i, e.generation).expect("id"))
                .max_by_key(|id| id.generation())
                .expect("a connection");
            event_loop.close(newest);
            clients.truncate(1);
            most = most.max(event_loop.timers.len());
        }
        assert!(
            most <= 2 + STALE_TIMERS + 1,
            "{most} timer entries for at most 2 connections"
        );
        // The open connection's deadline is still there.
        let conns = &event_loop.conns;
        let live = event_loop
            .timers
            .iter()
            .filter(|&&Reverse((at, id))| live_timer(conns, at, id));
        assert_eq!(live.count(), 1);
    }

    #[test]
    fn connections_that_waited_before_the_loop_began_get_nagle_off_too() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        // These complete their handshakes before the listener has the
        // option, so the kernel does not give it to them.
        let early: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
            .collect();
        let (mut event_loop, _remote) =
            EventLoop::new(Idle, vec![listener], Config::default()).expect("loop");
        let late: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
            .collect();
        accept_until(&mut event_loop, early.len() + late.len());
        for (_, entry) in event_loop.conns.iter() {
            assert!(entry.stream.nodelay().expect("getsockopt"));
        }
        // The queue has been found empty: from now on the listener's option
        // is trusted where the kernel passes it on.
        let trusted = if NODELAY_INHERITED {
            Nodelay::Inherited
        } else {
            Nodelay::Own
        };
        let modes: Vec<Nodelay> = event_loop.listeners.iter().map(|l| l.nodelay).collect();
        assert_eq!(modes, [trusted]);
        let _later = std::net::TcpStream::connect(addr).expect("connect");
        accept_until(&mut event_loop, early.len() + late.len() + 1);
        for (_, entry) in event_loop.conns.iter() {
            assert!(entry.stream.nodelay().expect("getsockopt"));
        }
    }
}
