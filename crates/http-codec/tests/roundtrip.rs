//! Property tests: what the encoders write, the decoders read back unchanged,
//! however the bytes are split; and no input makes a decoder panic or claim
//! more bytes than it was given.

mod common;

use common::{feed_cut, End};
use http_codec::{
    encode_request, encode_response, Decoded, EncodeOptions, RequestDecoder, RequestFraming,
    ResponseDecoded, ResponseDecoder,
};
use http_types::{Body, Headers, HttpCode, HttpVersion, Method, Protocol, Request, Response};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Get),
        Just(Method::Head),
        Just(Method::Post),
        Just(Method::Put),
        Just(Method::Delete),
        Just(Method::Options),
        Just(Method::Trace),
        Just(Method::Patch),
        "[A-Z][A-Z0-9!#$%&'*+.^_`|~-]{0,11}"
            .prop_filter("not a special method", |m| m != "PRI" && m != "CONNECT")
            .prop_map(|m| Method::from_bytes(m.as_bytes()).expect("token")),
    ]
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,40}(\\?[A-Za-z0-9=&%+/?-]{0,30})?",
        Just("*".to_owned()),
        "http://[a-z]{1,10}\\.example(:[0-9]{2,5})?/[a-z0-9/]{0,20}",
    ]
}

/// Header fields the encoders do not own: no framing fields, values with no
/// whitespace at either end (a decoder strips it, RFC 9110 section 5.5).
fn fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}".prop_filter("not a framing field", |n| {
        !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding")
    });
    let value = prop_oneof![
        Just(Vec::new()),
        (
            proptest::collection::vec(prop_oneof![0x21u8..0x7f, 0x80u8..=0xff], 1..2),
            proptest::collection::vec(
                prop_oneof![Just(b' '), Just(b'\t'), 0x21u8..0x7f, 0x80u8..=0xff],
                0..30
            ),
            proptest::collection::vec(prop_oneof![0x21u8..0x7f, 0x80u8..=0xff], 0..2),
        )
            .prop_map(|(a, b, c)| {
                let mut v = a;
                if !c.is_empty() {
                    v.extend(b);
                    v.extend(c);
                }
                v
            }),
    ];
    proptest::collection::vec((name, value), 0..12)
}

fn headers_of(fields: &[(String, Vec<u8>)]) -> Headers {
    let mut h = Headers::new();
    for (n, v) in fields {
        h.append(n, v).expect("generated fields are valid");
    }
    h
}

fn cuts(len: usize, raw: Vec<usize>) -> Vec<usize> {
    let mut c: Vec<usize> = raw.into_iter().map(|c| c % (len + 1)).collect();
    c.sort_unstable();
    c
}

