//! mini-async-http: serve HTTP/1.1 fast and safely.
//!
//! A mio event loop holds thousands of keep-alive connections cheaply; a pool
//! of worker threads runs plain blocking handlers (`Fn(Request) -> Response`, no
//! async); a strict incremental codec refuses ambiguous framing. This crate is
//! the front door: it re-exports the layers and keeps the API of the original
//! `mini-async-http` crate working unchanged.
//!
//! ```no_run
//! use mini_async_http::AIOServer;
//! use mini_async_http::ResponseBuilder;
//!
//! let mut server = AIOServer::new(3, "0.0.0.0:7878", move |request| {
//!     ResponseBuilder::empty_200()
//!         .body(b"Hello")
//!         .content_type("text/plain")
//!         .build()
//!         .unwrap()
//! });
//! server.start();
//! ```
//!
//! The idiomatic way, with every setting in reach and a handle to stop it:
//!
//! ```
//! use mini_async_http::{Request, ResponseBuilder, ServerBuilder};
//! use std::time::Duration;
//!
//! let handle = ServerBuilder::new()
//!     .bind("127.0.0.1:0")
//!     .workers(2)
//!     .idle_timeout(Duration::from_secs(30))
//!     .start(|req: Request| {
//!         ResponseBuilder::empty_200().body(format!("hello {}", req.path())).build().unwrap()
//!     })?;
//! let addr = handle.local_addr();
//! # use std::io::{Read, Write};
//! # let mut s = std::net::TcpStream::connect(addr)?;
//! # s.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
//! # let mut out = String::new();
//! # s.read_to_string(&mut out)?;
//! # assert!(out.ends_with("hello /x"));
//! handle.shutdown_graceful(Duration::from_secs(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layers
//!
//! | module | crate | what |
//! | --- | --- | --- |
//! | (root) | `http-types` | [`HttpCode`], [`HttpVersion`], [`Method`], [`Headers`], [`Request`], [`Response`], [`ResponseBuilder`] |
//! | [`codec`] | `http-codec` | the sans-IO decoders and encoders, [`Limits`] |
//! | [`reactor`] | `reactor` | the mio event loop |
//! | (root) | `server` | [`Handler`], [`ServerBuilder`], [`ServerConfig`], [`ServerHandle`] |
//!
//! # Coming from Nim's asynchttpserver
//!
//! | Nim | here |
//! | --- | --- |
//! | `newAsyncHttpServer(reuseAddr = true)` | [`ServerBuilder::new()`] (`SO_REUSEADDR` is always on; `.reuse_port(true)` for `reusePort`) |
//! | `server.serve(port, callback, address)` | [`serve`]`(addr, handler)`, or [`ServerBuilder::bind`] then [`ServerBuilder::start`] |
//! | `server.close()` | [`ServerHandle::shutdown`] or [`ServerHandle::shutdown_graceful`] |
//! | `server.getPort()` | [`ServerHandle::local_addr`] |
//! | `req.respond(code, content, headers)` | return a [`Response`] from the handler ([`ResponseBuilder`]); the connection stays open unless the request asked to close |
//! | `req.sendHeaders` | headers are sent with the response; streamed bodies are planned |
//! | `Request.client`, `Request.hostname` | [`Request::peer_addr`] |
//! | `Request.reqMethod` | [`Request::method`] |
//! | `Request.headers` | [`Request::headers`] |
//! | `Request.protocol` `(orig, major, minor)` | [`Request::protocol`] ([`Protocol`]) and [`Request::version`] |
//! | `Request.url` | [`Request::target`], [`Request::path`], [`Request::query`], [`Request::query_pairs`] |
//! | `Request.body` | [`Request::body`] |
//! | `HttpCode` (`Http200`, `$code` = `"200 OK"`) | [`HttpCode`] (`HttpCode::OK`, `Display` = `"200 OK"`) |
//! | `HttpVersion` (`HttpVer11`, `HttpVer10`) | [`HttpVersion`] (`Http11`, `Http10`) |
#![deny(missing_docs, unused_variables)]
#![warn(rust_2018_idioms)]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::sync::Arc;

pub use http_codec as codec;
pub use http_codec::Limits;
pub use http_types::{
    Body, BuildError, HeaderError, HeaderValue, Headers, HttpCode, HttpVersion, Method, Protocol,
    Request, Response, ResponseBuilder,
};
pub use reactor;
pub use server::{Handler, QuickBatches, ServerBuilder, ServerConfig, ServerError, ServerHandle};

/// The original mini-async-http server: `AIOServer::new(workers, addr,
/// handler)` then `start()`.
pub struct AIOServer {
    workers: usize,
    addr: String,
    handler: Arc<dyn Handler>,
    handle: Option<ServerHandle>,
}

impl AIOServer {
    /// A server on `addr` (`HOST:PORT`) with `workers` worker threads running
    /// `handler`. Nothing happens until [`start`](Self::start).
    pub fn new(workers: usize, addr: &str, handler: impl Handler) -> AIOServer {
        AIOServer {
            workers,
            addr: addr.to_owned(),
            handler: Arc::new(handler),
            handle: None,
        }
    }

    /// Listen and serve, forever, on the calling thread.
    ///
    /// # Panics
    ///
    /// If the server cannot start (the address is taken or invalid, or
    /// `workers` is 0): the panic message says which and what to do. Use
    /// [`try_start`](Self::try_start) to get the [`ServerError`] instead.
    pub fn start(&mut self) {
        if let Err(e) = self.try_start() {
            panic!("mini-async-http could not start: {e}");
        }
        if let Some(handle) = self.handle.take() {
            handle.wait();
        }
    }

    /// Listen and serve on background threads; the server runs until
    /// [`stop`](Self::stop). Prints the address it listens on.
    pub fn try_start(&mut self) -> Result<(), ServerError> {
        let handle = ServerBuilder::new()
            .bind(self.addr.clone())
            .workers(self.workers)
            .start_shared(Arc::clone(&self.handler))?;
        println!(
            "mini-async-http listening on http://{}",
            handle.local_addr()
        );
        self.handle = Some(handle);
        Ok(())
    }

    /// The address the server listens on, once started.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.handle.as_ref().map(ServerHandle::local_addr)
    }

    /// Stop a server started with [`try_start`](Self::try_start), letting
    /// requests in flight finish for up to five seconds.
    pub fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown_graceful(std::time::Duration::from_secs(5));
        }
    }
}

/// Serve `handler` on `addr` until the process ends, like Nim's
/// `serve(port, callback, address)`.
pub fn serve(addr: &str, handler: impl Handler) -> Result<(), ServerError> {
    let handle = ServerBuilder::new().bind(addr).start(handler)?;
    handle.wait();
    Ok(())
}
