//! Inputs shared by the codec benchmarks (`benches/codec.rs`, run with
//! `cargo xtask bench`) and the instruction-count probe
//! (`examples/icount.rs`, run under callgrind).

/// A typical browser navigation request, 720 bytes.
pub fn browser_get() -> Vec<u8> {
    let mut r = format!(
        "GET /articles/2024/how-to-write-a-fast-http-server?ref=home&utm_source=feed HTTP/1.1\r\n{BROWSER_FIELDS}"
    )
    .into_bytes();
    // Pad with one more field to exactly 720 bytes, then end the head.
    let pad = 720 - r.len() - "X-Pad: \r\n\r\n".len();
    r.extend_from_slice(format!("X-Pad: {}\r\n\r\n", "p".repeat(pad)).as_bytes());
    assert_eq!(r.len(), 720);
    r
}

/// The 14 field lines a browser sends with a GET for a page, each ending
/// in CRLF (no empty line after them).
pub const BROWSER_FIELDS: &str = "Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Language: en-GB,en;q=0.7,fr;q=0.3\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://www.example.com/\r\n\
Connection: keep-alive\r\n\
Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; consent=yes\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-User: ?1\r\n\
Priority: u=0, i\r\n";

/// A minimal GET, as a load generator sends it.
pub fn short_get() -> Vec<u8> {
    b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec()
}

/// A 32 KiB head of long fields.
pub fn large_head() -> Vec<u8> {
    let mut r = b"GET / HTTP/1.1\r\n".to_vec();
    let mut i = 0;
    while r.len() < 32 * 1024 - 600 {
        r.extend_from_slice(format!("X-Field-{i:03}: {}\r\n", "v".repeat(480)).as_bytes());
        i += 1;
    }
    let pad = 32 * 1024 - r.len() - "X-Pad: \r\n\r\n".len();
    r.extend_from_slice(format!("X-Pad: {}\r\n\r\n", "p".repeat(pad)).as_bytes());
    assert_eq!(r.len(), 32 * 1024);
    r
}
