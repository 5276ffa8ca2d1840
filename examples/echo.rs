//! Shows exactly what the server parsed.
//!
//! `GET /plaintext` answers `Hello, World!` as `text/plain` (TechEmpower's
//! plaintext test), and `GET /big` 256 KiB of `b`. Every other request gets
//! JSON:
//! `{"method", "uri", "version", "headers": [[name, value], ...], "body": <base64>, "body_len"}`.
//!
//! `--delay-ms N` makes every handler block for N milliseconds first, as a
//! database call would (for load tests of the worker pool). `--on-loop` runs
//! the handlers on the event-loop thread instead of the worker pool
//! (`ServerBuilder::handlers_on_loop`). `--no-batch-workers` keeps the
//! workers in the normal scheduling class (`ServerBuilder::batch_workers`).
//! `--quick-batches auto|reader|worker` says who runs a batch of quick
//! requests (`ServerBuilder::quick_batches`).
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:7878 --workers 4
//! curl -s -d 'hi' 'localhost:7878/echo?x=1'
//! ```

use mini_async_http::{Body, QuickBatches, Request, Response, ResponseBuilder, ServerBuilder};

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn describe(req: &Request) -> String {
    let mut out = String::with_capacity(256 + req.body().len() * 4 / 3);
    out.push_str("{\"method\":");
    json_string(&mut out, req.method().as_str());
    out.push_str(",\"uri\":");
    json_string(&mut out, req.target());
    out.push_str(",\"version\":");
    json_string(&mut out, &req.protocol().to_string());
    out.push_str(",\"headers\":[");
    for (i, (name, value)) in req.headers().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        json_string(&mut out, name);
        out.push(',');
        json_string(&mut out, &String::from_utf8_lossy(value.as_bytes()));
        out.push(']');
    }
    out.push_str("],\"body\":");
    json_string(&mut out, &base64(req.body()));
    out.push_str(&format!(",\"body_len\":{}}}", req.body().len()));
    out
}

/// The body of `GET /big`.
static BIG: [u8; 256 * 1024] = [b'b'; 256 * 1024];

fn handle(req: Request) -> Response {
    let built = if req.path() == "/plaintext" {
        ResponseBuilder::empty_200()
            .body(Body::from_static(b"Hello, World!"))
            .content_type("text/plain")
            .build()
    } else if req.path() == "/big" {
        ResponseBuilder::empty_200()
            .body(Body::from_static(&BIG))
            .content_type("application/octet-stream")
            .build()
    } else {
        ResponseBuilder::empty_200()
            .body(describe(&req))
            .content_type("application/json")
            .build()
    };
    built.unwrap_or_else(|_| Response::new(mini_async_http::HttpCode::INTERNAL_SERVER_ERROR))
}

fn main() {
    let mut addr = "127.0.0.1:7878".to_owned();
    let mut workers = std::thread::available_parallelism().map_or(4, |n| n.get());
    let mut delay = std::time::Duration::ZERO;
    let mut on_loop = false;
    let mut batch_workers = true;
    let mut quick_batches = QuickBatches::Auto;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--on-loop" {
            on_loop = true;
            continue;
        }
        if arg == "--no-batch-workers" {
            batch_workers = false;
            continue;
        }
        let value = args.next();
        let number = value.as_deref().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value.as_deref(), number) {
            ("--addr", Some(a), _) => addr = a.to_owned(),
            ("--workers", _, Some(n)) if n > 0 => workers = n as usize,
            ("--delay-ms", _, Some(ms)) => delay = std::time::Duration::from_millis(ms),
            ("--quick-batches", Some("auto"), _) => quick_batches = QuickBatches::Auto,
            ("--quick-batches", Some("reader"), _) => quick_batches = QuickBatches::Reader,
            ("--quick-batches", Some("worker"), _) => quick_batches = QuickBatches::Worker,
            _ => {
                eprintln!(
                    "usage: echo [--addr HOST:PORT] [--workers N] [--delay-ms N] [--on-loop] \
                     [--no-batch-workers] [--quick-batches auto|reader|worker]"
                );
                std::process::exit(2);
            }
        }
    }
    let handler = move |req: Request| {
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        handle(req)
    };
    match ServerBuilder::new()
        .bind(addr)
        .workers(workers)
        .handlers_on_loop(on_loop)
        .batch_workers(batch_workers)
        .quick_batches(quick_batches)
        .start(handler)
    {
        Ok(handle) => {
            let runs = if on_loop {
                "handlers on the event loop".to_owned()
            } else {
                format!("{workers} workers")
            };
            println!(
                "echo listening on http://{} with {runs}",
                handle.local_addr()
            );
            handle.wait();
        }
        Err(e) => {
            eprintln!("echo: {e}");
            std::process::exit(1);
        }
    }
}
