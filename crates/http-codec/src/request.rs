//! Request decoding: [`HeadDecoder`] for the head, [`RequestDecoder`] for whole
//! requests with their bodies.

use http_types::{Headers, HttpVersion, Method, Protocol, Request};

use crate::scan::HeadScanner;
use crate::{BodyDecoder, DecodeError, Framing, Limits};

/// What the `Expect` header asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No expectation (or an HTTP/1.0 request, where `Expect` is ignored).
    None,
    /// `100-continue`: the client waits for an interim 100 before the body.
    Continue,
    /// Anything else: a server answers 417.
    Unsupported,
}

/// A decoded request head and what it says about the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The request; its body is empty until [`RequestDecoder`] fills it.
    pub request: Request,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection may carry another request after this one
    /// (RFC 9112 section 9.3): `false` for `Connection: close` and for HTTP/1.0
    /// without `Connection: keep-alive`.
    pub keep_alive: bool,
    /// The `Expect` header.
    pub expect: Expect,
    /// A `CONNECT` request, or an `Upgrade` request (with `Connection: upgrade`).
    /// Whatever follows this message on the connection is not HTTP/1.1, so a
    /// decoder never reads it as another request.
    pub upgrade: bool,
    /// Trailer fields of a chunked body, kept apart from the header fields
    /// (RFC 9110 section 6.5.1). Filled by [`RequestDecoder`].
    pub trailers: Headers,
}

/// Decodes request heads, incrementally.
///
/// Call [`decode`](HeadDecoder::decode) with the buffer each time bytes arrive,
/// keeping the bytes of an incomplete head at its front. Bytes already examined
/// are not examined again, so a head dripped in one byte at a time costs linear
/// time. Each line is checked (tokenised with `httparse`, then against RFC 9112)
/// once its line ending has arrived, so a bad line is refused at once rather
/// than when the whole head is in. Errors are reported in line order, whatever
/// way the bytes were split.
#[derive(Debug, Clone, Default)]
pub struct HeadDecoder {
    limits: Limits,
    allow_bare_lf: bool,
    scanner: HeadScanner,
    lines: LineChecker,
}

/// The lines of the head in progress that have been checked, and what they
/// said.
#[derive(Debug, Clone, Default)]
struct LineChecker {
    request_line: Option<(Method, String, Protocol)>,
    /// Field lines before this offset have been checked.
    checked_to: usize,
    checked_lines: usize,
    summary: FieldSummary,
    headers: Headers,
}

impl LineChecker {
    /// Check the complete lines up to `complete_to` that have not been checked
    /// yet. `terminated` says the region ends with the head's empty line.
    fn check(
        &mut self,
        buf: &[u8],
        progress: &crate::scan::Progress,
        terminated: bool,
        limits: &Limits,
    ) -> Result<(), DecodeError> {
        let Some((start, end)) = progress.first_line else {
            return Ok(());
        };
        let version = match &self.request_line {
            Some((_, _, protocol)) => protocol.version(),
            None => {
                let line = parse_request_line(&buf[start..end], limits)?;
                let version = line.2.version();
                self.request_line = Some(line);
                self.checked_to = progress.fields_start;
                self.headers =
                    Headers::with_capacity(8, progress.complete_to - progress.fields_start);
                version
            }
        };
        let new_lines = progress.field_lines - self.checked_lines;
        if new_lines == 0 && !terminated {
            return Ok(());
        }
        let region = &buf[self.checked_to..progress.complete_to];
        let scratch;
        let block = if terminated {
            region
        } else {
            // httparse wants the empty line that ends a header section.
            let mut v = Vec::with_capacity(region.len() + 2);
            v.extend_from_slice(region);
            v.extend_from_slice(b"\r\n");
            scratch = v;
            &scratch
        };
        let (summary, headers) = (&mut self.summary, &mut self.headers);
        for_each_field(block, new_lines, |name, value| {
            summary.inspect(name, value)?;
            summary.check_so_far(version, limits)?;
            headers.append(name, value).map_err(|e| match e {
                http_types::HeaderError::InvalidName(_) => DecodeError::InvalidHeaderName,
                _ => DecodeError::InvalidHeaderValue,
            })
        })?;
        self.checked_to = progress.complete_to;
        self.checked_lines = progress.field_lines;
        Ok(())
    }
}

