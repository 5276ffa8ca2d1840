//! Peers that go away while large bodies are being written cost their
//! connections, never the process. This test binary runs with `SIGPIPE` at
//! its default action, which kills; its own binary, so no other test runs so.
#![cfg(target_os = "linux")]

mod common;

use std::io::Read;
use std::time::Duration;

use common::{body, get, start, Client};
use http_types::{Body, Request, ResponseBuilder};
use server::ServerBuilder;

static LARGE: [u8; 4 << 20] = [b'x'; 4 << 20];

#[test]
fn peers_that_vanish_mid_body_never_raise_sigpipe() {
    #[allow(unsafe_code)]
    // SAFETY: `signal` with a valid signal number and `SIG_DFL` only sets
    // the disposition; nothing else in this process relies on it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let handler = |req: Request| {
        let builder = ResponseBuilder::empty_200();
        let builder = if req.path() == "/large" {
            builder.body(Body::from_static(&LARGE))
        } else {
            builder.body("ok")
        };
        builder.build().unwrap()
    };
    for on_loop in [false, true] {
        let server = start(ServerBuilder::new().handlers_on_loop(on_loop), handler);
        for round in 0..40 {
            let (mut c, socket) = Client::with_small_window(server.local_addr(), 4096);
            let wire: Vec<u8> = (0..4).flat_map(|_| get("/large")).collect();
            c.send(&wire);
            let mut some = vec![0u8; 1 + round * 997 % 60_000];
            let _ = c.stream.read(&mut some);
            if round % 2 == 0 {
                // Reset: the server's next write fails at once.
                socket.set_linger(Some(Duration::ZERO)).unwrap();
            } else {
                // Stop reading and writing: later writes meet a closed peer.
                let _ = socket.shutdown(std::net::Shutdown::Both);
            }
            drop(c);
            drop(socket);
        }
        // Still alive, and still serving.
        let mut c = Client::connect(server.local_addr());
        c.send(&get("/"));
        assert_eq!(body(&c.response()), "ok");
        server.shutdown();
    }
}
