//! `cargo xtask <task>`: the project's chores, in Rust, with no dependencies.
//!
//! - `cargo xtask fuzz <target> [--seconds N]`: run one cargo-fuzz target
//!   (`request_decoder`, `request_split`, `chunked_decoder`) for N seconds
//!   (default 60). Uses `RUSTC_BOOTSTRAP=1` so a stable toolchain can build with
//!   the sanitizer flags cargo-fuzz needs. Starts from `fuzz/seeds/` and the
//!   target's own `fuzz/corpus/<target>/`; crashes land in `fuzz/artifacts/`.
//! - `cargo xtask fuzz-build`: build every fuzz target (what CI runs).
//! - `cargo xtask bench [--full] [--smoke] [--rounds N] [--seconds N]`: the
//!   criterion codec benches (quick by default), then load scenarios against
//!   the release `echo` example under `wrk`, server and wrk pinned to
//!   different cores, reporting requests per second and the server's CPU time
//!   per request; a table on stdout, JSON under `target/bench/`. `--smoke` is
//!   one short round of every scenario against our server, to keep the
//!   harness working. `--compare` also runs the peers in `bench/peers/` (its
//!   own workspace), interleaved round by round, with ratios to the raw loop
//!   and to hyper (the median of the per-round ratios, with their range);
//!   with `--smoke`, one short round of them too.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod load;

const FUZZ_TARGETS: [&str; 3] = ["request_decoder", "request_split", "chunked_decoder"];

fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed: {status}", cmd.get_program()))
    }
}

fn has_cargo_fuzz() -> bool {
    Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn fuzz(args: &[String]) -> Result<(), String> {
    let mut target = None;
    let mut seconds = 60u64;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a number")?;
                seconds = v
                    .parse()
                    .map_err(|_| format!("--seconds: not a number: {v}"))?;
            }
            t if target.is_none() && !t.starts_with('-') => target = Some(t.to_owned()),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    let target = target.ok_or_else(|| format!("which target? one of {FUZZ_TARGETS:?}"))?;
    if !FUZZ_TARGETS.contains(&target.as_str()) {
        return Err(format!("unknown target {target}; one of {FUZZ_TARGETS:?}"));
    }
    if !has_cargo_fuzz() {
        return Err("cargo-fuzz is missing: cargo install cargo-fuzz".into());
    }
    let corpus = root().join("fuzz/corpus").join(&target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    run(Command::new("cargo")
        .current_dir(root().join("fuzz"))
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", "-O", &target])
        .arg(&corpus)
        .arg(root().join("fuzz/seeds"))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1"))
}

fn fuzz_build() -> Result<(), String> {
    if !has_cargo_fuzz() {
        return Err("cargo-fuzz is missing: cargo install cargo-fuzz".into());
    }
    run(Command::new("cargo")
        .current_dir(root().join("fuzz"))
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "build", "-O"]))
}

fn bench(args: &[String]) -> Result<(), String> {
    let mut full = false;
    let mut smoke = false;
    let mut compare = false;
    let mut rounds = None;
    let mut seconds = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--full" => full = true,
            "--smoke" => smoke = true,
            "--compare" => compare = true,
            "--rounds" => rounds = Some(number("--rounds")? as usize),
            "--seconds" => seconds = Some(number("--seconds")?),
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: cargo xtask bench [--full] [--smoke] [--compare] [--rounds N] [--seconds N]"
                ))
            }
        }
    }
    if !load::which("wrk") {
        return Err("wrk is missing: apt-get install wrk".into());
    }
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root())
        .args(["bench", "-p", "benches", "--bench", "codec", "--"]);
    if smoke {
        // Each benchmark once, as a test: the harness still runs.
        cmd.arg("--test");
    } else if !full {
        // Short warm-up and measurement: enough for ratios, minutes faster.
        cmd.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    run(&mut cmd)?;
    let opts = load::Options {
        rounds: rounds.unwrap_or(if smoke {
            1
        } else if full {
            5
        } else {
            3
        }),
        seconds: seconds.unwrap_or(if smoke {
            1
        } else if full {
            10
        } else {
            5
        }),
        idle_connections: if smoke { 200 } else { 5000 },
        compare,
    };
    load::run(&root(), &opts, &root().join("target/bench"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((task, rest)) if task == "fuzz" => fuzz(rest),
        Some((task, [])) if task == "fuzz-build" => fuzz_build(),
        Some((task, rest)) if task == "bench" => bench(rest),
        _ => Err(
            "usage: cargo xtask <fuzz TARGET [--seconds N] | fuzz-build | bench [--full] [--smoke] [--compare] [--rounds N] [--seconds N]>".into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
