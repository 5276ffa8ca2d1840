//! The llhttp request corpus in `../shared/conformance/` (see its README), run
//! against this decoder: whole, split at every byte offset, and one byte at a
//! time. Every case must agree with llhttp's verdict and messages, or be listed
//! in [`DIFFERENCES`] with the reason and the RFC section that allows it. A
//! listed case that agrees fails the test too, so the list cannot go stale.
//!
//! The stored inputs lack the final CRLF that llhttp's markdown harness sends
//! after each block: 50 of them end in a message's last header line or last
//! chunk line and yet llhttp reports that message complete, which needs the
//! empty line (RFC 9112 section 2.1); llhttp's own "curl get" sample, inherited
//! from http-parser, ends in that empty line, which the stored copy
//! (`request/sample.md:69`) lacks. So each case is judged on its bytes plus
//! CRLF. It is also run on its bytes exactly as stored, where it must not go
//! further than the judged run: the same messages or fewer, and no other error.

mod common;

use std::path::PathBuf;

use common::{decode_all_splits, End, Outcome};
use http_codec::RequestDecoder;
use serde_json::Value;

/// Cases where this decoder deliberately differs from llhttp, by `src`.
const DIFFERENCES: &[(&str, &str)] = &[
    (
        "request/connection.md:266",
        "trailing whitespace is not part of a field value (RFC 9110 section 5.5); llhttp keeps the tab of `close\\t`, we drop it",
    ),
    (
        "request/connection.md:346",
        "trailing whitespace is not part of a field value (RFC 9110 section 5.5); llhttp keeps the tab of `close\\t`, we drop it",
    ),
    (
        "request/content-length.md:446",
        "llhttp reports both heads with empty bodies (its harness skipped bodies for this header-state test); by RFC 9112 section 6.3 the 123 bytes after the first head are its body, so we wait for them",
    ),
    (
        "request/invalid.md:68",
        "ANNOUNCE is a token, so a valid extension method on HTTP/1.0 (RFC 9110 section 9.1); llhttp knows it only as an RTSP method. The application answers it (405 or 501)",
    ),
    (
        "request/invalid.md:358",
        "MKCOLA is a token, so a valid extension method (RFC 9110 section 9.1); llhttp accepts only methods on its list",
    ),
    (
        "request/method.md:374",
        "ICE/1.0 is not an HTTP version (RFC 9112 section 2.3: HTTP-name is \"HTTP\"); we refuse with 400 what llhttp parses as a SHOUTcast request",
    ),
    (
        "request/method.md:404",
        "RTSP/1.0 is not an HTTP version (RFC 9112 section 2.3); we refuse with 400 what llhttp parses as RTSP",
    ),
    (
        "request/method.md:432",
        "RTSP/1.0 is not an HTTP version (RFC 9112 section 2.3); we refuse with 400 what llhttp parses as RTSP",
    ),
    (
        "request/pipelining.md:6",
        "llhttp's block ends in `CCCC` with no line ending, so it saw four of the five body bytes; the stored bytes (and so ours) end `CCCC\\r\\n`, which completes the third request's Content-Length: 5 (RFC 9112 section 6.2)",
    ),
    (
        "request/sample.md:316",
        "`GET /` with no version is an HTTP/0.9 simple request, which RFC 9112 section 3 does not allow (the request-line needs HTTP-version); we answer 400",
    ),
    (
        "request/transfer-encoding.md:753",
        "a transfer coding other than chunked (deflate) that we do not decode: RFC 9112 section 6.1 says a server SHOULD answer 501; llhttp hands the deflated body on",
    ),
    (
        "request/transfer-encoding.md:795",
        "a transfer coding other than chunked (deflate) that we do not decode: RFC 9112 section 6.1 says a server SHOULD answer 501; llhttp hands the deflated body on",
    ),
];

