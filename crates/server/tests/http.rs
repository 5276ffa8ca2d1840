//! The server over real sockets on 127.0.0.1, ports chosen by the system,
//! every wait bounded.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    blocking_echo, body, echo, fixed, get, hello, post, start, start_reader, warm_up, Client,
};
use http_types::{Request, ResponseBuilder};
use server::{QuickBatches, ServerBuilder};

#[test]
fn keep_alive_serves_many_requests() {
    let server = start(ServerBuilder::new(), echo);
    let mut c = Client::connect(server.local_addr());
    for i in 0..200 {
        c.send(&post(&format!("/{i}"), "x"));
        let r = c.response();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(body(&r), format!("/{i} x"));
        assert!(r.headers().contains("date"));
        assert_eq!(r.headers().get("server").unwrap(), "mini-async-http");
    }
    server.shutdown();
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start(ServerBuilder::new(), echo);
    let mut c = Client::connect(server.local_addr());
    let wire: Vec<u8> = (0..100).flat_map(|i| get(&format!("/{i}"))).collect();
    c.send(&wire);
    for i in 0..100 {
        assert_eq!(body(&c.response()), format!("/{i} "));
    }
    server.shutdown();
}

/// Decoders are lent to connections while they read a request and go back
/// to the loop between requests. One that refused a head, read a closing
/// request or waits for a body stays with its connection, and goes back
/// made as new only when the connection closes: the connections after it
/// must be served afresh, and the one waiting keeps its place.
#[test]
fn a_decoder_goes_back_only_between_requests() {
    let server = start(ServerBuilder::new(), echo);
    for i in 0..20 {
        let mut bad = Client::connect(server.local_addr());
        bad.send(b"GET / HTTP/1.1\r\nHost: x\r\nBad Field: y\r\n\r\n");
        assert_eq!(bad.response().status().as_u16(), 400);
        assert!(bad.closed());
        let mut closing = Client::connect(server.local_addr());
        closing.send(b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(body(&closing.response()), "/c ");
        assert!(closing.closed());
        // A head in two pieces, then another request on the same connection.
        let mut good = Client::connect(server.local_addr());
        let wire = get(&format!("/{i}"));
        let (first, rest) = wire.split_at(wire.len() / 2);
        good.send(first);
        std::thread::sleep(Duration::from_millis(5));
        good.send(rest);
        assert_eq!(body(&good.response()), format!("/{i} "));
        good.send(&get("/again"));
        assert_eq!(body(&good.response()), "/again ");
        // A head whose body comes later keeps its decoder in between, while
        // other connections come and go.
        // (The GET's response comes back while the body is awaited.)
        let mut post = Client::connect(server.local_addr());
        let mut wire = get("/g");
        wire.extend_from_slice(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
        post.send(&wire);
        assert_eq!(body(&post.response()), "/g ");
        let mut other = Client::connect(server.local_addr());
        other.send(&get("/o"));
        assert_eq!(body(&other.response()), "/o ");
        post.send(b"hello");
        assert_eq!(body(&post.response()), "/p hello");
        // Cut off in the middle of a head or a body.
        let mut cut = Client::connect(server.local_addr());
        cut.send(b"GET /cut HTTP/1.1\r\nHost: x\r\nX-Half: ab");
        drop(cut);
        let mut cut = Client::connect(server.local_addr());
        cut.send(b"PUT /cut HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc");
        drop(cut);
    }
    server.shutdown();
}

/// Once handlers are known to be slow, requests that arrive together run on
/// separate workers at the same time: four handlers that each wait for the
/// other three all get to meet.
#[test]
fn slow_handlers_run_side_by_side() {
    let met = Arc::new((Mutex::new(0usize), std::sync::Condvar::new()));
    let seen = Arc::clone(&met);
    let handler = move |req: Request| {
        let text = if req.path() == "/warm" {
            std::thread::sleep(Duration::from_millis(2));
            "warm"
        } else {
            let (count, arrived) = &*seen;
            let mut n = count.lock().unwrap();
            *n += 1;
            arrived.notify_all();
            let (_all_here, wait) = arrived
                .wait_timeout_while(n, Duration::from_secs(5), |n| *n < 4)
                .unwrap();
            if wait.timed_out() {
                "alone"
            } else {
                "together"
            }
        };
        ResponseBuilder::empty_200().body(text).build().unwrap()
    };
    let server = start(ServerBuilder::new(), handler);
    // One slow request teaches the server that its handlers are slow.
    let mut c = Client::connect(server.local_addr());
    c.send(&get("/warm"));
    assert_eq!(body(&c.response()), "warm");
    let mut clients: Vec<Client> = (0..4)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for c in &mut clients {
        c.send(&get("/meet"));
    }
    for c in &mut clients {
        assert_eq!(body(&c.response()), "together");
    }
    server.shutdown();
}

/// Slow handlers spread a batch over several workers, so groups of
/// responses come back out of order and wait for the ones before them.
#[test]
fn pipelined_responses_from_several_workers_keep_their_order() {
    let handler = |req: Request| {
        let n: u64 = req.path().trim_start_matches('/').parse().unwrap_or(0);
        std::thread::sleep(Duration::from_micros((n * 7919) % 3 * 400));
        ResponseBuilder::empty_200()
            .body(req.path().to_owned())
            .build()
            .unwrap()
    };
    let server = start(ServerBuilder::new().workers(4), handler);
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for round in 0..3 {
        for c in &mut clients {
            let wire: Vec<u8> = (0..40)
                .flat_map(|i| get(&format!("/{}", round * 40 + i)))
                .collect();
            c.send(&wire);
        }
        for c in &mut clients {
            for i in 0..40 {
                assert_eq!(body(&c.response()), format!("/{}", round * 40 + i));
            }
        }
    }
    server.shutdown();
}

#[test]
fn http10_with_and_without_keep_alive() {
    let server = start(ServerBuilder::new(), hello);
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.response();
    assert_eq!(r.headers().get("connection").unwrap(), "keep-alive");
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.headers().get("connection").unwrap(), "close");
    assert!(c.closed());
    server.shutdown();
}

#[test]
fn connection_close_wins_over_pipelined_requests() {
    let server = start(ServerBuilder::new(), echo);
    let mut c = Client::connect(server.local_addr());
    let mut wire = get("/1");
    wire.extend_from_slice(b"GET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    wire.extend_from_slice(&get("/3"));
    c.send(&wire);
    assert_eq!(body(&c.response()), "/1 ");
    let r = c.response();
    assert_eq!(body(&r), "/2 ");
    assert_eq!(r.headers().get("connection").unwrap(), "close");
    assert!(c.closed(), "/3 must not be answered");
    server.shutdown();
}

#[test]
fn content_length_and_chunked_bodies() {
    let server = start(ServerBuilder::new(), echo);
    let mut c = Client::connect(server.local_addr());
    c.send(&post("/len", "0123456789"));
    assert_eq!(body(&c.response()), "/len 0123456789");
    c.send(b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\n");
    assert_eq!(body(&c.response()), "/chunked Wikipedia");
    // A body split over many writes.
    c.send(b"POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nab");
    c.send(b"cd");
    c.send(b"ef");
    assert_eq!(body(&c.response()), "/slow abcdef");
    server.shutdown();
}

#[test]
fn expect_continue() {
    let server = start(ServerBuilder::new(), echo);
    let mut c = Client::connect(server.local_addr());
    c.send(b"PUT /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(c.response().status().as_u16(), 100);
    c.send(b"abc");
    assert_eq!(body(&c.response()), "/up abc");
    c.send(b"PUT /up HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(c.response().status().as_u16(), 417);
    assert!(c.closed());
    server.shutdown();
}

/// More uploads than the server-wide body budget holds at once take turns:
/// every one is admitted in the end (with `100 Continue` when it asked),
/// whichever loop reads it and whichever returns the room.
#[test]
fn uploads_over_the_body_budget_take_turns_and_all_finish() {
    const BODY: usize = 200 * 1024;
    for loops in [1, 2] {
        let handler = |req: Request| {
            let body = req.body();
            let first = body.first().map_or('-', |&b| char::from(b));
            let text = format!("{} {first}", body.len());
            ResponseBuilder::empty_200().body(text).build().unwrap()
        };
        let limits = http_codec::Limits {
            max_body_bytes: 256 * 1024,
            ..http_codec::Limits::default()
        };
        let builder = ServerBuilder::new()
            .event_loops(loops)
            .limits(limits)
            .max_body_memory(256 * 1024);
        let server = start(builder, handler);
        let addr = server.local_addr();
        let clients: Vec<_> = (0..12u8)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut c = Client::connect(addr);
                    let fill = b'a' + i;
                    let (len, expect) = (BODY + usize::from(i), i % 2 == 0);
                    for _ in 0..2 {
                        let expect = if expect { "Expect: 100-continue\r\n" } else { "" };
                        c.send(
                            format!("PUT /{i} HTTP/1.1\r\nHost: t\r\n{expect}Content-Length: {len}\r\n\r\n")
                                .as_bytes(),
                        );
                        if !expect.is_empty() {
                            assert_eq!(c.response().status().as_u16(), 100);
                        }
                        c.send(&vec![fill; len]);
                        assert_eq!(body(&c.response()), format!("{len} {}", char::from(fill)));
                        // A small chunked body between the large ones.
                        c.send(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n");
                        assert_eq!(body(&c.response()), "3 x");
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().expect("every upload is answered");
        }
        server.shutdown();
    }
}

/// A head refused whatever its body (here no `Host`, or an expectation
/// nobody can meet) is refused as soon as it is read: its body is never
/// waited for, and `100 Continue` never asks for it.
#[test]
fn a_head_refused_for_itself_is_refused_before_its_body() {
    let server = start(ServerBuilder::new(), echo);
    let cases: [(&[u8], u16); 4] = [
        (b"POST /up HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 400),
        (
            b"PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            400,
        ),
        (
            b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (
            b"PUT /up HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\nContent-Length: 100000\r\n\r\n",
            417,
        ),
    ];
    for (head, status) in cases {
        let mut c = Client::connect(server.local_addr());
        c.send(head);
        let r = c.response();
        assert_eq!(
            r.status().as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(head)
        );
        assert!(c.closed());
    }
    server.shutdown();
}

#[test]
fn head_gets_headers_only() {
    let server = start(ServerBuilder::new(), hello);
    let mut c = Client::connect(server.local_addr());
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response_to(true).unwrap();
    assert_eq!(r.headers().get("content-length").unwrap(), "5");
    assert_eq!(body(&r), "");
    c.send(&get("/"));
    assert_eq!(body(&c.response()), "hello");
    server.shutdown();
}

#[test]
fn refused_requests_close_the_connection() {
    let limits = http_codec::Limits {
        max_body_bytes: 1000,
        max_target_bytes: 100,
        max_head_bytes: 2000,
        ..Default::default()
    };
    let server = start(ServerBuilder::new().limits(limits), echo);
    let addr = server.local_addr();
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(200));
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "a".repeat(3000)
    );
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n".to_vec(), 413),
        (long_target.into_bytes(), 414),
        (big_head.into_bytes(), 431),
        (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n".to_vec(), 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(), 400),
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n".to_vec(), 400),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(), 505),
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_vec(), 501),
    ];
    for (request, status) in cases {
        let mut c = Client::connect(addr);
        c.send(&request);
        c.send(&get("/smuggled"));
        let r = c.response();
        assert_eq!(
            r.status().as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&request)
        );
        assert_eq!(r.headers().get("connection").unwrap(), "close");
        assert!(c.closed(), "nothing after a refused request is answered");
    }
    // HTTP/1.0 needs no Host.
    let mut c = Client::connect(addr);
    c.send(b"GET /old HTTP/1.0\r\n\r\n");
    assert_eq!(c.response().status().as_u16(), 200);
    server.shutdown();
}

/// A client may go on sending a refused upload after the refusal: here it
/// reads the 413 first, as a client that waited for one would. The server
/// reads and drops the body instead of closing at once, which would answer
/// it with a reset, then ends the stream.
#[test]
fn a_refused_upload_is_drained_after_the_413() {
    let limits = http_codec::Limits {
        max_body_bytes: 1000,
        ..Default::default()
    };
    // Long enough that only a broken server makes the client wait for it.
    let builder = ServerBuilder::new()
        .limits(limits)
        .linger_timeout(common::WAIT);
    let server = start(builder, echo);
    let mut c = Client::connect(server.local_addr());
    let upload = vec![b'b'; 512 * 1024];
    let head = format!(
        "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        upload.len()
    );
    c.send(head.as_bytes());
    assert_eq!(c.response().status().as_u16(), 413);
    for piece in upload.chunks(16 * 1024) {
        c.send(piece);
    }
    assert!(c.closed());
    server.shutdown();
}

/// The same for requests sent behind one that closes the connection,
/// wherever the handler runs (on the loop, the closing response is queued
/// before the requests behind it are looked at).
#[test]
fn requests_behind_a_closing_one_are_drained() {
    for builder in [
        ServerBuilder::new(),
        ServerBuilder::new().handlers_on_loop(true),
    ] {
        let server = start(builder.linger_timeout(common::WAIT), echo);
        let mut c = Client::connect(server.local_addr());
        // One write, so the server reads both requests together.
        let mut two = b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec();
        two.extend_from_slice(&get("/unanswered"));
        c.send(&two);
        assert_eq!(body(&c.response()), "/last ");
        for _ in 0..2048 {
            c.send(&get("/unanswered"));
        }
        assert!(c.closed());
        server.shutdown();
    }
}

/// A peer that goes on sending after the request that closes its
/// connection has what it sends read only up to the bounds of a buffer and
/// of lingering: the server stops reading, and TCP stops the peer.
#[test]
fn a_peer_sending_after_its_last_request_is_not_read_on() {
    let (handler, entered, release) = blocking_echo();
    let server = start(ServerBuilder::new().linger_bytes(64 * 1024), handler);
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET /block HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    entered
        .recv_timeout(common::WAIT)
        .expect("the handler runs");
    // Far more than the socket buffers on both sides and the server's
    // input buffer hold; a server that read and dropped it all would take
    // it, one that stops reading makes the writes stall long before.
    const PLENTY: usize = 256 << 20;
    c.stream
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let junk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < PLENTY {
        match std::io::Write::write(&mut c.stream, &junk) {
            Ok(n) => sent += n,
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{e}"
                );
                break;
            }
        }
    }
    assert!(sent < PLENTY, "the server read all of {sent} bytes");
    release.send(()).unwrap();
    server.shutdown();
}

#[test]
fn a_dripped_head_is_cut_off_by_the_head_timeout() {
    let server = start(
        ServerBuilder::new().head_timeout(Duration::from_millis(400)),
        hello,
    );
    let mut c = Client::connect(server.local_addr());
    let head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut sent = 0;
    for &b in head.iter() {
        // The peer may close mid-drip; stop sending then.
        if std::io::Write::write_all(&mut c.stream, &[b]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(50));
        if sent > 20 {
            break;
        }
    }
    let r = c.response();
    assert_eq!(r.status().as_u16(), 408);
    // A client still sending after its 408 meets a lingering close, not a
    // reset that could destroy the 408 before it is read.
    for _ in 0..64 {
        c.send(&[b'a'; 8 * 1024]);
    }
    assert!(c.closed());
    server.shutdown();
}

/// The head of a `POST` with a body of `len` bytes.
fn post_head(path: &str, len: usize) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n").into_bytes()
}

/// Send `body` in `piece`-byte writes `every` apart, stopping early if the
/// server has closed.
fn drip(c: &mut Client, body: &[u8], piece: usize, every: Duration) {
    for part in body.chunks(piece) {
        std::thread::sleep(every);
        if std::io::Write::write_all(&mut c.stream, part).is_err() {
            return;
        }
    }
}

#[test]
fn an_upload_at_the_minimum_rate_may_take_longer_than_the_head_timeout() {
    // 2,000 bytes at 2,000 a second, where 300 ms plus a second per 1,000
    // bytes arrived is allowed: sent in about 1 s, more than three times
    // the head timeout.
    let server = start(
        ServerBuilder::new()
            .head_timeout(Duration::from_millis(300))
            .body_timeout(Duration::from_millis(300))
            .body_min_rate(1000),
        echo,
    );
    let mut c = Client::connect(server.local_addr());
    c.send(&post_head("/up", 2000));
    let upload = vec![b'u'; 2000];
    drip(&mut c, &upload, 100, Duration::from_millis(50));
    let r = c.response();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(body(&r).len(), "/up ".len() + 2000);
    server.shutdown();
}

/// Send `sent` to a server with a body timeout of 300 ms (and a head
/// timeout of a minute): it answers 408 and closes.
fn cut_off_by_the_body_timeout(sent: &[u8]) {
    let server = start(
        ServerBuilder::new()
            .head_timeout(Duration::from_secs(60))
            .body_timeout(Duration::from_millis(300)),
        echo,
    );
    let mut c = Client::connect(server.local_addr());
    c.send(sent);
    let r = c.response();
    assert_eq!(r.status().as_u16(), 408);
    assert!(c.closed());
    server.shutdown();
}

#[test]
fn a_stalled_body_is_cut_off_by_the_body_timeout() {
    let mut sent = post_head("/up", 10);
    sent.extend_from_slice(b"half!");
    cut_off_by_the_body_timeout(&sent);
}

#[test]
fn a_large_body_of_which_nothing_comes_is_cut_off_by_the_body_timeout() {
    // Its room in the body budget is taken when its head arrives: a client
    // that sends none of it keeps that room only `body_timeout`, not as long
    // as 8 MiB may take at the minimum rate.
    cut_off_by_the_body_timeout(&post_head("/up", 8 << 20));
}

/// The head of a `POST /up` of 4 bytes that asks for `100 Continue`.
const EXPECT_HEAD: &[u8] =
    b"POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";

/// A `POST` that asks for `100 Continue`, pipelined behind a request whose
/// handler takes `slow`, with a body timeout of `timeout`: the client sends
/// its body `late` after the `100`, and it must be read.
fn continue_behind_a_slow_request(timeout: Duration, slow: Duration, late: Duration) {
    let server = start(
        ServerBuilder::new().body_timeout(timeout),
        move |req: Request| {
            if req.path() == "/slow" {
                std::thread::sleep(slow);
            }
            echo(req)
        },
    );
    let mut c = Client::connect(server.local_addr());
    let mut wire = get("/slow");
    wire.extend_from_slice(EXPECT_HEAD);
    c.send(&wire);
    assert_eq!(body(&c.response()), "/slow ");
    assert_eq!(c.response().status().as_u16(), 100);
    std::thread::sleep(late);
    c.send(b"body");
    assert_eq!(body(&c.response()), "/up body");
    server.shutdown();
}

#[test]
fn a_body_behind_a_slow_request_is_timed_from_its_100_continue() {
    // The `100 Continue` waits for the slow request's response; the client
    // sends the body only then, and takes its time: more than the body
    // timeout after the head, well within it after the `100 Continue`.
    const TIMEOUT: Duration = Duration::from_secs(2);
    continue_behind_a_slow_request(TIMEOUT, TIMEOUT * 7 / 10, TIMEOUT * 6 / 10);
}

#[test]
fn a_body_waiting_for_its_100_continue_behind_a_slower_request_is_not_timed_out() {
    // The request before it takes longer than the body timeout.
    const TIMEOUT: Duration = Duration::from_millis(400);
    continue_behind_a_slow_request(TIMEOUT, TIMEOUT * 2, Duration::ZERO);
}

/// The size of [`big_or_echo`]'s `/big` response: far more than the
/// socket buffers and `max_output` hold.
const BIG: usize = 16 << 20;

/// A server with a body timeout of 400 ms (with no allowance for the
/// bytes that arrive to speak of) whose `/big` answers [`BIG`] bytes and
/// everything else is echoed.
fn big_or_echo() -> server::ServerHandle {
    start(
        ServerBuilder::new()
            .body_timeout(Duration::from_millis(400))
            .body_min_rate(1 << 30)
            .max_output(64 * 1024),
        |req: Request| {
            if req.path() == "/big" {
                return ResponseBuilder::empty_200()
                    .body(vec![b'b'; BIG])
                    .build()
                    .unwrap();
            }
            echo(req)
        },
    )
}

/// Read a `/big` response of [`big_or_echo`] and no more of it: its first
/// half in 64 KiB reads 5 ms apart (over 600 ms, more than the body
/// timeout), the rest as fast as it comes. The socket buffers hold far less
/// than half of it, so the server is still writing it when the slow part
/// ends. `begun` is called once its first bytes are read.
fn read_big_slowly(c: &mut Client, mut begun: impl FnMut(&mut Client)) {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut got = 0;
    let mut seen = Vec::new();
    // The response's length, once its head is read.
    let mut len = None;
    while len.is_none_or(|len| got < len) {
        if got < BIG / 2 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let want = len.map_or(chunk.len(), |len: usize| (len - got).min(chunk.len()));
        let n = std::io::Read::read(&mut c.stream, &mut chunk[..want]).expect("read");
        assert!(
            n > 0,
            "the connection closed before the large response ended"
        );
        if got == 0 {
            assert!(chunk.starts_with(b"HTTP/1.1 200 "));
            begun(c);
        }
        if len.is_none() {
            seen.extend_from_slice(&chunk[..n]);
            len = seen
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|at| at + 4 + BIG);
        }
        got += n;
    }
}

