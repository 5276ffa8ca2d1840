//! [`Method`]: a request method.

use std::fmt;

/// A request method: one of the standard methods or an extension token.
///
/// Methods are case-sensitive (RFC 9110 section 9.1): `get` is an extension
/// method, not `GET`.
///
/// ```
/// use http_types::Method;
/// assert_eq!(Method::from_bytes(b"GET").unwrap(), Method::Get);
/// assert_eq!(Method::from_bytes(b"PURGE").unwrap().as_str(), "PURGE");
/// assert!(Method::from_bytes(b"GE T").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH` (RFC 5789)
    Patch,
    /// Any other token.
    Extension(ExtensionMethod),
}

/// The name of an extension method; always a valid token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionMethod(Box<str>);

impl ExtensionMethod {
    /// The method name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A method name that is empty or holds a byte that is not a token character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid method: a method is a non-empty token (RFC 9110 section 9.1)")]
pub struct InvalidMethod;

impl Method {
    /// Parse a method name.
    pub fn from_bytes(name: &[u8]) -> Result<Method, InvalidMethod> {
        Ok(match name {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            other => {
                if other.is_empty() || !other.iter().all(|&b| crate::is_token_byte(b)) {
                    return Err(InvalidMethod);
                }
                // Token bytes are ASCII, so this cannot fail.
                let s = std::str::from_utf8(other).map_err(|_| InvalidMethod)?;
                Method::Extension(ExtensionMethod(s.into()))
            }
        })
    }

    /// The method name.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Extension(ext) => ext.as_str(),
        }
    }

    /// Safe methods (RFC 9110 section 9.2.1).
    pub fn is_safe(&self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Options | Method::Trace
        )
    }

    /// Idempotent methods (RFC 9110 section 9.2.2).
    pub fn is_idempotent(&self) -> bool {
        self.is_safe() || matches!(self, Method::Put | Method::Delete)
    }
}

impl std::str::FromStr for Method {
    type Err = InvalidMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::from_bytes(s.as_bytes())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
