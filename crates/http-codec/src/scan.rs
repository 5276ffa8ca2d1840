//! Finding the end of a head without scanning any byte twice.
//!
//! [`HeadScanner`] remembers how far it got, so a head dripped in one byte at a
//! time costs linear time overall. While it looks for the empty line that ends
//! the head it also enforces the line-ending rules (no bare CR; no bare LF unless
//! allowed), counts header lines and checks the head and first-line limits, so
//! an oversized or malformed head is refused as early as possible.

use crate::{DecodeError, Limits};

/// Where the parts of a complete head lie in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadLayout {
    /// Start of the first line (after any empty lines before it).
    pub first_line_start: usize,
    /// End of the first line, before its line ending.
    pub first_line_end: usize,
    /// Start of the header fields (just after the first line's ending).
    pub fields_start: usize,
    /// One past the empty line that ends the head.
    pub end: usize,
    /// Number of header field lines.
    pub field_lines: usize,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct HeadScanner {
    /// Every byte before this offset has been examined.
    scanned: usize,
    /// Start of the line being scanned.
    line_start: usize,
    /// The first line, once its end has been seen.
    first_line: Option<(usize, usize)>,
    fields_start: usize,
    field_lines: usize,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Offset of the first CR or LF in `hay` at or after `from`.
///
/// Eight bytes at a time: a byte of `w ^ repeat(c)` is zero exactly where `w`
/// holds `c`, and the classic "has a zero byte" test flags it. The lowest flag
/// is always exact, which is the one wanted on a little-endian load.
#[inline]
pub(crate) fn find_line_end(hay: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(word) = hay.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let lf = w ^ (LO * u64::from(b'\n'));
        let cr = w ^ (LO * u64::from(b'\r'));
        let found = (lf.wrapping_sub(LO) & !lf & HI) | (cr.wrapping_sub(LO) & !cr & HI);
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay.get(i..)?
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|p| p + i)
}

/// How far an incomplete head has got: the complete lines so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The first line, once complete.
    pub first_line: Option<(usize, usize)>,
    /// Start of the field lines (meaningful once the first line is complete).
    pub fields_start: usize,
    /// End of the last complete line.
    pub complete_to: usize,
    /// Complete field lines so far.
    pub field_lines: usize,
}

impl HeadScanner {
    /// The complete lines of the head being scanned.
    pub fn progress(&self) -> Progress {
        Progress {
            first_line: self.first_line,
            fields_start: self.fields_start,
            complete_to: self.line_start,
            field_lines: self.field_lines,
        }
    }

    /// Whether nothing of the current head has been scanned yet.
    pub fn is_fresh(&self) -> bool {
        self.scanned == 0 && self.first_line.is_none()
    }

    /// Forget everything: the next call starts a new head at offset 0.
    pub fn reset(&mut self) {
        *self = HeadScanner::default();
    }

    /// Continue scanning `buf` (the same bytes as before plus any new ones).
    ///
    /// `max_first_line` bounds the first line while it is incomplete;
    /// `first_line_error` is returned when it is exceeded.
    pub fn scan(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        allow_bare_lf: bool,
        max_first_line: usize,
        first_line_error: DecodeError,
    ) -> Result<Option<HeadLayout>, DecodeError> {
        // Never look past the bytes a limit allows: what lies beyond cannot
        // change the verdict, and looking at it would make the verdict depend
        // on how many bytes happen to have arrived. A head may end (LF) at
        // index `max_head_bytes - 1`, a first line (CR) at `max_first_line`
        // past its start; one byte more is kept to see what follows a CR.
        let head_cap = limits.max_head_bytes.saturating_add(1);
        let mut i = self.scanned;
        let resume = loop {
            let cap = match self.first_line {
                None => head_cap.min(
                    self.line_start
                        .saturating_add(max_first_line)
                        .saturating_add(2),
                ),
                Some(_) => head_cap,
            };
            let hay = &buf[..buf.len().min(cap)];
            let Some(p) = find_line_end(hay, i) else {
                break hay.len();
            };
            // A line ending this far out ends a line over a limit, whatever
            // it is: judged as the bytes before it would be on their own.
            if self.first_line.is_none() && p - self.line_start > max_first_line {
                return Err(first_line_error);
            }
            if p >= limits.max_head_bytes {
                return Err(DecodeError::HeadTooLarge);
            }
            let next = if hay[p] == b'\r' {
                match hay.get(p + 1) {
                    // A CR at the very end: look at it again with the next byte.
                    None => break p,
                    Some(b'\n') => p + 2,
                    Some(_) => return Err(DecodeError::BareCr),
                }
            } else if allow_bare_lf {
                p + 1
            } else {
                return Err(DecodeError::BareLf);
            };
            if next > limits.max_head_bytes {
                return Err(DecodeError::HeadTooLarge);
            }
            let line_start = self.line_start;
            self.line_start = next;
            i = next;
            match self.first_line {
                // Empty lines before the request line are skipped (RFC 9112 section 2.2).
                None if p == line_start => {}
                None => {
                    self.first_line = Some((line_start, p));
                    self.fields_start = next;
                }
                Some((start, end)) if p == line_start => {
                    self.scanned = next;
                    return Ok(Some(HeadLayout {
                        first_line_start: start,
                        first_line_end: end,
                        fields_start: self.fields_start,
                        end: next,
                        field_lines: self.field_lines,
                    }));
                }
                Some(_) => {
                    self.field_lines += 1;
                    if self.field_lines > limits.max_headers {
                        return Err(DecodeError::TooManyHeaders);
                    }
                }
            }
        };
        self.scanned = resume;
        // Judge the limits on the bytes examined, not on a CR left pending at
        // the very end: what follows it decides between a bare CR and a line
        // ending, and must decide the same way however the bytes were split.
        if self.first_line.is_none() && resume - self.line_start > max_first_line {
            return Err(first_line_error);
        }
        if resume >= limits.max_head_bytes {
            return Err(DecodeError::HeadTooLarge);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_cr_or_lf_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                for c in [b'\r', b'\n'] {
                    let mut v = vec![b'a'; len];
                    v[at] = c;
                    if at + 3 < len {
                        v[at + 3] = b'\n';
                    }
                    for from in 0..=at {
                        assert_eq!(find_line_end(&v, from), Some(at), "{len} {at} {from}");
                    }
                }
            }
            assert_eq!(find_line_end(&vec![0x8d; len], 0), None);
        }
    }
}