fn corpus_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CONFORMANCE_CORPUS") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/llhttp-requests.json")
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 byte {c}"),
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        acc = acc << 6 | value(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

/// llhttp's messages in the shape of ours: method, target, version, headers, body.
type Summary = Vec<(String, String, String, Vec<(String, Vec<u8>)>, Vec<u8>)>;

fn expected(case: &Value) -> Summary {
    case["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            let headers = m["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().expect("name").to_owned(),
                        latin1(h[1].as_str().expect("value")),
                    )
                })
                .collect();
            (
                m["method"].as_str().expect("method").to_owned(),
                m["url"].as_str().expect("url").to_owned(),
                m["version"].as_str().expect("version").to_owned(),
                headers,
                latin1(m["body"].as_str().expect("body")),
            )
        })
        .collect()
}

fn ours(outcome: &Outcome) -> Summary {
    outcome
        .messages
        .iter()
        .map(|m| {
            (
                m.method.clone(),
                m.target.clone(),
                format!("{}.{}", m.version.0, m.version.1),
                // llhttp reports trailer fields as more header fields.
                m.headers.iter().chain(&m.trailers).cloned().collect(),
                m.body.clone(),
            )
        })
        .collect()
}

/// Why our result differs from llhttp's, or `None` when they agree.
fn disagreement(case: &Value, outcome: &Outcome) -> Option<String> {
    let want = expected(case);
    let got = ours(outcome);
    if got != want {
        return Some(format!("messages differ: llhttp {want:?}, ours {got:?}"));
    }
    let code = case["error"].get("code").and_then(Value::as_u64);
    let ok = match code {
        None => matches!(outcome.end, End::Open | End::Closed { unread: false }),
        // Pauses on CONNECT/Upgrade/PRI and "data after Connection: close":
        // stopping or refusing are both fine; reading on is not.
        Some(5 | 22 | 23) => matches!(outcome.end, End::Closed { .. } | End::Error(_)),
        Some(_) => matches!(outcome.end, End::Error(_)),
    };
    (!ok).then(|| format!("llhttp error {code:?}, ours {:?}", outcome.end))
}

#[test]
fn llhttp_corpus() {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the conformance corpus is required at {} ({e}); CI checks out shared/ beside the repository",
            path.display()
        )
    });
    let cases: Vec<Value> = serde_json::from_str(&text).expect("corpus is JSON");
    assert_eq!(cases.len(), 121, "the corpus README promises 121 cases");

    let mut failures = Vec::new();
    let mut differing = 0;
    for case in &cases {
        let src = case["src"].as_str().expect("src");
        let stored = base64_decode(case["raw_b64"].as_str().expect("raw_b64"));
        let mut input = stored.clone();
        input.extend_from_slice(b"\r\n");
        let outcome = decode_all_splits(RequestDecoder::default, &input);
        let as_stored = decode_all_splits(RequestDecoder::default, &stored);
        let prefix = outcome.messages.starts_with(&as_stored.messages);
        let same_end = as_stored.end == End::Open || as_stored.end == outcome.end;
        if !prefix || !same_end {
            failures.push(format!(
                "{src}: as stored goes further than with CRLF restored: {as_stored:?} vs {outcome:?}"
            ));
        }
        let listed = DIFFERENCES.iter().find(|(s, _)| *s == src);
        match (disagreement(case, &outcome), listed) {
            (None, None) => {}
            (Some(_), Some(_)) => differing += 1,
            (Some(why), None) => failures.push(format!(
                "{src}: {why}\n    input {:?}",
                input.escape_ascii().to_string()
            )),
            (None, Some(_)) => failures.push(format!(
                "{src}: listed as a difference but agrees with llhttp; remove it from DIFFERENCES"
            )),
        }
    }
    for (src, _) in DIFFERENCES {
        assert!(
            cases.iter().any(|c| c["src"] == *src),
            "{src} in DIFFERENCES is not in the corpus"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with llhttp:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} cases: {} agree with llhttp, {} differ as listed",
        cases.len(),
        cases.len() - differing,
        differing
    );
}
