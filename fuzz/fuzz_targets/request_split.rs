//! The same bytes fed whole and split at fuzzer-chosen points must decode to
//! the same requests and the same verdict.
#![no_main]

use http_codec::{DecodeError, Decoded, Head, Limits, RequestDecoder};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
enum End {
    Open,
    Closed,
    Error(DecodeError),
}

fn feed(input: &[u8], cuts: &[usize]) -> (Vec<Head>, End) {
    let mut dec = RequestDecoder::new(Limits {
        max_head_bytes: 2048,
        max_body_bytes: 2048,
        ..Limits::default()
    });
    let mut buf = Vec::new();
    let mut heads = Vec::new();
    let mut start = 0;
    for cut in cuts.iter().copied().chain(std::iter::once(input.len())) {
        buf.extend_from_slice(&input[start..cut]);
        start = cut;
        loop {
            match dec.decode(&buf) {
                Ok(Decoded::Message { head, consumed }) => {
                    assert!(consumed <= buf.len());
                    buf.drain(..consumed);
                    heads.push(head);
                }
                Ok(Decoded::Partial { consumed }) => {
                    assert!(consumed <= buf.len());
                    buf.drain(..consumed);
                    break;
                }
                Ok(Decoded::Closed) => return (heads, End::Closed),
                Err(e) => return (heads, End::Error(e)),
            }
        }
    }
    (heads, End::Open)
}

fuzz_target!(|data: &[u8]| {
    // The first byte says how many cut points follow (two bytes each).
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 8);
    if rest.len() < 2 * n {
        return;
    }
    let (cut_bytes, input) = rest.split_at(2 * n);
    let mut cuts: Vec<usize> = cut_bytes
        .chunks(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (input.len() + 1))
        .collect();
    cuts.sort_unstable();
    let whole = feed(input, &[]);
    let split = feed(input, &cuts);
    assert_eq!(whole, split, "cuts {cuts:?}");
});
