//! [`Request`]: a request as the server hands it to a handler.

use std::borrow::Cow;
use std::net::SocketAddr;

use crate::{Headers, HttpVersion, Method, Protocol};

/// An HTTP request: method, target, version, headers, the whole body, and the
/// peer's address when it came from a socket.
///
/// ```
/// use http_types::{Method, Request};
/// let req = Request::new(Method::Get, "/search?q=a+b&lang=en%2Dgb")?;
/// assert_eq!(req.path(), "/search");
/// assert_eq!(req.query(), Some("q=a+b&lang=en%2Dgb"));
/// let pairs = req.query_pairs();
/// assert_eq!(pairs[0], ("q".into(), "a b".into()));
/// assert_eq!(pairs[1], ("lang".into(), "en-gb".into()));
/// # Ok::<(), http_types::InvalidTarget>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    method: Method,
    target: Target,
    protocol: Protocol,
    headers: Headers,
    body: Vec<u8>,
    peer_addr: Option<SocketAddr>,
}

/// Targets up to this long are kept inside the request, with no allocation.
const INLINE_TARGET: usize = 30;

/// A checked request target (visible ASCII), inline when short, as most are.
///
/// **Invariant:** `Inline` holds `len` bytes of visible ASCII, followed by
/// zeros. Only [`Target::new`] makes one, and only from bytes
/// [`is_valid_target`] accepted.
#[derive(Clone)]
enum Target {
    Inline { len: u8, bytes: [u8; INLINE_TARGET] },
    Heap(Box<str>),
}

impl Target {
    /// Keep `target`, which [`is_valid_target`] has accepted.
    fn new(target: &[u8]) -> Target {
        match u8::try_from(target.len()) {
            Ok(len) if target.len() <= INLINE_TARGET => {
                let mut bytes = [0; INLINE_TARGET];
                bytes[..target.len()].copy_from_slice(target);
                Target::Inline { len, bytes }
            }
            // ASCII, so this check passes; it runs for long targets only.
            _ => Target::Heap(std::str::from_utf8(target).unwrap_or_default().into()),
        }
    }

    /// The target. Called for every `path()` and `target()`, so the inline
    /// case skips the UTF-8 check its invariant makes pointless.
    #[allow(unsafe_code)]
    #[inline]
    fn as_str(&self) -> &str {
        match self {
            Target::Inline { len, bytes } => {
                let ascii = bytes.get(..usize::from(*len)).unwrap_or_default();
                debug_assert!(ascii.is_ascii());
                // SAFETY: by the type's invariant these bytes are ASCII, and
                // ASCII is UTF-8.
                unsafe { std::str::from_utf8_unchecked(ascii) }
            }
            Target::Heap(s) => s,
        }
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Target {}

/// A request target that is empty or holds a byte outside visible ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid request target: a target is non-empty visible ASCII (RFC 9112 section 3.2)")]
pub struct InvalidTarget;

/// Whether `target` may stand in a request line: non-empty, visible ASCII only.
#[inline]
pub fn is_valid_target(target: &[u8]) -> bool {
    !target.is_empty() && crate::visible_prefix(target, false) == target.len()
}

impl Request {
    /// A request with no headers and no body, sent as HTTP/1.1.
    pub fn new(method: Method, target: impl AsRef<str>) -> Result<Request, InvalidTarget> {
        Request::from_target_bytes(method, target.as_ref().as_bytes())
    }

    /// [`Request::new`] with the target as bytes, as a decoder has it: they
    /// are checked once, here, and need no UTF-8 check first.
    #[inline]
    pub fn from_target_bytes(method: Method, target: &[u8]) -> Result<Request, InvalidTarget> {
        if !is_valid_target(target) {
            return Err(InvalidTarget);
        }
        Ok(Request {
            method,
            target: Target::new(target),
            protocol: Protocol::default(),
            headers: Headers::new(),
            body: Vec::new(),
            peer_addr: None,
        })
    }

    /// The method. Nim: `reqMethod`.
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target exactly as sent (`/a/b?x=1`, `*`, or an absolute URI).
    /// Nim: `url`.
    #[inline]
    pub fn target(&self) -> &str {
        self.target.as_str()
    }

    /// The target without its query: everything before the first `?`.
    #[inline]
    pub fn path(&self) -> &str {
        let target = self.target.as_str();
        // A plain byte loop: targets are short, and a `?` is ASCII, so the
        // index is a character boundary.
        match target.bytes().position(|b| b == b'?') {
            Some(at) => target.get(..at).unwrap_or(target),
            None => target,
        }
    }

    /// The raw query: everything after the first `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.target.as_str().split_once('?').map(|(_, q)| q)
    }

    /// The query as `application/x-www-form-urlencoded` pairs, percent-decoded
    /// and with `+` read as a space. A malformed `%` escape is kept as it is;
    /// bytes that are not UTF-8 after decoding become U+FFFD.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let Some(q) = self.query() else {
            return Vec::new();
        };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(k), form_decode(v))
            })
            .collect()
    }

    /// The version the request is processed as.
    #[inline]
    pub fn version(&self) -> HttpVersion {
        self.protocol.version()
    }

    /// The version numbers as sent. Nim: `protocol`.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Set the version numbers.
    #[inline]
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// The header fields.
    #[inline]
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// Replace the header fields.
    #[inline]
    pub fn set_headers(&mut self, headers: Headers) {
        self.headers = headers;
    }

    /// The body (empty when there was none).
    #[inline]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Replace the body.
    pub fn set_body(&mut self, body: Vec<u8>) {
        self.body = body;
    }

    /// Take the body out of the request.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The address of the client, filled by the server. Nim: `client` and
    /// `hostname`.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// Record the address of the client.
    #[inline]
    pub fn set_peer_addr(&mut self, addr: Option<SocketAddr>) {
        self.peer_addr = addr;
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method.as_str())
            .field("target", &self.target.as_str())
            .field("protocol", &format_args!("{}", self.protocol))
            .field("headers", &self.headers)
            .field("body", &format_args!("b\"{}\"", self.body.escape_ascii()))
            .field("peer_addr", &self.peer_addr)
            .finish()
    }
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