#[test]
fn a_body_is_read_while_the_response_before_it_is_read_slowly() {
    // A client sends a `GET` of a large response and a `POST` behind it,
    // sends the body once the response has begun (so the server holds far
    // more than `max_output` of it), then reads the response for longer
    // than the body timeout. The body must be read meanwhile.
    const UPLOAD: usize = 200_000;
    let server = big_or_echo();
    let (mut c, _socket) = Client::with_small_window(server.local_addr(), 64 * 1024);
    let mut wire = get("/big");
    wire.extend_from_slice(&post_head("/up", UPLOAD));
    c.send(&wire);
    let mut sender = None;
    read_big_slowly(&mut c, |c| {
        let mut writer = c.stream.try_clone().unwrap();
        sender = Some(std::thread::spawn(move || {
            std::io::Write::write_all(&mut writer, &vec![b'u'; UPLOAD]).expect("the body is sent")
        }));
    });
    sender.unwrap().join().unwrap();
    let r = c.response();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(body(&r).len(), "/up ".len() + UPLOAD);
    server.shutdown();
}

#[test]
fn a_100_continue_waits_for_the_response_before_it_to_be_read() {
    // A body that asks for `100 Continue` behind a large response is
    // admitted, and its clock started, only once most of that response is
    // read: the `100` then reaches the client soon after it is sent,
    // however slowly the client reads what comes before it.
    let server = big_or_echo();
    let (mut c, _socket) = Client::with_small_window(server.local_addr(), 64 * 1024);
    let mut wire = get("/big");
    wire.extend_from_slice(EXPECT_HEAD);
    c.send(&wire);
    read_big_slowly(&mut c, |_| {});
    assert_eq!(c.response().status().as_u16(), 100);
    c.send(b"body");
    assert_eq!(body(&c.response()), "/up body");
    server.shutdown();
}

