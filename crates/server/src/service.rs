//! The HTTP state machine of one connection, plugged into the reactor.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_codec::{
    encode_response, http_date_now, ConnectionHeader, Decoded, EncodeOptions, Expect, Framing,
    Head, HostField, RequestDecoder, HTTP_DATE_LEN,
};
use http_types::{HttpCode, HttpVersion, Method, Request, Response};
use reactor::{Conn, ConnId, Event, Remote, Service};

use crate::budget::BodyBudget;
use crate::queue::Sender;
use crate::{Handler, ServerConfig, LONGEST_TIMEOUT};

/// A request on its way to a worker.
pub(crate) struct Job {
    pub loop_index: usize,
    pub conn: ConnId,
    pub seq: u64,
    pub request: Request,
    pub head_request: bool,
    pub keep_alive: bool,
    pub http10: bool,
    /// The request body's share of the body budget (bytes), given back once
    /// the handler returns, or when the job is dropped unrun.
    pub body_share: usize,
}

/// What a loop hands the workers.
// A job is much larger than a vector, but boxing it would be the allocation
// per job that `One` is there to avoid.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Work {
    /// Jobs one worker runs in turn.
    Batch(Vec<Job>),
    /// A job on its own (handlers are slow, or the batch is one job): it
    /// travels without a vector of its own.
    One(Job),
    /// Event loop `n` was put down and left for a whole tick of the watch:
    /// take it up (see [`QuickBatches`](crate::QuickBatches)).
    TakeLoop(usize),
}

/// A handler's response on its way to the thread that drives its loop,
/// which encodes and queues it ([`HttpService::answer`]).
pub(crate) struct Answer {
    pub seq: u64,
    pub response: Response,
    pub close: bool,
    pub head_request: bool,
    pub http10: bool,
}

/// Encoded responses on their way back: `count` consecutive responses of one
/// connection, from sequence number `seq` on.
pub(crate) struct Done {
    pub seq: u64,
    pub count: u64,
    pub bytes: Payload,
    /// The last response's body, when it is large enough to travel on its
    /// own (after `bytes`, which end with its head).
    pub body: Option<Payload>,
    /// The connection closes after the last of them.
    pub close: bool,
}

/// The bytes of a [`Done`].
pub(crate) enum Payload {
    /// A vector of its own, handed to the connection as it is (large bodies).
    Owned(Vec<u8>),
    /// A range of a buffer a worker filled with a whole batch's responses,
    /// copied into the connection's reused output vector.
    Shared(Arc<Vec<u8>>, std::ops::Range<usize>),
    /// A static body, written from where it is.
    Static(&'static [u8]),
}

impl Payload {
    /// Queue these bytes on `conn`: large vectors and static bytes as they
    /// are, a range of a batch buffer by copy.
    fn queue(self, conn: &mut Conn<'_, HttpConn>) {
        match self {
            Payload::Owned(bytes) => conn.send(bytes),
            Payload::Shared(buffer, range) => {
                if let Some(bytes) = buffer.get(range) {
                    conn.write(bytes);
                }
            }
            Payload::Static(bytes) => conn.send_static(bytes),
        }
    }

    /// The heap bytes these hold: a vector's room, a batch buffer's range
    /// (the rest of the buffer is its other connections'), no static bytes.
    fn heap_len(&self) -> usize {
        match self {
            Payload::Owned(bytes) => bytes.capacity(),
            Payload::Shared(_, range) => range.len(),
            Payload::Static(_) => 0,
        }
    }
}

impl Done {
    /// The heap bytes these responses hold.
    fn heap_len(&self) -> usize {
        self.bytes.heap_len() + self.body.as_ref().map_or(0, Payload::heap_len)
    }
}

/// Event loops waiting for room in something shared (the worker queue, the
/// body budget): a loop asks before it looks at the room, and whoever makes
/// room afterwards wakes every loop that asked, so no wake-up is lost.
#[derive(Default)]
pub(crate) struct LoopWakes(AtomicU64);

impl LoopWakes {
    /// Have loop `loop_index` woken the next time room is made.
    pub fn ask(&self, loop_index: usize) {
        self.0.fetch_or(1 << loop_index, Ordering::SeqCst);
    }

    /// Room was made: wake the loops that asked (a load only, when none
    /// did).
    pub fn wake(&self, remotes: &[Remote<Done>]) {
        if self.0.load(Ordering::SeqCst) == 0 {
            return;
        }
        let bits = self.0.swap(0, Ordering::SeqCst);
        for (i, remote) in remotes.iter().enumerate() {
            if bits & (1 << i) != 0 {
                remote.wake();
            }
        }
    }

