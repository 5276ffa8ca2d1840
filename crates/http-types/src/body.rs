//! [`Body`]: what a response carries.

use std::fmt;

/// A response body.
///
/// Bodies are whole byte strings for now; the enum is `non_exhaustive` so that a
/// streamed variant (whose length may be unknown, sent chunked) can join it
/// without breaking matches in other crates. Code that needs the bytes should
/// use [`Body::as_bytes`] and handle `None`.
#[non_exhaustive]
#[derive(Default)]
pub enum Body {
    /// No body (`Content-Length: 0` on a response that may have one).
    #[default]
    Empty,
    /// Owned bytes.
    Bytes(Vec<u8>),
    /// Bytes that live for the whole program, sent without copying.
    Static(&'static [u8]),
}

impl Body {
    /// A body that borrows static bytes.
    pub const fn from_static(bytes: &'static [u8]) -> Body {
        Body::Static(bytes)
    }

    /// The length when it is known up front.
    pub fn len(&self) -> Option<u64> {
        self.as_bytes().map(|b| b.len() as u64)
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes, when the body is held in memory.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Empty => Some(&[]),
            Body::Bytes(b) => Some(b),
            Body::Static(b) => Some(b),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::Bytes(v)
    }
}

impl From<&[u8]> for Body {
    fn from(v: &[u8]) -> Body {
        Body::Bytes(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Body {
    fn from(v: &[u8; N]) -> Body {
        Body::Bytes(v.to_vec())
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Bytes(s.into_bytes())
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Body {
        Body::Bytes(s.as_bytes().to_vec())
    }
}

impl PartialEq for Body {
    /// Bodies are equal when their bytes are.
    fn eq(&self, other: &Body) -> bool {
        match (self.as_bytes(), other.as_bytes()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_bytes() {
            Some(b) if b.len() <= 64 => write!(f, "Body(b\"{}\")", b.escape_ascii()),
            Some(b) => write!(f, "Body({} bytes)", b.len()),
            None => f.write_str("Body(..)"),
        }
    }
}
