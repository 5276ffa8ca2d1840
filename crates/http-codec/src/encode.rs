//! Encoders: responses (the server role) and requests (the client role), into a
//! caller's `Vec<u8>`.

use http_types::{Headers, HttpCode, Request, Response};

use crate::{http_date_now, Framing, HTTP_DATE_LEN};

/// What `Connection` header to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionHeader {
    /// None: the default for the version applies (keep-alive for HTTP/1.1).
    #[default]
    Omit,
    /// `Connection: close`: this is the last response on the connection.
    Close,
    /// `Connection: keep-alive`, which an HTTP/1.0 client needs to see.
    KeepAlive,
}

/// How to encode a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// The request was `HEAD`: send the headers a `GET` would get, no body.
    pub head_request: bool,
    /// The `Connection` header to send. Any `Connection` header of the
    /// response is dropped in favour of it unless this is [`ConnectionHeader::Omit`].
    pub connection: ConnectionHeader,
    /// Add `Date` unless the response has one: [`date_value`](Self::date_value)
    /// if given, else [`http_date_now`].
    pub date: bool,
    /// A `Date` value formatted already (say once per batch of responses),
    /// which saves a clock read per response.
    pub date_value: Option<[u8; HTTP_DATE_LEN]>,
    /// Add `Server: <name>` unless the response has one.
    pub server: Option<&'static str>,
    /// The peer understands chunked coding (HTTP/1.1); used for bodies whose
    /// length is not known up front. Without it such a body is delimited by
    /// closing the connection.
    pub chunked: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            head_request: false,
            connection: ConnectionHeader::Omit,
            date: true,
            date_value: None,
            server: None,
            chunked: true,
        }
    }
}

/// Append the decimal digits of `n`.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    if n < 10_000 {
        // Most bodies: four digits at most, written as fixed-size pieces
        // (no loop, no length-dependent copy).
        let digit = |d: u64| b'0' + (d % 10) as u8;
        match n {
            0..=9 => out.push(digit(n)),
            10..=99 => out.extend_from_slice(&[digit(n / 10), digit(n)]),
            100..=999 => out.extend_from_slice(&[digit(n / 100), digit(n / 10), digit(n)]),
            _ => out.extend_from_slice(&[digit(n / 1000), digit(n / 100), digit(n / 10), digit(n)]),
        }
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_hex(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Append `Content-Length: <n>` and the blank line that ends the head. The
/// usual lengths (under 10,000) go as one fixed-size piece.
fn push_length_end(out: &mut Vec<u8>, n: u64) {
    let digit = |d: u64| b'0' + (d % 10) as u8;
    match n {
        0..=9 => {
            let mut line = *b"Content-Length: 0\r\n\r\n";
            line[16] = digit(n);
            out.extend_from_slice(&line);
        }
        10..=99 => {
            let mut line = *b"Content-Length: 00\r\n\r\n";
            line[16..18].copy_from_slice(&[digit(n / 10), digit(n)]);
            out.extend_from_slice(&line);
        }
        100..=999 => {
            let mut line = *b"Content-Length: 000\r\n\r\n";
            line[16..19].copy_from_slice(&[digit(n / 100), digit(n / 10), digit(n)]);
            out.extend_from_slice(&line);
        }
        1000..=9999 => {
            let mut line = *b"Content-Length: 0000\r\n\r\n";
            line[16..20].copy_from_slice(&[
                digit(n / 1000),
                digit(n / 100),
                digit(n / 10),
                digit(n),
            ]);
            out.extend_from_slice(&line);
        }
        _ => {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, n);
            out.extend_from_slice(b"\r\n\r\n");
        }
    }
}

/// Room for a status line and the fields the encoder adds itself.
const HEAD_RESERVE: usize = 192;

fn is(name: &[u8], lower: &str) -> bool {
    name.len() == lower.len() && name.eq_ignore_ascii_case(lower.as_bytes())
}

/// Which of the fields the encoder manages a header list already had.
#[derive(Default)]
struct Seen {
    date: bool,
    server: bool,
}