    /// Whether any loop has asked.
    #[cfg(test)]
    pub fn asked(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }
}

/// What every loop and worker of a server shares.
pub(crate) struct Shared {
    pub config: ServerConfig,
    /// Set when a graceful shutdown begins: responses encoded from then on
    /// carry `Connection: close`.
    pub draining: AtomicBool,
    /// Loops holding jobs the full queue refused, to be woken when a worker
    /// makes room.
    pub stalled_loops: LoopWakes,
    /// The event loops have stopped: jobs still queued are dropped, their
    /// connections are gone.
    pub stopped: AtomicBool,
    /// Jobs sent to the workers and not yet taken by one.
    pub queued: AtomicUsize,
    /// Workers waiting for a batch.
    pub idle_workers: AtomicUsize,
    /// A moving average of the time a handler takes, in nanoseconds.
    pub handler_nanos: AtomicU64,
    /// Request-body bytes buffered across the server.
    pub budget: Arc<BodyBudget>,
    /// Response bytes the loops hold for clients that read slower than
    /// responses come (see [`ServerConfig::max_output_memory`]).
    pub held_output: Arc<AtomicUsize>,
    /// Emptied job vectors, handed back by the workers so that a batch does
    /// not cost an allocation (at most [`SPARE_BATCHES`]).
    pub spare_batches: std::sync::Mutex<Vec<Vec<Job>>>,
}

/// How many emptied job vectors are kept for reuse.
pub(crate) const SPARE_BATCHES: usize = 8;
/// A job vector larger than this is freed rather than kept.
pub(crate) const SPARE_BATCH_MAX: usize = 1024;

/// Above this average handler time a batch's jobs go to the workers one by
/// one; below it, one worker takes the whole batch (one wake-up, one
/// hand-back).
const SPREAD_ABOVE_NANOS: u64 = 50_000;
/// The handlers' average time before any has run: just slow enough for the
/// first batch's jobs to go to the workers one by one, so that a handler
/// that blocks from the first request on does not hold up a whole batch.
/// One batch of quick handlers brings the average under the line.
pub(crate) const FIRST_HANDLER_NANOS: u64 = SPREAD_ABOVE_NANOS + 1;

impl Shared {
    /// Encoding options for a response to a request with these properties.
    pub fn options(&self, head_request: bool, close: bool, http10: bool) -> EncodeOptions {
        EncodeOptions {
            date_value: None,
            head_request,
            connection: match (close, http10) {
                (true, _) => ConnectionHeader::Close,
                (false, true) => ConnectionHeader::KeepAlive,
                (false, false) => ConnectionHeader::Omit,
            },
            date: true,
            server: Some(self.config.server_name),
            chunked: !http10,
        }
    }
}

/// Per-connection HTTP state.
pub(crate) struct HttpConn {
    /// Lent by the loop while a request is being read (part of a head or a
    /// body) and kept once the connection is ending (a refused head, a
    /// closing request) until it closes; none between requests, so that an
    /// idle connection stays small.
    decoder: Option<Box<RequestDecoder>>,
    /// Sequence number of the next request decoded.
    next_seq: u64,
    /// Sequence number of the next response to write.
    next_out: u64,
    /// Responses that finished before an earlier one.
    parked: BTreeMap<u64, Done>,
    /// Requests decoded whose responses are not yet written.
    in_flight: usize,
    /// The connection ends after this response.
    last_seq: Option<u64>,
    /// No more requests are read from this connection.
    done_reading: bool,
    continue_sent: bool,
    /// A job the worker queue had no room for (boxed: most connections never
    /// hold one, and an idle connection should stay small).
    stalled: Option<Box<Job>>,
    /// Listed in `HttpService::stalled`, to be woken when there is room.
    waiting: bool,
    /// When the first byte of the request being read arrived.
    request_started: Option<Instant>,
    /// The share of the body budget (bytes) the body being read holds,
    /// given back if the connection ends before the body does.
    body_share: usize,
    /// Listed in `HttpService::budget_waiters` (and so holding a ticket in
    /// the body budget's queue) until the body it wants to read is admitted.
    budget_wait: bool,
}

/// A connection waiting for room in the body budget.
pub(crate) struct BudgetWaiter {
    id: ConnId,
    /// The bytes it waits for.
    bytes: usize,
    /// Its place in the body budget's queue; none for a body that holds a
    /// share already (a chunked body growing), which may take room whatever
    /// the queue and so holds up no other.
    ticket: Option<u64>,
    /// Woken, and not yet looked again.
    woken: bool,
}

/// A loop's connections waiting for room in the worker queue, served first
/// come, first served, a connection at a time: one woken from the front
/// may go on to queue the requests it has read while room is left and
/// nobody waits in the line, and those woken with it that then find no
/// room go back to the front in the order they had. (Holding every
/// connection woken in a round to one job until all of them had theirs
/// would cost a round of wakes per job where pipelined requests fill the
/// queue.)
pub(crate) struct QueueLine<Id = ConnId> {
    /// Connections holding a stalled job, oldest first.
    waiting: VecDeque<Id>,
    /// Of the connections taken from the front in this round of wakes,
    /// how many found the room gone and went back to the front.
    back: usize,
}

impl<Id> Default for QueueLine<Id> {
    fn default() -> Self {
        QueueLine {
            waiting: VecDeque::new(),
            back: 0,
        }
    }
}

impl<Id: Copy + PartialEq> QueueLine<Id> {
    /// Whether no connection of the loop waits for room (a job read now may
    /// take it).
    fn is_clear(&self) -> bool {
        self.waiting.is_empty()
    }

    /// A connection whose job found no room: to the back of the line, or
    /// back to the front if its turn had come.
    fn join(&mut self, id: Id, turn: bool) {
        if turn {
            self.waiting.insert(self.back.min(self.waiting.len()), id);
            self.back += 1;
        } else {
            self.waiting.push_back(id);
        }
    }

    /// A new round of wakes begins (every wake of the last one has come or
    /// was dropped with its connection): whether any connection waits.
    fn new_round(&mut self) -> bool {
        self.back = 0;
        !self.waiting.is_empty()
    }

    /// Take up to `room` connections from the front, to be woken.
    fn wake(&mut self, room: usize, wake: &mut Vec<Id>) {
        for _ in 0..room.min(self.waiting.len()) {
            if let Some(id) = self.waiting.pop_front() {
                wake.push(id);
            }
        }
    }

    fn remove(&mut self, id: Id) {
        self.waiting.retain(|&x| x != id);
    }
}

pub(crate) struct HttpService {
    pub loop_index: usize,
    pub shared: Arc<Shared>,
    pub jobs: Sender<Work>,
    /// Jobs decoded in this batch of events, sent together at its end.
    pub pending: Vec<Job>,
    /// Connections holding a stalled job.
    pub stalled: QueueLine,
    /// This loop's connections waiting for room in the body budget: those
    /// growing a share they hold first, then new bodies, oldest first.
    pub budget_waiters: VecDeque<BudgetWaiter>,
    /// The handler, when it runs here rather than on the worker pool
    /// ([`ServerConfig::handlers_on_loop`]).
    pub on_loop: Option<Arc<dyn Handler>>,
    /// Whether the thread that drives this loop runs quick batches itself
    /// ([`QuickBatches`](crate::QuickBatches)).
    pub quick_here: bool,
    /// This turn's jobs for the driving thread to run once it has put the
    /// loop down, when `quick_here` and handlers are quick.
    pub quick: Vec<Job>,
    /// Decoders no connection is using, lent to a connection while it reads
    /// a request (at most [`SPARE_DECODERS`]). Boxed: a box moves between
    /// this list and a connection, which holds only the pointer.
    #[allow(clippy::vec_box)]
    pub decoders: Vec<Box<RequestDecoder>>,
    /// The `Date` of the responses this loop's thread encodes as it runs
    /// handlers itself, and the turn it was read for: one clock read a
    /// turn, not one a response.
    pub turn_date: Cell<Option<(Instant, [u8; HTTP_DATE_LEN])>>,
}

/// How many idle decoders a loop keeps for the next requests.
const SPARE_DECODERS: usize = 256;

/// A request decoder with the server's limits.
fn new_decoder(config: &ServerConfig) -> RequestDecoder {
    RequestDecoder::new(config.limits).allow_bare_lf(config.allow_bare_lf)
}

/// When the part of a request being read, begun at `started`, must have
/// arrived: its head, or its body, or (a body waiting for room in the body
/// budget) when it stops waiting. `unread`: the bytes in the connection's
/// input buffer. (Kept out of line and cold: `arm` runs
/// after every event, and most find no request half read.)
#[cold]
#[inline(never)]
fn request_deadline(
    config: &ServerConfig,
    st: &HttpConn,
    unread: usize,
    started: Instant,
) -> Instant {
    if st.budget_wait && st.body_share == 0 {
        return started + config.body_timeout;
    }
    // What has arrived of a body: decoded, and in the input buffer (which
    // the server may not be decoding for reasons of its own).
    let body = st.decoder.as_deref().and_then(|d| {
        d.pending_head()
            .is_some()
            .then(|| d.body_buffered().0.saturating_add(unread))
    });
    started
        + match body {
            Some(arrived) => body_allowance(config, arrived),
            None => config.head_timeout,
        }
}

/// The time a body of which `arrived` bytes have come may take, from the
/// end of its head or its admission: `body_timeout`, plus a second for
/// every `body_min_rate` bytes; at most [`LONGEST_TIMEOUT`].
fn body_allowance(config: &ServerConfig, arrived: usize) -> Duration {
    // Checked when the server was built; one byte a second if not.
    let rate = config.body_min_rate.max(1) as u128;
    let nanos = arrived as u128 * 1_000_000_000 / rate;
    let by_length = Duration::new(
        u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX),
        (nanos % 1_000_000_000) as u32,
    );
    config
        .body_timeout
        .saturating_add(by_length)
        .min(LONGEST_TIMEOUT)
}

