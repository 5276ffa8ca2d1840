//! Drives `examples/blocking.rs` (the codec used alone, on `std::net`) over
//! real sockets, with this crate's own response decoder as the client.

#[allow(dead_code)]
#[path = "../examples/blocking.rs"]
mod blocking;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use http_codec::{ResponseDecoded, ResponseDecoder};
use http_types::Response;

fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || blocking::serve(listener));
    addr
}

struct Client {
    stream: TcpStream,
    decoder: ResponseDecoder,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Client {
            stream,
            decoder: ResponseDecoder::default(),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// The next response; `None` when the server closed the connection first.
    fn response(&mut self, head_request: bool) -> Option<(Response, bool)> {
        let mut chunk = [0u8; 4096];
        loop {
            match self
                .decoder
                .decode(&self.buf, head_request)
                .expect("valid response")
            {
                ResponseDecoded::Message {
                    response,
                    keep_alive,
                    consumed,
                } => {
                    self.buf.drain(..consumed);
                    return Some((response, keep_alive));
                }
                ResponseDecoded::Partial { consumed } => {
                    self.buf.drain(..consumed);
                }
            }
            let n = self
                .stream
                .read(&mut chunk)
                .expect("read within the timeout");
            if n == 0 {
                return self
                    .decoder
                    .finish()
                    .expect("clean end")
                    .map(|r| (r, false));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        self.buf.is_empty() && matches!(self.stream.read(&mut b), Ok(0))
    }
}

fn body(r: &Response) -> &[u8] {
    r.body().as_bytes().expect("in-memory body")
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let mut c = Client::connect(start());
    for i in 0..20 {
        let payload = format!("request {i}");
        c.send(
            format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            )
            .as_bytes(),
        );
        let (r, keep_alive) = c.response(false).expect("a response");
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(body(&r), payload.as_bytes());
        assert!(keep_alive);
        assert!(r.headers().contains("date"));
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut c = Client::connect(start());
    let mut wire = Vec::new();
    for i in 0..100 {
        let payload = format!("#{i}");
        wire.extend_from_slice(
            format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            )
            .as_bytes(),
        );
    }
    c.send(&wire);
    for i in 0..100 {
        let (r, _) = c.response(false).expect("a response");
        assert_eq!(body(&r), format!("#{i}").as_bytes());
    }
}

#[test]
fn chunked_bodies_both_ways() {
    let mut c = Client::connect(start());
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n");
    let (r, _) = c.response(false).expect("a response");
    assert_eq!(body(&r), b"hello, world");
    c.send(b"GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n");
    let (r, keep_alive) = c.response(false).expect("a response");
    assert_eq!(r.headers().get("transfer-encoding").unwrap(), "chunked");
    assert_eq!(body(&r), b"chunk one\nchunk two\nchunk three\n");
    assert!(keep_alive);
    // HTTP/1.0 cannot take chunked: the body runs until the close.
    c.send(b"GET /chunked HTTP/1.0\r\n\r\n");
    let (r, keep_alive) = c.response(false).expect("a response");
    assert_eq!(body(&r), b"chunk one\nchunk two\nchunk three\n");
    assert!(!keep_alive);
}

#[test]
fn expect_continue_gets_an_interim_response() {
    let mut c = Client::connect(start());
    c.send(b"PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    let (interim, _) = c.response(false).expect("interim");
    assert_eq!(interim.status().as_u16(), 100);
    c.send(b"data");
    let (r, _) = c.response(false).expect("final");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(body(&r), b"data");
}

#[test]
fn head_gets_headers_only() {
    let mut c = Client::connect(start());
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let (r, _) = c.response(true).expect("head response");
    assert_eq!(r.headers().get("content-length").unwrap(), "22");
    assert!(body(&r).is_empty());
    let (r, _) = c.response(false).expect("get response");
    assert_eq!(body(&r), b"Hello from http-codec\n");
}

#[test]
fn http10_closes_unless_kept_alive() {
    let mut c = Client::connect(start());
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let (r, keep_alive) = c.response(false).expect("a response");
    assert_eq!(r.headers().get("connection").unwrap(), "keep-alive");
    assert!(keep_alive);
    c.send(b"GET / HTTP/1.0\r\n\r\nGET /never HTTP/1.0\r\n\r\n");
    let (r, keep_alive) = c.response(false).expect("a response");
    assert_eq!(r.headers().get("connection").unwrap(), "close");
    assert!(!keep_alive);
    assert!(c.closed());
}

#[test]
fn refused_requests_get_their_status_and_a_close() {
    let cases: &[(&[u8], u16)] = &[
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n",
            413,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
    ];
    let addr = start();
    for &(request, status) in cases {
        let mut c = Client::connect(addr);
        c.send(request);
        c.send(b"GET /smuggled HTTP/1.1\r\n\r\n");
        let (r, keep_alive) = c.response(false).expect("a response");
        assert_eq!(
            r.status().as_u16(),
            status,
            "{:?}",
            request.escape_ascii().to_string()
        );
        assert!(!keep_alive);
        assert!(c.closed(), "nothing after a refused request is answered");
    }
    let mut c = Client::connect(addr);
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
    c.send(long.as_bytes());
    assert_eq!(
        c.response(false).expect("a response").0.status().as_u16(),
        414
    );
    let mut c = Client::connect(addr);
    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(70_000));
    c.send(big.as_bytes());
    assert_eq!(
        c.response(false).expect("a response").0.status().as_u16(),
        431
    );
}
