//! [`DecodeError`]: everything a peer can get wrong, each mapped to a status.

use http_types::HttpCode;

/// Why a message was refused.
///
/// Errors are small `Copy` values. [`DecodeError::status`] gives the status a
/// server answers with; after any error the connection is to be closed, since
/// the framing of whatever follows cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The request line is not `method SP target SP version`.
    #[error("malformed request line")]
    BadRequestLine,
    /// The method is not a token.
    #[error("invalid method")]
    InvalidMethod,
    /// The target is empty or holds a byte outside visible ASCII.
    #[error("invalid request target")]
    InvalidTarget,
    /// The version is not `HTTP/DIGIT.DIGIT`.
    #[error("invalid HTTP version")]
    InvalidVersion,
    /// A well-formed version this codec does not speak (`HTTP/2.0`, `HTTP/0.9`).
    #[error("HTTP version not supported")]
    UnsupportedVersion,
    /// The status line of a response is malformed.
    #[error("malformed status line")]
    BadStatusLine,
    /// A CR not followed by LF.
    #[error("bare CR")]
    BareCr,
    /// An LF not preceded by CR, where CRLF is required.
    #[error("bare LF")]
    BareLf,
    /// A header name is not a token, has whitespace before its colon, or a line
    /// starts with whitespace (obs-fold).
    #[error("invalid header name or line folding")]
    InvalidHeaderName,
    /// A header value holds a control character.
    #[error("invalid header value")]
    InvalidHeaderValue,
    /// A `Content-Length` that is not plain digits, or overflows.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// Several `Content-Length` values that differ.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// Both `Transfer-Encoding` and `Content-Length`.
    #[error("Transfer-Encoding together with Content-Length")]
    TransferEncodingWithContentLength,
    /// `Transfer-Encoding` whose final coding is not `chunked`, or `chunked`
    /// applied twice.
    #[error("Transfer-Encoding does not end in chunked")]
    TransferEncodingNotChunked,
    /// `Transfer-Encoding` on an HTTP/1.0 message.
    #[error("Transfer-Encoding on HTTP/1.0")]
    TransferEncodingOnHttp10,
    /// A transfer coding other than `chunked` (RFC 9112 section 6.1: 501).
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// A chunk size that is empty, not hex, or overflows.
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A malformed chunk extension.
    #[error("invalid chunk extension")]
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    InvalidChunkData,
    /// A malformed trailer field.
    #[error("invalid trailer")]
    InvalidTrailer,
    /// The request target is longer than [`Limits::max_target_bytes`](crate::Limits).
    #[error("request target too long")]
    TargetTooLong,
    /// The head is longer than [`Limits::max_head_bytes`](crate::Limits).
    #[error("head too large")]
    HeadTooLarge,
    /// More header fields than [`Limits::max_headers`](crate::Limits).
    #[error("too many header fields")]
    TooManyHeaders,
    /// The body is larger than [`Limits::max_body_bytes`](crate::Limits).
    #[error("body too large")]
    BodyTooLarge,
    /// Chunk extensions larger than [`Limits::max_chunk_extension_bytes`](crate::Limits).
    #[error("chunk extensions too large")]
    ChunkExtensionTooLarge,
    /// Trailers larger than [`Limits::max_trailer_bytes`](crate::Limits).
    #[error("trailers too large")]
    TrailersTooLarge,
    /// The stream ended inside a message.
    #[error("connection closed inside a message")]
    UnexpectedEof,
}

impl DecodeError {
    /// The status a server answers with.
    pub fn status(self) -> HttpCode {
        use DecodeError::*;
        match self {
            UnsupportedVersion => HttpCode::HTTP_VERSION_NOT_SUPPORTED,
            UnsupportedTransferCoding => HttpCode::NOT_IMPLEMENTED,
            TargetTooLong => HttpCode::URI_TOO_LONG,
            HeadTooLarge | TooManyHeaders | TrailersTooLarge => {
                HttpCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            BodyTooLarge => HttpCode::CONTENT_TOO_LARGE,
            _ => HttpCode::BAD_REQUEST,
        }
    }
}