/// Whether the body being read asked for `100 Continue`, which waits for
/// the responses to the requests before it. Until it can be sent, the body
/// takes no room in the body budget and no clock runs for it, as for any
/// request waiting on earlier ones: a client that waits for the `100` sends
/// nothing before, and one that does not fills only its input buffer (and
/// the room the decoder keeps for body bytes that came with the head, as
/// for any body not admitted yet). It then waits, as a new head does, for
/// the connection's output to drain to `max_output`, so that little stands
/// before the `100` when it is sent.
fn continue_held_back(st: &HttpConn) -> bool {
    st.in_flight > 0
        && !st.continue_sent
        && st
            .decoder
            .as_deref()
            .and_then(RequestDecoder::pending_head)
            .is_some_and(|h| h.expect == Expect::Continue)
}

/// Whether the connection is reading an admitted body: its clock running,
/// and not waiting for room, or holding a share already (a body growing its
/// share may take room whatever the queue, so it looks when woken). Such a
/// body goes on being read when the limits on requests in flight and on
/// output hold the connection back: holding it back would time out a
/// client that sends it and reads its responses, only slower than the
/// server writes them. Its request may then be one over those limits; the
/// next head waits for them, as does a body not admitted yet (waiting for
/// room, having given its turn up, or waiting for its `100 Continue`).
fn reading_body(st: &HttpConn) -> bool {
    (!st.budget_wait || st.body_share > 0)
        && st.request_started.is_some()
        && st
            .decoder
            .as_deref()
            .is_some_and(|d| d.pending_head().is_some())
}

/// The status a request gets without reaching the handler, if any.
fn refusal(head: &Head) -> Option<HttpCode> {
    let req = &head.request;
    // Missing, repeated or malformed (RFC 9112 section 3.2).
    if req.version() == HttpVersion::Http11 && head.host != HostField::Valid {
        return Some(HttpCode::BAD_REQUEST);
    }
    if head.expect == Expect::Unsupported {
        return Some(HttpCode::EXPECTATION_FAILED);
    }
    if *req.method() == Method::Connect {
        // A 2xx would turn the connection into a tunnel (RFC 9110 section
        // 9.3.6), which the handler API cannot take over.
        return Some(HttpCode::NOT_IMPLEMENTED);
    }
    None
}

impl HttpService {
    fn local_response(
        &mut self,
        conn: &mut Conn<'_, HttpConn>,
        status: HttpCode,
        head_request: bool,
    ) {
        self.leave_budget_queue(conn);
        let st = conn.state();
        let seq = st.next_seq;
        st.next_seq += 1;
        st.in_flight += 1;
        st.done_reading = true;
        st.last_seq = Some(seq);
        // A body being read is not read on.
        self.drop_body(st);
        let resp = http_types::ResponseBuilder::new()
            .status(status)
            .body(format!("{status}\n"))
            .content_type("text/plain; charset=utf-8")
            .build()
            .unwrap_or_else(|_| Response::new(status));
        // Room for the head the encoder reserves, so it does not grow this.
        let mut bytes = Vec::with_capacity(320);
        encode_response(
            &resp,
            &self.shared.options(head_request, true, false),
            &mut bytes,
        );
        self.complete(
            conn,
            Done {
                seq,
                count: 1,
                bytes: Payload::Owned(bytes),
                body: None,
                close: true,
            },
        );
    }

    /// Refuse the request being read with `status`, and close after the
    /// response, lingering: the client may well be sending still (the body
    /// of a refused upload, more requests behind a bad one).
    fn refuse(&mut self, conn: &mut Conn<'_, HttpConn>, status: HttpCode, head_request: bool) {
        conn.linger_on_close();
        self.local_response(conn, status, head_request);
    }

    /// Take a connection's decoder back for the next request of any
    /// connection. Only an idle one comes here: between messages, nothing
    /// of a head kept (or reset, from a connection that has closed).
    fn put_back(&mut self, decoder: &mut Option<Box<RequestDecoder>>) {
        if let Some(decoder) = decoder.take() {
            if self.decoders.len() < SPARE_DECODERS {
                self.decoders.push(decoder);
            }
        }
    }

    /// Room left in the worker queue, counting this batch's jobs.
    fn room(&self) -> usize {
        let queued =
            self.shared.queued.load(Ordering::SeqCst) + self.pending.len() + self.quick.len();
        self.shared.config.queue_capacity.saturating_sub(queued)
    }

    /// Add a job to this batch, or keep it for later if the worker queue is
    /// full or other connections of this loop wait for it: a request read
    /// later does not take room ahead of one that waits (a client keeping
    /// its pipeline full would otherwise take every place its own requests
    /// make).
    #[inline]
    fn dispatch(&mut self, conn: &mut Conn<'_, HttpConn>, job: Job) {
        if let Some(handler) = &self.on_loop {
            self.run_here(conn, job, &**handler);
        } else if self.room() > 0 && self.stalled.is_clear() {
            self.pending.push(job);
        } else {
            self.dispatch_full(conn, job, false);
        }
    }