impl HeadDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> HeadDecoder {
        HeadDecoder {
            limits,
            ..HeadDecoder::default()
        }
    }

    /// Accept a bare LF as a line ending in the head (RFC 9112 section 2.2
    /// allows it). Off by default: like llhttp, the decoder then refuses a head
    /// line that does not end in CRLF with [`DecodeError::BareLf`]. Chunk lines
    /// always need CRLF.
    pub fn allow_bare_lf(mut self, allow: bool) -> HeadDecoder {
        self.allow_bare_lf = allow;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decode a head from the front of `buf`: `Ok(None)` when more bytes are
    /// needed (nothing is consumed), or the head and its length in bytes.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(Head, usize)>, DecodeError> {
        let result = self.decode_inner(buf);
        if !matches!(result, Ok(None)) {
            self.scanner.reset();
            self.lines = LineChecker::default();
        }
        result
    }

    fn decode_inner(&mut self, buf: &[u8]) -> Result<Option<(Head, usize)>, DecodeError> {
        // A request line is method, target and version: allow the target limit
        // plus room for a long method and the version before calling it 414.
        let max_line = self.limits.max_target_bytes.saturating_add(64);
        let scanned = self.scanner.scan(
            buf,
            &self.limits,
            self.allow_bare_lf,
            max_line,
            DecodeError::TargetTooLong,
        );
        let progress = self.scanner.progress();
        match scanned {
            Err(e) => {
                // A bad line before the point of the scanner's error comes first.
                self.lines.check(buf, &progress, false, &self.limits)?;
                Err(e)
            }
            Ok(None) => {
                self.lines.check(buf, &progress, false, &self.limits)?;
                Ok(None)
            }
            Ok(Some(layout)) => {
                self.lines.check(buf, &progress, true, &self.limits)?;
                let lines = std::mem::take(&mut self.lines);
                let head = finish_head(lines, &self.limits)?;
                Ok(Some((head, layout.end)))
            }
        }
    }
}

/// `HTTP/DIGIT.DIGIT`: major 1 is spoken, any other major is 505.
pub(crate) fn parse_version(v: &[u8]) -> Result<Protocol, DecodeError> {
    match *v {
        [b'H', b'T', b'T', b'P', b'/', major @ b'0'..=b'9', b'.', minor @ b'0'..=b'9'] => {
            if major != b'1' {
                return Err(DecodeError::UnsupportedVersion);
            }
            Ok(Protocol {
                major: 1,
                minor: minor - b'0',
            })
        }
        _ => Err(DecodeError::InvalidVersion),
    }
}

fn parse_request_line(
    line: &[u8],
    limits: &Limits,
) -> Result<(Method, String, Protocol), DecodeError> {
    let sp = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(DecodeError::BadRequestLine)?;
    let method = match &line[..sp] {
        // The HTTP/2 connection preface (RFC 9113 section 3.4) is never an
        // HTTP/1.1 request.
        b"PRI" => return Err(DecodeError::InvalidMethod),
        name => Method::from_bytes(name).map_err(|_| DecodeError::InvalidMethod)?,
    };
    let rest = &line[sp + 1..];
    let sp = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or(DecodeError::BadRequestLine)?;
    let target = &rest[..sp];
    if target.len() > limits.max_target_bytes {
        return Err(DecodeError::TargetTooLong);
    }
    if !http_types::is_valid_target(target) {
        return Err(DecodeError::InvalidTarget);
    }
    let protocol = parse_version(&rest[sp + 1..])?;
    // Visible ASCII, checked just above.
    let target = std::str::from_utf8(target).map_err(|_| DecodeError::InvalidTarget)?;
    Ok((method, target.to_owned(), protocol))
}

fn map_field_error(e: httparse::Error) -> DecodeError {
    match e {
        httparse::Error::HeaderValue => DecodeError::InvalidHeaderValue,
        httparse::Error::TooManyHeaders => DecodeError::TooManyHeaders,
        httparse::Error::NewLine => DecodeError::BareCr,
        _ => DecodeError::InvalidHeaderName,
    }
}

