//! Real clients against the server: curl and Python's `http.client` (CI
//! installs curl when it is missing; Python 3 is on every machine).

mod common;

use std::process::{Command, Stdio};

use common::{echo, start};
use server::ServerBuilder;

fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> (String, String) {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run {cmd:?} ({e}); CI installs curl and python3"));
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_keep_alive_post_and_chunked_upload() {
    let server = start(ServerBuilder::new(), echo);
    let base = format!("http://{}", server.local_addr());
    // Several URLs on one connection.
    let (out, err) = run(
        Command::new("curl")
            .args(["-sS", "-v", "--max-time", "10"])
            .arg(format!("{base}/a"))
            .arg(format!("{base}/b"))
            .arg(format!("{base}/c")),
        None,
    );
    assert_eq!(out, "/a /b /c ");
    assert!(err.contains("Re-using existing connection"), "{err}");
    assert_eq!(err.matches("Connected to").count(), 1, "{err}");
    // A form POST.
    let (out, _) = run(
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "-d", "name=value&x=1"])
            .arg(format!("{base}/form")),
        None,
    );
    assert_eq!(out, "/form name=value&x=1");
    // A chunked upload from stdin.
    let payload = "line\n".repeat(1000);
    let (out, _) = run(
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-H",
                "Transfer-Encoding: chunked",
            ])
            .args(["--data-binary", "@-"])
            .arg(format!("{base}/upload")),
        Some(payload.as_bytes()),
    );
    assert_eq!(out, format!("/upload {payload}"));
    server.shutdown();
}

#[test]
fn python_http_client() {
    let server = start(ServerBuilder::new(), echo);
    let addr = server.local_addr();
    let script = r#"
import http.client, sys
host, port = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection(host, port, timeout=10)
out = []
for i in range(5):
    c.request("GET", "/get/%d" % i)
    r = c.getresponse()
    out.append("%d %s" % (r.status, r.read().decode()))
c.request("POST", "/post", body=b"abc", headers={"Content-Type": "text/plain"})
r = c.getresponse(); out.append(r.read().decode())
c.request("PUT", "/chunked", body=iter([b"ab", b"cd", b"ef"]), encode_chunked=True)
r = c.getresponse(); out.append(r.read().decode())
c.request("HEAD", "/head")
r = c.getresponse(); out.append("HEAD %d %s %r" % (r.status, r.getheader("Content-Length"), r.read()))
sock = c.sock
c.request("GET", "/same")
r = c.getresponse(); r.read()
out.append("same connection" if c.sock is sock else "new connection")
print("\n".join(out))
"#;
    let (out, _) = run(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string()),
        None,
    );
    let want = [
        "200 /get/0 ",
        "200 /get/1 ",
        "200 /get/2 ",
        "200 /get/3 ",
        "200 /get/4 ",
        "/post abc",
        "/chunked abcdef",
        "HEAD 200 6 b''",
        "same connection",
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    server.shutdown();
}
