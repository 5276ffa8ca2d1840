//! The two examples of the original mini-async-http README, run as they are:
//! `cargo test` builds them, this starts each and talks to it on port 7878.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|p| p.parent()).unwrap();
    profile_dir.join("examples").join(name)
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the example and wait (bounded) for the line saying where it listens.
fn launch(name: &str) -> Running {
    let mut child = Command::new(example(name))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("run example {name}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the example says where it listens");
    assert!(
        line.contains("listening on http://0.0.0.0:7878"),
        "{line:?}"
    );
    running
}

fn get(path: &str) -> String {
    let mut s = TcpStream::connect("127.0.0.1:7878").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn readme_examples_run_unchanged() {
    {
        let _hello = launch("hello");
        let reply = get("/");
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.contains("Content-Type: text/plain\r\n"), "{reply}");
        assert!(reply.ends_with("\r\n\r\nHello"), "{reply}");
    }
    {
        let _counter = launch("counter");
        for n in 0..5 {
            let reply = get("/count");
            assert!(reply.ends_with(&format!("\r\n\r\n{n}")), "{reply}");
        }
    }
}
