//! What every peer shares: the command line (`--addr`, `--workers`,
//! `--delay-ms`), the first stdout line the harness waits for, the body of
//! `GET /big`, and the JSON body of the echo contract (same shape as
//! `examples/echo.rs`).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::time::Duration;

pub const PLAINTEXT: &str = "Hello, World!";

/// Length of the body `GET /big` answers with (the big-response scenario).
pub const BIG_LEN: usize = 256 * 1024;

/// The body `GET /big` answers with.
pub static BIG: [u8; BIG_LEN] = [b'b'; BIG_LEN];

/// Parsed command line of a peer.
#[derive(Clone, Debug)]
pub struct Args {
    pub addr: String,
    pub workers: usize,
    pub delay: Duration,
}

impl Args {
    /// Reads `--addr HOST:PORT --workers N --delay-ms N` from the process
    /// arguments; exits with status 2 on anything else.
    pub fn parse(name: &str) -> Args {
        let mut out = Args {
            addr: "127.0.0.1:7878".to_owned(),
            workers: std::thread::available_parallelism().map_or(4, |n| n.get()),
            delay: Duration::ZERO,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next();
            let number = value.as_deref().and_then(|v| v.parse::<u64>().ok());
            match (flag.as_str(), value.as_deref(), number) {
                ("--addr", Some(a), _) => out.addr = a.to_owned(),
                ("--workers", _, Some(n)) if n > 0 => out.workers = n as usize,
                ("--delay-ms", _, Some(ms)) => out.delay = Duration::from_millis(ms),
                _ => {
                    eprintln!("usage: {name} [--addr HOST:PORT] [--workers N] [--delay-ms N]");
                    std::process::exit(2);
                }
            }
        }
        out
    }

    /// The handler's simulated blocking call (a no-op when the delay is 0).
    pub fn block(&self) {
        block(self.delay);
    }
}

/// Blocks the calling OS thread for `delay` (nothing when it is zero).
pub fn block(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
}

/// For servers that bind by themselves and never say which port they got:
/// resolves `addr`, and when its port is 0 asks the kernel for a free one
/// (bind, read the port, drop the socket). There is a small window in which
/// another process could take the port; fine for a benchmark on loopback.
pub fn concrete_addr(addr: &str) -> std::io::Result<SocketAddr> {
    let mut sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
    if sa.port() == 0 {
        let probe = TcpListener::bind(sa)?;
        sa.set_port(probe.local_addr()?.port());
    }
    Ok(sa)
}

/// Prints the line the harness waits for, and flushes it.
pub fn announce(name: &str, addr: SocketAddr, extra: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{name} listening on http://{addr}{extra}");
    let _ = out.flush();
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Standard base64 with `=` padding.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let a = group[0] as u32;
        let b = group.get(1).copied().unwrap_or(0) as u32;
        let c = group.get(2).copied().unwrap_or(0) as u32;
        let n = (a << 16) | (b << 8) | c;
        out.push(ABC[(n >> 18) as usize & 63] as char);
        out.push(ABC[(n >> 12) as usize & 63] as char);
        out.push(if group.len() > 1 {
            ABC[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if group.len() > 2 {
            ABC[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// The echo contract's JSON:
/// `{"method","uri","version","headers":[[name,value],...],"body":<base64>,"body_len"}`.
/// Header values that are not UTF-8 are converted lossily.
pub fn describe<'a, H>(method: &str, uri: &str, version: &str, headers: H, body: &[u8]) -> String
where
    H: IntoIterator<Item = (&'a str, &'a [u8])>,
{
    let mut out = String::with_capacity(256 + body.len() * 4 / 3);
    out.push_str("{\"method\":");
    json_string(&mut out, method);
    out.push_str(",\"uri\":");
    json_string(&mut out, uri);
    out.push_str(",\"version\":");
    json_string(&mut out, version);
    out.push_str(",\"headers\":[");
    for (i, (name, value)) in headers.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        json_string(&mut out, name);
        out.push(',');
        json_string(&mut out, &String::from_utf8_lossy(value));
        out.push(']');
    }
    out.push_str("],\"body\":");
    json_string(&mut out, &base64(body));
    out.push_str(",\"body_len\":");
    out.push_str(&body.len().to_string());
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"h"), "aA==");
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(base64(b"hi!"), "aGkh");
        assert_eq!(base64(b"Hello, World!"), "SGVsbG8sIFdvcmxkIQ==");
    }

    #[test]
    fn describe_shape() {
        let h: [(&str, &[u8]); 1] = [("a", b"x\"y")];
        assert_eq!(
            describe("POST", "/x?y=1", "HTTP/1.1", h, b"hi"),
            r#"{"method":"POST","uri":"/x?y=1","version":"HTTP/1.1","headers":[["a","x\"y"]],"body":"aGk=","body_len":2}"#
        );
    }
}