fn field_slots_parse<'b>(
    raw: &'b [u8],
    slots: &mut [httparse::Header<'b>],
    f: &mut impl FnMut(&str, &[u8]) -> Result<(), DecodeError>,
) -> Result<Result<(), DecodeError>, httparse::Error> {
    match httparse::parse_headers(raw, slots)? {
        httparse::Status::Complete((_, fields)) => {
            Ok(fields.iter().try_for_each(|h| f(h.name, h.value)))
        }
        // The scanner found the empty line, so httparse cannot want more.
        httparse::Status::Partial => Ok(Err(DecodeError::InvalidHeaderName)),
    }
}

/// Tokenise `count` field lines (ending with the empty line), calling `f` on
/// each field in order. When a line is malformed, the lines before it are
/// still passed to `f` first, so errors come out in line order.
fn for_each_field(
    raw: &[u8],
    count: usize,
    mut f: impl FnMut(&str, &[u8]) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    const ON_STACK: usize = 32;
    let mut stack = [httparse::EMPTY_HEADER; ON_STACK];
    let mut heap;
    let slots: &mut [httparse::Header<'_>] = if count <= ON_STACK {
        &mut stack[..count]
    } else {
        heap = vec![httparse::EMPTY_HEADER; count];
        &mut heap
    };
    match field_slots_parse(raw, slots, &mut f) {
        Ok(result) => result,
        Err(e) => {
            // The slow path, taken only for a malformed head: one line at a time.
            for line in raw.split_inclusive(|&b| b == b'\n') {
                if line == b"\r\n" || line == b"\n" {
                    break;
                }
                let line_buf = [line, b"\r\n"].concat();
                let mut one = [httparse::EMPTY_HEADER; 1];
                match field_slots_parse(&line_buf, &mut one, &mut f) {
                    Ok(result) => result?,
                    Err(e) => return Err(map_field_error(e)),
                }
            }
            Err(map_field_error(e))
        }
    }
}

/// Tokenise `count` field lines (ending with the empty line) into [`Headers`],
/// calling `inspect` on each field.
pub(crate) fn tokenise_fields(
    raw: &[u8],
    count: usize,
    trailer: bool,
    mut inspect: impl FnMut(&str, &[u8]) -> Result<(), DecodeError>,
) -> Result<Headers, DecodeError> {
    let mut headers = Headers::with_capacity(count, raw.len());
    let result = for_each_field(raw, count, |name, value| {
        inspect(name, value)?;
        headers.append(name, value).map_err(|e| match e {
            http_types::HeaderError::InvalidName(_) => DecodeError::InvalidHeaderName,
            _ => DecodeError::InvalidHeaderValue,
        })
    });
    match result {
        Ok(()) => Ok(headers),
        Err(DecodeError::TooManyHeaders) => Err(DecodeError::TooManyHeaders),
        Err(_) if trailer => Err(DecodeError::InvalidTrailer),
        Err(e) => Err(e),
    }
}

/// Parse a trailer section (field lines, then an empty line).
pub(crate) fn parse_trailers(raw: &[u8], count: usize) -> Result<Headers, DecodeError> {
    tokenise_fields(raw, count, true, |_, _| Ok(()))
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// The elements of a comma-separated list, trimmed, empty ones skipped.
pub(crate) fn list_elements(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// `Content-Length` = 1*DIGIT, possibly as a list of identical values
/// (RFC 9110 section 8.6).
pub(crate) fn parse_content_length(value: &[u8], seen: Option<u64>) -> Result<u64, DecodeError> {
    let mut result = seen;
    for element in value.split(|&b| b == b',') {
        let digits = trim_ows(element);
        if digits.is_empty() || digits.len() > 19 {
            return Err(DecodeError::InvalidContentLength);
        }
        let mut n: u64 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return Err(DecodeError::InvalidContentLength);
            }
            n = n * 10 + u64::from(d - b'0');
        }
        match result {
            Some(prev) if prev != n => return Err(DecodeError::ConflictingContentLength),
            _ => result = Some(n),
        }
    }
    result.ok_or(DecodeError::InvalidContentLength)
}

/// What the framing-related fields of a head said.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldSummary {
    pub content_length: Option<u64>,
    pub transfer_encoding: bool,
    pub chunked_count: u32,
    pub chunked_last: bool,
    pub other_coding: bool,
    pub close: bool,
    pub keep_alive: bool,
    pub connection_upgrade: bool,
    pub upgrade: bool,
    pub expect: Option<bool>,
}

