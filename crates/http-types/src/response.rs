//! [`Response`] and [`ResponseBuilder`].

use crate::{Body, HeaderError, Headers, HttpCode, HttpVersion, InvalidStatusCode};

/// An HTTP response: status, version, headers and body.
///
/// The server owns framing: `Content-Length` and `Transfer-Encoding` set here
/// are replaced by what the body actually is when the response is encoded.
#[derive(Debug, PartialEq, Default)]
pub struct Response {
    status: HttpCode,
    version: HttpVersion,
    headers: Headers,
    body: Body,
}

impl Response {
    /// A response with `status`, no headers and no body.
    pub fn new(status: HttpCode) -> Response {
        Response {
            status,
            ..Response::default()
        }
    }

    /// Build a response from its parts.
    pub fn from_parts(
        status: HttpCode,
        version: HttpVersion,
        headers: Headers,
        body: Body,
    ) -> Self {
        Response {
            status,
            version,
            headers,
            body,
        }
    }

    /// The status.
    pub fn status(&self) -> HttpCode {
        self.status
    }

    /// Change the status.
    pub fn set_status(&mut self, status: HttpCode) {
        self.status = status;
    }

    /// The version (the server answers HTTP/1.1 whatever the request's version,
    /// as RFC 9110 section 2.5 asks; a decoded response keeps what was sent).
    pub fn version(&self) -> HttpVersion {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Replace the body.
    pub fn set_body(&mut self, body: impl Into<Body>) {
        self.body = body.into();
    }

    /// Take the body out.
    pub fn into_body(self) -> Body {
        self.body
    }
}

/// Why [`ResponseBuilder::build`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A header name or value could not be sent; see [`HeaderError`].
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A status outside 100..=999 was given to [`ResponseBuilder::code`].
    #[error(transparent)]
    Status(#[from] InvalidStatusCode),
    /// A non-empty body was given to a status that never has one (1xx, 204, 304).
    #[error("status {0} never carries a body; drop the body or pick another status")]
    BodyNotAllowed(HttpCode),
}

/// Builds a [`Response`]; the first mistake is kept and returned by
/// [`build`](ResponseBuilder::build).
///
/// ```
/// use http_types::{HttpCode, ResponseBuilder};
/// let resp = ResponseBuilder::empty_200()
///     .body(b"Hello")
///     .content_type("text/plain")
///     .build()
///     .unwrap();
/// assert_eq!(resp.status(), HttpCode::OK);
/// assert_eq!(resp.headers().get("content-type").unwrap(), "text/plain");
///
/// let err = ResponseBuilder::new().header("X-Bad", "a\r\nb").build();
/// assert!(err.is_err());
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ResponseBuilder {
    response: Response,
    error: Option<BuildError>,
}

macro_rules! empty_constructors {
    ($($fn_name:ident => $code:ident,)*) => {
        $(
            #[doc = concat!("A builder for a `", stringify!($code), "` response with no body yet.")]
            pub fn $fn_name() -> ResponseBuilder {
                ResponseBuilder::new().status(HttpCode::$code)
            }
        )*
    };
}

impl ResponseBuilder {
    /// A builder for `200 OK` with no headers and no body.
    pub fn new() -> ResponseBuilder {
        ResponseBuilder::default()
    }

    empty_constructors! {
        empty_200 => OK,
        empty_201 => CREATED,
        empty_202 => ACCEPTED,
        empty_204 => NO_CONTENT,
        empty_301 => MOVED_PERMANENTLY,
        empty_302 => FOUND,
        empty_303 => SEE_OTHER,
        empty_304 => NOT_MODIFIED,
        empty_307 => TEMPORARY_REDIRECT,
        empty_308 => PERMANENT_REDIRECT,
        empty_400 => BAD_REQUEST,
        empty_401 => UNAUTHORIZED,
        empty_403 => FORBIDDEN,
        empty_404 => NOT_FOUND,
        empty_405 => METHOD_NOT_ALLOWED,
        empty_409 => CONFLICT,
        empty_413 => CONTENT_TOO_LARGE,
        empty_429 => TOO_MANY_REQUESTS,
        empty_500 => INTERNAL_SERVER_ERROR,
        empty_501 => NOT_IMPLEMENTED,
        empty_502 => BAD_GATEWAY,
        empty_503 => SERVICE_UNAVAILABLE,
    }

    /// Set the status.
    pub fn status(mut self, status: HttpCode) -> Self {
        self.response.status = status;
        self
    }

    /// Set the status from a number; an out-of-range number fails `build`.
    pub fn code(mut self, code: u16) -> Self {
        match HttpCode::from_u16(code) {
            Ok(status) => self.response.status = status,
            Err(e) => self.fail(e.into()),
        }
        self
    }

    /// Set the version.
    pub fn version(mut self, version: HttpVersion) -> Self {
        self.response.version = version;
        self
    }

    fn fail(&mut self, e: BuildError) {
        self.error.get_or_insert(e);
    }

    /// Append a header field (see [`Headers::append`]).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        if let Err(e) = self.response.headers.append(name, value) {
            self.fail(e.into());
        }
        self
    }

    /// Set `Content-Type`, replacing any earlier one.
    pub fn content_type(mut self, value: &str) -> Self {
        if let Err(e) = self
            .response
            .headers
            .insert_known("Content-Type", value.as_bytes())
        {
            self.fail(e.into());
        }
        self
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.response.body = body.into();
        self
    }

    /// The response, or the first mistake made while building it.
    pub fn build(self) -> Result<Response, BuildError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.response;
        if r.status.forbids_body() && !r.body.is_empty() {
            return Err(BuildError::BodyNotAllowed(r.status));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_readme_shape() {
        let counter = 7.to_string();
        let r = ResponseBuilder::empty_200()
            .body(counter.as_bytes())
            .content_type("text/plain")
            .build()
            .unwrap();
        assert_eq!(r.body().as_bytes(), Some(&b"7"[..]));
        assert_eq!(r.headers().get("Content-Type").unwrap(), "text/plain");
    }

    #[test]
    fn first_error_wins() {
        let e = ResponseBuilder::new()
            .code(1000)
            .header("bad name", "x")
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::Status(InvalidStatusCode(1000)));
        let e = ResponseBuilder::empty_204().body("x").build().unwrap_err();
        assert_eq!(e, BuildError::BodyNotAllowed(HttpCode::NO_CONTENT));
        assert!(ResponseBuilder::empty_204().build().is_ok());
        let e = ResponseBuilder::new()
            .content_type("text/html\r\nX: y")
            .build()
            .unwrap_err();
        assert!(matches!(
            e,
            BuildError::Header(HeaderError::InvalidValue { .. })
        ));
    }

    #[test]
    fn constructors_set_status() {
        assert_eq!(
            ResponseBuilder::empty_404().build().unwrap().status(),
            HttpCode::NOT_FOUND
        );
        assert_eq!(
            ResponseBuilder::empty_503()
                .build()
                .unwrap()
                .status()
                .as_u16(),
            503
        );
        assert_eq!(
            ResponseBuilder::new()
                .code(299)
                .build()
                .unwrap()
                .status()
                .as_u16(),
            299
        );
    }
}
