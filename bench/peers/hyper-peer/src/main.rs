//! hyper 1.x (http1 only) on a single-threaded tokio runtime.
//!
//! `--workers N` sizes tokio's blocking pool (`max_blocking_threads`), where
//! the `--delay-ms` sleep runs through `spawn_blocking`, as a blocking
//! database call would; the one runtime thread only does the I/O.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use peer_common::{announce, describe, Args, BIG, PLAINTEXT};

type Reply = Response<Full<Bytes>>;

fn reply(content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut rsp = Response::new(Full::new(body.into()));
    rsp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    rsp
}

async fn handle(req: Request<Incoming>, delay: Duration) -> Result<Reply, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let mut rsp = reply("text/plain", "bad body");
            *rsp.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(rsp);
        }
    };
    if !delay.is_zero() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(delay)).await;
    }
    if parts.uri.path() == "/plaintext" {
        return Ok(reply("text/plain", PLAINTEXT));
    }
    if parts.uri.path() == "/big" {
        return Ok(reply("application/octet-stream", Bytes::from_static(&BIG)));
    }
    let uri = parts.uri.to_string();
    let version = format!("{:?}", parts.version);
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let json = describe(parts.method.as_str(), &uri, &version, headers, &body);
    Ok(reply("application/json", json))
}

fn main() -> std::io::Result<()> {
    let args = Args::parse("hyper-peer");
    let delay = args.delay;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .max_blocking_threads(args.workers)
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr).await?;
        announce(
            "hyper-peer",
            listener.local_addr()?,
            &format!(" with 1 runtime thread, {} blocking threads", args.workers),
        );
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("hyper-peer: accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, delay));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