#[test]
fn a_body_slower_than_the_minimum_rate_is_cut_off_though_it_keeps_coming() {
    // After 500 ms the body must average 1,000 bytes a second. The client
    // sends 10 bytes every 100 ms, never pausing long enough for an
    // inactivity timeout of 500 ms, for up to 4 s: the 408 comes after
    // about 0.56 s (500 ms plus a second per 1,000 bytes arrived).
    let server = start(
        ServerBuilder::new()
            .head_timeout(Duration::from_secs(60))
            .body_timeout(Duration::from_millis(500))
            .body_min_rate(1000),
        echo,
    );
    let mut c = Client::connect(server.local_addr());
    c.send(&post_head("/up", 1000));
    drip(&mut c, &[b'd'; 400], 10, Duration::from_millis(100));
    // Already there: a clock that restarted with each piece would answer
    // only 500 ms after the last.
    c.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let r = c.response();
    assert_eq!(r.status().as_u16(), 408);
    assert!(c.closed());
    server.shutdown();
}

#[test]
fn timeouts_of_duration_max_mean_never() {
    let forever = Duration::MAX;
    let server = start(
        ServerBuilder::new()
            .head_timeout(forever)
            .body_timeout(forever)
            .body_min_rate(1)
            .idle_timeout(forever)
            .write_timeout(forever)
            .linger_timeout(forever),
        echo,
    );
    let mut c = Client::connect(server.local_addr());
    // A request in two parts (its head's clock runs), then a body in two
    // parts (its own clock runs), then idle (the idle clock runs).
    c.send(b"POST /a HTTP/1.1\r\nHo");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"st: t\r\nContent-Length: 4\r\n\r\nab");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"cd");
    assert_eq!(body(&c.response()), "/a abcd");
    c.send(&get("/b"));
    assert_eq!(body(&c.response()), "/b ");
    server.shutdown_graceful(forever);
}

