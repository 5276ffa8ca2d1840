//! `cargo xtask <task>`: the project's chores, in Rust, with no dependencies.
//!
//! - `cargo xtask fuzz <target> [--seconds N]`: run one cargo-fuzz target
//!   (`request_decoder`, `request_split`, `chunked_decoder`) for N seconds
//!   (default 60). Uses `RUSTC_BOOTSTRAP=1` so a stable toolchain can build with
//!   the sanitizer flags cargo-fuzz needs. Starts from `fuzz/seeds/` and the
//!   target's own `fuzz/corpus/<target>/`; crashes land in `fuzz/artifacts/`.
//! - `cargo xtask fuzz-build`: build every fuzz target (what CI runs).
//! - `cargo xtask bench [--full]`: the criterion codec benches, quick by default.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

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
    let full = match args {
        [] => false,
        [flag] if flag == "--full" => true,
        _ => return Err("usage: cargo xtask bench [--full]".into()),
    };
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root())
        .args(["bench", "-p", "benches", "--bench", "codec", "--"]);
    if !full {
        // Short warm-up and measurement: enough for ratios, minutes faster.
        cmd.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    run(&mut cmd)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((task, rest)) if task == "fuzz" => fuzz(rest),
        Some((task, [])) if task == "fuzz-build" => fuzz_build(),
        Some((task, rest)) if task == "bench" => bench(rest),
        _ => Err(
            "usage: cargo xtask <fuzz TARGET [--seconds N] | fuzz-build | bench [--full]>".into(),
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
