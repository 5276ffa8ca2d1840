//! Helpers shared by the codec's integration tests.
#![allow(dead_code)]

use http_codec::{DecodeError, Decoded, Expect, Framing, RequestDecoder};

/// Everything observable about one decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub method: String,
    pub target: String,
    pub version: (u8, u8),
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub framing: Framing,
    pub keep_alive: bool,
    pub expect: Expect,
    pub upgrade: bool,
    pub trailers: Vec<(String, Vec<u8>)>,
}

/// How decoding a whole input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every byte was used or is waiting for more.
    Open,
    /// The decoder stopped after a closing or upgrading request; `unread`
    /// says whether anything but empty lines came after it.
    Closed { unread: bool },
    /// The decoder refused the input.
    Error(DecodeError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub messages: Vec<Msg>,
    pub end: End,
}

/// Feed `input` to `decoder` in pieces cut at `cuts` (ascending offsets),
/// decoding everything possible after each piece.
pub fn feed_cut(mut decoder: RequestDecoder, input: &[u8], cuts: &[usize]) -> Outcome {
    let mut buf = Vec::new();
    let mut messages = Vec::new();
    let mut start = 0;
    let ends = cuts.iter().copied().chain(std::iter::once(input.len()));
    for cut in ends {
        buf.extend_from_slice(&input[start..cut]);
        start = cut;
        loop {
            match decoder.decode(&buf) {
                Ok(Decoded::Message { head, consumed }) => {
                    assert!(consumed <= buf.len(), "consumed more than given");
                    buf.drain(..consumed);
                    let r = &head.request;
                    messages.push(Msg {
                        method: r.method().as_str().to_owned(),
                        target: r.target().to_owned(),
                        version: (r.protocol().major, r.protocol().minor),
                        headers: r
                            .headers()
                            .iter()
                            .map(|(n, v)| (n.to_owned(), v.as_bytes().to_vec()))
                            .collect(),
                        body: r.body().to_vec(),
                        framing: head.framing,
                        keep_alive: head.keep_alive,
                        expect: head.expect,
                        upgrade: head.upgrade,
                        trailers: head
                            .trailers
                            .iter()
                            .flat_map(|t| t.iter())
                            .map(|(n, v)| (n.to_owned(), v.as_bytes().to_vec()))
                            .collect(),
                    });
                }
                Ok(Decoded::Partial { consumed }) => {
                    assert!(consumed <= buf.len(), "consumed more than given");
                    buf.drain(..consumed);
                    break;
                }
                Ok(Decoded::Closed) => {
                    let rest = buf.iter().chain(&input[start..]);
                    let unread = rest.into_iter().any(|&b| b != b'\r' && b != b'\n');
                    return Outcome {
                        messages,
                        end: End::Closed { unread },
                    };
                }
                Err(e) => {
                    return Outcome {
                        messages,
                        end: End::Error(e),
                    }
                }
            }
        }
    }
    Outcome {
        messages,
        end: End::Open,
    }
}

/// Decode `input` whole, then split at every offset and one byte at a time,
/// and require every way of feeding it to give the same outcome.
pub fn decode_all_splits(make: impl Fn() -> RequestDecoder, input: &[u8]) -> Outcome {
    let whole = feed_cut(make(), input, &[]);
    for at in 0..=input.len() {
        let split = feed_cut(make(), input, &[at]);
        assert_eq!(
            split,
            whole,
            "split at {at} of {:?}",
            input.escape_ascii().to_string()
        );
    }
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        feed_cut(make(), input, &bytewise),
        whole,
        "fed one byte at a time"
    );
    whole
}