/// One client keeps its socket full of pipelined requests and reads what
/// comes back as fast as it comes; another's request must still be
/// answered while that goes on.
fn a_full_pipeline_does_not_starve_others(builder: ServerBuilder) {
    let server = start(builder, hello);
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let greedy = std::net::TcpStream::connect(addr).expect("connect");
    let (mut send, mut read) = (
        greedy.try_clone().expect("clone"),
        greedy.try_clone().expect("clone"),
    );
    let batch: Vec<u8> = get("/greedy").repeat(1000);
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if std::io::Write::write_all(&mut send, &batch).is_err() {
                    break;
                }
            }
        })
    };
    let (served_tx, served) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0;
        while let Ok(n) = std::io::Read::read(&mut read, &mut buf) {
            if n == 0 {
                break;
            }
            got += n;
            // Well under way: more than a socket buffer of responses.
            if got > 4 << 20 {
                let _ = served_tx.send(());
                got = 0;
            }
        }
    });
    let greedy_served = served.recv_timeout(common::WAIT).is_ok();
    // The other client, on a thread of its own, so that a server that never
    // answers it fails the test instead of hanging it.
    let (answer_tx, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        c.send(&get("/other"));
        let _ = answer_tx.send(body(&c.response()));
    });
    let answer = answer.recv_timeout(common::WAIT);
    let still_sending = !writer.is_finished();
    // Stop the greedy client and the server before any assertion, so that
    // a failure leaves nothing running.
    stop.store(true, Ordering::SeqCst);
    let _ = greedy.shutdown(std::net::Shutdown::Both);
    writer.join().expect("the writer");
    reader.join().expect("the reader");
    server.shutdown();
    assert!(greedy_served, "the greedy client was served");
    assert_eq!(answer.ok().as_deref(), Some("hello"));
    assert!(still_sending, "the greedy client was still sending");
}