prop_compose! {
    fn request()(
        method in method(),
        target in target(),
        minor in 0u8..=1,
        fields in fields(),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) -> Request {
        let mut r = Request::new(method, target).expect("generated target is valid");
        r.set_protocol(Protocol { major: 1, minor });
        r.set_headers(headers_of(&fields));
        r.set_body(body);
        r
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn requests_round_trip(
        req in request(),
        chunked in proptest::option::of(1usize..64),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let framing = chunked.map_or(RequestFraming::Length, RequestFraming::Chunked);
        let mut wire = Vec::new();
        encode_request(&req, framing, &mut wire);
        let cuts = cuts(wire.len(), raw_cuts);
        let got = feed_cut(RequestDecoder::default(), &wire, &cuts);
        prop_assert_eq!(got.messages.len(), 1, "{:?}", got);
        let m = &got.messages[0];
        prop_assert_eq!(&m.method, req.method().as_str());
        prop_assert_eq!(&m.target, req.target());
        prop_assert_eq!(m.version, (1, req.protocol().minor));
        let sent: Vec<(String, Vec<u8>)> = req.headers().iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect();
        let received: Vec<(String, Vec<u8>)> = m.headers.iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding"))
            .cloned().collect();
        prop_assert_eq!(received, sent);
        prop_assert_eq!(&m.body, req.body());
        prop_assert!(matches!(got.end, End::Open | End::Closed { unread: false }), "{:?}", got.end);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..4),
        lenient in any::<bool>(),
    ) {
        // feed_cut asserts that no call claims more bytes than it was given.
        let cuts = cuts(input.len(), raw_cuts);
        feed_cut(RequestDecoder::default().allow_bare_lf(lenient), &input, &cuts);
        let mut dec = ResponseDecoder::default();
        if let Ok(ResponseDecoded::Message { consumed, .. } | ResponseDecoded::Partial { consumed }) = dec.decode(&input, false) {
            prop_assert!(consumed <= input.len());
        }
    }

    #[test]
    fn http_shaped_bytes_never_panic(
        pieces in proptest::collection::vec(prop_oneof![
            Just(&b"GET / HTTP/1.1\r\n"[..]), Just(&b"POST /x HTTP/1.0\r\n"[..]), Just(&b"\r\n"[..]),
            Just(&b"\n"[..]), Just(&b"\r"[..]), Just(&b"Content-Length: 3\r\n"[..]), Just(&b"Content-Length: 1, 1\r\n"[..]),
            Just(&b"Transfer-Encoding: chunked\r\n"[..]), Just(&b"Connection: close\r\n"[..]), Just(&b"Expect: 100-continue\r\n"[..]),
            Just(&b"3\r\nabc\r\n"[..]), Just(&b"0\r\n\r\n"[..]), Just(&b"5;a=\"b\"\r\n"[..]), Just(&b"X: y\r\n"[..]),
            Just(&b" folded\r\n"[..]), Just(&b"abc"[..]), Just(&b"\0"[..]), Just(&b"HTTP/1.1 200 OK\r\n"[..]),
        ], 0..24),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..4),
    ) {
        let input: Vec<u8> = pieces.concat();
        let cuts = cuts(input.len(), raw_cuts);
        let whole = feed_cut(RequestDecoder::default(), &input, &[]);
        let split = feed_cut(RequestDecoder::default(), &input, &cuts);
        prop_assert_eq!(whole, split);
        let mut dec = ResponseDecoder::default();
        let mut rest = &input[..];
        while let Ok(ResponseDecoded::Message { consumed, .. }) = dec.decode(rest, false) {
            prop_assert!(consumed <= rest.len());
            rest = &rest[consumed..];
        }
    }

    #[test]
    fn responses_round_trip(
        code in prop_oneof![100u16..=999, Just(200u16), Just(204u16), Just(304u16), Just(404u16)],
        fields in fields(),
        body in proptest::collection::vec(any::<u8>(), 0..400),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..4),
    ) {
        let status = HttpCode::from_u16(code).expect("in range");
        let body = if status.forbids_body() { Vec::new() } else { body };
        let resp = Response::from_parts(status, HttpVersion::Http11, headers_of(&fields), Body::Bytes(body));
        let mut wire = Vec::new();
        encode_response(&resp, &EncodeOptions { date: false, ..EncodeOptions::default() }, &mut wire);
        let cuts = cuts(wire.len(), raw_cuts);
        let mut dec = ResponseDecoder::default();
        let mut buf = Vec::new();
        let mut start = 0;
        let mut decoded = None;
        for cut in cuts.into_iter().chain(std::iter::once(wire.len())) {
            buf.extend_from_slice(&wire[start..cut]);
            start = cut;
            match dec.decode(&buf, false).expect("our own output decodes") {
                ResponseDecoded::Partial { consumed } => { buf.drain(..consumed); }
                ResponseDecoded::Message { response, consumed, keep_alive } => {
                    prop_assert_eq!(consumed, buf.len());
                    prop_assert!(keep_alive);
                    decoded = Some(response);
                    break;
                }
            }
        }
        let got = decoded.expect("a whole response");
        prop_assert_eq!(got.status(), resp.status());
        let mut headers = got.headers().clone();
        headers.remove("content-length");
        prop_assert_eq!(&headers, resp.headers());
        prop_assert_eq!(got.body(), resp.body());
    }
}

#[test]
fn request_decoder_decodes_what_a_browser_sends_pipelined() {
    let one = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let wire: Vec<u8> = one.iter().copied().cycle().take(one.len() * 100).collect();
    let mut dec = RequestDecoder::default();
    let mut rest = &wire[..];
    let mut n = 0;
    while let Ok(Decoded::Message { consumed, .. }) = dec.decode(rest) {
        rest = &rest[consumed..];
        n += 1;
    }
    assert_eq!(n, 100);
    assert!(rest.is_empty());
}