fn form_decode(s: &str) -> String {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8_lossy(&out) {
        Cow::Borrowed(_) => String::from_utf8(out).unwrap_or_default(),
        Cow::Owned(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: &str, path: &str, query: Option<&str>, pairs: &[(&str, &str)]) {
        let r = Request::new(Method::Get, target).unwrap();
        assert_eq!(r.path(), path, "{target}");
        assert_eq!(r.query(), query, "{target}");
        let got = r.query_pairs();
        let want: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "{target}");
    }

    #[test]
    fn path_and_query() {
        check("/", "/", None, &[]);
        check("*", "*", None, &[]);
        check("/a?", "/a", Some(""), &[]);
        check("/a?x", "/a", Some("x"), &[("x", "")]);
        check(
            "/a?x=1&&y=%41%4a",
            "/a",
            Some("x=1&&y=%41%4a"),
            &[("x", "1"), ("y", "AJ")],
        );
        check("/a?k=%zz%4", "/a", Some("k=%zz%4"), &[("k", "%zz%4")]);
        check("/a?k=%ff", "/a", Some("k=%ff"), &[("k", "\u{fffd}")]);
        check("/a?x=1?y=2", "/a", Some("x=1?y=2"), &[("x", "1?y=2")]);
        check("http://h/p?q=1", "http://h/p", Some("q=1"), &[("q", "1")]);
    }

    #[test]
    fn long_and_short_targets_read_back() {
        for len in [1, 29, 30, 31, 300] {
            let target = format!("/{}", "a".repeat(len - 1));
            let r = Request::new(Method::Get, &target).unwrap();
            assert_eq!(r.target(), target);
            assert_eq!(r, Request::new(Method::Get, target.clone()).unwrap());
        }
    }

    #[test]
    fn targets_are_checked() {
        for bad in ["", "/a b", "/\r\n", "/\u{e9}", "/\x7f"] {
            assert_eq!(
                Request::new(Method::Get, bad),
                Err(InvalidTarget),
                "{bad:?}"
            );
        }
        for bad in [&b"/\xff"[..], b"/\x80", b"/a\x00"] {
            assert_eq!(
                Request::from_target_bytes(Method::Get, bad),
                Err(InvalidTarget)
            );
        }
        // Every byte value at every place of targets that span whole words
        // and a remainder, against a byte-by-byte rule.
        for len in [1, 7, 8, 9, 16, 21] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut target = vec![b'~'; len];
                    target[0] = b'!';
                    target[at] = b;
                    let visible = target.iter().all(|&c| (0x21..=0x7e).contains(&c));
                    assert_eq!(is_valid_target(&target), visible, "{target:?}");
                }
            }
        }
    }

    #[test]
    fn targets_read_back_whole_on_both_sides_of_the_inline_limit() {
        for n in 1..=2 * INLINE_TARGET {
            let target = format!("/{}?q={n}", "a".repeat(n));
            let from_str = Request::new(Method::Get, &target).unwrap();
            let from_bytes = Request::from_target_bytes(Method::Get, target.as_bytes()).unwrap();
            assert_eq!(from_str, from_bytes);
            assert_eq!(from_bytes.target(), target);
            assert_eq!(from_bytes.path(), format!("/{}", "a".repeat(n)));
            assert_eq!(from_bytes.query(), Some(format!("q={n}").as_str()));
        }
    }
}
