//! The worker pool: threads that run the handler and encode its response.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::Receiver;
use http_codec::{encode_response, http_date_now, EncodeOptions, HTTP_DATE_LEN};
use http_types::{HttpCode, Response};
use reactor::Remote;

use crate::service::{Done, Job, Shared};
use crate::Handler;

fn internal_error() -> Response {
    http_types::ResponseBuilder::empty_500()
        .body("500 Internal Server Error\n")
        .content_type("text/plain; charset=utf-8")
        .build()
        .unwrap_or_else(|_| Response::new(HttpCode::INTERNAL_SERVER_ERROR))
}

/// Run one job: the handler (a panic becomes a 500), then the encoding,
/// here rather than on the event loop.
fn run(job: Job, handler: &dyn Handler, shared: &Shared, date: [u8; HTTP_DATE_LEN]) -> Done {
    let response = catch_unwind(AssertUnwindSafe(|| handler.handle(job.request)))
        .unwrap_or_else(|_| internal_error());
    let asked_close = response.headers().get_all("connection").any(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    });
    let close = !job.keep_alive || asked_close || shared.draining.load(Ordering::Relaxed);
    let body = response.body().len().unwrap_or(0) as usize;
    let mut bytes = Vec::with_capacity(256 + body);
    let options = EncodeOptions {
        date_value: Some(date),
        ..shared.options(job.head_request, close, job.http10)
    };
    encode_response(&response, &options, &mut bytes);
    Done {
        seq: job.seq,
        bytes,
        close,
    }
}

pub(crate) fn spawn(
    count: usize,
    jobs: Receiver<Vec<Job>>,
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
                .spawn(move || work(&jobs, &*handler, &remotes, &shared))
        })
        .collect()
}

/// A worker's life: take a batch, run it, hand the responses back to each
/// loop in one go. Ends when every event loop has dropped its sender.
fn work(
    jobs: &Receiver<Vec<Job>>,
    handler: &dyn Handler,
    remotes: &[Remote<Done>],
    shared: &Shared,
) {
    let mut done: Vec<Vec<(reactor::ConnId, Done)>> = remotes.iter().map(|_| Vec::new()).collect();
    loop {
        shared.idle_workers.fetch_add(1, Ordering::SeqCst);
        let batch = jobs.recv();
        shared.idle_workers.fetch_sub(1, Ordering::SeqCst);
        let Ok(batch) = batch else {
            return;
        };
        shared.queued.fetch_sub(batch.len(), Ordering::SeqCst);
        // Taking jobs made room: wake loops that wait for it.
        if shared.stalled_loops.load(Ordering::SeqCst) != 0 {
            let bits = shared.stalled_loops.swap(0, Ordering::SeqCst);
            for (i, remote) in remotes.iter().enumerate() {
                if bits & (1 << i) != 0 {
                    remote.wake();
                }
            }
        }
        if shared.stopped.load(Ordering::SeqCst) {
            continue;
        }
        // One clock read for the batch's `Date`, one pair for its timing.
        let date = http_date_now();
        let started = Instant::now();
        let count = batch.len().max(1) as u64;
        for job in batch {
            let (conn, loop_index) = (job.conn, job.loop_index);
            let response = run(job, handler, shared, date);
            if let Some(list) = done.get_mut(loop_index) {
                list.push((conn, response));
            }
        }
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX) / count;
        let average = shared.handler_nanos.load(Ordering::Relaxed);
        shared
            .handler_nanos
            .store(average - average / 8 + nanos / 8, Ordering::Relaxed);
        for (list, remote) in done.iter_mut().zip(remotes) {
            if !list.is_empty() {
                remote.complete_all(list.drain(..));
            }
        }
    }
}