    /// [`dispatch`](Self::dispatch) when the worker queue looked full or
    /// others wait for it; `turn` when the job is a connection's stalled one
    /// and its turn has come (it was woken from the front of the line), so
    /// that if the room has gone again it keeps the front.
    #[cold]
    fn dispatch_full(&mut self, conn: &mut Conn<'_, HttpConn>, job: Job, turn: bool) {
        // Ask the workers for a wake-up, then look again, so that room made
        // between the two is not missed.
        self.shared.stalled_loops.ask(self.loop_index);
        if self.room() > 0 && (turn || self.stalled.is_clear()) {
            self.pending.push(job);
            return;
        }
        let id = conn.id();
        let st = conn.state();
        st.stalled = Some(Box::new(job));
        if !st.waiting {
            st.waiting = true;
            self.stalled.join(id, turn);
        }
    }

    /// Run the handler now, on this thread, and queue its response.
    fn run_here(&self, conn: &mut Conn<'_, HttpConn>, job: Job, handler: &dyn Handler) {
        let (seq, head_request, http10) = (job.seq, job.head_request, job.http10);
        let (response, close) = crate::pool::run(job, handler, &self.shared);
        let date = match self.turn_date.get() {
            Some((at, date)) if at == conn.now() => date,
            _ => {
                let date = http_date_now();
                self.turn_date.set(Some((conn.now(), date)));
                date
            }
        };
        let options = EncodeOptions {
            date_value: Some(date),
            ..self.shared.options(head_request, close, http10)
        };
        self.queue_response(conn, seq, response, close, &options);
    }

    /// Encode a response into the connection's output if it is next, else
    /// park it encoded.
    fn queue_response(
        &self,
        conn: &mut Conn<'_, HttpConn>,
        seq: u64,
        response: Response,
        close: bool,
        options: &EncodeOptions,
    ) {
        if conn.is_closing() || conn.state().next_out != seq {
            let mut bytes = Vec::new();
            let body = crate::pool::encode(response, options, &mut bytes);
            let done = Done {
                seq,
                count: 1,
                bytes: Payload::Owned(bytes),
                body,
                close,
            };
            self.complete(conn, done);
            return;
        }
        if let Some(body) = crate::pool::encode(response, options, conn.output()) {
            body.queue(conn);
        }
        if self.wrote(conn, seq, 1, close) {
            self.release_parked(conn);
        }
    }

    /// Queue the response to a request of a quick batch that this loop's
    /// driving thread ran, then go on with the connection as after a
    /// completion.
    pub fn answer(
        &mut self,
        conn: &mut Conn<'_, HttpConn>,
        answer: Answer,
        date: [u8; HTTP_DATE_LEN],
    ) {
        let options = EncodeOptions {
            date_value: Some(date),
            ..self
                .shared
                .options(answer.head_request, answer.close, answer.http10)
        };
        self.queue_response(conn, answer.seq, answer.response, answer.close, &options);
        self.pump(conn);
        self.arm(conn);
    }

    /// The jobs the driving thread is to run itself (see `quick`), swapped
    /// into `into`, which must be empty; its room is kept for the next turn.
    pub fn take_quick(&mut self, into: &mut Vec<Job>) {
        debug_assert!(into.is_empty());
        std::mem::swap(into, &mut self.quick);
    }

    /// Send this batch's jobs: when handlers are quick, to the thread that
    /// drives this loop or to one worker (one wake-up, and the completions
    /// come back together); one by one when they are slow, so that each
    /// goes to the next worker free.
    fn send_pending(&mut self) {
        let n = self.pending.len();
        if n == 0 {
            return;
        }
        let slow = self.shared.handler_nanos.load(Ordering::Relaxed) > SPREAD_ABOVE_NANOS;
        // Run here only while a worker is free to take the loop up should
        // a handler block.
        if self.quick_here && !slow && self.shared.idle_workers.load(Ordering::Relaxed) > 0 {
            if self.quick.is_empty() {
                std::mem::swap(&mut self.quick, &mut self.pending);
            } else {
                self.quick.append(&mut self.pending);
            }
            return;
        }
        self.shared.queued.fetch_add(n, Ordering::SeqCst);
        if slow || n == 1 {
            // Each job on its own, and this batch's vector stays here for
            // the next one, so no vector is allocated.
            for job in self.pending.drain(..) {
                self.jobs.send(Work::One(job));
            }
            return;
        }
        let spare = self
            .shared
            .spare_batches
            .lock()
            .ok()
            .and_then(|mut spares| spares.pop());
        let jobs = std::mem::replace(&mut self.pending, spare.unwrap_or_default());
        self.jobs.send(Work::Batch(jobs));
    }

    /// Write a finished response if it is next, else park it.
    fn complete(&self, conn: &mut Conn<'_, HttpConn>, done: Done) {
        if conn.is_closing() {
            // An earlier response ended the connection; later ones are moot.
            return;
        }
        let st = conn.state();
        if done.seq != st.next_out {
            // Held until the earlier ones come, as output is.
            self.shared
                .held_output
                .fetch_add(done.heap_len(), Ordering::Relaxed);
            st.parked.insert(done.seq, done);
            return;
        }
        if self.write_done(conn, done) {
            self.release_parked(conn);
        }
    }

    /// Queue a finished response that is next. Returns whether the
    /// connection goes on after it.
    fn write_done(&self, conn: &mut Conn<'_, HttpConn>, done: Done) -> bool {
        done.bytes.queue(conn);
        if let Some(body) = done.body {
            body.queue(conn);
        }
        self.wrote(conn, done.seq, done.count, done.close)
    }

    /// Queue the parked responses that are next now, in order, until one is
    /// missing or ends the connection. Every path that queues a response
    /// comes here after it: a response parked behind it (a refusal ready
    /// before an earlier request's answer, say) would otherwise wait for
    /// ever.
    #[inline]
    fn release_parked(&self, conn: &mut Conn<'_, HttpConn>) {
        loop {
            let st = conn.state();
            // Nothing parked: the common case, answered without a lookup.
            if st.parked.is_empty() {
                return;
            }
            let Some(done) = st.parked.remove(&st.next_out) else {
                return;
            };
            self.shared
                .held_output
                .fetch_sub(done.heap_len(), Ordering::Relaxed);
            if !self.write_done(conn, done) {
                return;
            }
        }
    }

