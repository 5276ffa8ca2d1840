//! Benchmarks live in `codec.rs`; run them with `cargo xtask bench`.