#[test]
fn a_full_pipeline_does_not_starve_others_with_handlers_on_the_loop() {
    a_full_pipeline_does_not_starve_others(ServerBuilder::new().handlers_on_loop(true));
}

#[test]
fn a_full_pipeline_does_not_starve_others_with_batches_run_where_read() {
    a_full_pipeline_does_not_starve_others(
        ServerBuilder::new().quick_batches(QuickBatches::Reader),
    );
}

#[test]
fn a_full_pipeline_does_not_starve_others_with_batches_on_workers() {
    a_full_pipeline_does_not_starve_others(
        ServerBuilder::new().quick_batches(QuickBatches::Worker),
    );
}

#[test]
fn an_idle_connection_is_closed() {
    let server = start(
        ServerBuilder::new().idle_timeout(Duration::from_millis(200)),
        hello,
    );
    let mut c = Client::connect(server.local_addr());
    c.send(&get("/"));
    assert_eq!(body(&c.response()), "hello");
    // Nothing more is sent: the server closes (the read returns EOF well
    // within the client's own bounded wait).
    assert!(c.closed());
    server.shutdown();
}

#[test]
fn a_panicking_handler_costs_only_its_request() {
    let server = start(ServerBuilder::new().workers(1), |req: Request| {
        if req.path() == "/panic" {
            panic!("handler bug");
        }
        hello(req)
    });
    let addr = server.local_addr();
    for _ in 0..3 {
        let mut c = Client::connect(addr);
        c.send(&get("/panic"));
        assert_eq!(c.response().status().as_u16(), 500);
        let mut c = Client::connect(addr);
        c.send(&get("/fine"));
        assert_eq!(body(&c.response()), "hello");
    }
    server.shutdown();
}

#[test]
fn a_late_response_never_reaches_the_next_connection_in_the_slot() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = Arc::new(Mutex::new(rx));
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let server = start(ServerBuilder::new().workers(2), move |req: Request| {
        if req.path() == "/slow" {
            let _ = started_tx.lock().unwrap().send(());
            // Wait until the test says the client has gone (bounded).
            let _ = rx.lock().unwrap().recv_timeout(Duration::from_secs(10));
            return ResponseBuilder::empty_200().body("SLOW").build().unwrap();
        }
        ResponseBuilder::empty_200().body("fast").build().unwrap()
    });
    let addr = server.local_addr();
    for _ in 0..5 {
        let mut a = Client::connect(addr);
        a.send(&get("/slow"));
        // The handler has A's request before A goes away.
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("the slow handler starts");
        drop(a);
        // B most likely takes A's slot once the server notices A is gone.
        let mut b = Client::connect(addr);
        b.send(&get("/first"));
        assert_eq!(body(&b.response()), "fast");
        tx.send(()).unwrap();
        b.send(&get("/second"));
        assert_eq!(body(&b.response()), "fast");
        b.send(b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert_eq!(body(&b.response()), "fast");
        assert!(b.closed(), "nothing else, and certainly not SLOW, arrives");
    }
    server.shutdown();
}

#[test]
fn graceful_shutdown_lets_a_slow_request_finish() {
    let started = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&started);
    let server = start(ServerBuilder::new(), move |_req: Request| {
        seen.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        ResponseBuilder::empty_200()
            .body("finished")
            .build()
            .unwrap()
    });
    let addr = server.local_addr();
    let mut c = Client::connect(addr);
    c.send(&get("/slow"));
    let mut idle = Client::connect(addr);
    // Wait (bounded) until the handler runs, then shut down.
    for _ in 0..1000 {
        if started.load(Ordering::SeqCst) > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopper = std::thread::spawn(move || server.shutdown_graceful(Duration::from_secs(5)));
    let r = c.response();
    assert_eq!(body(&r), "finished");
    assert_eq!(r.headers().get("connection").unwrap(), "close");
    assert!(c.closed());
    assert!(idle.closed(), "idle connections are closed");
    stopper.join().unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer listening"
    );
}

