//! [`HttpCode`]: a response status code.

use std::fmt;

/// An HTTP status code, any value from 100 to 999.
///
/// Every code registered by RFC 9110 section 15 has a named constant and a reason
/// phrase, as do 418, 421, 422, 426, 428, 429, 431, 451 and 511. Other codes in
/// range can be built with [`HttpCode::from_u16`]; they have no reason phrase.
///
/// `Display` gives the status line form used by Nim's `HttpCode`: `"200 OK"`, or
/// just the digits for a code without a phrase.
///
/// ```
/// use http_types::HttpCode;
/// assert_eq!(HttpCode::NOT_FOUND.to_string(), "404 Not Found");
/// assert_eq!(HttpCode::from_u16(299).unwrap().to_string(), "299");
/// assert!(HttpCode::OK.is_success());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpCode(u16);

/// A number outside 100..=999 was given as a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("status code {0} is outside 100..=999")]
pub struct InvalidStatusCode(pub u16);

macro_rules! codes {
    ($($name:ident = $num:literal, $phrase:literal;)*) => {
        impl HttpCode {
            $(
                #[doc = concat!("`", stringify!($num), " ", $phrase, "`")]
                pub const $name: HttpCode = HttpCode($num);
            )*
        }

        fn phrase(code: u16) -> Option<&'static str> {
            match code {
                $($num => Some($phrase),)*
                _ => None,
            }
        }
    };
}

codes! {
    CONTINUE = 100, "Continue";
    SWITCHING_PROTOCOLS = 101, "Switching Protocols";
    OK = 200, "OK";
    CREATED = 201, "Created";
    ACCEPTED = 202, "Accepted";
    NON_AUTHORITATIVE_INFORMATION = 203, "Non-Authoritative Information";
    NO_CONTENT = 204, "No Content";
    RESET_CONTENT = 205, "Reset Content";
    PARTIAL_CONTENT = 206, "Partial Content";
    MULTIPLE_CHOICES = 300, "Multiple Choices";
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    FOUND = 302, "Found";
    SEE_OTHER = 303, "See Other";
    NOT_MODIFIED = 304, "Not Modified";
    USE_PROXY = 305, "Use Proxy";
    TEMPORARY_REDIRECT = 307, "Temporary Redirect";
    PERMANENT_REDIRECT = 308, "Permanent Redirect";
    BAD_REQUEST = 400, "Bad Request";
    UNAUTHORIZED = 401, "Unauthorized";
    PAYMENT_REQUIRED = 402, "Payment Required";
    FORBIDDEN = 403, "Forbidden";
    NOT_FOUND = 404, "Not Found";
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    NOT_ACCEPTABLE = 406, "Not Acceptable";
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required";
    REQUEST_TIMEOUT = 408, "Request Timeout";
    CONFLICT = 409, "Conflict";
    GONE = 410, "Gone";
    LENGTH_REQUIRED = 411, "Length Required";
    PRECONDITION_FAILED = 412, "Precondition Failed";
    CONTENT_TOO_LARGE = 413, "Content Too Large";
    URI_TOO_LONG = 414, "URI Too Long";
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    RANGE_NOT_SATISFIABLE = 416, "Range Not Satisfiable";
    EXPECTATION_FAILED = 417, "Expectation Failed";
    IM_A_TEAPOT = 418, "I'm a teapot";
    MISDIRECTED_REQUEST = 421, "Misdirected Request";
    UNPROCESSABLE_CONTENT = 422, "Unprocessable Content";
    UPGRADE_REQUIRED = 426, "Upgrade Required";
    PRECONDITION_REQUIRED = 428, "Precondition Required";
    TOO_MANY_REQUESTS = 429, "Too Many Requests";
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large";
    UNAVAILABLE_FOR_LEGAL_REASONS = 451, "Unavailable For Legal Reasons";
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error";
    NOT_IMPLEMENTED = 501, "Not Implemented";
    BAD_GATEWAY = 502, "Bad Gateway";
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    GATEWAY_TIMEOUT = 504, "Gateway Timeout";
    HTTP_VERSION_NOT_SUPPORTED = 505, "HTTP Version Not Supported";
    NETWORK_AUTHENTICATION_REQUIRED = 511, "Network Authentication Required";
}

