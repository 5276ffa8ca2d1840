//! [`ServerConfig`]: every setting, with its default.

use std::time::Duration;

use http_codec::Limits;

/// Default for [`ServerConfig::head_timeout`]: 10 seconds.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`ServerConfig::body_timeout`]: 10 seconds.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`ServerConfig::body_min_rate`]: 64 KiB a second.
pub const DEFAULT_BODY_MIN_RATE: usize = 64 * 1024;
/// The longest any timeout is taken to be: 100 years (never, in practice).
/// A longer one, `Duration::MAX` say, is taken as this, so that adding it to
/// the clock cannot overflow.
pub const LONGEST_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
/// Default for [`ServerConfig::idle_timeout`]: 60 seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for [`ServerConfig::write_timeout`]: 30 seconds.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`ServerConfig::linger_timeout`]: 2 seconds.
pub const DEFAULT_LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// Default for [`ServerConfig::linger_bytes`]: 1 MiB.
pub const DEFAULT_LINGER_BYTES: usize = 1024 * 1024;
/// Default for [`ServerConfig::max_connections`]: 10,000.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default for [`ServerConfig::max_pipelined`]: 32 requests in flight per
/// connection.
pub const DEFAULT_MAX_PIPELINED: usize = 32;
/// Default for [`ServerConfig::queue_capacity`]: 1,024 requests waiting for a
/// worker.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;
/// Default for [`ServerConfig::max_output`]: 1 MiB of responses queued per
/// connection before it stops taking new requests.
pub const DEFAULT_MAX_OUTPUT: usize = 1024 * 1024;

/// Default for [`ServerConfig::max_output_memory`]: 64 MiB of responses
/// held for clients that read them slower than they are produced.
pub const DEFAULT_MAX_OUTPUT_MEMORY: usize = 64 * 1024 * 1024;

/// Default for [`ServerConfig::max_body_memory`]: 64 MiB of request bodies
/// buffered across the server.
pub const DEFAULT_MAX_BODY_MEMORY: usize = 64 * 1024 * 1024;

/// How a server runs. Build one with [`ServerBuilder`](crate::ServerBuilder).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Worker threads that run the handler. Default: the number of CPUs.
    pub workers: usize,
    /// Event-loop threads. Default: 1.
    pub event_loops: usize,
    /// Requests waiting for a worker, across the server. When the queue is
    /// full, connections stop reading new requests until it drains, and
    /// take the room it makes in the order they began to wait (per event
    /// loop): a request read later waits behind them.
    pub queue_capacity: usize,
    /// Open connections at most; at the cap, new ones wait in the kernel's
    /// backlog until one closes.
    pub max_connections: usize,
    /// Requests in flight (dispatched, response not yet written) per
    /// connection; beyond it, pipelined requests wait in the input buffer.
    /// A body being read is read on (its clock runs), so its request may
    /// be one more.
    pub max_pipelined: usize,
    /// Response bytes queued per connection before it stops taking new
    /// requests (a client that sends but does not read). A body being read
    /// is read on, since its clock runs: a client that sends it and reads
    /// its responses slower than they come is not timed out for it.
    pub max_output: usize,
    /// Response bytes held across the server for clients that read them
    /// slower than they are produced (what is left once the socket takes no
    /// more), and responses finished before an earlier one of their
    /// connection, parked until it comes; static bodies are not counted.
    /// Past it, pipelining stops: a connection takes its next request only
    /// once it has no request in flight and its output is written, as a
    /// server without pipelining does. What clients that do not read can
    /// make the server hold is then this, plus at most one response per
    /// connection (two where a body being read ends past it), plus the
    /// responses to the requests queued for workers at that moment.
    ///
    /// `max_output` alone bounds each connection, not the server: every
    /// connection could hold that much.
    pub max_output_memory: usize,
    /// Codec limits (head size, field count, target length, body size, ...).
    pub limits: Limits,
    /// Request-body bytes buffered across the server at once: bodies being
    /// read, and those of requests waiting for a handler or in one (until
    /// the handler returns). Per-connection limits alone would let every
    /// connection hold a body of `limits.max_body_bytes`.
    ///
    /// A body with a `Content-Length` is admitted whole when its head
    /// arrives, or waits: its head is read, its body left in the socket
    /// (the client is slowed by TCP flow control, and gets no
    /// `100 Continue` yet) for at most [`body_timeout`](Self::body_timeout)
    /// (then `503` and a close: the server is too busy for it), and its
    /// body's own clock starts when it is admitted. A body that asks for
    /// `100 Continue` behind requests still in flight is admitted only
    /// once the `100` can be sent, after their responses (and once the
    /// connection's output is down to `max_output`), so that a client
    /// waiting for it is not timed from before: until then it takes no
    /// room and no clock runs for it. Admitted bodies never
    /// wait on each other, and each has a bounded time to arrive, so waiting
    /// ends. A chunked body's share grows as it arrives; if it cannot
    /// grow, the body stops being read with its body timeout running, since
    /// it holds memory (chunked bodies that between them hold the whole
    /// budget and all want more end with `408`). A body that arrives whole
    /// with its head (at most the input buffer) is counted, past the limit if
    /// need be.
    ///
    /// Never less than `limits.max_body_bytes`: a larger value is used
    /// instead, so that a body the limits allow can always be admitted.
    pub max_body_memory: usize,
    /// Accept a bare LF as a head line ending (off: refused with 400).
    pub allow_bare_lf: bool,
    /// From the first byte of a request to the end of its head: a slower
    /// head gets `408` and a close.
    pub head_timeout: Duration,
    /// A request body must keep arriving at
    /// [`body_min_rate`](Self::body_min_rate) on average, after a start of
    /// this long: counted from the end of its head (from its admission, for
    /// a body that waited for room in
    /// [`max_body_memory`](Self::max_body_memory); from its `100 Continue`,
    /// for one that asked for it), it has this long plus a
    /// second for every `body_min_rate` bytes of it that have arrived. A
    /// slower body gets `408` and a close. So an upload may take as long as
    /// its size needs at that rate, while a client holding room in the body
    /// budget keeps it only as long as it sends at that rate on average (and
    /// it gives it back at once if its connection stops reading first).
    /// Also the longest a body waits in line for room in
    /// `max_body_memory`.
    pub body_timeout: Duration,
    /// Bytes a second: see [`body_timeout`](Self::body_timeout).
    pub body_min_rate: usize,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// A connection whose queued output makes no progress for this long
    /// (the client stopped reading) is closed.
    pub write_timeout: Duration,
    /// A connection the server closes while its client may still be sending
    /// (a refused request, a request too slow to arrive (408), requests sent
    /// after one that closed the connection) is not closed at once: once its
    /// last response is written, the server ends its side of the stream,
    /// then reads and drops what the client sends until the client closes,
    /// for at most this long.
    /// Closing at once would answer the client's next bytes with a reset,
    /// which can destroy the response before the client reads it. Zero:
    /// close at once.
    pub linger_timeout: Duration,
    /// ... and at most this many bytes.
    pub linger_bytes: usize,
    /// The `Server` header on every response.
    pub server_name: &'static str,
    /// `SO_REUSEPORT` on the listener.
    pub reuse_port: bool,
    /// Run the handler on the event-loop thread that read the request,
    /// instead of on the worker pool. Default: off.
    ///
    /// This saves the hand-off to a worker and back (a wake-up each way), so
    /// it costs less CPU per request, but while a handler runs, no other
    /// connection of its loop is served: turn it on only for handlers that
    /// never block (no file, database or network calls, no locks held long).
    /// No worker threads are started; [`workers`](Self::workers) is ignored.
    pub handlers_on_loop: bool,
    /// On Linux, run worker threads in the `SCHED_BATCH` scheduling class.
    /// Default: on.
    ///
    /// A batch thread has the same priority as any other, but waking it
    /// does not preempt the thread that is running. So when an event loop
    /// hands requests to a sleeping worker, or a worker's sleep in a handler
    /// ends, the loop finishes what it is doing before the worker runs: one
    /// context switch per hand-off instead of two where threads share a
    /// core. The cost is that a woken worker may wait for a running thread
    /// to block or for the next scheduler tick; turn this off if handlers
    /// must start within microseconds while other threads keep the CPUs
    /// busy. Only workers in the default class move (a process run under a
    /// real-time or idle class keeps it), and a worker that takes an event
    /// loop over moves back while it drives it, so the driving thread is
    /// in the default class whichever thread it is. Threads a handler
    /// spawns inherit the class. Elsewhere than Linux this setting does
    /// nothing.
    pub batch_workers: bool,
    /// Who runs a batch of requests while handlers are quick. Default:
    /// [`QuickBatches::Auto`].
    pub quick_batches: QuickBatches,
}

