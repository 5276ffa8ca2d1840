//! A strict, incremental, sans-IO HTTP/1.1 codec: it never sees a socket.
//!
//! The caller owns the bytes. It reads from wherever it likes, hands the
//! buffer to a decoder, and drops the bytes the decoder says it consumed. This
//! makes the crate usable alone, with blocking `std::net` as below, with mio
//! (as the `server` crate of mini-async-http does), or in tests.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpListener;
//! use http_codec::{encode_response, ConnectionHeader, Decoded, EncodeOptions, RequestDecoder};
//! use http_types::ResponseBuilder;
//!
//! let listener = TcpListener::bind("127.0.0.1:8080")?;
//! for stream in listener.incoming() {
//!     let mut stream = stream?;
//!     let mut decoder = RequestDecoder::default();
//!     let (mut buf, mut out, mut chunk) = (Vec::new(), Vec::new(), [0u8; 4096]);
//!     'conn: loop {
//!         // Answer every complete request in the buffer (pipelining), then write once.
//!         loop {
//!             match decoder.decode(&buf) {
//!                 Ok(Decoded::Message { head, consumed }) => {
//!                     buf.drain(..consumed);
//!                     let resp = ResponseBuilder::empty_200().body("hello").build()?;
//!                     let connection = if head.keep_alive { ConnectionHeader::Omit } else { ConnectionHeader::Close };
//!                     encode_response(&resp, &EncodeOptions { connection, ..Default::default() }, &mut out);
//!                 }
//!                 Ok(Decoded::Partial { consumed }) => { buf.drain(..consumed); break; }
//!                 Ok(Decoded::Closed) => { stream.write_all(&out)?; break 'conn; }
//!                 Err(e) => { /* answer e.status() with Connection: close */ break 'conn; }
//!             }
//!         }
//!         stream.write_all(&out)?;
//!         out.clear();
//!         let n = stream.read(&mut chunk)?;
//!         if n == 0 { break; }
//!         buf.extend_from_slice(&chunk[..n]);
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/blocking.rs` is the complete version: a thread-per-connection
//! server with keep-alive, pipelining, chunked bodies and error responses.
//!
//! # Pieces
//!
//! - [`RequestDecoder`]: whole requests, pipelined, body included. Built on
//!   [`HeadDecoder`] (the head) and [`BodyDecoder`] (length, chunked or
//!   close-delimited bodies), which can be used directly, e.g. to send
//!   `100 Continue` between head and body.
//! - [`encode_response`] / [`encode_response_head`], [`encode_chunk`]: the
//!   server's output, with `Date` from a per-thread cache ([`http_date_now`]).
//! - [`encode_request`] and [`ResponseDecoder`]: the client role.
//! - [`Limits`]: every bound, with documented defaults; [`DecodeError`]: every
//!   refusal, each knowing its status code.
//!
//! # Strictness
//!
//! Framing follows RFC 9112 section 6 strictly: `Transfer-Encoding` with
//! `Content-Length`, differing or malformed `Content-Length`, `Transfer-Encoding`
//! not ending in `chunked` or on HTTP/1.0, bad chunk sizes, bare CR, whitespace
//! before a colon and obs-fold are all refused. A bare LF ending a head line is
//! refused unless [`HeadDecoder::allow_bare_lf`] is set. After a refused head, or
//! after a request that closes or upgrades the connection, nothing more is
//! decoded.
//!
//! Only bytes not seen before are examined when more arrive: a 32 KiB head fed
//! one byte at a time costs linear time.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod body;
mod date;
mod encode;
mod error;
mod fields;
mod limits;
mod request;
mod response;
mod scan;

pub use body::{BodyDecoder, BodyProgress, Framing};
pub use date::{format_http_date, http_date_now, HTTP_DATE_LEN};
pub use encode::{
    encode_chunk, encode_last_chunk, encode_request, encode_response, encode_response_head,
    ConnectionHeader, EncodeOptions, RequestFraming,
};
pub use error::DecodeError;
pub use limits::{
    Limits, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CHUNK_EXTENSION_BYTES, DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_TARGET_BYTES, DEFAULT_MAX_TRAILER_BYTES,
};
pub use request::{Decoded, Expect, Head, HeadDecoder, HostField, RawHead, RequestDecoder};
pub use response::{ResponseDecoded, ResponseDecoder};

pub use http_types;