impl HttpCode {
    /// The code for `code`, or an error when it is outside 100..=999.
    ///
    /// 306 (reserved by RFC 9110 section 15.4.7) and unregistered codes are
    /// accepted and have no reason phrase.
    pub const fn from_u16(code: u16) -> Result<HttpCode, InvalidStatusCode> {
        if code >= 100 && code <= 999 {
            Ok(HttpCode(code))
        } else {
            Err(InvalidStatusCode(code))
        }
    }

    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The reason phrase of a registered code (`"Not Found"`), `None` otherwise.
    pub fn reason(self) -> Option<&'static str> {
        phrase(self.0)
    }

    /// The three ASCII digits of the code.
    pub const fn digits(self) -> [u8; 3] {
        let c = self.0;
        [
            b'0' + (c / 100) as u8,
            b'0' + (c / 10 % 10) as u8,
            b'0' + (c % 10) as u8,
        ]
    }

    /// 1xx.
    pub const fn is_informational(self) -> bool {
        self.0 >= 100 && self.0 < 200
    }

    /// 2xx.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// 3xx.
    pub const fn is_redirection(self) -> bool {
        self.0 >= 300 && self.0 < 400
    }

    /// 4xx.
    pub const fn is_client_error(self) -> bool {
        self.0 >= 400 && self.0 < 500
    }

    /// 5xx.
    pub const fn is_server_error(self) -> bool {
        self.0 >= 500 && self.0 < 600
    }

    /// Whether a response with this code never has a body (1xx, 204 and 304;
    /// RFC 9112 section 6.3).
    pub const fn forbids_body(self) -> bool {
        self.is_informational() || self.0 == 204 || self.0 == 304
    }
}

impl TryFrom<u16> for HttpCode {
    type Error = InvalidStatusCode;

    fn try_from(code: u16) -> Result<Self, Self::Error> {
        HttpCode::from_u16(code)
    }
}

impl From<HttpCode> for u16 {
    fn from(code: HttpCode) -> u16 {
        code.0
    }
}

impl Default for HttpCode {
    fn default() -> Self {
        HttpCode::OK
    }
}

impl fmt::Display for HttpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "{} {}", self.0, reason),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for HttpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpCode({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_enforced() {
        assert_eq!(HttpCode::from_u16(99), Err(InvalidStatusCode(99)));
        assert_eq!(HttpCode::from_u16(1000), Err(InvalidStatusCode(1000)));
        assert_eq!(HttpCode::from_u16(100).map(HttpCode::as_u16), Ok(100));
        assert_eq!(HttpCode::from_u16(999).map(HttpCode::as_u16), Ok(999));
    }

    #[test]
    fn display_and_reason() {
        let cases: &[(u16, &str)] = &[
            (100, "100 Continue"),
            (200, "200 OK"),
            (306, "306"),
            (418, "418 I'm a teapot"),
            (431, "431 Request Header Fields Too Large"),
            (505, "505 HTTP Version Not Supported"),
            (511, "511 Network Authentication Required"),
            (799, "799"),
        ];
        for &(code, text) in cases {
            assert_eq!(HttpCode::from_u16(code).unwrap().to_string(), text);
        }
    }

    #[test]
    fn every_registered_code_has_a_phrase() {
        let registered = [
            100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308,
            400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416,
            417, 418, 421, 422, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 511,
        ];
        for code in registered {
            assert!(
                HttpCode::from_u16(code).unwrap().reason().is_some(),
                "{code}"
            );
        }
    }

    #[test]
    fn classes_and_digits() {
        assert!(HttpCode::CONTINUE.is_informational());
        assert!(HttpCode::NO_CONTENT.is_success());
        assert!(HttpCode::FOUND.is_redirection());
        assert!(HttpCode::IM_A_TEAPOT.is_client_error());
        assert!(HttpCode::BAD_GATEWAY.is_server_error());
        assert!(!HttpCode::from_u16(600).unwrap().is_server_error());
        assert_eq!(HttpCode::URI_TOO_LONG.digits(), *b"414");
        assert!(HttpCode::NOT_MODIFIED.forbids_body());
        assert!(!HttpCode::OK.forbids_body());
    }
}
