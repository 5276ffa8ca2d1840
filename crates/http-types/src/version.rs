//! [`HttpVersion`] and the raw [`Protocol`] numbers of a request line.

use std::fmt;

/// The HTTP/1 version a message is processed as.
///
/// A request sent as `HTTP/1.2` (or any higher minor version) is processed as
/// HTTP/1.1 (RFC 9110 section 2.5); its [`Protocol`] keeps the numbers it was
/// sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum HttpVersion {
    /// `HTTP/1.0`. Nim: `HttpVer10`.
    Http10,
    /// `HTTP/1.1`. Nim: `HttpVer11`.
    #[default]
    Http11,
}

impl HttpVersion {
    /// The version as it appears on the wire: `"HTTP/1.1"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "HTTP/1.0",
            HttpVersion::Http11 => "HTTP/1.1",
        }
    }

    /// Whether connections stay open after a message by default (HTTP/1.1 and
    /// later; RFC 9112 section 9.3).
    pub const fn keeps_alive_by_default(self) -> bool {
        matches!(self, HttpVersion::Http11)
    }
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The version numbers a request line was sent with, like Nim's
/// `protocol: (orig, major, minor)` (the original text is `HTTP/{major}.{minor}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protocol {
    /// Major version, `1` for every request this crate's codec accepts.
    pub major: u8,
    /// Minor version as sent.
    pub minor: u8,
}

impl Protocol {
    /// The version this protocol is processed as.
    pub const fn version(self) -> HttpVersion {
        if self.minor == 0 {
            HttpVersion::Http10
        } else {
            HttpVersion::Http11
        }
    }
}

impl Default for Protocol {
    fn default() -> Self {
        HttpVersion::Http11.into()
    }
}

impl From<HttpVersion> for Protocol {
    fn from(v: HttpVersion) -> Self {
        match v {
            HttpVersion::Http10 => Protocol { major: 1, minor: 0 },
            HttpVersion::Http11 => Protocol { major: 1, minor: 1 },
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}
