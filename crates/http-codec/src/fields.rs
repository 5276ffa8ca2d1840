//! Header fields: tokenising with httparse (errors in line order), and what
//! the framing-related fields say.

use http_types::{Headers, HttpVersion};

use crate::{DecodeError, Framing, Limits};

pub(crate) fn header_error(e: http_types::HeaderError) -> DecodeError {
    match e {
        http_types::HeaderError::InvalidName(_) => DecodeError::InvalidHeaderName,
        _ => DecodeError::InvalidHeaderValue,
    }
}

fn map_field_error(e: httparse::Error) -> DecodeError {
    match e {
        httparse::Error::HeaderValue => DecodeError::InvalidHeaderValue,
        httparse::Error::TooManyHeaders => DecodeError::TooManyHeaders,
        httparse::Error::NewLine => DecodeError::BareCr,
        _ => DecodeError::InvalidHeaderName,
    }
}

/// A field as tokenised: name, value, and where each starts in the block.
pub(crate) struct Field<'a> {
    /// A token, so ASCII.
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub name_at: usize,
    pub value_at: usize,
}

/// Where `inner` starts within `outer`, which holds it.
pub(crate) fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let at = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (at + inner.len() <= outer.len()).then_some(at)
}

fn field_slots_parse<'b>(
    raw: &'b [u8],
    base: usize,
    slots: &mut [httparse::Header<'b>],
    f: &mut impl FnMut(Field<'_>) -> Result<(), DecodeError>,
) -> Result<Result<(), DecodeError>, httparse::Error> {
    match httparse::parse_headers(raw, slots)? {
        httparse::Status::Complete((_, fields)) => Ok(fields.iter().try_for_each(|h| {
            let (Some(name_at), Some(value_at)) =
                (offset_in(raw, h.name.as_bytes()), offset_in(raw, h.value))
            else {
                return Err(DecodeError::InvalidHeaderValue);
            };
            f(Field {
                name: h.name.as_bytes(),
                value: h.value,
                name_at: base + name_at,
                value_at: base + value_at,
            })
        })),
        // The scanner found the empty line, so httparse cannot want more.
        httparse::Status::Partial => Ok(Err(DecodeError::InvalidHeaderName)),
    }
}

/// Tokenise `count` field lines (ending with the empty line), calling `f` on
/// each field in order. When a line is malformed, the lines before it are
/// still passed to `f` first, so errors come out in line order.
pub(crate) fn for_each_field(
    raw: &[u8],
    count: usize,
    mut f: impl FnMut(Field<'_>) -> Result<(), DecodeError>,
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
    match field_slots_parse(raw, 0, slots, &mut f) {
        Ok(result) => result,
        Err(e) => {
            // The slow path, taken only for a malformed head: one line at a time.
            for line in raw.split_inclusive(|&b| b == b'\n') {
                if line == b"\r\n" || line == b"\n" {
                    break;
                }
                let base = offset_in(raw, line).unwrap_or(0);
                let line_buf = [line, b"\r\n"].concat();
                let mut one = [httparse::EMPTY_HEADER; 1];
                match field_slots_parse(&line_buf, base, &mut one, &mut f) {
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
    mut inspect: impl FnMut(&[u8], &[u8]) -> Result<(), DecodeError>,
) -> Result<Headers, DecodeError> {
    let mut headers = Headers::with_capacity(count, raw.len());
    let result = for_each_field(raw, count, |field| {
        inspect(field.name, field.value)?;
        headers
            .append_decoded(field.name, field.value)
            .map_err(header_error)
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
    /// `Host` fields seen (at most 2: more count as 2).
    pub hosts: u8,
    /// Whether the last `Host` value is a valid host.
    pub host_valid: bool,
}

/// The bytes a `Host` value may hold: `uri-host [":" port]` (RFC 9112
/// section 3.2, RFC 3986 section 3.2.2): unreserved, percent escapes,
/// sub-delims, `:` and the brackets of an IP literal.
const HOST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let allowed = b"-._~%!$&'()*+,;=:[]";
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < allowed.len() {
        table[allowed[j] as usize] = true;
        j += 1;
    }
    table
};

/// Whether `host` is a valid `Host` value, possibly empty.
fn valid_host(host: &[u8]) -> bool {
    // A fold rather than `all`: no early exit, no branch per byte.
    host.iter()
        .fold(true, |ok, &b| ok & HOST_BYTES[usize::from(b)])
}

/// Whether the token `name` is `lower` (lowercase letters and `-`) in any
/// case. Setting bit 0x20 folds only `A`-`Z` onto a lowercase letter, and
/// only CR (never in a token) onto `-`: exact for tokens, without
/// `eq_ignore_ascii_case`'s work per byte.
#[inline(always)]
fn is_name<const N: usize>(name: &[u8], lower: &[u8; N]) -> bool {
    let Ok(name) = <&[u8; N]>::try_from(name) else {
        return false;
    };
    // A constant length: the loop unrolls, with no branch per byte.
    let mut diff = 0;
    for i in 0..N {
        diff |= (name[i] | 0x20) ^ lower[i];
    }
    diff == 0
}

impl FieldSummary {
    /// Note what a field says about framing and the connection. Returns
    /// whether it touched framing (so [`check_so_far`](Self::check_so_far) is
    /// worth calling).
    #[inline(always)]
    pub fn inspect(&mut self, name: &[u8], value: &[u8]) -> Result<bool, DecodeError> {
        // Every field this looks at starts with c, t, u, e or h: most
        // fields are passed over on their first byte.
        match name.first() {
            Some(b'c' | b'C' | b't' | b'T' | b'u' | b'U' | b'e' | b'E' | b'h' | b'H') => {
                self.inspect_candidate(name, value)
            }
            _ => Ok(false),
        }
    }

    #[inline(never)]
    fn inspect_candidate(&mut self, name: &[u8], value: &[u8]) -> Result<bool, DecodeError> {
        match name.len() {
            14 if is_name(name, b"content-length") => {
                self.content_length = Some(parse_content_length(value, self.content_length)?);
                return Ok(true);
            }
            17 if is_name(name, b"transfer-encoding") => {
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
                return Ok(true);
            }
            10 if is_name(name, b"connection") => {
                // The usual values first, then the general list.
                if value.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                    return Ok(false);
                }
                if value.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                    return Ok(false);
                }
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
            4 if is_name(name, b"host") => {
                self.hosts = self.hosts.saturating_add(1).min(2);
                self.host_valid = valid_host(value);
            }
            7 if is_name(name, b"upgrade") => self.upgrade = true,
            6 if is_name(name, b"expect") => {
                let is_continue = trim_ows(value).eq_ignore_ascii_case(b"100-continue");
                self.expect = Some(self.expect.unwrap_or(true) && is_continue);
            }
            _ => {}
        }
        Ok(false)
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

#[cfg(test)]
mod tests {
    use super::is_name;

    #[test]
    fn names_match_in_any_case_and_only_themselves() {
        for name in [&b"host"[..], b"HOST", b"hOsT"] {
            assert!(is_name(name, b"host"));
        }
        for name in [&b"hosts"[..], b"hos", b"h0st", b"hos\x14", b"Host "] {
            assert!(!is_name(name, b"host"), "{name:?}");
        }
        assert!(is_name(b"Content-Length", b"content-length"));
        assert!(!is_name(b"Content_Length", b"content-length"));
        // A byte of a name looked for matches itself and its capital only,
        // and `-` matches CR, which no token holds.
        for &t in b"-abcdefghijklmnopqrstuvwxyz" {
            for b in 0..=255u8 {
                let same = b == t || b.to_ascii_lowercase() == t;
                assert_eq!(is_name(&[b], &[t]), same || (t == b'-' && b == b'\r'));
            }
        }
    }
}
