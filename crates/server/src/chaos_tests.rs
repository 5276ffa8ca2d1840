//! Many clients doing what clients should not, at once: heads and bodies
//! cut off anywhere, garbage, half-closes, resets, pipelined requests,
//! responses left unread. However it goes, once every client is gone the
//! server must hold nothing for them: no share of the body budget, no held
//! output, no queued job, and it must still answer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use http_codec::Limits;
use http_types::{Request, Response, ResponseBuilder};

use crate::budget::server_tests::{response, wait_until, WAIT};
use crate::{QuickBatches, ServerBuilder};

const BUDGET: usize = 256 * 1024;
const CLIENTS: u64 = 12;
const CONNECTIONS_EACH: usize = 25;

/// A small xorshift generator: the same script for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// In `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn handler(req: Request) -> Response {
    let builder = ResponseBuilder::empty_200();
    match req.path() {
        "/slow" => {
            std::thread::sleep(Duration::from_millis(20));
            builder.body("slow")
        }
        "/close" => builder.header("Connection", "close").body("bye"),
        // More than the socket buffers hold, for clients that do not read.
        "/big" => builder.body(vec![b'b'; 1 << 20]),
        _ => builder.body(req.body().len().to_string()),
    }
    .build()
    .unwrap()
}

/// One of the things a client sends.
fn piece(rng: &mut Rng) -> Vec<u8> {
    const PATHS: [&str; 4] = ["/", "/slow", "/close", "/big"];
    match rng.below(8) {
        0 | 1 => format!(
            "GET {} HTTP/1.1\r\nHost: t\r\n\r\n",
            PATHS[rng.below(PATHS.len())]
        )
        .into_bytes(),
        2 | 3 => {
            // A body of any size the limit allows, sent whole or in part.
            let len = rng.below(BUDGET + 1);
            let sent = if rng.below(2) == 0 {
                len
            } else {
                rng.below(len + 1)
            };
            let expect = if rng.below(3) == 0 {
                "Expect: 100-continue\r\n"
            } else {
                ""
            };
            let mut wire =
                format!("POST /up HTTP/1.1\r\nHost: t\r\n{expect}Content-Length: {len}\r\n\r\n")
                    .into_bytes();
            wire.resize(wire.len() + sent, b'u');
            wire
        }
        4 => {
            // Chunked, finished or not.
            let mut wire =
                b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..rng.below(4) {
                let size = 1 + rng.below(20_000);
                wire.extend_from_slice(format!("{size:x}\r\n").as_bytes());
                wire.resize(wire.len() + size, b'c');
                wire.extend_from_slice(b"\r\n");
            }
            if rng.below(2) == 0 {
                wire.extend_from_slice(b"0\r\n\r\n");
            }
            wire
        }
        5 => b"GET /half HTTP/1.1\r\nHo".to_vec(),
        6 => (0..1 + rng.below(200)).map(|_| rng.next() as u8).collect(),
        _ => Vec::new(),
    }
}

/// Read what has come, for a moment; errors are the server's to give.
fn read_some(stream: &mut TcpStream) {
    let mut buf = [0u8; 64 * 1024];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(5)));
    for _ in 0..4 {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

fn client(addr: SocketAddr, seed: u64) {
    let mut rng = Rng(seed);
    for _ in 0..CONNECTIONS_EACH {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            continue;
        };
        // A server that stops reading makes the test fail, not hang.
        let _ = stream.set_write_timeout(Some(WAIT));
        for _ in 0..1 + rng.below(4) {
            if stream.write_all(&piece(&mut rng)).is_err() {
                break;
            }
            match rng.below(4) {
                0 => read_some(&mut stream),
                1 => std::thread::sleep(Duration::from_millis(rng.below(30) as u64)),
                _ => {}
            }
        }
        match rng.below(4) {
            0 => {
                let _ = stream.shutdown(Shutdown::Write);
                read_some(&mut stream);
            }
            1 => {
                // A reset.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            }
            _ => {}
        }
    }
}

/// Run the clients against a server built from `base`, then check that
/// nothing is held for them and that the server still answers.
fn misbehave_against(base: ServerBuilder) {
    let server = base
        .bind("127.0.0.1:0")
        .workers(4)
        .limits(Limits {
            max_body_bytes: BUDGET as u64,
            ..Limits::default()
        })
        .max_body_memory(BUDGET)
        .max_output(256 * 1024)
        .max_output_memory(1 << 20)
        .head_timeout(Duration::from_millis(300))
        .body_timeout(Duration::from_millis(300))
        .idle_timeout(Duration::from_secs(1))
        .write_timeout(Duration::from_millis(500))
        .linger_timeout(Duration::from_millis(100))
        .start(handler)
        .expect("server starts");
    let addr = server.local_addr();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| std::thread::spawn(move || client(addr, 0x9e37_79b9_7f4a_7c15 ^ (i + 1))))
        .collect();
    for c in clients {
        c.join().expect("a client thread");
    }
    // Every client has closed or reset its connections; the server's
    // timeouts end what it still holds open of them.
    let shared = server.shared();
    wait_until(
        || {
            shared.budget.used() == 0
                && shared.held_output.load(Ordering::SeqCst) == 0
                && shared.queued.load(Ordering::SeqCst) == 0
        },
        || {
            format!(
                "nothing held: body budget {}, held output {}, queued jobs {}",
                shared.budget.used(),
                shared.held_output.load(Ordering::SeqCst),
                shared.queued.load(Ordering::SeqCst)
            )
        },
    );
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(b"POST /after HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        .unwrap();
    assert_eq!(response(&mut c), (200, "3".to_owned()));
    server.shutdown();
}

#[test]
fn misbehaving_clients_leave_nothing_held_with_batches_on_workers() {
    misbehave_against(ServerBuilder::new().quick_batches(QuickBatches::Worker));
}

#[test]
fn misbehaving_clients_leave_nothing_held_with_batches_where_read() {
    misbehave_against(ServerBuilder::new().quick_batches(QuickBatches::Reader));
}

#[test]
fn misbehaving_clients_leave_nothing_held_with_handlers_on_the_loop() {
    misbehave_against(ServerBuilder::new().handlers_on_loop(true));
}
