//! HTTP/1.1 over the reactor: the part of mini-async-http that serves.
//!
//! - [`Handler`]: the application, any `Fn(Request) -> Response + Send + Sync`.
//!   It runs on the server's threads, never on one while it drives an event
//!   loop, so it may block (see [`QuickBatches`] for how a thread puts its
//!   loop down to run a quick batch itself).
//! - [`ServerBuilder`] and [`ServerConfig`]: every setting, with defaults.
//! - [`ServerHandle`]: the bound address, immediate or graceful shutdown.
//!
//! Each connection is a small state machine on an event loop: the codec
//! decodes every complete request in the input (pipelining), each goes to the
//! worker pool tagged with its connection and sequence number, and the encoded
//! responses come back through the loop's completion queue and are written in
//! request order. Framing errors, missing `Host` on HTTP/1.1, unsupported
//! expectations and `CONNECT` are answered by the loop itself (400, 417, 501)
//! and the connection is closed.
//!
//! ```no_run
//! use http_types::ResponseBuilder;
//! use server::ServerBuilder;
//!
//! let handle = ServerBuilder::new()
//!     .bind("127.0.0.1:0")
//!     .workers(4)
//!     .start(|req: http_types::Request| {
//!         ResponseBuilder::empty_200()
//!             .body(format!("you asked for {}", req.path()))
//!             .content_type("text/plain")
//!             .build()
//!             .unwrap()
//!     })?;
//! println!("listening on http://{}", handle.local_addr());
//! handle.wait();
//! # Ok::<(), server::ServerError>(())
//! ```
#![deny(missing_docs)]
// The one `unsafe`, in `sched.rs`: a thread moving itself between SCHED_BATCH
// and the default class.
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod budget;
#[cfg(test)]
mod chaos_tests;
mod config;
mod drive;
mod handler;
mod pool;
mod queue;
mod sched;
mod server;
mod service;

pub use config::{
    QuickBatches, ServerConfig, DEFAULT_BODY_MIN_RATE, DEFAULT_BODY_TIMEOUT, DEFAULT_HEAD_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_LINGER_BYTES, DEFAULT_LINGER_TIMEOUT, DEFAULT_MAX_BODY_MEMORY,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_OUTPUT, DEFAULT_MAX_OUTPUT_MEMORY, DEFAULT_MAX_PIPELINED,
    DEFAULT_QUEUE_CAPACITY, DEFAULT_WRITE_TIMEOUT, LONGEST_TIMEOUT,
};
pub use handler::Handler;
pub use server::{ServerBuilder, ServerError, ServerHandle};
