//! actix-web 4 with one worker (`.workers(1)`: one thread, one event loop).
//!
//! `--workers N` sizes that worker's blocking pool
//! (`worker_max_blocking_threads`), where the `--delay-ms` sleep runs through
//! `web::block`, as a blocking database call would.

use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use peer_common::{announce, describe, Args, BIG, PLAINTEXT};

async fn handle(req: HttpRequest, body: web::Bytes, delay: Duration) -> HttpResponse {
    if !delay.is_zero() {
        let _ = web::block(move || std::thread::sleep(delay)).await;
    }
    if req.path() == "/plaintext" {
        return HttpResponse::Ok()
            .content_type("text/plain")
            .body(PLAINTEXT);
    }
    if req.path() == "/big" {
        return HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(&BIG[..]);
    }
    let uri = req.uri().to_string();
    let version = format!("{:?}", req.version());
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let json = describe(req.method().as_str(), &uri, &version, headers, &body);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json)
}

fn main() -> std::io::Result<()> {
    let args = Args::parse("actix-peer");
    let delay = args.delay;
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                // The `Bytes` extractor stops at 256 KiB by default.
                .app_data(web::PayloadConfig::new(8 << 20))
                .default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                    handle(req, body, delay)
                }))
        })
        .workers(1)
        .worker_max_blocking_threads(args.workers)
        .shutdown_timeout(1)
        .bind(&args.addr)?;
        let addr = server.addrs()[0];
        announce(
            "actix-peer",
            addr,
            &format!(" with 1 worker, {} blocking threads", args.workers),
        );
        server.run().await
    })
}