impl FieldSummary {
    pub fn inspect(&mut self, name: &str, value: &[u8]) -> Result<(), DecodeError> {
        let name = name.as_bytes();
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                self.content_length = Some(parse_content_length(value, self.content_length)?);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                self.transfer_encoding = true;
                for coding in list_elements(value) {
                    if coding.eq_ignore_ascii_case(b"chunked") {
                        self.chunked_count += 1;
                        self.chunked_last = true;
                    } else {
                        self.other_coding = true;
                        self.chunked_last = false;
                    }
                }
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in list_elements(value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        self.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.keep_alive = true;
                    } else if token.eq_ignore_ascii_case(b"upgrade") {
                        self.connection_upgrade = true;
                    }
                }
            }
            7 if name.eq_ignore_ascii_case(b"upgrade") => self.upgrade = true,
            6 if name.eq_ignore_ascii_case(b"expect") => {
                let is_continue = trim_ows(value).eq_ignore_ascii_case(b"100-continue");
                self.expect = Some(self.expect.unwrap_or(true) && is_continue);
            }
            _ => {}
        }
        Ok(())
    }

    /// The rules that can be checked before the head is complete: they hold
    /// whatever lines follow.
    pub fn check_so_far(&self, version: HttpVersion, limits: &Limits) -> Result<(), DecodeError> {
        if self.transfer_encoding && version == HttpVersion::Http10 {
            return Err(DecodeError::TransferEncodingOnHttp10);
        }
        if self.transfer_encoding && self.content_length.is_some() {
            return Err(DecodeError::TransferEncodingWithContentLength);
        }
        if self
            .content_length
            .is_some_and(|n| n > limits.max_body_bytes)
        {
            return Err(DecodeError::BodyTooLarge);
        }
        Ok(())
    }

    /// The framing of a message with these fields, for the transfer-coding
    /// rules every message shares (RFC 9112 sections 6.1 and 6.3).
    pub fn transfer_framing(&self, version: HttpVersion) -> Result<Option<Framing>, DecodeError> {
        if !self.transfer_encoding {
            return Ok(self.content_length.map(Framing::Length));
        }
        if version == HttpVersion::Http10 {
            return Err(DecodeError::TransferEncodingOnHttp10);
        }
        if self.content_length.is_some() {
            return Err(DecodeError::TransferEncodingWithContentLength);
        }
        if !self.chunked_last || self.chunked_count != 1 {
            return Err(DecodeError::TransferEncodingNotChunked);
        }
        if self.other_coding {
            return Err(DecodeError::UnsupportedTransferCoding);
        }
        Ok(Some(Framing::Chunked))
    }
}

fn finish_head(lines: LineChecker, limits: &Limits) -> Result<Head, DecodeError> {
    let LineChecker {
        request_line,
        summary,
        headers,
        ..
    } = lines;
    // The scanner only completes a head after its first line, which the
    // checker has parsed by then.
    let (method, target, protocol) = request_line.ok_or(DecodeError::BadRequestLine)?;
    let version = protocol.version();
    summary.check_so_far(version, limits)?;
    let framing = summary.transfer_framing(version)?.unwrap_or(Framing::Empty);
    // A CONNECT request has no content (RFC 9110 section 9.3.6): whatever
    // follows its head belongs to the tunnel.
    let framing = if method == Method::Connect {
        Framing::Empty
    } else {
        framing
    };
    let keep_alive = !summary.close && (version == HttpVersion::Http11 || summary.keep_alive);
    let expect = match summary.expect {
        _ if version == HttpVersion::Http10 => Expect::None,
        None => Expect::None,
        Some(true) => Expect::Continue,
        Some(false) => Expect::Unsupported,
    };
    let upgrade = method == Method::Connect || (summary.upgrade && summary.connection_upgrade);
    let mut request = Request::new(method, target).map_err(|_| DecodeError::InvalidTarget)?;
    request.set_protocol(protocol);
    request.set_headers(headers);
    Ok(Head {
        request,
        framing,
        keep_alive,
        expect,
        upgrade,
        trailers: Headers::new(),
    })
}

