//! Runs one head decoder many times on one input, for instruction counts under
//! `valgrind --tool=callgrind` (steady on a noisy machine, unlike time):
//! `icount <httparse|codec|owned> <browser|short> <iterations>` (`owned`:
//! the whole request decoder, down to an owned `Request`).

use std::hint::black_box;

use http_codec::{Decoded, HeadDecoder, Limits, RequestDecoder};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parsed = match args.as_slice() {
        [_, w, i, n] => matches!(w.as_str(), "httparse" | "codec" | "owned")
            .then_some((w.as_str(), i.as_str()))
            .zip(n.parse::<usize>().ok()),
        _ => None,
    };
    let buf = match parsed {
        Some(((_, "browser"), _)) => benches::browser_get(),
        Some(((_, "short"), _)) => benches::short_get(),
        _ => {
            eprintln!("usage: icount <httparse|codec|owned> <browser|short> <iterations>");
            std::process::exit(2);
        }
    };
    let ((which, _), n) = parsed.unwrap_or_default();
    let mut total = 0usize;
    let mut decoder = HeadDecoder::new(Limits::default());
    let mut owned = RequestDecoder::new(Limits::default());
    for _ in 0..n {
        total += match which {
            "httparse" => {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(black_box(&buf)) {
                    Ok(httparse::Status::Complete(n)) => n,
                    _ => 0,
                }
            }
            "owned" => match owned.decode(black_box(&buf)) {
                Ok(Decoded::Message { head, consumed }) => {
                    black_box(head.request.path().len()) + consumed
                }
                _ => 0,
            },
            _ => match decoder.decode(black_box(&buf)) {
                Ok(Some(head)) => black_box(head).len(),
                _ => 0,
            },
        };
    }
    println!("{total}");
}
