//! The worker pool: threads that run the handler and encode its response.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use http_codec::{
    encode_response, encode_response_head, http_date_now, EncodeOptions, Framing, HTTP_DATE_LEN,
};
use http_types::{Body, HttpCode, Response};
use reactor::{ConnId, Remote};

use crate::drive::Crew;
use crate::service::{Answer, Done, Job, Payload, Shared, Work, SPARE_BATCHES, SPARE_BATCH_MAX};
use crate::Handler;

fn internal_error() -> Response {
    http_types::ResponseBuilder::empty_500()
        .body("500 Internal Server Error\n")
        .content_type("text/plain; charset=utf-8")
        .build()
        .unwrap_or_else(|_| Response::new(HttpCode::INTERNAL_SERVER_ERROR))
}

/// Bodies this large travel on their own, handed to the connection without
/// a copy: a vector as it is, static bytes by reference.
const WHOLE_BODY_FROM: usize = 16 * 1024;
/// A batch buffer stops taking responses at this size (the rest get their
/// own vectors), which bounds what a worker keeps between batches.
const BATCH_BUFFER_MAX: usize = 256 * 1024;

/// Run one job's handler (a panic becomes a 500) and settle whether the
/// connection closes after its response.
pub(crate) fn run(job: Job, handler: &dyn Handler, shared: &Shared) -> (Response, bool) {
    let response = catch_unwind(AssertUnwindSafe(|| handler.handle(job.request)))
        .unwrap_or_else(|_| internal_error());
    // The body is the handler's now, or freed: its bytes leave the budget.
    shared.budget.give_back(job.body_share);
    let asked_close = response.headers().get_all("connection").any(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    });
    let close = !job.keep_alive || asked_close || shared.draining.load(Ordering::Relaxed);
    (response, close)
}