#[test]
fn two_thousand_concurrent_keep_alive_connections() {
    let server = start(ServerBuilder::new().event_loops(2), echo);
    let addr = server.local_addr();
    let mut clients: Vec<Client> = (0..2000).map(|_| Client::connect(addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&get(&format!("/{i}")));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(body(&c.response()), format!("/{i} "));
    }
    // And once more on the same connections.
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&post(&format!("/{i}"), "again"));
        assert_eq!(body(&c.response()), format!("/{i} again"));
    }
    server.shutdown();
}

#[test]
fn a_half_closed_client_still_gets_its_response() {
    let server = start(ServerBuilder::new(), echo);
    let mut c = Client::connect(server.local_addr());
    c.send(&post("/half", "closed"));
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(body(&c.response()), "/half closed");
    assert!(c.closed());
    server.shutdown();
}

#[test]
fn a_full_worker_queue_holds_requests_back_without_losing_them() {
    // One worker, room for one waiting job, two loops: most requests wait in
    // their connections' buffers until the queue has room, and a loop whose
    // connections wait is woken when a worker makes room.
    let server = start(
        ServerBuilder::new()
            .workers(1)
            .queue_capacity(1)
            .event_loops(2),
        |req: Request| {
            std::thread::sleep(Duration::from_millis(2));
            echo(req)
        },
    );
    let addr = server.local_addr();
    let mut clients: Vec<Client> = (0..20).map(|_| Client::connect(addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let wire: Vec<u8> = (0..5).flat_map(|j| get(&format!("/{i}/{j}"))).collect();
        c.send(&wire);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        for j in 0..5 {
            assert_eq!(body(&c.response()), format!("/{i}/{j} "));
        }
    }
    server.shutdown();
}

#[test]
fn a_request_waiting_for_the_queue_is_not_passed_over_by_later_ones() {
    // Four workers and room for one waiting job; each handler says it has
    // begun and waits for a release. One client pipelines sixteen requests,
    // another sends one while the queue is full: it waits behind the first
    // client's waiting request, and the first client's later requests must
    // not take the room ahead of it each time one of its own ends.
    const PIPELINED: usize = 16;
    let (began_tx, began) = std::sync::mpsc::channel::<String>();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let (began_tx, release_rx) = (Mutex::new(began_tx), Mutex::new(release_rx));
    let handler = move |req: Request| {
        let _ = began_tx.lock().unwrap().send(req.path().to_string());
        let _ = release_rx.lock().unwrap().recv();
        echo(req)
    };
    let server = start(ServerBuilder::new().queue_capacity(1), handler);
    let addr = server.local_addr();
    let mut greedy = Client::connect(addr);
    let wire: Vec<u8> = (0..PIPELINED)
        .flat_map(|i| get(&format!("/greedy/{i}")))
        .collect();
    greedy.send(&wire);
    let mut order: Vec<String> = (0..4)
        .map(|_| began.recv_timeout(common::WAIT).expect("a worker begins"))
        .collect();
    let mut other = Client::connect(addr);
    other.send(&get("/other"));
    // A request refused without a worker (no `Host`), sent after the one
    // above: once it is answered, the loop has read the one above too, and
    // it waits for the queue.
    let mut refused = Client::connect(addr);
    refused.send(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(refused.response().status().as_u16(), 400);
    while order.len() < PIPELINED + 1 {
        release.send(()).unwrap();
        order.push(began.recv_timeout(common::WAIT).expect("the next begins"));
    }
    for _ in 0..4 {
        release.send(()).unwrap();
    }
    for i in 0..PIPELINED {
        assert_eq!(body(&greedy.response()), format!("/greedy/{i} "));
    }
    assert_eq!(body(&other.response()), "/other ");
    let at = |path: &str| order.iter().position(|p| p == path);
    let last = format!("/greedy/{}", PIPELINED - 1);
    assert!(
        at("/other") < at(&last),
        "the waiting request was passed over: {order:?}"
    );
    server.shutdown();
}

#[test]
fn a_client_that_stops_reading_is_closed() {
    // The client below stops reading for 15 times this.
    let server = start(
        ServerBuilder::new().write_timeout(Duration::from_millis(100)),
        fixed(vec![b'x'; 1 << 20]),
    );
    // A small receive window, so the server's writes stall soon.
    let (mut c, _socket) = Client::with_small_window(server.local_addr(), 16 * 1024);
    let wire: Vec<u8> = (0..64).flat_map(|_| get("/big")).collect();
    c.send(&wire);
    // The behaviour under test: a client that stops reading for a while.
    std::thread::sleep(Duration::from_millis(1500));
    let mut total = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match std::io::Read::read(&mut c.stream, &mut chunk) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => {
                panic!("the server should have closed the connection: {e} after {total} bytes")
            }
        }
    }
    assert!(
        total < 64 << 20,
        "the server sent everything ({total} bytes) instead of giving up on a client that stopped reading"
    );
    server.shutdown();
}

#[test]
fn start_errors_say_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = ServerBuilder::new().bind(addr).start(hello).unwrap_err();
    assert!(matches!(err, server::ServerError::Bind { .. }), "{err}");
    assert!(err.to_string().contains("pick another port"), "{err}");
    let err = ServerBuilder::new()
        .bind("nonsense")
        .start(hello)
        .unwrap_err();
    assert!(err.to_string().contains("expected HOST:PORT"), "{err}");
    let err = ServerBuilder::new()
        .bind("127.0.0.1:0")
        .workers(0)
        .start(hello)
        .unwrap_err();
    assert!(
        err.to_string().contains("workers must be at least 1"),
        "{err}"
    );
}

#[test]
fn a_handler_can_ask_to_close() {
    let server = start(ServerBuilder::new(), |_req: Request| {
        ResponseBuilder::empty_200()
            .header("Connection", "close")
            .body("bye")
            .build()
            .unwrap()
    });
    let mut c = Client::connect(server.local_addr());
    let wire: Vec<u8> = [get("/1"), get("/2")].concat();
    c.send(&wire);
    let r = c.response();
    assert_eq!(body(&r), "bye");
    assert_eq!(r.headers().get("connection").unwrap(), "close");
    assert!(c.closed());
    server.shutdown();
}

