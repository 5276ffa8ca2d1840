//! may_minihttp on one may worker thread (`may::config().set_workers(1)`):
//! every connection is a stackful coroutine on that one thread.
//!
//! `--delay-ms`: a `std::thread::sleep` inside the handler would block the
//! only scheduler thread, and with it every other connection. So, like the
//! hyper and actix peers' `spawn_blocking` / `web::block`, the blocking sleep
//! runs on a pool of `--workers` plain OS threads, and the calling coroutine
//! parks on a may channel (which yields to the scheduler, not the thread)
//! until its sleep is done. `may::coroutine::sleep` was not used: it would
//! model a non-blocking database call with unbounded concurrency, unlike the
//! other peers.
//!
//! Limits of may_minihttp 0.1 itself: at most 16 request headers (more is a
//! parse error and the connection is dropped), bodies only by
//! `Content-Length` (no chunked request bodies).

use std::io::{self, Read};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};
use peer_common::{announce, concrete_addr, describe, Args, BIG, PLAINTEXT};

/// A fixed pool of OS threads for the blocking part of a handler.
struct BlockingPool {
    jobs: Mutex<std_mpsc::Sender<(Duration, may::sync::mpsc::Sender<()>)>>,
}

impl BlockingPool {
    fn new(threads: usize) -> Arc<BlockingPool> {
        let (tx, rx) = std_mpsc::channel::<(Duration, may::sync::mpsc::Sender<()>)>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..threads {
            let rx = Arc::clone(&rx);
            std::thread::spawn(move || loop {
                let job = rx.lock().unwrap().recv();
                let Ok((delay, done)) = job else { return };
                std::thread::sleep(delay);
                let _ = done.send(());
            });
        }
        Arc::new(BlockingPool {
            jobs: Mutex::new(tx),
        })
    }

    /// Sleeps `delay` on a pool thread; parks only the calling coroutine.
    fn block(&self, delay: Duration) {
        if delay.is_zero() {
            return;
        }
        let (done_tx, done_rx) = may::sync::mpsc::channel();
        if self.jobs.lock().unwrap().send((delay, done_tx)).is_ok() {
            let _ = done_rx.recv();
        }
    }
}

#[derive(Clone)]
struct Echo {
    delay: Duration,
    pool: Arc<BlockingPool>,
}

impl HttpService for Echo {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        let method = req.method().to_owned();
        let uri = req.path().to_owned();
        let version = format!("HTTP/1.{}", req.version());
        let headers: Vec<(String, Vec<u8>)> = req
            .headers()
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect();
        // Always drain the body, or its bytes would be read as the next request.
        let mut body = Vec::new();
        req.body().read_to_end(&mut body)?;
        self.pool.block(self.delay);
        let path = uri.split('?').next();
        if path == Some("/plaintext") {
            rsp.header("Content-Type: text/plain");
            rsp.body(PLAINTEXT);
        } else if path == Some("/big") {
            rsp.header("Content-Type: application/octet-stream");
            rsp.body_mut().extend_from_slice(&BIG);
        } else {
            let headers = headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()));
            let json = describe(&method, &uri, &version, headers, &body);
            rsp.header("Content-Type: application/json");
            rsp.body_vec(json.into_bytes());
        }
        Ok(())
    }
}

struct EchoFactory(Echo);

impl HttpServiceFactory for EchoFactory {
    type Service = Echo;

    fn new_service(&self, _id: usize) -> Echo {
        self.0.clone()
    }
}

fn main() {
    let args = Args::parse("may-peer");
    may::config().set_workers(1);
    // may_minihttp binds inside `start` and never says which port it got,
    // so a port 0 is turned into a free port first.
    let addr = match concrete_addr(&args.addr) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("may-peer: {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    let echo = Echo {
        delay: args.delay,
        pool: BlockingPool::new(args.workers),
    };
    let server = match EchoFactory(echo).start(addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("may-peer: {addr}: {e}");
            std::process::exit(1);
        }
    };
    announce(
        "may-peer",
        addr,
        &format!(" with 1 may worker, {} blocking threads", args.workers),
    );
    let _ = server.join();
}
