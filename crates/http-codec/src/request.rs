//! Request decoding: [`HeadDecoder`] for the head, [`RequestDecoder`] for whole
//! requests with their bodies.

use http_types::{Headers, HttpVersion, Method, Protocol, Request};

use crate::fields::{for_each_field, header_error, FieldSummary};
use crate::scan::{HeadScanner, Progress};
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

/// The `Host` header fields of a request (RFC 9112 section 3.2: an HTTP/1.1
/// request must carry exactly one, valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostField {
    /// None.
    Missing,
    /// Exactly one, a valid `uri-host [":" port]` (possibly empty).
    Valid,
    /// Exactly one, holding bytes no host may hold.
    Invalid,
    /// More than one.
    Repeated,
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
    /// The `Host` fields.
    pub host: HostField,
    /// Trailer fields of a chunked body, kept apart from the header fields
    /// (RFC 9110 section 6.5.1). Filled by [`RequestDecoder`]; `None` when the
    /// message carried none, as almost all do (a box keeps the head small to
    /// move).
    pub trailers: Option<Box<Headers>>,
}

/// Decodes request heads, incrementally, without allocating.
///
/// Call [`decode`](HeadDecoder::decode) with the buffer each time bytes arrive,
/// keeping the bytes of an incomplete head at its front. Bytes already examined
/// are not examined again, so a head dripped in one byte at a time costs linear
/// time. Each line is checked (tokenised with `httparse`, then against RFC 9112)
/// once its line ending has arrived, so a bad line is refused at once rather
/// than when the whole head is in. Errors are reported in line order, whatever
/// way the bytes were split.
///
/// A complete head is returned as a [`RawHead`] that borrows the buffer: no
/// allocation happens here (the field positions live in a list the decoder
/// reuses). [`RawHead::to_request`] builds an owned [`Request`] when one is
/// wanted, e.g. on another thread.
///
/// ```
/// use http_codec::{Framing, HeadDecoder, Limits};
/// let mut dec = HeadDecoder::new(Limits::default());
/// let buf = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
/// let head = dec.decode(buf)?.expect("a complete head");
/// assert_eq!(head.target(), "/upload");
/// assert_eq!(head.framing, Framing::Length(5));
/// assert_eq!(&buf[head.len()..], b"hello");
/// # Ok::<(), http_codec::DecodeError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct HeadDecoder {
    limits: Limits,
    allow_bare_lf: bool,
    scanner: HeadScanner,
    lines: LineChecker,
    /// The last call returned a head or an error: start afresh next time.
    finished: bool,
}

/// Where a field's name and value lie in the buffer.
#[derive(Debug, Clone, Copy)]
struct FieldSpan {
    name_at: u32,
    name_len: u32,
    value_at: u32,
    value_len: u32,
}

/// The lines of the head in progress that have been checked, and what they
/// said.
#[derive(Debug, Clone, Default)]
struct LineChecker {
    /// Method, target position and version, once the request line is checked.
    request_line: Option<(Method, (usize, usize), Protocol)>,
    /// Field lines before this offset have been checked.
    checked_to: usize,
    checked_lines: usize,
    summary: FieldSummary,
    /// Kept between heads so that its allocation is reused.
    fields: Vec<FieldSpan>,
    /// Fields checked since the decoder was made (to test that no line is
    /// checked twice).
    #[cfg(test)]
    checks: usize,
}

impl LineChecker {
    fn reset(&mut self) {
        self.request_line = None;
        self.checked_to = 0;
        self.checked_lines = 0;
        self.summary = FieldSummary::default();
        self.fields.clear();
    }

    fn version(&self) -> HttpVersion {
        self.request_line
            .as_ref()
            .map_or(HttpVersion::Http11, |(_, _, p)| p.version())
    }

    #[inline]
    fn field(
        &mut self,
        field: crate::fields::Field<'_>,
        base: usize,
        limits: &Limits,
    ) -> Result<(), DecodeError> {
        let version = self.version();
        self.take_field(field, base, version, limits)
    }

