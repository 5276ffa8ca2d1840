//! Arbitrary bytes as a chunked body: no panic, never more consumed than given,
//! never more payload than input, the body limit holds, and splitting the input
//! in two changes nothing.
#![no_main]

use http_codec::{BodyDecoder, DecodeError, Framing, Limits};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_head_bytes: 1024,
    max_headers: 16,
    max_target_bytes: 256,
    max_body_bytes: 1024,
    max_chunk_extension_bytes: 64,
    max_trailer_bytes: 256,
};

fn run(pieces: &[&[u8]]) -> (Vec<u8>, Result<bool, DecodeError>, usize) {
    let mut dec = BodyDecoder::new(Framing::Chunked, LIMITS);
    let mut out = Vec::new();
    let mut used = 0;
    for piece in pieces {
        match dec.decode(piece, &mut out) {
            Ok(p) => {
                assert!(p.consumed <= piece.len());
                used += p.consumed;
                if p.done {
                    return (out, Ok(true), used);
                }
                assert_eq!(p.consumed, piece.len(), "stopped early without finishing");
            }
            Err(e) => return (out, Err(e), used),
        }
    }
    (out, Ok(false), used)
}

fuzz_target!(|data: &[u8]| {
    let Some((&at, input)) = data.split_first() else {
        return;
    };
    let whole = run(&[input]);
    assert!(whole.0.len() <= input.len());
    assert!(whole.0.len() as u64 <= LIMITS.max_body_bytes);
    let at = usize::from(at) % (input.len() + 1);
    let split = run(&[&input[..at], &input[at..]]);
    // An error may surface with less payload copied, but the verdict and,
    // on success, the payload and bytes used must match.
    match (&whole.1, &split.1) {
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => assert_eq!(whole, split),
    }
});
