//! [`ResponseDecoder`]: the client role, on the same machinery as requests.

use http_types::{Body, HttpCode, HttpVersion, Response};

use crate::fields::FieldSummary;
use crate::request::parse_version;
use crate::scan::HeadScanner;
use crate::{BodyDecoder, DecodeError, Framing, Limits};

/// What [`ResponseDecoder::decode`] found.
#[derive(Debug, PartialEq)]
pub enum ResponseDecoded {
    /// More bytes are needed; drop `consumed` bytes from the front of the buffer.
    Partial {
        /// Bytes to drop.
        consumed: usize,
    },
    /// A whole response; drop `consumed` bytes from the front of the buffer.
    Message {
        /// The response, body included.
        response: Response,
        /// Whether the connection may carry another exchange.
        keep_alive: bool,
        /// Bytes to drop.
        consumed: usize,
    },
}

// One per connection, and `Body` is the state it spends its time in: boxing
// it would cost an allocation per response to save a few bytes per decoder.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum State {
    Head,
    Body {
        response: Box<Response>,
        keep_alive: bool,
        body: BodyDecoder,
        bytes: Vec<u8>,
    },
    Failed(DecodeError),
}

/// Decodes responses (the client role), with the same strictness and limits
/// as requests. The caller says whether the request was `HEAD`, since that
/// decides whether a body follows (RFC 9112 section 6.3).
///
/// ```
/// use http_codec::{ResponseDecoded, ResponseDecoder};
/// let mut dec = ResponseDecoder::default();
/// let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello";
/// match dec.decode(wire, false)? {
///     ResponseDecoded::Message { response, consumed, .. } => {
///         assert_eq!(response.status().as_u16(), 200);
///         assert_eq!(response.body().as_bytes(), Some(&b"Hello"[..]));
///         assert_eq!(consumed, wire.len());
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), http_codec::DecodeError>(())
/// ```
#[derive(Debug)]
pub struct ResponseDecoder {
    limits: Limits,
    scanner: HeadScanner,
    state: State,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        ResponseDecoder::new(Limits::default())
    }
}

fn parse_status_line(line: &[u8]) -> Result<(HttpVersion, HttpCode), DecodeError> {
    let bad = DecodeError::BadStatusLine;
    let (version, rest) = line.split_at_checked(8).ok_or(bad)?;
    let version = parse_version(version)?.version();
    let [b' ', d1, d2, d3, rest @ ..] = rest else {
        return Err(bad);
    };
    if ![d1, d2, d3].iter().all(|d| d.is_ascii_digit()) {
        return Err(bad);
    }
    let code = u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0');
    let status = HttpCode::from_u16(code).map_err(|_| bad)?;
    // The reason phrase is optional, but the space before it is not.
    match rest {
        [] => {}
        [b' ', reason @ ..] => {
            if !reason.iter().all(|&b| b == b'\t' || b >= 0x20 && b != 0x7f) {
                return Err(bad);
            }
        }
        _ => return Err(bad),
    }
    Ok((version, status))
}

impl ResponseDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> ResponseDecoder {
        ResponseDecoder {
            limits,
            scanner: HeadScanner::default(),
            state: State::Head,
        }
    }

    /// Decode from the front of `buf`. `head_request` says whether the request
    /// this answers was `HEAD`. After an error every later call returns it.
    pub fn decode(
        &mut self,
        buf: &[u8],
        head_request: bool,
    ) -> Result<ResponseDecoded, DecodeError> {
        let result = self.decode_inner(buf, head_request);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    /// The connection closed. Returns the response whose body was delimited by
    /// the close, if one was being read; an error if the stream ended inside a
    /// message; `None` if it ended between messages.
    pub fn finish(&mut self) -> Result<Option<Response>, DecodeError> {
        match std::mem::replace(&mut self.state, State::Head) {
            State::Head => Ok(None),
            State::Failed(e) => Err(e),
            State::Body {
                mut response,
                mut body,
                bytes,
                ..
            } => {
                body.finish()?;
                response.set_body(Body::Bytes(bytes));
                Ok(Some(*response))
            }
        }
    }

    fn decode_inner(
        &mut self,
        buf: &[u8],
        head_request: bool,
    ) -> Result<ResponseDecoded, DecodeError> {
        let mut consumed = 0;
        loop {
            match std::mem::replace(&mut self.state, State::Head) {
                State::Failed(e) => return Err(e),
                State::Head => {
                    let layout = self.scanner.scan(
                        buf,
                        &self.limits,
                        false,
                        self.limits.max_head_bytes,
                        DecodeError::HeadTooLarge,
                    )?;
                    let Some(layout) = layout else {
                        return Ok(ResponseDecoded::Partial { consumed: 0 });
                    };
                    self.scanner.reset();
                    consumed = layout.end;
                    let line = &buf[layout.first_line_start..layout.first_line_end];
                    let (version, status) = parse_status_line(line)?;
                    let mut summary = FieldSummary::default();
                    let headers = crate::fields::tokenise_fields(
                        &buf[layout.fields_start..layout.end],
                        layout.field_lines,
                        false,
                        |name, value| summary.inspect(name, value).map(|_| ()),
                    )?;
                    let framing = if head_request || status.forbids_body() {
                        Framing::Empty
                    } else {
                        match summary.transfer_framing(version) {
                            Ok(Some(framing)) => framing,
                            Ok(None) => Framing::UntilClose,
                            // RFC 9112 section 6.3, rule 4.
                            Err(DecodeError::TransferEncodingNotChunked) => Framing::UntilClose,
                            Err(e) => return Err(e),
                        }
                    };
                    if let Framing::Length(n) = framing {
                        if n > self.limits.max_body_bytes {
                            return Err(DecodeError::BodyTooLarge);
                        }
                    }
                    let keep_alive = framing != Framing::UntilClose
                        && !summary.close
                        && (version == HttpVersion::Http11 || summary.keep_alive);
                    let response = Response::from_parts(status, version, headers, Body::Empty);
                    let body = BodyDecoder::new(framing, self.limits);
                    if body.is_done() {
                        return Ok(ResponseDecoded::Message {
                            response,
                            keep_alive,
                            consumed,
                        });
                    }
                    self.state = State::Body {
                        response: Box::new(response),
                        keep_alive,
                        body,
                        bytes: Vec::new(),
                    };
                }
                State::Body {
                    mut response,
                    keep_alive,
                    mut body,
                    mut bytes,
                } => {
                    let progress = body.decode(&buf[consumed..], &mut bytes)?;
                    consumed += progress.consumed;
                    if !progress.done {
                        self.state = State::Body {
                            response,
                            keep_alive,
                            body,
                            bytes,
                        };
                        return Ok(ResponseDecoded::Partial { consumed });
                    }
                    response.set_body(Body::Bytes(bytes));
                    return Ok(ResponseDecoded::Message {
                        response: *response,
                        keep_alive,
                        consumed,
                    });
                }
            }
        }
    }
}
