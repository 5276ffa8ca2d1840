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

/// Length of the prefix of `bytes` that is visible ASCII (`!` to `~`), with
/// spaces counted in too when `spaces`: where a request target ends, or
/// where a field value meets a tab, a line ending or a byte above ASCII.
///
/// Eight bytes at a time: `w - repeat(lo)` borrows into a byte's high bit
/// where that byte is below `lo`, and `w + repeat(1)` carries into it where
/// the byte is 0x7F or more (or it was set already). A borrow or carry only
/// runs upward from a byte that is flagged itself, so the lowest flag is
/// exact.
#[inline]
pub fn visible_prefix(bytes: &[u8], spaces: bool) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let lo: u8 = if spaces { 0x20 } else { 0x21 };
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        let below = w.wrapping_sub(ONES * u64::from(lo)) & !w;
        let above = w.wrapping_add(ONES) | w;
        let found = (below | above) & HIGHS;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words
        .remainder()
        .iter()
        .position(|&b| b < lo || b >= 0x7f)
        .unwrap_or(words.remainder().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_prefix_stops_where_a_byte_loop_stops() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..40 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        // Mostly visible bytes, some of every other kind.
                        match state % 16 {
                            0 => (state >> 8) as u8,
                            1 => b' ',
                            _ => 0x21 + (state >> 8) as u8 % 94,
                        }
                    })
                    .collect();
                for spaces in [false, true] {
                    let lo = if spaces { 0x20 } else { 0x21 };
                    let slow = bytes
                        .iter()
                        .position(|&b| b < lo || b >= 0x7f)
                        .unwrap_or(len);
                    assert_eq!(visible_prefix(&bytes, spaces), slow, "{bytes:?} {spaces}");
                }
            }
        }
    }
}
