//! The original `mini_async_http` 0.1.0 from crates.io: one mio event loop
//! thread plus `--workers` handler threads (`AIOServer::new(workers, ..)`).
//! `--delay-ms` is a `std::thread::sleep` on those handler threads.
//!
//! What this old crate cannot do, so what this peer does not serve as
//! `examples/echo.rs` does:
//! - it binds inside `AIOServer::new` and never reports the port, so a port 0
//!   is first turned into a free port (bind, read, drop) and that is passed;
//! - headers come from a HashMap with names AND values lowercased and
//!   duplicates collapsed: the echo lists them sorted by name, as the crate
//!   gives them (not as sent);
//! - "version" is always "HTTP/1.1" (the crate keeps no other version);
//! - bodies only by `Content-Length` (no chunked request bodies), and the
//!   crate reads 8 KiB per (edge-triggered) readiness event: a request larger
//!   than about 8 KiB that arrives at once is never read to its end and the
//!   connection hangs (checked: 8,000-byte bodies work, 16,000 hang; so the
//!   1 MiB upload scenario cannot work);
//! - methods other than GET, POST, PUT and DELETE panic inside the crate's
//!   parser; the stream's mutex is poisoned and the next worker touching it
//!   panics too (checked: one PATCH took down both workers of `--workers 2`);
//! - a connection's jobs are queued once per event and a second worker waits
//!   on the stream's mutex, so with `--delay-ms` fewer than `--workers`
//!   requests may sleep at once (4 requests, 2 workers, 200 ms: 0.6 s, not 0.4);
//! - responses are written with one `write!` on a non-blocking socket, so a
//!   response larger than the socket buffer may be cut short;
//! - responses go out with lowercased header names.
//!
//! `GET /plaintext` and small echo requests work.

use mini_async_http::{AIOServer, Request, Response, ResponseBuilder};
use peer_common::{announce, concrete_addr, describe, Args, PLAINTEXT};

fn handle(req: &Request) -> Response {
    let built = if req.path().split('?').next() == Some("/plaintext") {
        ResponseBuilder::empty_200()
            .body(PLAINTEXT.as_bytes())
            .content_type("text/plain")
            .build()
    } else {
        let mut headers: Vec<(&str, &[u8])> = req
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        headers.sort();
        let body: &[u8] = req.body().map_or(&[], |b| b.as_slice());
        let json = describe(
            req.method().as_str(),
            req.path(),
            req.version().as_str(),
            headers,
            body,
        );
        ResponseBuilder::empty_200()
            .body(json.as_bytes())
            .content_type("application/json")
            .build()
    };
    built.unwrap_or_else(|_| {
        ResponseBuilder::empty_500()
            .build()
            .expect("a 500 always builds")
    })
}

fn main() {
    let args = Args::parse("mini-async-http-0-1");
    let addr = match concrete_addr(&args.addr) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("mini-async-http-0-1: {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    let workers = i32::try_from(args.workers).unwrap_or(i32::MAX);
    let delay = args.delay;
    // Binds (and panics if it cannot); the loop only runs from `start`, but
    // connections wait in the listen backlog until then.
    let mut server = AIOServer::new(workers, &addr.to_string(), move |req: &Request| {
        peer_common::block(delay);
        handle(req)
    });
    announce(
        "mini-async-http-0-1",
        addr,
        &format!(" with {} workers", args.workers),
    );
    server.start();
}