/// Who runs the handlers of a batch of requests while handlers are quick
/// (a recent average under 50 µs; slower handlers are always spread over
/// the workers, one request each).
///
/// Handler code never runs on a thread while that thread drives an event
/// loop. But the loop need not stay with one thread: a thread may put its
/// loop down, run the batch it has just read, and pick the loop up again to
/// write the responses, with no hand-off to another thread and back. While
/// it runs the batch, a watch thread looks at each loop every millisecond;
/// a loop left down for a whole tick is taken up by an idle worker, so a
/// handler that blocks holds up its own batch, never the loop's other
/// connections for more than about two milliseconds. A thread runs a batch
/// itself only while some worker is idle; otherwise the batch waits in the
/// worker queue, and the thread goes on driving its loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QuickBatches {
    /// [`Reader`](Self::Reader) where the process may use only one CPU
    /// (as the affinity mask and cgroup quota say at start), where a worker
    /// could not run beside the loop anyway and a hand-off only adds two
    /// context switches; [`Worker`](Self::Worker) elsewhere.
    #[default]
    Auto,
    /// The thread that read the batch runs it, having put its loop down.
    Reader,
    /// A worker runs the batch while the loop's thread goes on.
    Worker,
}

impl ServerConfig {
    /// Take every timeout longer than [`LONGEST_TIMEOUT`] as that.
    pub(crate) fn cap_timeouts(&mut self) {
        for t in [
            &mut self.head_timeout,
            &mut self.body_timeout,
            &mut self.idle_timeout,
            &mut self.write_timeout,
            &mut self.linger_timeout,
        ] {
            *t = (*t).min(LONGEST_TIMEOUT);
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            workers: std::thread::available_parallelism().map_or(4, |n| n.get()),
            event_loops: 1,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_pipelined: DEFAULT_MAX_PIPELINED,
            max_output: DEFAULT_MAX_OUTPUT,
            max_output_memory: DEFAULT_MAX_OUTPUT_MEMORY,
            limits: Limits::default(),
            max_body_memory: DEFAULT_MAX_BODY_MEMORY,
            allow_bare_lf: false,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            body_min_rate: DEFAULT_BODY_MIN_RATE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            linger_timeout: DEFAULT_LINGER_TIMEOUT,
            linger_bytes: DEFAULT_LINGER_BYTES,
            server_name: "mini-async-http",
            reuse_port: false,
            handlers_on_loop: false,
            batch_workers: true,
            quick_batches: QuickBatches::Auto,
        }
    }
}
