//! Arbitrary bytes through the request decoder (strict and lenient) and the
//! response decoder: no panic, never more consumed than given, and every
//! decoded request re-encodes to something that decodes to the same request.
#![no_main]

use http_codec::{
    encode_request, Decoded, Limits, RequestDecoder, RequestFraming, ResponseDecoded,
    ResponseDecoder,
};
use libfuzzer_sys::fuzz_target;

fn requests(data: &[u8], lenient: bool) {
    let limits = Limits {
        max_head_bytes: 4096,
        max_body_bytes: 4096,
        ..Limits::default()
    };
    let mut dec = RequestDecoder::new(limits).allow_bare_lf(lenient);
    let mut rest = data;
    while let Ok(decoded) = dec.decode(rest) {
        match decoded {
            Decoded::Message { head, consumed } => {
                assert!(consumed <= rest.len());
                rest = &rest[consumed..];
                // What we accepted, we can say again, and read back the same.
                let mut wire = Vec::new();
                encode_request(&head.request, RequestFraming::Length, &mut wire);
                // Re-encoding may add a Content-Length field and spaces after
                // colons, so give the second decode room.
                let mut again = RequestDecoder::new(Limits {
                    max_head_bytes: 1 << 20,
                    max_headers: 1000,
                    ..limits
                });
                match again.decode(&wire) {
                    Ok(Decoded::Message { head: h2, consumed }) => {
                        assert_eq!(consumed, wire.len());
                        assert_eq!(h2.request.method(), head.request.method());
                        assert_eq!(h2.request.target(), head.request.target());
                        assert_eq!(h2.request.body(), head.request.body());
                    }
                    other => panic!("re-encoded request did not decode: {other:?}"),
                }
            }
            Decoded::Partial { consumed } => {
                assert!(consumed <= rest.len());
                break;
            }
            Decoded::Closed => break,
        }
    }
}

fn responses(data: &[u8]) {
    let mut dec = ResponseDecoder::new(Limits {
        max_body_bytes: 4096,
        ..Limits::default()
    });
    let mut rest = data;
    while let Ok(ResponseDecoded::Message { consumed, .. }) = dec.decode(rest, false) {
        assert!(consumed <= rest.len());
        rest = &rest[consumed..];
    }
    let _ = dec.finish();
}

fuzz_target!(|data: &[u8]| {
    requests(data, false);
    requests(data, true);
    responses(data);
});