#[test]
fn a_body_larger_than_the_input_buffer_in_one_write() {
    // More bytes than the connection's input buffer holds, all at once: the
    // loop must go back to the socket after the codec makes room.
    let server = start(ServerBuilder::new(), |req: Request| {
        ResponseBuilder::empty_200()
            .body(req.body().len().to_string())
            .build()
            .unwrap()
    });
    let mut c = Client::connect(server.local_addr());
    for size in [100_000usize, 1 << 20] {
        let mut wire =
            format!("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n").into_bytes();
        wire.resize(wire.len() + size, b'b');
        // And a pipelined request behind it, in the same write.
        wire.extend_from_slice(&post("/next", "n"));
        c.send(&wire);
        assert_eq!(body(&c.response()), size.to_string());
        assert_eq!(body(&c.response()), "1");
    }
    server.shutdown();
}

#[test]
fn a_slow_request_behind_a_slow_handler_gets_408_after_the_first_response() {
    let server = start(
        ServerBuilder::new().head_timeout(Duration::from_millis(200)),
        |req: Request| {
            if req.path() == "/slow" {
                std::thread::sleep(Duration::from_millis(600));
            }
            echo(req)
        },
    );
    let mut c = Client::connect(server.local_addr());
    let mut wire = get("/slow");
    wire.extend_from_slice(b"GET /never-finished HTTP/1.1\r\nHo");
    c.send(&wire);
    assert_eq!(body(&c.response()), "/slow ");
    assert_eq!(c.response().status().as_u16(), 408);
    assert!(c.closed());
    // The loop is still serving.
    let mut c = Client::connect(server.local_addr());
    c.send(&get("/after"));
    assert_eq!(body(&c.response()), "/after ");
    server.shutdown();
}

