//! Body framing: [`Framing`] says how a body is delimited, [`BodyDecoder`]
//! takes it off the wire.

use http_types::Headers;

use crate::{DecodeError, Limits};

/// How the body of a message is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the connection closes (responses only).
    UntilClose,
}

/// How far a call to [`BodyDecoder::decode`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyProgress {
    /// Bytes taken from the front of the input; the caller drops them.
    pub consumed: usize,
    /// Whether the body (and any trailers) is complete.
    pub done: bool,
}

/// Takes a body off the wire, appending the payload to a caller's buffer.
///
/// Chunked bodies are checked strictly: the size is 1 to 16 hex digits, chunk
/// extensions follow RFC 9112 section 7.1.1 and are bounded, every line ends in
/// CRLF (a bare CR or bare LF is an error), data is followed by CRLF, trailers
/// are parsed as header fields and bounded. The payload total is checked against
/// [`Limits::max_body_bytes`] as each chunk size arrives, before its data is read.
///
/// ```
/// use http_codec::{BodyDecoder, Framing, Limits};
/// let mut dec = BodyDecoder::new(Framing::Chunked, Limits::default());
/// let mut body = Vec::new();
/// let wire = b"5;name=val\r\nhello\r\n0\r\nExpires: never\r\n\r\nNEXT";
/// let p = dec.decode(wire, &mut body)?;
/// assert!(p.done);
/// assert_eq!(&wire[p.consumed..], b"NEXT");
/// assert_eq!(body, b"hello");
/// assert_eq!(dec.trailers().get("expires").unwrap(), "never");
/// # Ok::<(), http_codec::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    limits: Limits,
    /// Payload bytes so far.
    total: u64,
    /// Chunk extension bytes so far.
    ext_bytes: usize,
    /// Raw trailer section, without its final empty line.
    trailer_raw: Vec<u8>,
    trailer_lines: usize,
    trailers: Headers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length { remaining: u64 },
    UntilClose,
    ChunkSize { value: u64, digits: u8 },
    ChunkExt { ext: Ext, value: u64 },
    ChunkSizeLf { value: u64 },
    ChunkData { remaining: u64 },
    ChunkDataCr,
    ChunkDataLf,
    TrailerLineStart,
    TrailerLine,
    TrailerLf { empty: bool },
    Done,
}

