//! A small thread-per-connection HTTP/1.1 server on `std::net` that uses only
//! `http-codec` and `http-types`: keep-alive, pipelining, chunked request and
//! response bodies, `Expect: 100-continue`, HEAD, and an error status (then a
//! close) for anything the codec refuses.
//!
//! ```text
//! cargo run -p http-codec --example blocking -- --addr 127.0.0.1:7879
//! curl -s localhost:7879/            # Hello
//! curl -s -d 'hi' localhost:7879/echo   # echoes the body
//! curl -s localhost:7879/chunked     # a chunked response
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use http_codec::{
    encode_chunk, encode_last_chunk, encode_response, encode_response_head, ConnectionHeader,
    DecodeError, Decoded, EncodeOptions, Expect, Framing, Head, RequestDecoder,
};
use http_types::{HttpCode, HttpVersion, Method, Response, ResponseBuilder};

/// How long a connection may sit without sending anything.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Accept connections forever, one thread each.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || {
            // A peer that resets or times out only ends its own connection.
            let _ = handle_connection(stream);
        });
    }
    Ok(())
}

fn route(head: &Head) -> Response {
    let req = &head.request;
    let built = match req.path() {
        "/" => ResponseBuilder::empty_200()
            .body("Hello from http-codec\n")
            .content_type("text/plain")
            .build(),
        "/echo" => ResponseBuilder::empty_200()
            .body(req.body())
            .content_type("application/octet-stream")
            .build(),
        _ => ResponseBuilder::empty_404().body("not found\n").build(),
    };
    built.unwrap_or_else(|_| Response::new(HttpCode::INTERNAL_SERVER_ERROR))
}

fn options(head: &Head, keep_alive: bool) -> EncodeOptions {
    let http10 = head.request.version() == HttpVersion::Http10;
    EncodeOptions {
        head_request: *head.request.method() == Method::Head,
        connection: match (keep_alive, http10) {
            (false, _) => ConnectionHeader::Close,
            (true, true) => ConnectionHeader::KeepAlive,
            (true, false) => ConnectionHeader::Omit,
        },
        server: Some("http-codec-blocking"),
        chunked: !http10,
        ..EncodeOptions::default()
    }
}

/// Write the response to `head` into `out`; returns whether the connection
/// stays open.
fn respond(head: &Head, out: &mut Vec<u8>) -> bool {
    if head.upgrade {
        let resp = Response::new(HttpCode::NOT_IMPLEMENTED);
        encode_response(&resp, &options(head, false), out);
        return false;
    }
    if head.expect == Expect::Unsupported {
        let resp = Response::new(HttpCode::EXPECTATION_FAILED);
        encode_response(&resp, &options(head, false), out);
        return false;
    }
    let mut keep_alive = head.keep_alive;
    if head.request.path() == "/chunked" {
        // A body of unknown length: chunked on HTTP/1.1, until close on 1.0.
        let opts = options(
            head,
            keep_alive && head.request.version() == HttpVersion::Http11,
        );
        let mut headers = http_types::Headers::new();
        let _ = headers.append("Content-Type", "text/plain");
        let framing = encode_response_head(HttpCode::OK, &headers, None, &opts, out);
        for part in ["chunk one\n", "chunk two\n", "chunk three\n"] {
            match framing {
                Framing::Chunked => encode_chunk(part.as_bytes(), out),
                Framing::UntilClose => out.extend_from_slice(part.as_bytes()),
                _ => {}
            }
        }
        match framing {
            Framing::Chunked => encode_last_chunk(out),
            Framing::UntilClose => keep_alive = false,
            _ => {}
        }
        return keep_alive;
    }
    encode_response(&route(head), &options(head, keep_alive), out);
    keep_alive
}

fn refuse(error: DecodeError, out: &mut Vec<u8>) {
    let resp = ResponseBuilder::new()
        .status(error.status())
        .body(format!("{error}\n"))
        .content_type("text/plain")
        .build()
        .unwrap_or_else(|_| Response::new(error.status()));
    let opts = EncodeOptions {
        connection: ConnectionHeader::Close,
        ..EncodeOptions::default()
    };
    encode_response(&resp, &opts, out);
}

/// Serve one connection until it closes.
pub fn handle_connection(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut decoder = RequestDecoder::default();
    // The decoder bounds what stays in `buf`: an unfinished head is at most
    // `Limits::max_head_bytes`, body bytes are moved out as they arrive.
    let mut buf = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 * 1024];
    let mut continue_sent = false;
    loop {
        // Answer every complete request in the buffer, then write once.
        let mut open = true;
        loop {
            match decoder.decode(&buf) {
                Ok(Decoded::Message { head, consumed }) => {
                    buf.drain(..consumed);
                    continue_sent = false;
                    if !respond(&head, &mut out) {
                        open = false;
                        break;
                    }
                }
                Ok(Decoded::Partial { consumed }) => {
                    buf.drain(..consumed);
                    let wants_continue = decoder
                        .pending_head()
                        .is_some_and(|h| h.expect == Expect::Continue);
                    if wants_continue && !continue_sent {
                        out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                        continue_sent = true;
                    }
                    break;
                }
                Ok(Decoded::Closed) => {
                    open = false;
                    break;
                }
                Err(e) => {
                    refuse(e, &mut out);
                    open = false;
                    break;
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if !open {
            // Close our side, then drain briefly so the peer reads our answer
            // instead of a reset.
            stream.shutdown(Shutdown::Write)?;
            stream.set_read_timeout(Some(Duration::from_millis(500)))?;
            let mut drained = 0;
            while drained < 256 * 1024 {
                match stream.read(&mut chunk) {
                    Ok(n) if n > 0 => drained += n,
                    _ => break,
                }
            }
            return Ok(());
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    let mut addr = "127.0.0.1:7879".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(a)) => addr = a,
            _ => {
                eprintln!("usage: blocking [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&addr)?;
    println!(
        "blocking example listening on http://{}",
        listener.local_addr()?
    );
    serve(listener)
}
