//! [`Limits`]: every bound the decoders enforce.

/// Default for [`Limits::max_head_bytes`]: 64 KiB.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;
/// Default for [`Limits::max_headers`]: 100 fields.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Default for [`Limits::max_target_bytes`]: 8 KiB.
pub const DEFAULT_MAX_TARGET_BYTES: usize = 8 * 1024;
/// Default for [`Limits::max_body_bytes`]: 8 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;
/// Default for [`Limits::max_chunk_extension_bytes`]: 4 KiB per message.
pub const DEFAULT_MAX_CHUNK_EXTENSION_BYTES: usize = 4 * 1024;
/// Default for [`Limits::max_trailer_bytes`]: 16 KiB.
pub const DEFAULT_MAX_TRAILER_BYTES: usize = 16 * 1024;

/// Bounds on what a peer may send. Going over one is a [`DecodeError`]
/// (named below) that maps to the status in brackets.
///
/// [`DecodeError`]: crate::DecodeError
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in a head: request or status line, header fields, line endings and
    /// any empty lines before the request line. `HeadTooLarge` (431).
    pub max_head_bytes: usize,
    /// Header fields in a head, and trailer fields after a chunked body.
    /// `TooManyHeaders` (431).
    pub max_headers: usize,
    /// Bytes in a request target. `TargetTooLong` (414).
    pub max_target_bytes: usize,
    /// Bytes of body after transfer decoding. Checked against `Content-Length`
    /// before any body byte is read, and against each chunk size as it
    /// arrives. `BodyTooLarge` (413).
    pub max_body_bytes: u64,
    /// Bytes of chunk extensions (everything between a chunk size and its CRLF)
    /// summed over one message. `ChunkExtensionTooLarge` (400).
    pub max_chunk_extension_bytes: usize,
    /// Bytes in the trailer section of a chunked body. `TrailersTooLarge` (431).
    pub max_trailer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_target_bytes: DEFAULT_MAX_TARGET_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_chunk_extension_bytes: DEFAULT_MAX_CHUNK_EXTENSION_BYTES,
            max_trailer_bytes: DEFAULT_MAX_TRAILER_BYTES,
        }
    }
}