#[test]
fn closing_requests_that_wait_for_the_queue_are_still_answered() {
    let server = start(
        ServerBuilder::new().workers(1).queue_capacity(1),
        |req: Request| {
            std::thread::sleep(Duration::from_millis(5));
            echo(req)
        },
    );
    let addr = server.local_addr();
    let mut clients: Vec<Client> = (0..10).map(|_| Client::connect(addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let close = i % 2 == 0;
        let request = if close {
            format!("GET /{i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        } else {
            format!("GET /{i} HTTP/1.0\r\n\r\n")
        };
        c.send(request.as_bytes());
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(body(&c.response()), format!("/{i} "));
        assert!(c.closed());
    }
    server.shutdown();
}

#[test]
fn a_long_download_outlasts_the_idle_timeout() {
    let server = start(
        ServerBuilder::new().idle_timeout(Duration::from_millis(100)),
        fixed(vec![b'd'; 4 << 20]),
    );
    // A small receive window, so the response stays queued in the server
    // for longer than the idle timeout.
    let (mut c, _socket) = Client::with_small_window(server.local_addr(), 16 * 1024);
    c.send(&get("/big"));
    // The behaviour under test: a client that reads slowly, for longer than
    // the idle timeout, but keeps reading.
    let mut total = 0usize;
    let mut chunk = vec![0u8; 256 * 1024];
    while total < 4 << 20 {
        let n = std::io::Read::read(&mut c.stream, &mut chunk).unwrap();
        assert!(n > 0, "closed after {total} bytes");
        total += n;
        std::thread::sleep(Duration::from_millis(2));
    }
    server.shutdown();
}

#[test]
fn at_the_connection_cap_new_connections_wait_their_turn() {
    let server = start(ServerBuilder::new().max_connections(2), echo);
    let addr = server.local_addr();
    let mut a = Client::connect(addr);
    let mut b = Client::connect(addr);
    for c in [&mut a, &mut b] {
        c.send(&get("/in"));
        assert_eq!(body(&c.response()), "/in ");
    }
    // The kernel completes the handshake, but the server does not accept it.
    let mut waiting = Client::connect(addr);
    waiting.send(&get("/waiting"));
    waiting
        .stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let err = std::io::Read::read(&mut waiting.stream, &mut byte).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    // One leaves; the waiting one is accepted and served.
    drop(a);
    waiting.stream.set_read_timeout(Some(common::WAIT)).unwrap();
    assert_eq!(body(&waiting.response()), "/waiting ");
    server.shutdown();
}

/// With handlers on the event loop, and with quick batches run by the
/// thread that read them: keep-alive, pipelining with a close in the
/// middle, a refused request, a body, and a panicking handler.
#[test]
fn handlers_on_the_loop_serve_the_same_protocol() {
    let handler = |req: Request| {
        if req.path() == "/panic" {
            panic!("handler bug");
        }
        echo(req)
    };
    for builder in [
        ServerBuilder::new().handlers_on_loop(true),
        ServerBuilder::new().quick_batches(QuickBatches::Reader),
    ] {
        same_protocol(start(builder, handler));
    }
}

fn same_protocol(server: server::ServerHandle) {
    let addr = server.local_addr();
    let mut c = Client::connect(addr);
    for i in 0..50 {
        c.send(&post(&format!("/{i}"), "x"));
        assert_eq!(body(&c.response()), format!("/{i} x"));
    }
    let mut wire: Vec<u8> = (0..20).flat_map(|i| get(&format!("/{i}"))).collect();
    wire.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    wire.extend_from_slice(&get("/never"));
    c.send(&wire);
    for i in 0..20 {
        assert_eq!(body(&c.response()), format!("/{i} "));
    }
    assert_eq!(body(&c.response()), "/last ");
    assert!(c.closed(), "/never must not be answered");

    let mut c = Client::connect(addr);
    c.send(&get("/panic"));
    assert_eq!(c.response().status().as_u16(), 500);
    let mut c = Client::connect(addr);
    c.send(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(c.response().status().as_u16(), 400, "no Host");
    assert!(c.closed());
    server.shutdown();
}

const fn pattern<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let mut i = 0;
    while i < N {
        bytes[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    bytes
}

static LARGE_STATIC: [u8; 100_000] = pattern();

/// Before any handler has run, the server takes handlers for slow: the
/// first batch's jobs go to the workers one by one, each to the next one
/// free, so a handler that blocks from the first request on holds up none
/// of the requests read with it (four workers, five jobs: paired up over
/// the idle workers, one would wait behind the blocked one).
#[test]
fn the_first_batch_goes_to_the_workers_job_by_job() {
    let (ran_tx, ran) = std::sync::mpsc::channel::<String>();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let (ran_tx, release_rx) = (Mutex::new(ran_tx), Mutex::new(release_rx));
    let handler = move |req: Request| {
        if req.path() == "/block" {
            // Until released, or until the test ends and drops the sender.
            let _ = release_rx.lock().unwrap().recv();
        } else {
            let _ = ran_tx.lock().unwrap().send(req.path().to_owned());
        }
        echo(req)
    };
    let server = start(ServerBuilder::new(), handler);
    let mut c = Client::connect(server.local_addr());
    let others = ["/a", "/b", "/c", "/d"];
    let mut pipelined = get("/block");
    for path in others {
        pipelined.extend_from_slice(&get(path));
    }
    c.send(&pipelined);
    let mut done: Vec<String> = (0..others.len())
        .map_while(|_| ran.recv_timeout(common::WAIT).ok())
        .collect();
    release.send(()).unwrap();
    done.sort();
    assert_eq!(done, others, "requests waited for the blocked one");
    for path in ["/block"].iter().chain(&others) {
        assert_eq!(body(&c.response()), format!("{path} "));
    }
    server.shutdown();
}

/// Quick batches run by the thread that read them: a handler that blocks
/// keeps that thread, but the event loop it put down is taken up by a
/// worker, so other connections are still served, and the blocked request
/// is answered once its handler returns.
#[test]
fn a_blocked_handler_in_a_quick_batch_holds_up_no_other_connection() {
    let (handler, entered, release) = blocking_echo();
    let server = start(
        ServerBuilder::new().quick_batches(QuickBatches::Reader),
        handler,
    );
    let addr = server.local_addr();
    warm_up(addr);
    let mut blocked = Client::connect(addr);
    blocked.send(&get("/block"));
    entered
        .recv_timeout(common::WAIT)
        .expect("the handler runs");
    for i in 0..5 {
        let mut c = Client::connect(addr);
        c.send(&get(&format!("/{i}")));
        assert_eq!(body(&c.response()), format!("/{i} "));
    }
    // And a connection opened before, on another request.
    blocked.send(&get("/after"));
    release.send(()).unwrap();
    assert_eq!(body(&blocked.response()), "/block ");
    assert_eq!(body(&blocked.response()), "/after ");
    server.shutdown();
}

/// Where a quick batch runs on the thread that read it, a request refused
/// behind one of the batch's (the refusal is ready first, and waits for the
/// earlier answer) is answered after it, and the connection then closes.
#[test]
fn a_refusal_behind_a_quick_request_is_answered_after_it() {
    let server = start_reader(2, echo);
    let addr = server.local_addr();
    warm_up(addr);
    let mut c = Client::connect(addr);
    c.send(&[get("/first"), b"GET /no-host HTTP/1.1\r\n\r\n".to_vec()].concat());
    assert_eq!(body(&c.response()), "/first ");
    assert_eq!(c.response().status().as_u16(), 400);
    assert!(c.closed());
    server.shutdown();
}

/// With one worker, quick batches run where they are read: while the
/// first thread is in a handler and the worker drives the loop it took
/// over, the worker does not put the loop down for another batch (nobody
/// would be free to take it up), so the loop goes on answering what needs
/// no handler, and the second request waits for a thread as in a full pool.
#[test]
fn a_loop_is_not_put_down_while_no_worker_is_free() {
    let (handler, entered, release) = blocking_echo();
    let server = start_reader(1, handler);
    let addr = server.local_addr();
    warm_up(addr);
    let refused = || {
        let mut c = Client::connect(addr);
        c.send(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(c.response().status().as_u16(), 400, "no Host");
    };
    let mut first = Client::connect(addr);
    first.send(&get("/block"));
    entered
        .recv_timeout(common::WAIT)
        .expect("the handler runs");
    refused();
    let mut second = Client::connect(addr);
    second.send(&get("/block"));
    refused();
    refused();
    release.send(()).unwrap();
    release.send(()).unwrap();
    assert_eq!(body(&first.response()), "/block ");
    assert_eq!(body(&second.response()), "/block ");
    server.shutdown();
}

/// Large bodies travel on their own (a vector as it is, static bytes by
/// reference) behind their heads: pipelined among small responses and a
/// `HEAD`, to a client with a small receive window (so writes stop part-way
/// through them), every byte arrives in order, in both modes.
#[test]
fn large_bodies_keep_their_place_among_pipelined_responses() {
    let vec_body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = vec_body.clone();
    let handler = move |req: Request| {
        let path = req.path().to_owned();
        let builder = ResponseBuilder::empty_200();
        let builder = match path.as_str() {
            "/static" => builder.body(http_types::Body::from_static(&LARGE_STATIC)),
            "/vec" => builder.body(vec_body.clone()),
            other => builder.body(other.to_owned()),
        };
        builder.build().unwrap()
    };
    for on_loop in [false, true] {
        let server = start(
            ServerBuilder::new().workers(2).handlers_on_loop(on_loop),
            handler.clone(),
        );
        let (mut c, _socket) = Client::with_small_window(server.local_addr(), 16 * 1024);
        // Several megabytes in all, more than the socket buffers hold.
        let order = [
            "/s0", "/static", "/s1", "/vec", "HEAD", "/s2", "/static", "/vec", "/s3",
        ]
        .repeat(6);
        let mut wire = Vec::new();
        for &path in &order {
            if path == "HEAD" {
                wire.extend_from_slice(b"HEAD /static HTTP/1.1\r\nHost: test\r\n\r\n");
            } else {
                wire.extend_from_slice(&get(path));
            }
        }
        c.send(&wire);
        for &path in &order {
            let context = format!("{path} (on the loop: {on_loop})");
            match path {
                "/static" => {
                    let r = c.response();
                    assert_eq!(r.body().as_bytes().unwrap(), &LARGE_STATIC[..], "{context}");
                }
                "/vec" => {
                    let r = c.response();
                    assert_eq!(r.body().as_bytes().unwrap(), &expected[..], "{context}");
                }
                "HEAD" => {
                    let r = c.response_to(true).expect("a response");
                    let len = r.headers().get("content-length").unwrap();
                    assert_eq!(len, "100000", "{context}");
                    assert!(r.body().is_empty(), "{context}");
                }
                small => assert_eq!(body(&c.response()), small, "{context}"),
            }
        }
        server.shutdown();
    }
}