    /// Account for `count` responses from `seq` on, just queued. Returns
    /// whether the connection goes on after them.
    fn wrote(&self, conn: &mut Conn<'_, HttpConn>, seq: u64, count: u64, close: bool) -> bool {
        let st = conn.state();
        debug_assert_eq!(seq, st.next_out);
        st.next_out += count;
        st.in_flight = st.in_flight.saturating_sub(count as usize);
        if close {
            st.done_reading = true;
            self.drop_body(st);
        }
        if close || st.last_seq.is_some_and(|l| l < st.next_out) {
            conn.close_after_flush();
            return false;
        }
        true
    }

    /// Take no more requests: answer those in flight, then close.
    fn stop_reading(&mut self, conn: &mut Conn<'_, HttpConn>) {
        // A body waiting for room will not be read.
        self.leave_budget_queue(conn);
        let st = conn.state();
        st.done_reading = true;
        self.drop_body(st);
        if st.in_flight == 0 {
            conn.close_after_flush();
        } else if st.last_seq.is_none() {
            st.last_seq = Some(st.next_seq - 1);
        }
    }

    /// Reading has stopped: a body being read will not be finished, so its
    /// share of the body budget is given back and its buffer freed now, not
    /// when the connection closes (which may be a handler's run and a slow
    /// client's read of the responses away, with no clock running).
    fn drop_body(&self, st: &mut HttpConn) {
        self.shared
            .budget
            .give_back(std::mem::take(&mut st.body_share));
        st.request_started = None;
        if let Some(decoder) = st.decoder.as_deref_mut() {
            if decoder.pending_head().is_some() {
                decoder.reset();
            }
        }
    }

    /// Decode and dispatch every request the connection may take now.
    fn pump(&mut self, conn: &mut Conn<'_, HttpConn>) {
        let now = conn.now();
        let config = &self.shared.config;
        let (max_pipelined, max_output, max_held) = (
            config.max_pipelined,
            config.max_output,
            config.max_output_memory,
        );
        if conn.state().done_reading {
            // A body waiting for room behind the last request (one whose
            // response closes the connection, say) will not be read.
            self.leave_budget_queue(conn);
        }
        loop {
            let (st, input, _) = conn.parts();
            if st.done_reading && st.stalled.is_none() {
                let n = input.len();
                if n > 0 {
                    // Sent after the last request this connection answers
                    // (which may have closed it already): dropped, and no
                    // more is read, so that a peer sending on costs at most
                    // a buffer here. Closing lingers, to read what follows
                    // within its own bounds instead of resetting.
                    conn.linger_on_close();
                    conn.set_reading(false);
                }
                conn.input().consume(n);
                break;
            }
            if conn.is_closing() {
                return;
            }
            let (st, _, _) = conn.parts();
            // A job the queue refused goes first, even when nothing more will
            // be read from this connection; it goes once its turn has come,
            // when the connection is woken from the front of the line.
            if st.stalled.is_some() {
                if st.waiting {
                    return;
                }
                if let Some(job) = st.stalled.take() {
                    self.dispatch_full(conn, *job, true);
                }
                if conn.state().stalled.is_some() {
                    return;
                }
                continue;
            }
            let in_flight = st.in_flight;
            let pending_output = conn.pending_output();
            // Over the server's held output, one request at a time, each
            // once the last is written: its completion or the drain of its
            // output comes back here.
            let held_back = in_flight >= max_pipelined
                || pending_output > max_output
                || ((in_flight > 0 || pending_output > 0)
                    && self.shared.held_output.load(Ordering::Relaxed) > max_held);
            if held_back && !reading_body(conn.state()) {
                return;
            }
            let (st, input, _) = conn.parts();
            if input.is_empty() && st.decoder.as_ref().is_none_or(|d| d.is_idle()) {
                // Between requests with nothing read: the common case after
                // every response. The decoder goes back to the loop.
                st.request_started = None;
                self.put_back(&mut st.decoder);
                break;
            }
            let decoder = st.decoder.get_or_insert_with(|| {
                self.decoders
                    .pop()
                    .unwrap_or_else(|| Box::new(new_decoder(&self.shared.config)))
            });
            // A head waiting for its body was checked when it arrived.
            let checked = decoder.pending_head().is_some();
            if checked && (continue_held_back(conn.state()) || !self.admit_body(conn)) {
                return;
            }
            let (st, input, _) = conn.parts();
            let Some(decoder) = st.decoder.as_deref_mut() else {
                return;
            };
            let decoded = decoder.decode(input.bytes());
            match decoded {
                Ok(Decoded::Partial { consumed }) => {
                    input.consume(consumed);
                    let pending = decoder.pending_head();
                    // A head refused whatever its body: refused now, before
                    // the body is read or `100 Continue` asked for it.
                    if let Some(status) = pending.filter(|_| !checked).and_then(refusal) {
                        let head_request =
                            pending.is_some_and(|h| *h.request.method() == Method::Head);
                        self.refuse(conn, status, head_request);
                        continue;
                    }
                    let wants_continue = pending.is_some_and(|h| h.expect == Expect::Continue);
                    let new_body = pending.is_some() && !checked;
                    if input.is_empty() && decoder.is_idle() {
                        st.request_started = None;
                        self.put_back(&mut st.decoder);
                    } else {
                        st.request_started.get_or_insert(now);
                    }
                    if new_body {
                        if continue_held_back(conn.state()) {
                            // No clock until then, as for any request
                            // waiting on earlier ones.
                            conn.state().request_started = None;
                            break;
                        }
                        if !self.admit_body(conn) {
                            // No `100 Continue` asks for a body not admitted.
                            break;
                        }
                        // The head is read: the body's own clock starts.
                        conn.state().request_started = Some(now);
                    }
                    let (st, _, output) = conn.parts();
                    if wants_continue && !st.continue_sent && st.in_flight == 0 {
                        output.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                        st.continue_sent = true;
                        // Held back behind earlier requests, it asks for the
                        // body only now: the body's clock starts again.
                        st.request_started = Some(now);
                    }
                    break;
                }
                Ok(Decoded::Message { head, consumed }) => {
                    input.consume(consumed);
                    st.request_started = None;
                    st.continue_sent = false;
                    self.accept_request(conn, head, checked);
                }
                Ok(Decoded::Closed) => {
                    st.done_reading = true;
                }
                Err(e) => {
                    let status = e.status();
                    self.refuse(conn, status, false);
                }
            }
        }
        // A peer that has finished sending still gets the responses to what it
        // sent; the connection closes after them.
        if conn.read_closed() {
            self.stop_reading(conn);
        }
    }

