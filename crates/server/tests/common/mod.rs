//! A small HTTP client on the codec, for the server's socket tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use http_codec::{ResponseDecoded, ResponseDecoder};
use http_types::{Request, Response, ResponseBuilder};
use server::{ServerBuilder, ServerHandle};

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn hello(_req: Request) -> Response {
    ResponseBuilder::empty_200()
        .body("hello")
        .content_type("text/plain")
        .build()
        .unwrap()
}

/// Echo the path and the body: `"{path} {body}"`.
pub fn echo(req: Request) -> Response {
    let mut body = req.path().as_bytes().to_vec();
    body.push(b' ');
    body.extend_from_slice(req.body());
    ResponseBuilder::empty_200().body(body).build().unwrap()
}

/// A handler that answers every request with `body`.
pub fn fixed(body: Vec<u8>) -> impl server::Handler {
    move |_req: Request| {
        ResponseBuilder::empty_200()
            .body(body.clone())
            .build()
            .unwrap()
    }
}

/// Start a server on a port of the system's choosing, with four workers.
/// With `SERVER_TESTS_QUICK_BATCHES=reader` in the environment, quick
/// batches are run by the thread that read them, whatever the number of
/// CPUs (CI runs the server's tests once more that way).
pub fn start(builder: ServerBuilder, handler: impl server::Handler) -> ServerHandle {
    let builder = match std::env::var("SERVER_TESTS_QUICK_BATCHES").as_deref() {
        Ok("reader") => builder.quick_batches(server::QuickBatches::Reader),
        _ => builder,
    };
    builder
        .bind("127.0.0.1:0")
        .workers(4)
        .start(handler)
        .expect("server starts")
}

/// Start a server on a port of the system's choosing whose quick batches
/// run on the thread that read them, with `workers` workers.
pub fn start_reader(workers: usize, handler: impl server::Handler) -> ServerHandle {
    ServerBuilder::new()
        .bind("127.0.0.1:0")
        .workers(workers)
        .quick_batches(server::QuickBatches::Reader)
        .start(handler)
        .expect("server starts")
}

pub struct Client {
    pub stream: TcpStream,
    decoder: ResponseDecoder,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    /// A client whose receive buffer is asked to be `bytes`, so that the
    /// server's writes stall soon once it stops reading. The socket is
    /// returned too, for options the stream does not offer.
    pub fn with_small_window(addr: SocketAddr, bytes: usize) -> (Client, socket2::Socket) {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket.set_recv_buffer_size(bytes).expect("receive buffer");
        socket.connect(&addr.into()).expect("connect");
        let stream = socket.try_clone().expect("clone").into();
        (Client::from_stream(stream), socket)
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            decoder: ResponseDecoder::default(),
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// The next response, or `None` if the server closed first.
    pub fn response_to(&mut self, head_request: bool) -> Option<Response> {
        let mut chunk = [0u8; 8192];
        loop {
            match self
                .decoder
                .decode(&self.buf, head_request)
                .expect("a valid response")
            {
                ResponseDecoded::Message {
                    response, consumed, ..
                } => {
                    self.buf.drain(..consumed);
                    return Some(response);
                }
                ResponseDecoded::Partial { consumed } => {
                    self.buf.drain(..consumed);
                }
            }
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
                Err(e) => panic!("read: {e}"),
            };
            if n == 0 {
                return self.decoder.finish().expect("clean end");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn response(&mut self) -> Response {
        self.response_to(false).expect("a response")
    }

    /// Whether the server has closed the connection (and sent nothing more).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 64];
        self.buf.is_empty()
            && match self.stream.read(&mut b) {
                Ok(0) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                Ok(_) => false,
            }
    }
}

pub fn body(r: &Response) -> String {
    String::from_utf8_lossy(r.body().as_bytes().unwrap()).into_owned()
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

pub fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// [`echo`], except that `/block` first says it has begun (on the first
/// receiver) and then waits for a release (on the sender), or for the test
/// to end and drop the sender.
pub fn blocking_echo() -> (
    impl server::Handler,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let (entered_tx, release_rx) = (
        std::sync::Mutex::new(entered_tx),
        std::sync::Mutex::new(release_rx),
    );
    let handler = move |req: Request| {
        if req.path() == "/block" {
            let _ = entered_tx.lock().unwrap().send(());
            let _ = release_rx.lock().unwrap().recv();
        }
        echo(req)
    };
    (handler, entered, release)
}

/// Requests whose handlers are quick, one after another, until the server
/// takes its handlers for quick (it takes them for slow before any has
/// run).
pub fn warm_up(addr: std::net::SocketAddr) {
    let mut c = Client::connect(addr);
    for i in 0..8 {
        c.send(&get(&format!("/warm{i}")));
        assert_eq!(body(&c.response()), format!("/warm{i} "));
    }
}
