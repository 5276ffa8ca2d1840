//! The HTTP/1.1 vocabulary of mini-async-http, with no I/O and no parsing.
//!
//! - [`HttpCode`]: a status code, `Display`s as `"200 OK"`.
//! - [`HttpVersion`] and [`Protocol`]: the version a message is processed as, and
//!   the numbers a request line carried.
//! - [`Method`]: standard methods plus extension tokens.
//! - [`Headers`]: ordered, case-insensitive names, byte values, checked so that
//!   nothing inserted can split a message.
//! - [`Request`], [`Response`], [`ResponseBuilder`] and [`Body`].
//!
//! ```
//! use http_types::{HttpCode, Method, Request, ResponseBuilder};
//!
//! let mut req = Request::new(Method::Get, "/hello?name=world")?;
//! req.headers_mut().append("Host", "example.com")?;
//!
//! let name = req.query_pairs().into_iter().find(|(k, _)| k == "name").map(|(_, v)| v);
//! let resp = ResponseBuilder::empty_200()
//!     .body(format!("Hello, {}!", name.unwrap_or_default()))
//!     .content_type("text/plain")
//!     .build()?;
//! assert_eq!(resp.status(), HttpCode::OK);
//! assert_eq!(resp.body().as_bytes(), Some(&b"Hello, world!"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
// One `unsafe` block, in `request.rs`: a short target's bytes, known ASCII,
// read as `&str` without a UTF-8 check.
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod body;
mod headers;
mod method;
mod request;
mod response;
mod status;
mod version;

pub use body::Body;
pub use headers::{
    is_valid_name, is_valid_value, HeaderError, HeaderValue, Headers, Iter as HeadersIter,
    ToStrError,
};
pub use method::{ExtensionMethod, InvalidMethod, Method};
pub use request::{is_valid_target, InvalidTarget, Request};
pub use response::{BuildError, Response, ResponseBuilder};
pub use status::{HttpCode, InvalidStatusCode};
pub use version::{HttpVersion, Protocol};

const fn token_byte(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
        b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

const TOKEN_TABLE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = token_byte(i as u8);
        i += 1;
    }
    table
};

/// Whether `b` is a `tchar` (RFC 9110 section 5.6.2): the bytes that make up
/// method names and header names.
#[inline]
pub const fn is_token_byte(b: u8) -> bool {
    TOKEN_TABLE[b as usize]
}
