//! tiny_http 0.12: `--workers N` threads, each looping on `server.recv()`.
//! (tiny_http itself also runs a thread per open connection to read
//! requests; the N threads are the ones that run the handler.)

use std::sync::Arc;

use peer_common::{announce, describe, Args, BIG, BIG_LEN, PLAINTEXT};
use tiny_http::{Header, Request, Response, Server, StatusCode};

fn respond(mut req: Request, args: &Args) {
    let mut body = Vec::new();
    if req.as_reader().read_to_end(&mut body).is_err() {
        let _ = req.respond(Response::from_string("bad body").with_status_code(400));
        return;
    }
    args.block();
    let path = req.url().split('?').next().unwrap_or("");
    if path == "/big" {
        let header = Header::from_bytes(&b"Content-Type"[..], &b"application/octet-stream"[..])
            .expect("valid header");
        let big = Response::new(StatusCode(200), vec![header], &BIG[..], Some(BIG_LEN), None);
        let _ = req.respond(big);
        return;
    }
    let (content_type, text) = if path == "/plaintext" {
        (&b"text/plain"[..], PLAINTEXT.to_owned())
    } else {
        let version = format!("HTTP/{}", req.http_version());
        let headers = req
            .headers()
            .iter()
            .map(|h| (h.field.as_str().as_str(), h.value.as_str().as_bytes()));
        let json = describe(req.method().as_str(), req.url(), &version, headers, &body);
        (&b"application/json"[..], json)
    };
    let header = Header::from_bytes(&b"Content-Type"[..], content_type).expect("valid header");
    let _ = req.respond(Response::from_string(text).with_header(header));
}

fn main() {
    let args = Args::parse("tiny-peer");
    let server = match Server::http(&args.addr) {
        Ok(server) => Arc::new(server),
        Err(e) => {
            eprintln!("tiny-peer: {e}");
            std::process::exit(1);
        }
    };
    let addr = server
        .server_addr()
        .to_ip()
        .expect("bound to an IP address");
    announce(
        "tiny-peer",
        addr,
        &format!(" with {} workers", args.workers),
    );
    let threads: Vec<_> = (0..args.workers)
        .map(|_| {
            let server = Arc::clone(&server);
            let args = args.clone();
            std::thread::spawn(move || loop {
                match server.recv() {
                    Ok(req) => respond(req, &args),
                    Err(e) => eprintln!("tiny-peer: recv: {e}"),
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}
