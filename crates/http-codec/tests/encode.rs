//! Table-driven response encoding: framing is the encoder's, whatever the
//! response's own fields say.

use http_codec::{encode_response, ConnectionHeader, EncodeOptions, Framing};
use http_types::{Body, Headers, HttpCode, HttpVersion, Response};

fn response(code: u16, fields: &[(&str, &str)], body: &[u8]) -> Response {
    let mut h = Headers::new();
    for (n, v) in fields {
        h.append(n, v).unwrap();
    }
    Response::from_parts(
        HttpCode::from_u16(code).unwrap(),
        HttpVersion::Http11,
        h,
        Body::Bytes(body.to_vec()),
    )
}

fn check(resp: &Response, opts: EncodeOptions, want: &str, framing: Framing) {
    let mut out = b"left alone|".to_vec();
    let got = encode_response(
        resp,
        &EncodeOptions {
            date: false,
            ..opts
        },
        &mut out,
    );
    assert_eq!(String::from_utf8_lossy(&out), format!("left alone|{want}"));
    assert_eq!(got, framing);
}

#[test]
fn framing_belongs_to_the_encoder() {
    let plain = EncodeOptions::default();
    check(
        &response(200, &[("Content-Type", "text/plain")], b"hi"),
        plain,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        Framing::Length(2),
    );
    // A handler's own Content-Length or Transfer-Encoding cannot break framing.
    check(
        &response(
            200,
            &[("content-length", "999"), ("Transfer-Encoding", "chunked")],
            b"hi",
        ),
        plain,
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
        Framing::Length(2),
    );
    check(
        &response(200, &[], b""),
        plain,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        Framing::Length(0),
    );
    // No body, and no length, for 1xx, 204 and 304.
    check(
        &response(204, &[], b"ignored"),
        plain,
        "HTTP/1.1 204 No Content\r\n\r\n",
        Framing::Empty,
    );
    check(
        &response(304, &[("ETag", "\"x\"")], b""),
        plain,
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
        Framing::Empty,
    );
    check(
        &response(101, &[("Upgrade", "websocket")], b""),
        plain,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        Framing::Empty,
    );
    // HEAD: the length a GET would get, no body.
    check(
        &response(200, &[], b"hello"),
        EncodeOptions {
            head_request: true,
            ..plain
        },
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        Framing::Empty,
    );
    // An unregistered code has no reason phrase, but keeps the space.
    check(
        &response(299, &[], b""),
        plain,
        "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n",
        Framing::Length(0),
    );
}

#[test]
fn connection_server_and_date() {
    let plain = EncodeOptions::default();
    check(
        &response(200, &[("Connection", "keep-alive")], b""),
        EncodeOptions {
            connection: ConnectionHeader::Close,
            ..plain
        },
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        Framing::Length(0),
    );
    check(
        &response(200, &[], b""),
        EncodeOptions {
            connection: ConnectionHeader::KeepAlive,
            server: Some("mini"),
            ..plain
        },
        "HTTP/1.1 200 OK\r\nServer: mini\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        Framing::Length(0),
    );
    // The application's own Server and Date win.
    check(
        &response(200, &[("Server", "mine"), ("Date", "Thu, 01 Jan 1970 00:00:00 GMT")], b""),
        EncodeOptions { server: Some("mini"), date: true, ..plain },
        "HTTP/1.1 200 OK\r\nServer: mine\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n",
        Framing::Length(0),
    );
    let mut out = Vec::new();
    encode_response(&response(200, &[], b""), &plain, &mut out);
    let text = String::from_utf8(out).unwrap();
    let date = text
        .lines()
        .find_map(|l| l.strip_prefix("Date: "))
        .expect("a Date field");
    assert_eq!(date.len(), 29);
    assert!(date.ends_with(" GMT"));
}

#[test]
fn encoding_reuses_the_buffer() {
    let resp = response(200, &[("Content-Type", "text/plain")], b"Hello, World!");
    let mut out = Vec::with_capacity(512);
    let before = out.as_ptr();
    for _ in 0..1000 {
        out.clear();
        encode_response(&resp, &EncodeOptions::default(), &mut out);
    }
    assert_eq!(
        out.as_ptr(),
        before,
        "no reallocation once the buffer is big enough"
    );
}