    /// Whether the body being read may take the bytes the next decode can
    /// give it. It needs a share of the body budget: for its whole length if
    /// it has one, else (chunked) for what it holds plus the input, grown by
    /// doubling. Takes or grows the share, and makes the body's buffer
    /// that size; if the budget has no room, lists the connection to be
    /// woken when it may have and says no. A connection waiting with no
    /// share runs only the wait's clock (`body_timeout`, then 503).
    fn admit_body(&mut self, conn: &mut Conn<'_, HttpConn>) -> bool {
        let id = conn.id();
        let now = conn.now();
        let (st, input, _) = conn.parts();
        let Some(decoder) = st.decoder.as_deref_mut() else {
            return true;
        };
        let Some(framing) = decoder.pending_head().map(|h| h.framing) else {
            return true;
        };
        let held = st.body_share;
        let (len, room) = decoder.body_buffered();
        let want = match framing {
            Framing::Length(n) => usize::try_from(n).unwrap_or(usize::MAX).max(room),
            _ => {
                let need = len.saturating_add(input.len()).max(room);
                if need <= held {
                    return true;
                }
                let max =
                    usize::try_from(self.shared.config.limits.max_body_bytes).unwrap_or(usize::MAX);
                need.max(held.saturating_mul(2)).min(max.max(room))
            }
        };
        if want <= held {
            return true;
        }
        let budget = &self.shared.budget;
        let place = if st.budget_wait {
            self.budget_waiters.iter().position(|w| w.id == id)
        } else {
            None
        };
        // A new body waits behind those waiting already, a waiting one for
        // its turn; one growing its share goes on while there is room.
        let may_take = held > 0
            || match place {
                Some(at) => self.budget_waiters[at]
                    .ticket
                    .is_some_and(|ticket| budget.is_first(ticket)),
                None => !budget.has_waiters(),
            };
        let mut granted = may_take && budget.grow(&mut st.body_share, want);
        if may_take && !granted {
            // Ask for a wake-up before looking again, so that room made
            // between the two is not missed.
            budget.waiting.ask(self.loop_index);
            granted = budget.grow(&mut st.body_share, want);
        }
        if granted {
            decoder.reserve_body(want);
            if let Some(waiter) = place.and_then(|at| self.budget_waiters.remove(at)) {
                st.budget_wait = false;
                if let Some(ticket) = waiter.ticket {
                    budget.leave_queue(ticket);
                    // Its wait is over; the body's own clock starts when it
                    // is next decoded.
                    st.request_started = None;
                }
            }
            return true;
        }
        if held == 0 && place.is_none() {
            // Holding nothing, it waits for room at most `body_timeout`.
            st.request_started = Some(now);
        }
        match place {
            Some(at) => {
                let waiter = &mut self.budget_waiters[at];
                waiter.bytes = want - held;
                waiter.woken = false;
            }
            None => {
                st.budget_wait = true;
                budget.waiting.ask(self.loop_index);
                let waiter = BudgetWaiter {
                    id,
                    bytes: want - held,
                    ticket: (held == 0).then(|| budget.join_queue()),
                    woken: false,
                };
                // Growing bodies first, new ones after in ticket order: see
                // `wake_budget_waiters`.
                if held > 0 {
                    self.budget_waiters.push_front(waiter);
                } else {
                    self.budget_waiters.push_back(waiter);
                }
            }
        }
        false
    }

    /// Number a decoded request and add it to the batch, unless its head,
    /// not `checked` yet, is refused.
    #[inline]
    fn accept_request(&mut self, conn: &mut Conn<'_, HttpConn>, head: Head, checked: bool) {
        let head_request = *head.request.method() == Method::Head;
        if let Some(status) = (!checked).then(|| refusal(&head)).flatten() {
            self.refuse(conn, status, head_request);
            return;
        }
        let draining = self.shared.draining.load(Ordering::Relaxed);
        let keep_alive = head.keep_alive && !head.upgrade && !draining;
        let http10 = head.request.version() == HttpVersion::Http10;
        let peer = conn.peer();
        let st = conn.state();
        // The share goes with the body; a body that came whole with its
        // head is counted now.
        let mut body_share = std::mem::take(&mut st.body_share);
        let len = head.request.body().len();
        if len > 0 {
            self.shared.budget.force(&mut body_share, len);
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        st.in_flight += 1;
        if !keep_alive {
            st.last_seq = Some(seq);
            st.done_reading = true;
        }
        let mut job = Job {
            loop_index: self.loop_index,
            conn: conn.id(),
            seq,
            request: head.request,
            head_request,
            keep_alive,
            http10,
            body_share,
        };
        job.request.set_peer_addr(Some(peer));
        self.dispatch(conn, job);
    }

    /// Choose the deadline the connection's state calls for.
    fn arm(&self, conn: &mut Conn<'_, HttpConn>) {
        if conn.is_closing() {
            return;
        }
        let now = conn.now();
        let config = &self.shared.config;
        let pending_output = conn.pending_output();
        let (st, input, _) = conn.parts();
        let deadline = if st.done_reading {
            // Only responses remain; the reactor's write timeout guards them.
            None
        } else if let Some(started) = st.request_started {
            Some(request_deadline(config, st, input.len(), started))
        } else if st.in_flight == 0
            && input.is_empty()
            && st.stalled.is_none()
            && pending_output == 0
        {
            Some(now + config.idle_timeout)
        } else {
            // Waiting on the handler or on the client reading our output: the
            // write timeout covers the latter, no clock of ours runs.
            None
        };
        conn.set_deadline(deadline);
    }

    fn deadline(&mut self, conn: &mut Conn<'_, HttpConn>) {
        if conn.state().done_reading {
            return;
        }
        let st = conn.state();
        if st.budget_wait && st.body_share == 0 {
            // A body that waited for room in the body budget for as long as
            // one may: the server is too busy for it.
            self.refuse(conn, HttpCode::SERVICE_UNAVAILABLE, false);
        } else if st.request_started.is_some() {
            // A request too slow to arrive: 408, after any earlier responses,
            // lingering, as the client is by definition still sending.
            self.refuse(conn, HttpCode::REQUEST_TIMEOUT, false);
        } else if conn.state().in_flight == 0 && conn.pending_output() == 0 {
            conn.close();
        }
    }

    /// Take a connection's waiting body out of the body budget's queue:
    /// it will not be read (refused, or the connection stops reading).
    fn leave_budget_queue(&mut self, conn: &mut Conn<'_, HttpConn>) {
        let st = conn.state();
        if st.budget_wait {
            st.budget_wait = false;
            if st.body_share == 0 {
                // Its wait's clock stops; should it queue again, a new wait
                // begins, and once admitted, its body's own clock.
                st.request_started = None;
            }
            self.forget_budget_waiter(conn.id());
        }
    }

    fn forget_budget_waiter(&mut self, id: ConnId) {
        let Some(at) = self.budget_waiters.iter().position(|w| w.id == id) else {
            return;
        };
        if let Some(ticket) = self.budget_waiters.remove(at).and_then(|w| w.ticket) {
            self.shared.budget.leave_queue(ticket);
        }
    }

    /// After a wake: a body woken for room that did not look at it (its
    /// connection takes no request now: output to write, requests in
    /// flight) gives its place up rather than hold up every body behind
    /// it, and queues again when it looks.
    fn unclaimed_budget_wake(&mut self, conn: &mut Conn<'_, HttpConn>) {
        if !conn.state().budget_wait {
            return;
        }
        let id = conn.id();
        if self.budget_waiters.iter().any(|w| w.id == id && w.woken) {
            self.leave_budget_queue(conn);
        }
    }

    /// Wake the connections waiting for body budget whose turn it is and
    /// that the room now fits: the body first in the budget's queue (of all
    /// loops), if it is this loop's, and those growing a share they hold.
    /// Each is woken once, until it has looked again; the rest are woken
    /// when bytes are given back or the first leaves the queue.
    fn wake_budget_waiters(&mut self, wake: &mut Vec<ConnId>) {
        let budget = &self.shared.budget;
        budget.waiting.ask(self.loop_index);
        let mut room = budget.room();
        // This loop's growing bodies come first, then its new ones in
        // ticket order, of which only the first can be first of all: the
        // look stops there, however many wait.
        for waiter in &mut self.budget_waiters {
            let last = waiter.ticket.is_some();
            if waiter.ticket.is_none_or(|ticket| budget.is_first(ticket)) {
                if waiter.woken {
                    room = room.saturating_sub(waiter.bytes);
                } else if waiter.bytes <= room {
                    room -= waiter.bytes;
                    waiter.woken = true;
                    wake.push(waiter.id);
                }
            }
            if last {
                break;
            }
        }
    }
}

impl Service for HttpService {
    type State = HttpConn;
    type Completion = Done;

