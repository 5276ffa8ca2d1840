//! Codec benchmarks. Each decoding input is also given to raw
//! `httparse::Request::parse`, so the codec's cost is read as a ratio to the
//! tokeniser it is built on.
#![allow(missing_docs)]

use std::hint::black_box;

use benches::{browser_get, large_head, short_get};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http_codec::{
    encode_response, BodyDecoder, Decoded, EncodeOptions, Framing, HeadDecoder, Limits,
    RequestDecoder,
};
use http_types::ResponseBuilder;

fn httparse_once(buf: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("{other:?}"),
    }
}

fn head_once(decoder: &mut HeadDecoder, buf: &[u8]) -> usize {
    match decoder.decode(buf) {
        Ok(Some(head)) => {
            black_box(&head);
            head.len()
        }
        other => panic!("{other:?}"),
    }
}

fn request_once(decoder: &mut RequestDecoder, buf: &[u8]) -> usize {
    match decoder.decode(buf) {
        Ok(Decoded::Message { head, consumed }) => {
            black_box(&head);
            consumed
        }
        other => panic!("{other:?}"),
    }
}

fn heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("head");
    for (name, input) in [
        ("browser_get_720b", browser_get()),
        ("short_get", short_get()),
    ] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("httparse", name), &input, |b, input| {
            b.iter(|| httparse_once(black_box(input)))
        });
        // The full head decode: framing, limits and every RFC 9112 check, into
        // a borrowed head (what the event loop needs).
        group.bench_with_input(BenchmarkId::new("codec", name), &input, |b, input| {
            let mut decoder = HeadDecoder::new(Limits::default());
            b.iter(|| head_once(&mut decoder, black_box(input)))
        });
        // The same plus an owned `Request` (the allocations a handler's input costs).
        group.bench_with_input(BenchmarkId::new("codec_owned", name), &input, |b, input| {
            let mut decoder = RequestDecoder::default();
            b.iter(|| request_once(&mut decoder, black_box(input)))
        });
    }
    group.finish();
}

fn drip(c: &mut Criterion) {
    let input = large_head();
    let limits = Limits {
        max_headers: 200,
        ..Limits::default()
    };
    let mut group = c.benchmark_group("head_32k");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("codec_whole", |b| {
        let mut decoder = HeadDecoder::new(limits);
        b.iter(|| {
            decoder
                .decode(black_box(&input))
                .map(|h| h.map(|h| h.len()))
        })
    });
    group.bench_function("codec_one_byte_at_a_time", |b| {
        b.iter(|| {
            let mut decoder = HeadDecoder::new(limits);
            for end in 1..input.len() {
                assert!(matches!(decoder.decode(&input[..end]), Ok(None)));
            }
            decoder
                .decode(black_box(&input))
                .map(|h| h.map(|h| h.len()))
        })
    });
    group.bench_function("httparse_one_byte_at_a_time", |b| {
        // What calling httparse on every arrival costs: it starts over each time.
        b.iter(|| {
            let mut slots = vec![httparse::EMPTY_HEADER; 200];
            for end in 1..input.len() {
                let mut req = httparse::Request::new(&mut slots);
                assert!(matches!(
                    req.parse(&input[..end]),
                    Ok(httparse::Status::Partial)
                ));
            }
            let mut req = httparse::Request::new(&mut slots);
            req.parse(black_box(&input)).map(|s| s.is_complete())
        })
    });
    group.finish();
}

fn chunked(c: &mut Criterion) {
    // 64 KiB of payload in 4 KiB chunks, each with an extension.
    let mut wire = Vec::new();
    for i in 0..16u8 {
        wire.extend_from_slice(b"1000;seq=x\r\n");
        wire.extend(std::iter::repeat_n(b'a' + i, 4096));
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let mut group = c.benchmark_group("chunked_64k");
    group.throughput(Throughput::Bytes(64 * 1024));
    group.bench_function("codec", |b| {
        let mut out = Vec::with_capacity(64 * 1024);
        b.iter(|| {
            out.clear();
            let mut dec = BodyDecoder::new(Framing::Chunked, Limits::default());
            let p = dec.decode(black_box(&wire), &mut out);
            assert!(matches!(p, Ok(p) if p.done));
            out.len()
        })
    });
    group.bench_function("memcpy_baseline", |b| {
        let mut out = Vec::with_capacity(wire.len());
        b.iter(|| {
            out.clear();
            out.extend_from_slice(black_box(&wire));
            out.len()
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let resp = ResponseBuilder::empty_200()
        .body(&b"Hello, World!"[..])
        .content_type("text/plain")
        .build()
        .expect("valid response");
    let opts = EncodeOptions {
        server: Some("mini-async-http"),
        ..EncodeOptions::default()
    };
    let mut group = c.benchmark_group("encode");
    group.bench_function("small_response", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            encode_response(black_box(&resp), &opts, &mut out);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, heads, drip, chunked, encode);
criterion_main!(benches);