/// Where we are inside `*( BWS ";" BWS name [ BWS "=" BWS value ] )`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    /// After the size, whitespace seen: only more whitespace or `;` may follow.
    WsBeforeSemicolon,
    BeforeName,
    Name,
    AfterName,
    BeforeValue,
    Token,
    Quoted,
    QuotedEscape,
    AfterValue,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`.
    pub fn new(framing: Framing, limits: Limits) -> BodyDecoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length { remaining: n },
            Framing::Chunked => State::ChunkSize {
                value: 0,
                digits: 0,
            },
            Framing::UntilClose => State::UntilClose,
        };
        BodyDecoder {
            state,
            limits,
            total: 0,
            ext_bytes: 0,
            trailer_raw: Vec::new(),
            trailer_lines: 0,
            trailers: Headers::new(),
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Payload bytes taken so far (for a chunked body, including the whole of
    /// the chunk being read).
    pub fn decoded_bytes(&self) -> u64 {
        self.total
    }

    /// Trailer fields of a chunked body, once it is done.
    pub fn trailers(&self) -> &Headers {
        &self.trailers
    }

    /// Take the trailer fields out.
    pub fn take_trailers(&mut self) -> Headers {
        std::mem::take(&mut self.trailers)
    }

    /// The stream ended. A body delimited by the close is then complete;
    /// any other unfinished body is [`DecodeError::UnexpectedEof`].
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(DecodeError::UnexpectedEof),
        }
    }

    /// Refuse a chunk that would take the body over its limit, before any of
    /// its data is read.
    fn check_chunk(&self, size: u64) -> Result<(), DecodeError> {
        if self.total.saturating_add(size) > self.limits.max_body_bytes {
            return Err(DecodeError::BodyTooLarge);
        }
        Ok(())
    }

    fn ext_byte(&mut self) -> Result<(), DecodeError> {
        self.ext_bytes += 1;
        if self.ext_bytes > self.limits.max_chunk_extension_bytes {
            return Err(DecodeError::ChunkExtensionTooLarge);
        }
        Ok(())
    }

    fn trailer_byte(&mut self, b: u8) -> Result<(), DecodeError> {
        if self.trailer_raw.len() >= self.limits.max_trailer_bytes {
            return Err(DecodeError::TrailersTooLarge);
        }
        self.trailer_raw.push(b);
        Ok(())
    }

    fn parse_trailers(&mut self) -> Result<(), DecodeError> {
        if self.trailer_raw.is_empty() {
            return Ok(());
        }
        // Each line already ends in CRLF; add the empty line.
        self.trailer_raw.extend_from_slice(b"\r\n");
        self.trailers = crate::fields::parse_trailers(&self.trailer_raw, self.trailer_lines)?;
        self.trailer_raw = Vec::new();
        Ok(())
    }

    /// Count `n` more payload bytes against the body limit.
    fn add_payload(&mut self, n: u64) -> Result<(), DecodeError> {
        self.total = self.total.saturating_add(n);
        if self.total > self.limits.max_body_bytes {
            return Err(DecodeError::BodyTooLarge);
        }
        Ok(())
    }

    /// Decode from `input`, appending payload to `out`. Stops at the end of the
    /// body; bytes after it are left alone.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<BodyProgress, DecodeError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Done => break,
                State::Length { remaining } => {
                    let n = remaining.min((input.len() - i) as u64);
                    // n fits in usize: it is at most what is left of `input`.
                    out.extend_from_slice(&input[i..i + n as usize]);
                    i += n as usize;
                    self.total += n;
                    self.state = if n == remaining {
                        State::Done
                    } else {
                        State::Length {
                            remaining: remaining - n,
                        }
                    };
                }
                State::UntilClose => {
                    let rest = &input[i..];
                    self.add_payload(rest.len() as u64)?;
                    out.extend_from_slice(rest);
                    i = input.len();
                }
                State::ChunkData { remaining } => {
                    let n = remaining.min((input.len() - i) as u64);
                    out.extend_from_slice(&input[i..i + n as usize]);
                    i += n as usize;
                    self.state = if n == remaining {
                        State::ChunkDataCr
                    } else {
                        State::ChunkData {
                            remaining: remaining - n,
                        }
                    };
                }
                _ => {
                    self.step(input[i])?;
                    i += 1;
                }
            }
        }
        Ok(BodyProgress {
            consumed: i,
            done: self.state == State::Done,
        })
    }

    /// One byte of a chunk line, the CRLF after data, or the trailer section.
    fn step(&mut self, b: u8) -> Result<(), DecodeError> {
        self.state = match self.state {
            State::ChunkSize { value, digits } => match (char::from(b).to_digit(16), b) {
                (Some(d), _) => {
                    if digits >= 16 {
                        return Err(DecodeError::InvalidChunkSize);
                    }
                    State::ChunkSize {
                        value: value << 4 | u64::from(d),
                        digits: digits + 1,
                    }
                }
                (None, _) if digits == 0 => return Err(DecodeError::InvalidChunkSize),
                (None, b'\r') => State::ChunkSizeLf { value },
                (None, b'\n') => return Err(DecodeError::BareLf),
                (None, b';') => {
                    self.check_chunk(value)?;
                    self.ext_byte()?;
                    State::ChunkExt {
                        ext: Ext::BeforeName,
                        value,
                    }
                }
                (None, b) if is_ws(b) => {
                    self.check_chunk(value)?;
                    self.ext_byte()?;
                    State::ChunkExt {
                        ext: Ext::WsBeforeSemicolon,
                        value,
                    }
                }
                _ => return Err(DecodeError::InvalidChunkSize),
            },
            State::ChunkExt { ext, value } => {
                if b == b'\r' {
                    return match ext {
                        Ext::Name | Ext::AfterName | Ext::Token | Ext::AfterValue => {
                            self.state = State::ChunkSizeLf { value };
                            Ok(())
                        }
                        _ => Err(DecodeError::InvalidChunkExtension),
                    };
                }
                if b == b'\n' {
                    return Err(DecodeError::BareLf);
                }
                self.ext_byte()?;
                let tok = http_types::is_token_byte(b);
                let next = match ext {
                    Ext::WsBeforeSemicolon if is_ws(b) => Ext::WsBeforeSemicolon,
                    Ext::WsBeforeSemicolon if b == b';' => Ext::BeforeName,
                    Ext::BeforeName if is_ws(b) => Ext::BeforeName,
                    Ext::BeforeName if tok => Ext::Name,
                    Ext::Name if tok => Ext::Name,
                    Ext::Name | Ext::AfterName if is_ws(b) => Ext::AfterName,
                    Ext::Name | Ext::AfterName | Ext::Token | Ext::AfterValue if b == b';' => {
                        Ext::BeforeName
                    }
                    Ext::Name | Ext::AfterName if b == b'=' => Ext::BeforeValue,
                    Ext::BeforeValue if is_ws(b) => Ext::BeforeValue,
                    Ext::BeforeValue if b == b'"' => Ext::Quoted,
                    Ext::BeforeValue if tok => Ext::Token,
                    Ext::Token if tok => Ext::Token,
                    Ext::Token | Ext::AfterValue if is_ws(b) => Ext::AfterValue,
                    Ext::Quoted if b == b'"' => Ext::AfterValue,
                    Ext::Quoted if b == b'\\' => Ext::QuotedEscape,
                    Ext::Quoted if is_qdtext(b) => Ext::Quoted,
                    Ext::QuotedEscape if b == b'\t' || b >= 0x20 && b != 0x7f => Ext::Quoted,
                    _ => return Err(DecodeError::InvalidChunkExtension),
                };
                State::ChunkExt { ext: next, value }
            }
            State::ChunkSizeLf { value } => {
                if b != b'\n' {
                    return Err(DecodeError::BareCr);
                }
                if value == 0 {
                    State::TrailerLineStart
                } else {
                    self.add_payload(value)?;
                    State::ChunkData { remaining: value }
                }
            }
            State::ChunkDataCr => match b {
                b'\r' => State::ChunkDataLf,
                _ => return Err(DecodeError::InvalidChunkData),
            },
            State::ChunkDataLf => match b {
                b'\n' => State::ChunkSize {
                    value: 0,
                    digits: 0,
                },
                _ => return Err(DecodeError::InvalidChunkData),
            },
            State::TrailerLineStart => match b {
                b'\r' => State::TrailerLf { empty: true },
                b'\n' => return Err(DecodeError::BareLf),
                _ => {
                    self.trailer_lines += 1;
                    if self.trailer_lines > self.limits.max_headers {
                        return Err(DecodeError::TooManyHeaders);
                    }
                    self.trailer_byte(b)?;
                    State::TrailerLine
                }
            },
            State::TrailerLine => match b {
                b'\r' => State::TrailerLf { empty: false },
                b'\n' => return Err(DecodeError::BareLf),
                _ => {
                    self.trailer_byte(b)?;
                    State::TrailerLine
                }
            },
            State::TrailerLf { empty } => {
                if b != b'\n' {
                    return Err(DecodeError::BareCr);
                }
                if empty {
                    self.parse_trailers()?;
                    State::Done
                } else {
                    self.trailer_byte(b'\r')?;
                    self.trailer_byte(b'\n')?;
                    State::TrailerLineStart
                }
            }
            // Handled in `decode`.
            s @ (State::Length { .. }
            | State::UntilClose
            | State::ChunkData { .. }
            | State::Done) => s,
        };
        Ok(())
    }
}