/// Write every field except the framing ones (the encoder owns framing) and,
/// when `drop_connection`, `Connection`.
fn push_fields(out: &mut Vec<u8>, headers: &Headers, drop_connection: bool) -> Seen {
    let mut seen = Seen::default();
    for (name, value) in headers.iter_bytes() {
        match name.len() {
            14 if is(name, "content-length") => continue,
            17 if is(name, "transfer-encoding") => continue,
            10 if drop_connection && is(name, "connection") => continue,
            4 if is(name, "date") => seen.date = true,
            6 if is(name, "server") => seen.server = true,
            _ => {}
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    seen
}

/// Encode a response head: status line, the response's own fields, `Date`,
/// `Server`, `Connection`, then `Content-Length` or `Transfer-Encoding` as the
/// body requires. `body_len` is the body's length when known (`None` means it
/// will be streamed). Returns how the body must follow on the wire.
pub fn encode_response_head(
    status: HttpCode,
    headers: &Headers,
    body_len: Option<u64>,
    opts: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Framing {
    // One reservation for the usual head: the appends below then only check.
    out.reserve(HEAD_RESERVE + 64 * headers.len());
    if status == HttpCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(&status.digits());
        out.push(b' ');
        out.extend_from_slice(status.reason().unwrap_or("").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let seen = push_fields(out, headers, opts.connection != ConnectionHeader::Omit);
    if opts.date && !seen.date {
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(&opts.date_value.unwrap_or_else(http_date_now));
        out.extend_from_slice(b"\r\n");
    }
    if let (Some(server), false) = (opts.server, seen.server) {
        out.extend_from_slice(b"Server: ");
        out.extend_from_slice(server.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match opts.connection {
        ConnectionHeader::Omit => {}
        ConnectionHeader::Close => out.extend_from_slice(b"Connection: close\r\n"),
        ConnectionHeader::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
    }
    // Each arm ends the head with its blank line.
    let framing = match body_len {
        _ if status.forbids_body() => {
            out.extend_from_slice(b"\r\n");
            Framing::Empty
        }
        Some(n) => {
            push_length_end(out, n);
            Framing::Length(n)
        }
        None if opts.chunked => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            Framing::Chunked
        }
        None => {
            out.extend_from_slice(b"\r\n");
            Framing::UntilClose
        }
    };
    if opts.head_request {
        Framing::Empty
    } else {
        framing
    }
}

/// Encode a whole response whose body is in memory. Returns the framing used
/// ([`Framing::Empty`] for `HEAD`, 1xx, 204 and 304, whose bodies are never
/// sent).
///
/// ```
/// use http_codec::{encode_response, ConnectionHeader, EncodeOptions};
/// use http_types::ResponseBuilder;
/// let resp = ResponseBuilder::empty_200().body("hi").content_type("text/plain").build()?;
/// let mut out = Vec::new();
/// let opts = EncodeOptions { date: false, connection: ConnectionHeader::Close, ..Default::default() };
/// encode_response(&resp, &opts, &mut out);
/// assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_response(resp: &Response, opts: &EncodeOptions, out: &mut Vec<u8>) -> Framing {
    let bytes = resp.body().as_bytes();
    let framing = encode_response_head(
        resp.status(),
        resp.headers(),
        bytes.map(|b| b.len() as u64),
        opts,
        out,
    );
    if let (Framing::Length(_), Some(bytes)) = (framing, bytes) {
        out.extend_from_slice(bytes);
    }
    framing
}

/// Append one chunk of a chunked body. An empty `data` writes nothing, since a
/// zero-size chunk would end the body.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    push_hex(out, data.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Append the last chunk and an empty trailer section.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

/// How [`encode_request`] frames a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestFraming {
    /// `Content-Length` when there is a body, or when the method usually has
    /// one (`POST`, `PUT`, `PATCH`); nothing otherwise.
    #[default]
    Length,
    /// `Transfer-Encoding: chunked`, the body cut into chunks of at most this
    /// many bytes (HTTP/1.1 only; HTTP/1.0 falls back to `Content-Length`).
    Chunked(usize),
}

/// Encode a request (the client role): request line with the request's own
/// version numbers, its fields except the framing ones, framing, body.
pub fn encode_request(req: &Request, framing: RequestFraming, out: &mut Vec<u8>) {
    use http_types::Method;
    let protocol = req.protocol();
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.target().as_bytes());
    out.extend_from_slice(b" HTTP/");
    push_decimal(out, u64::from(protocol.major));
    out.push(b'.');
    push_decimal(out, u64::from(protocol.minor));
    out.extend_from_slice(b"\r\n");
    push_fields(out, req.headers(), false);
    let body = req.body();
    match framing {
        RequestFraming::Chunked(size) if req.version() == http_types::HttpVersion::Http11 => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in body.chunks(size.max(1)) {
                encode_chunk(chunk, out);
            }
            encode_last_chunk(out);
        }
        _ => {
            let usual = matches!(req.method(), Method::Post | Method::Put | Method::Patch);
            if !body.is_empty() || usual {
                out.extend_from_slice(b"Content-Length: ");
                push_decimal(out, body.len() as u64);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            255,
            999,
            1000,
            4096,
            9999,
            10_000,
            u64::MAX,
        ] {
            let mut d = Vec::new();
            push_decimal(&mut d, n);
            assert_eq!(d, n.to_string().into_bytes());
            let mut line = Vec::new();
            push_length_end(&mut line, n);
            assert_eq!(line, format!("Content-Length: {n}\r\n\r\n").into_bytes());
            let mut h = Vec::new();
            push_hex(&mut h, n);
            assert_eq!(h, format!("{n:x}").into_bytes());
        }
    }
}
