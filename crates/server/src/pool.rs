//! The worker pool: threads that run the handler and encode its response.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use http_codec::{encode_response, encode_response_head, http_date_now, EncodeOptions, Framing};
use http_types::{Body, HttpCode, Response};
use reactor::{ConnId, Remote};

use crate::queue::Receiver;
use crate::service::{Done, Job, Payload, Shared, Work, SPARE_BATCHES, SPARE_BATCH_MAX};
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

pub(crate) fn spawn(
    count: usize,
    jobs: Receiver<Work>,
    handler: Arc<dyn Handler>,
    remotes: Arc<Vec<Remote<Done>>>,
    shared: Arc<Shared>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..count)
        .map(|i| {
            let (jobs, handler, remotes, shared) = (
                jobs.clone(),
                Arc::clone(&handler),
                Arc::clone(&remotes),
                Arc::clone(&shared),
            );
            std::thread::Builder::new()
                .name(format!("http-worker-{i}"))
                .spawn(move || {
                    if shared.config.batch_workers {
                        // Without it the worker only preempts more eagerly.
                        let _ = crate::sched::batch_this_thread();
                    }
                    work(&jobs, &*handler, &remotes, &shared)
                })
        })
        .collect()
}

/// A worker's life: take a batch (or a job on its own), run it, hand the
/// responses back to each loop in one go. Ends when every event loop has
/// dropped its sender.
fn work(jobs: &Receiver<Work>, handler: &dyn Handler, remotes: &[Remote<Done>], shared: &Shared) {
    let mut outboxes: Vec<Outbox> = remotes.iter().map(|_| Outbox::default()).collect();
    loop {
        shared.idle_workers.fetch_add(1, Ordering::SeqCst);
        let work = jobs.recv();
        shared.idle_workers.fetch_sub(1, Ordering::SeqCst);
        let Some(work) = work else {
            return;
        };
        let count = match &work {
            Work::Batch(batch) => batch.len(),
            Work::One(_) => 1,
        };
        shared.queued.fetch_sub(count, Ordering::SeqCst);
        // Taking jobs made room: wake loops that wait for it.
        shared.stalled_loops.wake(remotes);
        if shared.stopped.load(Ordering::SeqCst) {
            // The loops are gone; the jobs go unrun, their bodies with them.
            match work {
                Work::One(job) => shared.budget.give_back(job.body_share),
                Work::Batch(batch) => batch
                    .iter()
                    .for_each(|job| shared.budget.give_back(job.body_share)),
            }
            continue;
        }
        // One clock read for the batch's `Date`, one pair for its timing.
        let date = http_date_now();
        let started = Instant::now();
        for outbox in &mut outboxes {
            outbox.begin();
        }
        let mut ran = 0u64;
        let mut serve = |job: Job| {
            let (conn, seq, loop_index) = (job.conn, job.seq, job.loop_index);
            // A client that hung up gets no answer: its handler does not run.
            if remotes.get(loop_index).is_some_and(|r| !r.is_open(conn)) {
                shared.budget.give_back(job.body_share);
                return;
            }
            ran += 1;
            let (head_request, http10) = (job.head_request, job.http10);
            let (response, close) = run(job, handler, shared);
            let options = EncodeOptions {
                date_value: Some(date),
                ..shared.options(head_request, close, http10)
            };
            if let Some(outbox) = outboxes.get_mut(loop_index) {
                outbox.push(conn, seq, close, response, &options);
            }
        };
        match work {
            Work::One(job) => serve(job),
            Work::Batch(mut batch) => {
                batch.drain(..).for_each(&mut serve);
                if batch.capacity() <= SPARE_BATCH_MAX {
                    if let Ok(mut spares) = shared.spare_batches.lock() {
                        if spares.len() < SPARE_BATCHES {
                            spares.push(batch);
                        }
                    }
                }
            }
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
        for (outbox, remote) in outboxes.iter_mut().zip(remotes) {
            outbox.send(remote);
        }
    }
}