    /// Note a field line's framing meaning and keep where it lies; `base`
    /// is the offset of the bytes its positions count from.
    #[inline(always)]
    fn take_field(
        &mut self,
        field: crate::fields::Field<'_>,
        base: usize,
        version: HttpVersion,
        limits: &Limits,
    ) -> Result<(), DecodeError> {
        #[cfg(test)]
        {
            self.checks += 1;
        }
        if self.summary.inspect(field.name, field.value)? {
            self.summary.check_so_far(version, limits)?;
        }
        // Offsets lie within the head, which `HeadDecoder` keeps under 4 GiB.
        self.fields.push(FieldSpan {
            name_at: (base + field.name_at) as u32,
            name_len: field.name.len() as u32,
            value_at: (base + field.value_at) as u32,
            value_len: field.value.len() as u32,
        });
        Ok(())
    }

    /// Check the complete lines that have not been checked yet.
    /// `terminated` says they end with the head's empty line.
    fn check(
        &mut self,
        buf: &[u8],
        progress: &Progress,
        terminated: bool,
        limits: &Limits,
    ) -> Result<(), DecodeError> {
        let Some((start, end)) = progress.first_line else {
            return Ok(());
        };
        if self.request_line.is_none() {
            let (method, (t0, t1), protocol) = parse_request_line(&buf[start..end], limits)?;
            self.request_line = Some((method, (start + t0, start + t1), protocol));
            self.checked_to = progress.fields_start;
        }
        let new_lines = progress.field_lines - self.checked_lines;
        if new_lines == 0 && !terminated {
            return Ok(());
        }
        let base = self.checked_to;
        let region = &buf[base..progress.complete_to];
        let scratch;
        let block = if terminated {
            region
        } else {
            // httparse wants the empty line that ends a header section.
            scratch = [region, b"\r\n"].concat();
            &scratch
        };
        for_each_field(block, new_lines, |field| self.field(field, base, limits))?;
        self.checked_to = progress.complete_to;
        self.checked_lines = progress.field_lines;
        Ok(())
    }
}

/// A complete request head, borrowed from the buffer it was decoded from.
#[derive(Debug)]
pub struct RawHead<'a> {
    buf: &'a [u8],
    len: usize,
    fields: &'a [FieldSpan],
    method: Method,
    target: (usize, usize),
    protocol: Protocol,
    /// How the body is delimited.
    pub framing: Framing,
    /// See [`Head::keep_alive`].
    pub keep_alive: bool,
    /// See [`Head::expect`].
    pub expect: Expect,
    /// See [`Head::upgrade`].
    pub upgrade: bool,
    /// See [`Head::host`].
    pub host: HostField,
}

impl<'a> RawHead<'a> {
    /// Length of the head in bytes: the body, if any, starts here.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as sent.
    pub fn target(&self) -> &'a str {
        // Checked to be visible ASCII.
        std::str::from_utf8(&self.buf[self.target.0..self.target.1]).unwrap_or_default()
    }

    /// The version numbers as sent.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Number of header fields.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The header fields in order, names as sent, values trimmed of
    /// surrounding whitespace.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        let buf = self.buf;
        self.fields.iter().map(move |f| {
            let (n, v) = (f.name_at as usize, f.value_at as usize);
            let name = &buf[n..n + f.name_len as usize];
            let value = &buf[v..v + f.value_len as usize];
            // Names are checked tokens, so ASCII.
            (std::str::from_utf8(name).unwrap_or_default(), value)
        })
    }

    /// An owned [`Request`] (no body) with these fields.
    #[inline]
    pub fn to_request(&self) -> Result<Request, DecodeError> {
        let bytes: usize = self
            .fields
            .iter()
            .map(|f| (f.name_len + f.value_len) as usize)
            .sum();
        let mut headers = Headers::with_capacity(self.fields.len(), bytes);
        for f in self.fields {
            let (n, v) = (f.name_at as usize, f.value_at as usize);
            let name = &self.buf[n..n + f.name_len as usize];
            let value = &self.buf[v..v + f.value_len as usize];
            // Checked as the head was parsed.
            headers.append_decoded(name, value).map_err(header_error)?;
        }
        let target = &self.buf[self.target.0..self.target.1];
        let mut request = Request::from_target_bytes(self.method.clone(), target)
            .map_err(|_| DecodeError::InvalidTarget)?;
        request.set_protocol(self.protocol);
        request.set_headers(headers);
        Ok(request)
    }

    /// An owned [`Head`].
    #[inline]
    pub fn to_head(&self) -> Result<Head, DecodeError> {
        Ok(Head {
            request: self.to_request()?,
            framing: self.framing,
            keep_alive: self.keep_alive,
            expect: self.expect,
            upgrade: self.upgrade,
            host: self.host,
            trailers: None,
        })
    }
}