/// What [`RequestDecoder::decode`] found.
// A `Head` is returned by move once per request; boxing it would cost an
// allocation per request to save a copy the optimiser usually elides.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// More bytes are needed. The first `consumed` bytes of the buffer were
    /// taken (body bytes already copied into the decoder); drop them before the
    /// next call.
    Partial {
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// A whole request, body included; drop `consumed` bytes from the front
    /// of the buffer. Bytes after it are the next request (pipelining).
    Message {
        /// The request and its connection semantics.
        head: Head,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// The last request on this connection has been decoded (it asked to close,
    /// or upgraded the connection): nothing after it is read as a request
    /// (RFC 9112 section 9.6).
    Closed,
}

#[derive(Debug, Clone)]
enum State {
    Head,
    Body {
        head: Box<Head>,
        body: BodyDecoder,
        bytes: Vec<u8>,
    },
    Closed,
    Failed(DecodeError),
}

/// Decodes whole requests, pipelined one after another, from a caller-owned
/// buffer.
///
/// ```
/// use http_codec::{Decoded, RequestDecoder};
/// let mut dec = RequestDecoder::default();
/// let mut buf = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
/// let mut paths = Vec::new();
/// while let Decoded::Message { head, consumed } = dec.decode(&buf)? {
///     paths.push((head.request.path().to_owned(), head.request.body().to_vec()));
///     buf.drain(..consumed);
/// }
/// assert_eq!(paths, [("/a".to_owned(), b"hi".to_vec()), ("/b".to_owned(), vec![])]);
/// assert!(buf.is_empty());
/// # Ok::<(), http_codec::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestDecoder {
    head: HeadDecoder,
    state: State,
}

impl Default for RequestDecoder {
    fn default() -> Self {
        RequestDecoder::new(Limits::default())
    }
}

impl RequestDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> RequestDecoder {
        RequestDecoder {
            head: HeadDecoder::new(limits),
            state: State::Head,
        }
    }

    /// See [`HeadDecoder::allow_bare_lf`].
    pub fn allow_bare_lf(mut self, allow: bool) -> RequestDecoder {
        self.head = self.head.allow_bare_lf(allow);
        self
    }

    /// The head of a request whose body is still arriving. A server checks its
    /// [`Head::expect`] to send `100 Continue` before the body.
    pub fn pending_head(&self) -> Option<&Head> {
        match &self.state {
            State::Body { head, .. } => Some(head),
            _ => None,
        }
    }

    /// Whether the decoder is between messages (no head or body partly read).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head)
    }

    /// Decode from the front of `buf`; see [`Decoded`]. After an error every
    /// later call returns the same error.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Decoded, DecodeError> {
        let result = self.decode_inner(buf);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    fn decode_inner(&mut self, buf: &[u8]) -> Result<Decoded, DecodeError> {
        let mut consumed = 0;
        loop {
            match &mut self.state {
                State::Failed(e) => return Err(*e),
                State::Closed => return Ok(Decoded::Closed),
                State::Head => {
                    let Some((head, len)) = self.head.decode(buf)? else {
                        return Ok(Decoded::Partial { consumed: 0 });
                    };
                    consumed = len;
                    let body = BodyDecoder::new(head.framing, *self.head.limits());
                    if body.is_done() {
                        return Ok(self.finish(head, consumed));
                    }
                    // Never reserve more than a modest amount up front: the
                    // declared length is the peer's word, not its bytes.
                    let reserve = match head.framing {
                        Framing::Length(n) => n.min(64 * 1024) as usize,
                        _ => 0,
                    };
                    self.state = State::Body {
                        head: Box::new(head),
                        body,
                        bytes: Vec::with_capacity(reserve),
                    };
                }
                State::Body { .. } => {
                    let State::Body {
                        mut head,
                        mut body,
                        mut bytes,
                    } = std::mem::replace(&mut self.state, State::Head)
                    else {
                        continue;
                    };
                    let progress = body.decode(&buf[consumed..], &mut bytes)?;
                    consumed += progress.consumed;
                    if !progress.done {
                        self.state = State::Body { head, body, bytes };
                        return Ok(Decoded::Partial { consumed });
                    }
                    head.request.set_body(bytes);
                    head.trailers = body.take_trailers();
                    return Ok(self.finish(*head, consumed));
                }
            }
        }
    }

    fn finish(&mut self, head: Head, consumed: usize) -> Decoded {
        self.state = if head.keep_alive && !head.upgrade {
            State::Head
        } else {
            State::Closed
        };
        Decoded::Message { head, consumed }
    }
}