    fn open(&mut self, _peer: SocketAddr) -> HttpConn {
        HttpConn {
            decoder: None,
            next_seq: 0,
            next_out: 0,
            parked: BTreeMap::new(),
            in_flight: 0,
            last_seq: None,
            done_reading: false,
            continue_sent: false,
            stalled: None,
            waiting: false,
            request_started: None,
            body_share: 0,
            budget_wait: false,
        }
    }

    fn event(&mut self, conn: &mut Conn<'_, HttpConn>, event: Event<Done>) {
        match event {
            Event::Opened => {}
            Event::Readable | Event::Drained => self.pump(conn),
            Event::Wake => {
                let st = conn.state();
                st.waiting = false;
                self.pump(conn);
                self.unclaimed_budget_wake(conn);
            }
            Event::Completion(done) => {
                self.complete(conn, done);
                self.pump(conn);
            }
            Event::Deadline => self.deadline(conn),
            Event::Shutdown => self.stop_reading(conn),
        }
        self.arm(conn);
    }

    /// A closed connection no longer waits for room in the queue or the body
    /// budget, gives back its share of the budget, and the decoder it kept
    /// (it refused a head, read a closing request, or was cut off
    /// mid-message) is made as new for another connection.
    fn closed(&mut self, id: ConnId, state: HttpConn) {
        if state.waiting {
            self.stalled.remove(id);
        }
        if state.budget_wait {
            self.forget_budget_waiter(id);
        }
        // The body being read, and a request the queue had no room for, are
        // dropped with the connection.
        let stalled_share = state.stalled.as_ref().map_or(0, |job| job.body_share);
        self.shared
            .budget
            .give_back(state.body_share + stalled_share);
        let parked: usize = state.parked.values().map(Done::heap_len).sum();
        if parked > 0 {
            self.shared.held_output.fetch_sub(parked, Ordering::Relaxed);
        }
        // A decoder the spares have no room for is dropped as it is.
        if let Some(mut decoder) = state.decoder {
            if self.decoders.len() < SPARE_DECODERS {
                decoder.reset();
                self.decoders.push(decoder);
            }
        }
    }

    /// Send this batch's jobs, then wake as many stalled connections as the
    /// queue has room for. The reactor calls again after the wakes until none
    /// is asked for, so a wake spent on a connection that no longer waits is
    /// made up.
    fn end_of_batch(&mut self, wake: &mut Vec<ConnId>) {
        self.send_pending();
        if !self.budget_waiters.is_empty() {
            self.wake_budget_waiters(wake);
        }
        if !self.stalled.new_round() {
            return;
        }
        // Ask for a wake-up before looking at the room, so that room made
        // after the look still wakes this loop.
        self.shared.stalled_loops.ask(self.loop_index);
        let room = self.room();
        self.stalled.wake(room, wake);
    }
}

#[cfg(test)]
mod queue_line_tests {
    use super::QueueLine;

    /// Connections `ids` join the back of the line, in that order.
    fn line(ids: &[u32]) -> QueueLine<u32> {
        let mut line = QueueLine::default();
        for &id in ids {
            line.join(id, false);
        }
        line
    }

    fn woken(line: &mut QueueLine<u32>, room: usize) -> Vec<u32> {
        let mut wake = Vec::new();
        assert!(line.new_round());
        line.wake(room, &mut wake);
        wake
    }

    #[test]
    fn a_new_round_starts_at_the_front() {
        let mut l = line(&[1, 2, 3]);
        assert_eq!(woken(&mut l, 2), [1, 2]);
        assert!(!l.is_clear());
        // 2 found no room: back to the front, ahead of 3.
        l.join(2, true);
        assert_eq!(woken(&mut l, 1), [2]);
        assert_eq!(woken(&mut l, 1), [3]);
        assert!(!l.new_round());
        assert!(l.is_clear());
    }

    #[test]
    fn woken_connections_that_find_no_room_keep_their_order_at_the_front() {
        let mut l = line(&[1, 2, 3, 4]);
        assert_eq!(woken(&mut l, 3), [1, 2, 3]);
        // 1 takes the room and its next job goes to the back; 2 and 3 find
        // none left.
        l.join(1, false);
        l.join(2, true);
        l.join(3, true);
        assert_eq!(woken(&mut l, 5), [2, 3, 4, 1]);
    }