impl HeadDecoder {
    /// A decoder enforcing `limits` (a head limit above 4 GiB counts as 4 GiB).
    pub fn new(mut limits: Limits) -> HeadDecoder {
        limits.max_head_bytes = limits.max_head_bytes.min(u32::MAX as usize);
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

    fn reset(&mut self) {
        self.scanner.reset();
        self.lines.reset();
        self.finished = false;
    }

    /// Decode a head from the front of `buf`: `Ok(None)` when more bytes are
    /// needed (nothing is consumed), or the head, whose [`RawHead::len`] bytes
    /// the caller consumes.
    pub fn decode<'a>(&'a mut self, buf: &'a [u8]) -> Result<Option<RawHead<'a>>, DecodeError> {
        if buf.is_empty() && (self.finished || self.scanner.is_fresh()) {
            // Between heads with nothing new: a server asks this after every
            // request, so answer without touching any state.
            return Ok(None);
        }
        if self.finished {
            self.reset();
        }
        // The whole head is usually there at the first look: try the fast path,
        // which tokenises it in one httparse pass and gives up (to the careful
        // path below) on anything unusual, so both agree on every input.
        let fresh = self.scanner.is_fresh();
        let fast = if fresh { self.fast(buf) } else { None };
        let end = match fast {
            Some(end) => Some(end),
            None => {
                if fresh {
                    // Whatever the fast path recorded is redone below.
                    self.lines.reset();
                }
                self.slow(buf).inspect_err(|_| self.finished = true)?
            }
        };
        let Some(end) = end else {
            return Ok(None);
        };
        self.finished = true;
        self.finish(buf, end).map(Some)
    }

    /// The careful path: scan, then check the lines completed so far.
    fn slow(&mut self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        let max_line = max_request_line(&self.limits);
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
                Ok(Some(layout.end))
            }
        }
    }

    /// The whole head in one pass, when it is all there and plain: a
    /// token method, a visible-ASCII target, `HTTP/1.1` or `HTTP/1.0`, and
    /// field lines of a token name, a colon and a value of visible ASCII,
    /// spaces and tabs, every line ending in CRLF, within the limits.
    /// Anything else (`None`) goes to the careful path, which finds the same
    /// head or the first error in line order, so the two agree on every
    /// input: what this accepts is a subset of what that accepts, read the
    /// same way.
    fn fast(&mut self, buf: &[u8]) -> Option<usize> {
        let limits = &self.limits;
        let method_len = buf.iter().position(|&b| !http_types::is_token_byte(b))?;
        if method_len == 0 || buf[method_len] != b' ' {
            return None;
        }
        let method = match &buf[..method_len] {
            b"GET" => Method::Get,
            b"PRI" => return None,
            name => Method::from_bytes(name).ok()?,
        };
        let t0 = method_len + 1;
        let t1 = t0 + http_types::visible_prefix(&buf[t0..], false);
        if t1 == t0 || t1 - t0 > limits.max_target_bytes {
            return None;
        }
        let minor = match *buf.get(t1..t1 + 11)? {
            [b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', m @ (b'0' | b'1'), b'\r', b'\n'] => {
                m - b'0'
            }
            _ => return None,
        };
        if t1 + 9 > max_request_line(limits) {
            return None;
        }
        let protocol = Protocol { major: 1, minor };
        let version = protocol.version();
        self.lines.request_line = Some((method, (t0, t1), protocol));
        let mut at = t1 + 11;
        let mut count = 0;
        loop {
            if at > limits.max_head_bytes {
                return None;
            }
            if buf.get(at..at + 2)? == b"\r\n" {
                at += 2;
                break;
            }
            count += 1;
            if count > limits.max_headers {
                return None;
            }
            let name_len = buf[at..]
                .iter()
                .position(|&b| !http_types::is_token_byte(b))?;
            if name_len == 0 || buf[at + name_len] != b':' {
                return None;
            }
            let mut v0 = at + name_len + 1;
            while matches!(buf.get(v0), Some(b' ' | b'\t')) {
                v0 += 1;
            }
            // The value: visible ASCII, spaces and tabs, up to CRLF.
            let mut eol = v0;
            loop {
                eol += http_types::visible_prefix(&buf[eol..], true);
                match buf.get(eol)? {
                    b'\t' => eol += 1,
                    b'\r' => break,
                    _ => return None,
                }
            }
            if *buf.get(eol + 1)? != b'\n' {
                return None;
            }
            let mut v1 = eol;
            while v1 > v0 && matches!(buf[v1 - 1], b' ' | b'\t') {
                v1 -= 1;
            }
            let value = &buf[v0..v1];
            let field = crate::fields::Field {
                name: &buf[at..at + name_len],
                value,
                name_at: at,
                value_at: v0,
            };
            self.lines.take_field(field, 0, version, limits).ok()?;
            at = eol + 2;
        }
        (at <= limits.max_head_bytes).then_some(at)
    }

    fn finish<'a>(&'a self, buf: &'a [u8], end: usize) -> Result<RawHead<'a>, DecodeError> {
        let lines = &self.lines;
        // The scanner only completes a head after its first line, which the
        // checker has parsed by then.
        let (method, target, protocol) = lines
            .request_line
            .clone()
            .ok_or(DecodeError::BadRequestLine)?;
        let summary = &lines.summary;
        let version = protocol.version();
        summary.check_so_far(version, &self.limits)?;
        let framing = summary.transfer_framing(version)?.unwrap_or(Framing::Empty);
        // A CONNECT request has no content (RFC 9110 section 9.3.6): whatever
        // follows its head belongs to the tunnel.
        let connect = method == Method::Connect;
        let framing = if connect { Framing::Empty } else { framing };
        let keep_alive = !summary.close && (version == HttpVersion::Http11 || summary.keep_alive);
        let expect = match summary.expect {
            _ if version == HttpVersion::Http10 => Expect::None,
            None => Expect::None,
            Some(true) => Expect::Continue,
            Some(false) => Expect::Unsupported,
        };
        let upgrade = connect || (summary.upgrade && summary.connection_upgrade);
        let host = match (summary.hosts, summary.host_valid) {
            (0, _) => HostField::Missing,
            (1, true) => HostField::Valid,
            (1, false) => HostField::Invalid,
            _ => HostField::Repeated,
        };
        Ok(RawHead {
            buf,
            len: end,
            fields: &lines.fields,
            method,
            target,
            protocol,
            framing,
            keep_alive,
            expect,
            upgrade,
            host,
        })
    }
}