/// Encode `response` into `out`, except a large body, which is returned to
/// be queued after it as it is.
pub(crate) fn encode(
    response: Response,
    options: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Option<Payload> {
    let len = response.body().len().unwrap_or(0);
    if len < WHOLE_BODY_FROM as u64 {
        encode_response(&response, options, out);
        return None;
    }
    let framing = encode_response_head(
        response.status(),
        response.headers(),
        Some(len),
        options,
        out,
    );
    // Without a length framing (HEAD, 204, 304) no body is sent.
    if !matches!(framing, Framing::Length(_)) {
        return None;
    }
    match response.into_body() {
        Body::Bytes(bytes) => Some(Payload::Owned(bytes)),
        Body::Static(bytes) => Some(Payload::Static(bytes)),
        other => {
            out.extend_from_slice(other.as_bytes().unwrap_or_default());
            None
        }
    }
}

/// Where a response's bytes went.
enum Draft {
    Owned(Vec<u8>),
    /// A range of the batch buffer.
    Range(std::ops::Range<usize>),
}

/// Responses for one connection, consecutive.
struct Item {
    conn: ConnId,
    seq: u64,
    count: u64,
    close: bool,
    bytes: Draft,
    /// The last response's large body, queued after `bytes`.
    body: Option<Payload>,
}

/// What a worker builds for one event loop during a batch: the small
/// responses back to back in one buffer, so a batch costs no allocation per
/// response and a connection's pipelined responses leave as one range.
#[derive(Default)]
struct Outbox {
    /// The buffer of this batch.
    buffer: Arc<Vec<u8>>,
    /// The buffer of the batch before, which the loop may still hold: the
    /// two take turns, so a worker that starts its next batch before the
    /// loop has copied out the last one still reuses a buffer.
    other: Arc<Vec<u8>>,
    items: Vec<Item>,
}

impl Outbox {
    /// Get a buffer ready for a batch: one of the two nobody else holds,
    /// else a fresh one as large as the last batch needed.
    fn begin(&mut self) {
        std::mem::swap(&mut self.buffer, &mut self.other);
        for _ in 0..2 {
            if let Some(buffer) = Arc::get_mut(&mut self.buffer)
                .filter(|b| b.capacity() <= BATCH_BUFFER_MAX + WHOLE_BODY_FROM)
            {
                buffer.clear();
                return;
            }
            std::mem::swap(&mut self.buffer, &mut self.other);
        }
        let wanted = self.other.len().min(BATCH_BUFFER_MAX);
        self.buffer = Arc::new(Vec::with_capacity(wanted));
    }

    /// Encode a response, joining it to the previous item when that is the
    /// same connection's response just before it. A large body travels
    /// whole behind its head, and nothing joins after it.
    fn push(
        &mut self,
        conn: ConnId,
        seq: u64,
        close: bool,
        response: Response,
        options: &EncodeOptions,
    ) {
        let Some(buffer) = Arc::get_mut(&mut self.buffer).filter(|b| b.len() < BATCH_BUFFER_MAX)
        else {
            let mut bytes = Vec::new();
            let body = encode(response, options, &mut bytes);
            self.items.push(Item {
                conn,
                seq,
                count: 1,
                close,
                bytes: Draft::Owned(bytes),
                body,
            });
            return;
        };
        let start = buffer.len();
        let body = encode(response, options, buffer);
        let end = buffer.len();
        if let Some(last) = self.items.last_mut() {
            if let Draft::Range(range) = &mut last.bytes {
                if last.conn == conn
                    && !last.close
                    && last.body.is_none()
                    && last.seq + last.count == seq
                    && range.end == start
                {
                    range.end = end;
                    last.count += 1;
                    last.close = close;
                    last.body = body;
                    return;
                }
            }
        }
        self.items.push(Item {
            conn,
            seq,
            count: 1,
            close,
            bytes: Draft::Range(start..end),
            body,
        });
    }

    /// Hand this batch's responses to the loop, with one wake-up.
    fn send(&mut self, remote: &Remote<Done>) {
        if self.items.is_empty() {
            return;
        }
        let buffer = &self.buffer;
        remote.complete_all(self.items.drain(..).map(|item| {
            let bytes = match item.bytes {
                Draft::Owned(bytes) => Payload::Owned(bytes),
                Draft::Range(range) => Payload::Shared(Arc::clone(buffer), range),
            };
            let done = Done {
                seq: item.seq,
                count: item.count,
                bytes,
                body: item.body,
                close: item.close,
            };
            (item.conn, done)
        }));
    }
}

/// Run `jobs` in turn (a panic becomes a 500), handing each response to
/// `answered` with its connection and loop; a job whose client has hung up
/// is dropped unrun. Keeps the handlers' average time up to date.
pub(crate) fn run_each(
    jobs: impl Iterator<Item = Job>,
    handler: &dyn Handler,
    remotes: &[Remote<Done>],
    shared: &Shared,
    mut answered: impl FnMut(ConnId, usize, Answer),
) {
    let started = Instant::now();
    let mut ran = 0u64;
    for job in jobs {
        let (conn, seq, loop_index) = (job.conn, job.seq, job.loop_index);
        if remotes.get(loop_index).is_some_and(|r| !r.is_open(conn)) {
            shared.budget.give_back(job.body_share);
            continue;
        }
        ran += 1;
        let (head_request, http10) = (job.head_request, job.http10);
        let (response, close) = run(job, handler, shared);
        let answer = Answer {
            seq,
            response,
            close,
            head_request,
            http10,
        };
        answered(conn, loop_index, answer);
    }
    // Jobs dropped unrun say nothing of the handler's time.
    if let Some(nanos) = u64::try_from(started.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .checked_div(ran)
    {
        let average = shared.handler_nanos.load(Ordering::Relaxed);
        shared
            .handler_nanos
            .store(average - average / 8 + nanos / 8, Ordering::Relaxed);
    }
}

/// What a thread keeps from one batch to the next: an outbox for each event
/// loop.
pub(crate) struct Worker {
    outboxes: Vec<Outbox>,
    /// This thread was moved to the batch class (see
    /// [`driving`](Self::driving)).
    batched: bool,
}

impl Worker {
    /// A worker for a server of `loops` event loops.
    pub fn new(loops: usize) -> Worker {
        Worker {
            outboxes: (0..loops).map(|_| Outbox::default()).collect(),
            batched: false,
        }
    }

    /// This thread begins to drive an event loop (`true`) or goes back to
    /// waiting for jobs. With [`batch_workers`](crate::ServerConfig::batch_workers),
    /// threads that wait for and run jobs from the queue are in the batch
    /// class, and the thread that drives a loop (with the quick batches it
    /// runs itself) is in the default class, whichever thread that is.
    pub fn driving(&mut self, driving: bool, shared: &Shared) {
        if !shared.config.batch_workers {
            return;
        }
        if driving {
            if self.batched && crate::sched::normal_this_thread() {
                self.batched = false;
            }
        } else if !self.batched {
            self.batched = crate::sched::batch_this_thread();
        }
    }

    /// Run `jobs` in turn, each response into its loop's outbox.
    pub fn run_jobs(
        &mut self,
        jobs: impl Iterator<Item = Job>,
        handler: &dyn Handler,
        remotes: &[Remote<Done>],
        shared: &Shared,
    ) {
        // One clock read for the batch's `Date`.
        let date = http_date_now();
        self.begin();
        run_each(
            jobs,
            handler,
            remotes,
            shared,
            |conn, loop_index, answer| {
                self.push(conn, loop_index, answer, date, shared);
            },
        );
    }

    /// Encode `answer` into loop `loop_index`'s outbox, after
    /// [`begin`](Self::begin).
    fn push(
        &mut self,
        conn: ConnId,
        loop_index: usize,
        answer: Answer,
        date: [u8; HTTP_DATE_LEN],
        shared: &Shared,
    ) {
        let options = EncodeOptions {
            date_value: Some(date),
            ..shared.options(answer.head_request, answer.close, answer.http10)
        };
        if let Some(outbox) = self.outboxes.get_mut(loop_index) {
            outbox.push(conn, answer.seq, answer.close, answer.response, &options);
        }
    }

    /// Get every outbox ready for a batch.
    fn begin(&mut self) {
        for outbox in &mut self.outboxes {
            outbox.begin();
        }
    }

    /// Send loop `loop_index` these answers through its completion queue,
    /// with one wake-up: for a thread that ran them to write them itself
    /// but found its loop taken up by another.
    pub fn send_answers(
        &mut self,
        loop_index: usize,
        answers: impl Iterator<Item = (ConnId, Answer)>,
        date: [u8; HTTP_DATE_LEN],
        remotes: &[Remote<Done>],
        shared: &Shared,
    ) {
        self.begin();
        for (conn, answer) in answers {
            self.push(conn, loop_index, answer, date, shared);
        }
        self.send(remotes);
    }

    /// Hand each loop its responses, with one wake-up each.
    pub fn send(&mut self, remotes: &[Remote<Done>]) {
        for (outbox, remote) in self.outboxes.iter_mut().zip(remotes) {
            outbox.send(remote);
        }
    }
}

/// A worker's life: take a batch (or a job on its own), run it, hand the
/// responses back to each loop in one go; or take up an event loop that was
/// left down, and drive it for as long as it is not taken from it. Ends when
/// every event loop and the watch have dropped their senders.
pub(crate) fn work(worker: &mut Worker, crew: &Crew) {
    let shared = &*crew.shared;
    loop {
        shared.idle_workers.fetch_add(1, Ordering::SeqCst);
        let work = crew.jobs.recv();
        shared.idle_workers.fetch_sub(1, Ordering::SeqCst);
        let Some(work) = work else {
            return;
        };
        let count = match &work {
            Work::Batch(batch) => batch.len(),
            Work::One(_) => 1,
            Work::TakeLoop(index) => {
                crate::drive::take_over(*index, worker, crew);
                continue;
            }
        };
        shared.queued.fetch_sub(count, Ordering::SeqCst);
        // Taking jobs made room: wake loops that wait for it.
        shared.stalled_loops.wake(&crew.remotes);
        if shared.stopped.load(Ordering::SeqCst) {
            // The loops are gone; the jobs go unrun, their bodies with them.
            match work {
                Work::One(job) => shared.budget.give_back(job.body_share),
                Work::Batch(batch) => batch
                    .iter()
                    .for_each(|job| shared.budget.give_back(job.body_share)),
                Work::TakeLoop(_) => {}
            }
            continue;
        }
        let (handler, remotes) = (&*crew.handler, &crew.remotes[..]);
        match work {
            Work::One(job) => worker.run_jobs(std::iter::once(job), handler, remotes, shared),
            Work::Batch(mut batch) => {
                worker.run_jobs(batch.drain(..), handler, remotes, shared);
                if batch.capacity() <= SPARE_BATCH_MAX {
                    if let Ok(mut spares) = shared.spare_batches.lock() {
                        if spares.len() < SPARE_BATCHES {
                            spares.push(batch);
                        }
                    }
                }
            }
            Work::TakeLoop(_) => {}
        }
        worker.send(remotes);
    }
}