    #[test]
    fn a_closed_connection_leaves_the_line() {
        let mut l = line(&[1, 2, 3]);
        l.remove(2);
        assert_eq!(woken(&mut l, 3), [1, 3]);
    }
}

#[cfg(test)]
mod body_allowance_tests {
    use std::time::Duration;

    use super::body_allowance;
    use crate::{ServerConfig, LONGEST_TIMEOUT};

    fn config(timeout: Duration, rate: usize) -> ServerConfig {
        ServerConfig {
            body_timeout: timeout,
            body_min_rate: rate,
            ..ServerConfig::default()
        }
    }

    #[test]
    fn a_body_gets_its_timeout_and_a_second_per_min_rate_bytes_arrived() {
        let c = config(Duration::from_secs(10), 64 * 1024);
        assert_eq!(body_allowance(&c, 0), Duration::from_secs(10));
        assert_eq!(body_allowance(&c, 8 << 20), Duration::from_secs(10 + 128));
        assert_eq!(body_allowance(&c, 32 * 1024), Duration::from_millis(10_500));
    }

    #[test]
    fn the_allowance_is_at_most_the_longest_timeout() {
        let c = config(Duration::MAX, 1);
        assert_eq!(body_allowance(&c, usize::MAX), LONGEST_TIMEOUT);
        let c = config(Duration::from_secs(1), 1);
        assert_eq!(body_allowance(&c, usize::MAX), LONGEST_TIMEOUT);
        // Just under it: 1 s plus a second per byte.
        let c = config(Duration::from_secs(1), 1);
        let under = (LONGEST_TIMEOUT.as_secs() - 2) as usize;
        assert_eq!(
            body_allowance(&c, under),
            LONGEST_TIMEOUT - Duration::from_secs(1)
        );
        let c = config(Duration::from_secs(1), 2);
        assert_eq!(body_allowance(&c, 3), Duration::from_millis(2500));
    }
}

#[cfg(test)]
mod held_output_tests {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    use std::sync::{mpsc, Mutex};
    use std::time::Duration;

    use http_types::{Request, ResponseBuilder};

    use crate::budget::server_tests::{connect, response, responses, wait_until, WAIT};
    use crate::ServerBuilder;

    /// The server's bound on held output in these tests.
    const LIMIT: usize = 64 * 1024;

    #[test]
    fn past_the_held_output_limit_a_connection_gets_one_request_at_a_time() {
        // `/second` waits until the client has read the response to
        // `/first`: it can only be answered if `/first` was answered
        // without waiting for it.
        let (signal, signalled) = mpsc::channel::<()>();
        let signalled = Mutex::new(signalled);
        let handler = move |req: Request| {
            let body = match req.path() {
                "/big" => vec![b'b'; 8 << 20],
                "/second" => {
                    let got = signalled.lock().map(|rx| rx.recv_timeout(WAIT).is_ok());
                    if got.unwrap_or(false) {
                        "signalled"
                    } else {
                        "not signalled"
                    }
                    .into()
                }
                _ => b"first".to_vec(),
            };
            ResponseBuilder::empty_200().body(body).build().unwrap()
        };
        // One worker: without the limit, the two pipelined requests would
        // be one batch, answered together once both handlers return.
        let server = ServerBuilder::new()
            .bind("127.0.0.1:0")
            .workers(1)
            .max_output(64 << 20)
            .max_output_memory(LIMIT)
            .start(handler)
            .expect("server starts");
        let held = &server.shared().held_output;

        // A client that asks for 8 MiB and reads none of it: what the
        // kernel does not take is held.
        let mut greedy = connect(&server);
        greedy
            .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        wait_until(
            || held.load(Ordering::Relaxed) > LIMIT,
            || "the server to hold output".into(),
        );

        let mut client = connect(&server);
        client
            .write_all(
                b"GET /first HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\nHost: t\r\n\r\n",
            )
            .unwrap();
        assert_eq!(response(&mut client), (200, "first".into()));
        signal.send(()).unwrap();
        assert_eq!(response(&mut client), (200, "signalled".into()));

        // A connection that goes away no longer counts.
        drop(greedy);
        wait_until(
            || held.load(Ordering::Relaxed) == 0,
            || "the held output to be given back".into(),
        );
        server.shutdown();
    }

    #[test]
    fn responses_parked_behind_an_earlier_one_count_as_held() {
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let handler = move |req: Request| {
            let body = match req.path() {
                "/nap" => {
                    std::thread::sleep(Duration::from_millis(2));
                    b"nap".to_vec()
                }
                "/hold" => {
                    let _ = released.lock().map(|rx| rx.recv_timeout(WAIT));
                    b"held".to_vec()
                }
                _ => vec![b'b'; 1 << 20],
            };
            ResponseBuilder::empty_200().body(body).build().unwrap()
        };
        let server = ServerBuilder::new()
            .bind("127.0.0.1:0")
            .workers(2)
            .max_output_memory(LIMIT)
            .start(handler)
            .expect("server starts");
        let shared = server.shared();
        let held = &shared.held_output;
        // A slow handler first, so that the next jobs go to the workers
        // one by one and `/big` can finish before `/hold`.
        let mut client = connect(&server);
        client
            .write_all(b"GET /nap HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(response(&mut client), (200, "nap".into()));
        wait_until(
            || shared.idle_workers.load(Ordering::SeqCst) == 2,
            || "both workers to be idle".into(),
        );
        let pair = b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\nGET /big HTTP/1.1\r\nHost: t\r\n\r\n";
        client.write_all(pair).unwrap();
        // `/big` waits for `/hold`, held by the server.
        wait_until(
            || held.load(Ordering::Relaxed) >= 1 << 20,
            || "the parked response to be counted".into(),
        );
        release.send(()).unwrap();
        let got = responses(&mut client, 2);
        assert_eq!(got[0], (200, "held".into()));
        assert_eq!((got[1].0, got[1].1.len()), (200, 1 << 20));
        wait_until(
            || held.load(Ordering::Relaxed) == 0,
            || "the written responses to be given back".into(),
        );

        // A connection reset with a response parked gives it back.
        wait_until(
            || shared.idle_workers.load(Ordering::SeqCst) == 2,
            || "both workers to be idle".into(),
        );
        let mut reset = connect(&server);
        reset.write_all(pair).unwrap();
        wait_until(
            || held.load(Ordering::Relaxed) >= 1 << 20,
            || "the parked response to be counted".into(),
        );
        socket2::SockRef::from(&reset)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(reset);
        wait_until(
            || held.load(Ordering::Relaxed) == 0,
            || "the parked response to be given back on close".into(),
        );
        release.send(()).unwrap();
        server.shutdown();
    }
}