/// How long a request line may grow before it is refused with 414: the target
/// limit plus room for a long method and the version.
fn max_request_line(limits: &Limits) -> usize {
    limits.max_target_bytes.saturating_add(64)
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

/// Method, target position within `line`, version.
fn parse_request_line(
    line: &[u8],
    limits: &Limits,
) -> Result<(Method, (usize, usize), Protocol), DecodeError> {
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
    let start = sp + 1;
    let len = line[start..]
        .iter()
        .position(|&b| b == b' ')
        .ok_or(DecodeError::BadRequestLine)?;
    let target = &line[start..start + len];
    if target.len() > limits.max_target_bytes {
        return Err(DecodeError::TargetTooLong);
    }
    if !http_types::is_valid_target(target) {
        return Err(DecodeError::InvalidTarget);
    }
    let protocol = parse_version(&line[start + len + 1..])?;
    Ok((method, (start, start + len), protocol))
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
    /// Boxed: a connection between requests (most of them) stays small.
    Body(Box<BodyState>),
    Closed,
    Failed(DecodeError),
}

#[derive(Debug, Clone)]
struct BodyState {
    head: Head,
    body: BodyDecoder,
    bytes: Vec<u8>,
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
            State::Body(b) => Some(&b.head),
            _ => None,
        }
    }

    /// The body being read: its payload bytes so far, and the bytes its
    /// buffer has room for (what it costs in memory now). `(0, 0)` when no
    /// body is being read.
    pub fn body_buffered(&self) -> (usize, usize) {
        match &self.state {
            State::Body(b) => (b.bytes.len(), b.bytes.capacity()),
            _ => (0, 0),
        }
    }

    /// Give the body being read room for `total` payload bytes in all, so
    /// that it does not grow again before it holds that many. The room is
    /// made exactly, not rounded up the way a growing vector doubles: a
    /// server that accounts for the memory of bodies it buffers makes the
    /// room it has accounted for. Does nothing when no body is being read or
    /// it already has the room.
    pub fn reserve_body(&mut self, total: usize) {
        if let State::Body(b) = &mut self.state {
            let additional = total.saturating_sub(b.bytes.len());
            b.bytes.reserve_exact(additional);
        }
    }

    /// Whether the decoder is between messages (no head or body partly read).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head)
    }

    /// Forget the message in progress, and any error or close: the decoder
    /// is as new, for another connection's first request. It keeps its
    /// limits and the room it has grown for field positions, so a server
    /// can reuse one decoder across connections without allocating.
    pub fn reset(&mut self) {
        self.head.reset();
        self.state = State::Head;
    }

    /// Decode from the front of `buf`; see [`Decoded`]. After an error every
    /// later call returns the same error.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Decoded, DecodeError> {
        // Errors are recorded where they arise rather than on the way out, so
        // a decoded message is not copied once more to be inspected.
        let mut consumed = 0;
        loop {
            match &mut self.state {
                State::Failed(e) => return Err(*e),
                State::Closed => return Ok(Decoded::Closed),
                State::Head => {
                    let raw = match self.head.decode(buf) {
                        Ok(Some(raw)) => raw,
                        Ok(None) => return Ok(Decoded::Partial { consumed: 0 }),
                        Err(e) => return Err(self.fail(e)),
                    };
                    consumed = raw.len();
                    let head = match raw.to_head() {
                        Ok(head) => head,
                        Err(e) => return Err(self.fail(e)),
                    };
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
                    self.state = State::Body(Box::new(BodyState {
                        head,
                        body,
                        bytes: Vec::with_capacity(reserve),
                    }));
                }
                State::Body(b) => {
                    let progress = match b.body.decode(&buf[consumed..], &mut b.bytes) {
                        Ok(progress) => progress,
                        Err(e) => return Err(self.fail(e)),
                    };
                    consumed += progress.consumed;
                    if !progress.done {
                        return Ok(Decoded::Partial { consumed });
                    }
                    let State::Body(b) = std::mem::replace(&mut self.state, State::Head) else {
                        continue;
                    };
                    let BodyState {
                        mut head,
                        mut body,
                        bytes,
                    } = *b;
                    head.request.set_body(bytes);
                    let trailers = body.take_trailers();
                    if !trailers.is_empty() {
                        head.trailers = Some(Box::new(trailers));
                    }
                    return Ok(self.finish(head, consumed));
                }
            }
        }
    }

    /// Record `e`, which every later call returns.
    #[cold]
    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.state = State::Failed(e);
        e
    }

    #[inline]
    fn finish(&mut self, head: Head, consumed: usize) -> Decoded {
        self.state = if head.keep_alive && !head.upgrade {
            State::Head
        } else {
            State::Closed
        };
        Decoded::Message { head, consumed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reports_its_memory_and_takes_exact_room() {
        let mut dec = RequestDecoder::default();
        assert_eq!(dec.body_buffered(), (0, 0));
        dec.reserve_body(1000);
        assert_eq!(dec.body_buffered(), (0, 0), "no body, no room");
        let head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\nabc";
        assert!(matches!(dec.decode(head), Ok(Decoded::Partial { .. })));
        let (len, room) = dec.body_buffered();
        assert_eq!(len, 3);
        // The declared length is not trusted up front.
        assert_eq!(room, 64 * 1024);
        dec.reserve_body(300_000);
        assert_eq!(dec.body_buffered(), (3, 300_000));
        dec.reserve_body(10);
        assert_eq!(dec.body_buffered(), (3, 300_000), "never shrinks");
        let rest = vec![b'x'; 300_000 - 3];
        let Ok(Decoded::Message { head, .. }) = dec.decode(&rest) else {
            panic!("the body is whole");
        };
        assert_eq!(head.request.body().len(), 300_000);
        assert_eq!(dec.body_buffered(), (0, 0));
    }

    #[test]
    fn trailers_come_boxed_and_only_when_sent() {
        let mut dec = RequestDecoder::default();
        let input = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
            3\r\nabc\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\n\
            POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
            POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na\
            GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut at = 0;
        let mut got = Vec::new();
        while at < input.len() {
            let Ok(Decoded::Message { head, consumed }) = dec.decode(&input[at..]) else {
                panic!("four whole requests");
            };
            at += consumed;
            got.push(head.trailers);
        }
        let fields: Vec<(String, String)> = got[0]
            .as_deref()
            .expect("trailers were sent")
            .iter()
            .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        assert_eq!(
            fields,
            [
                ("Expires".into(), "never".into()),
                ("X-T".into(), "1".into())
            ]
        );
        assert!(got[1..].iter().all(Option::is_none), "{got:?}");
    }

    #[test]
    fn a_dripped_head_checks_each_line_once() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..50 {
            head.extend_from_slice(format!("X-{i}: value {i}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let mut dec = HeadDecoder::new(Limits::default());
        for end in 1..head.len() {
            assert!(matches!(dec.decode(&head[..end]), Ok(None)), "{end}");
        }
        let raw = dec.decode(&head).expect("valid").expect("complete");
        assert_eq!(raw.field_count(), 50);
        assert_eq!(dec.lines.checks, 50);
        // Whole, it takes the fast path: each field once more, no rescans.
        let mut dec = HeadDecoder::new(Limits::default());
        assert!(dec.decode(&head).expect("valid").is_some());
        assert_eq!(dec.lines.checks, 50);
    }

    #[test]
    fn an_empty_buffer_between_heads_needs_more_and_changes_nothing() {
        let head = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut dec = HeadDecoder::new(Limits::default());
        assert!(matches!(dec.decode(b""), Ok(None)));
        assert_eq!(
            dec.decode(head).expect("valid").expect("complete").target(),
            "/a"
        );
        assert!(matches!(dec.decode(b""), Ok(None)));
        assert!(matches!(dec.decode(b""), Ok(None)));
        let raw = dec.decode(b"GET /b HTTP/1.1\r\nHost: y\r\n\r\n");
        assert_eq!(raw.expect("valid").expect("complete").target(), "/b");
        // A head in progress still needs its bytes: it is not forgotten.
        let mut dec = HeadDecoder::new(Limits::default());
        assert!(matches!(dec.decode(b"GET /c HTTP/1.1\r\n"), Ok(None)));
        let raw = dec.decode(b"GET /c HTTP/1.1\r\nHost: z\r\n\r\n");
        assert_eq!(raw.expect("valid").expect("complete").field_count(), 1);
        assert_eq!(dec.lines.checks, 1);
    }

    #[test]
    fn the_host_fields_are_told_apart() {
        let cases: [(&[u8], HostField); 7] = [
            (b"", HostField::Missing),
            (b"Host: example.com:8080\r\n", HostField::Valid),
            (b"hOST: [::1]\r\n", HostField::Valid),
            (b"Host:\r\n", HostField::Valid),
            (b"Host: a b\r\n", HostField::Invalid),
            (b"Host: a/b\r\n", HostField::Invalid),
            (b"Host: a\r\nX: y\r\nhost: a\r\n", HostField::Repeated),
        ];
        for (fields, want) in cases {
            let head = [b"GET / HTTP/1.1\r\n", fields, b"\r\n"].concat();
            let mut dec = HeadDecoder::new(Limits::default());
            let raw = dec.decode(&head).expect("valid").expect("complete");
            assert_eq!(raw.host, want, "{}", String::from_utf8_lossy(fields));
            assert_eq!(raw.to_head().expect("owned").host, want);
        }
    }

    /// What a decode said, owned, for comparing two decoders.
    fn outcome(dec: &mut HeadDecoder, buf: &[u8]) -> Result<Option<String>, DecodeError> {
        Ok(dec.decode(buf)?.map(|raw| {
            let fields: Vec<_> = raw.fields().collect();
            format!(
                "{} {} {:?} {:?} {:?} {} {:?} {} {:?} {}",
                raw.method().as_str(),
                raw.target(),
                raw.protocol(),
                fields,
                raw.framing,
                raw.keep_alive,
                raw.expect,
                raw.upgrade,
                raw.host,
                raw.len()
            )
        }))
    }

    /// The same bytes whole (the one-pass path) and after a first look at
    /// one byte (the careful path only) decode the same way.
    fn agree(buf: &[u8], limits: Limits) {
        let whole = outcome(&mut HeadDecoder::new(limits), buf);
        let mut dec = HeadDecoder::new(limits);
        let careful = match dec.decode(&buf[..1.min(buf.len())]) {
            Ok(None) => outcome(&mut dec, buf),
            other => other.map(|h| h.map(|_| String::from("complete at one byte"))),
        };
        assert_eq!(whole, careful, "{:?}", String::from_utf8_lossy(buf));
    }

    #[test]
    fn the_one_pass_path_agrees_with_the_careful_path() {
        let seeds: &[&[u8]] = &[
            b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
            b"POST /a?b=c HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc",
            b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            b"GET / HTTP/1.1\r\nX-Empty:\r\nX-Tabs:\t a \t b\t \r\nUpgrade: ws\r\nConnection: upgrade\r\n\r\n",
            b"M-SEARCH * HTTP/1.1\r\nA:b\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            // At the tight limits below: a 12-byte target, 77 bytes of head.
            b"GET /abcdefghijk HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-Fill: 0123456789abcdef\r\n\r\n",
        ];
        let tight = Limits {
            max_headers: 3,
            max_target_bytes: 12,
            max_head_bytes: 77,
            ..Limits::default()
        };
        // Bytes that sit on the edges of what the one-pass path takes.
        let edits = b" \t\r\n:\x00\x7f\x80\xff/Hh1.0-aA";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for seed in seeds {
            agree(seed, Limits::default());
            agree(seed, tight);
            for _ in 0..3000 {
                let mut buf = seed.to_vec();
                for _ in 0..1 + next(3) {
                    let at = next(buf.len());
                    match next(3) {
                        0 => buf[at] = edits[next(edits.len())],
                        1 => buf.insert(at, edits[next(edits.len())]),
                        _ => {
                            buf.remove(at);
                        }
                    }
                }
                agree(&buf, Limits::default());
                agree(&buf, tight);
            }
        }
    }
}
