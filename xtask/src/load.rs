//! End-to-end load scenarios: the release `echo` example under `wrk`, with the
//! server's CPU time per request read from `/proc`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a load run is set up.
pub struct Options {
    pub rounds: usize,
    pub seconds: u64,
    pub idle_connections: usize,
    /// Also run the peers in `bench/peers/`.
    pub compare: bool,
}

/// A server under test: a binary taking `--addr --workers --delay-ms`.
struct Contender {
    name: &'static str,
    binary: PathBuf,
    /// Serves large bodies: the echo of a 1 MiB upload and `GET /big`.
    echoes: bool,
    /// Honours `--delay-ms` (a contender without it skips the blocking
    /// scenario).
    delays: bool,
    /// Extra arguments.
    args: &'static [&'static str],
    /// A server to compare with: when it fails a round, the run goes on
    /// without that round (ours failing ends the run).
    peer: bool,
}

/// Peers: (name shown, binary in `bench/peers/target/release/`, serves
/// large bodies, honours `--delay-ms`).
const PEERS: &[(&str, &str, bool, bool)] = &[
    ("hyper", "hyper-peer", true, true),
    ("actix-web", "actix-peer", true, true),
    ("may_minihttp", "may-peer", true, true),
    ("tiny_http", "tiny-peer", true, true),
    // Hangs on requests over about 8 KiB (see its main.rs).
    ("mini-async-http 0.1.0", "mini-async-http-0-1", false, true),
    // No HTTP in it: GET scenarios only.
    ("raw-mio", "raw-mio", false, false),
];

#[derive(Clone, Copy)]
enum Kind {
    /// `wrk` against the server.
    Wrk {
        connections: usize,
        path: &'static str,
        script: Option<&'static str>,
        close: bool,
    },
    /// Open connections that each make one request (a browser's GET or
    /// a minimal one), then measure memory.
    Idle { browser: bool },
}

/// The request an idle-test connection makes: a minimal GET, as a load
/// generator sends it, or a browser's (14 fields), which shows a server
/// that keeps per-request state between requests.
fn idle_request(browser: bool) -> Vec<u8> {
    if browser {
        format!(
            "GET /plaintext?ref=home&utm_source=feed HTTP/1.1\r\n{}\r\n",
            benches::BROWSER_FIELDS
        )
        .into_bytes()
    } else {
        b"GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec()
    }
}

struct Scenario {
    name: &'static str,
    what: &'static str,
    workers: usize,
    delay_ms: u64,
    kind: Kind,
    /// Moves a large body (upload or download): contenders that cannot
    /// serve large bodies sit it out.
    bodies: bool,
}

const PIPELINE: &str = r#"
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format("GET", "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
"#;

const UPLOAD: &str = r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("u", 1048576)
"#;

fn scenarios() -> Vec<Scenario> {
    let wrk = |connections, path, script, close| Kind::Wrk {
        connections,
        path,
        script,
        close,
    };
    vec![
        Scenario {
            name: "keepalive",
            what: "keep-alive GET /plaintext, 64 connections",
            workers: 2,
            delay_ms: 0,
            kind: wrk(64, "/plaintext", None, false),
            bodies: false,
        },
        Scenario {
            name: "pipelined",
            what: "16 pipelined GET /plaintext per write, 256 connections",
            workers: 2,
            delay_ms: 0,
            kind: wrk(256, "/plaintext", Some(PIPELINE), false),
            bodies: false,
        },
        Scenario {
            name: "close",
            what: "one request per connection (Connection: close), 16 connections",
            workers: 2,
            delay_ms: 0,
            kind: wrk(16, "/plaintext", None, true),
            bodies: false,
        },
        Scenario {
            name: "upload",
            what: "1 MiB POST, echoed as JSON, 16 connections",
            workers: 2,
            delay_ms: 0,
            kind: wrk(16, "/upload", Some(UPLOAD), false),
            bodies: true,
        },
        Scenario {
            name: "big-response",
            what: "GET of a 256 KiB response, 16 connections",
            workers: 2,
            delay_ms: 0,
            kind: wrk(16, "/big", None, false),
            bodies: true,
        },
        Scenario {
            name: "blocking",
            what: "handler blocks 1 ms, 64 workers, 64 connections",
            workers: 64,
            delay_ms: 1,
            kind: wrk(64, "/plaintext", None, false),
            bodies: false,
        },
        Scenario {
            name: "idle",
            what: "RSS growth per idle keep-alive connection",
            workers: 2,
            delay_ms: 0,
            kind: Kind::Idle { browser: false },
            bodies: false,
        },
        Scenario {
            name: "idle-browser",
            what: "RSS growth per idle keep-alive connection after a browser's 14-field GET",
            workers: 2,
            delay_ms: 0,
            kind: Kind::Idle { browser: true },
            bodies: false,
        },
    ]
}

/// One measured run.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub requests: u64,
    pub seconds: f64,
    pub server_cpu: f64,
    pub wrk_cpu: f64,
    pub errors: u64,
    pub idle_bytes_per_conn: Option<f64>,
    /// The server failed this round (a peer only; see `Contender::peer`).
    pub failed: bool,
}

impl Sample {
    /// Requests per second; 0 for a sample that timed no requests (idle).
    fn rps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }
    fn cpu_us_per_request(&self) -> f64 {
        self.server_cpu * 1e6 / (self.requests.max(1) as f64)
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32, ticks: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

fn rss_bytes(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `taskset -c <core>` when there are cores to separate, else nothing.
fn pinned(core: usize, program: &Path) -> Command {
    if cores() >= 2 && which("taskset") {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(core.to_string()).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn which(program: &str) -> bool {
    which_path(program).is_some()
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(c: &Contender, s: &Scenario) -> Result<Server, String> {
    let binary = &c.binary;
    if !binary.exists() {
        return Err(format!("{} is missing", binary.display()));
    }
    let mut child = pinned(0, binary)
        .args(["--addr", "127.0.0.1:0", "--workers", &s.workers.to_string()])
        .args(["--delay-ms", &s.delay_ms.to_string()])
        .args(c.args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take();
    // Owned from here on: dropping it on any error below stops the process.
    let mut server = Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    // The first line says where it listens; a server that never says is
    // given up on rather than waited for.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = stdout.map(|out| BufReader::new(out).read_line(&mut line));
        let _ = tx.send((read, line));
    });
    let (read, line) = rx
        .recv_timeout(SERVER_START)
        .map_err(|_| format!("{} printed nothing in {SERVER_START:?}", binary.display()))?;
    match read {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(format!("server output: {e}")),
        None => return Err("no stdout".into()),
    }
    server.addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("server did not say where it listens: {line:?}"))?;
    Ok(server)
}

/// How long a server may take to print where it listens.
const SERVER_START: Duration = Duration::from_secs(30);

fn run_wrk(
    server: &Server,
    kind: Kind,
    seconds: u64,
    scripts: &Path,
    ticks: f64,
) -> Result<Sample, String> {
    let Kind::Wrk {
        connections,
        path,
        script,
        close,
    } = kind
    else {
        return Err("not a wrk scenario".into());
    };
    let wrk = which_path("wrk").ok_or("wrk is missing")?;
    let mut cmd = pinned(1, &wrk);
    cmd.args(["-t1", "-c", &connections.to_string(), "-d"])
        .arg(format!("{seconds}s"))
        .arg("--latency");
    if close {
        cmd.args(["-H", "Connection: close"]);
    }
    if let Some(body) = script {
        let file = scripts.join(format!("{:x}.lua", fxhash(body)));
        std::fs::write(&file, body).map_err(|e| format!("{}: {e}", file.display()))?;
        cmd.arg("-s").arg(file);
    }
    cmd.arg(format!("http://{}{path}", server.addr));
    let pid = server.child.id();
    let cpu0 = cpu_seconds(pid, ticks).ok_or("cannot read the server's /proc/PID/stat")?;
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("wrk: {e}"))?;
    // Sample wrk's own CPU until it ends (its /proc entry goes with it).
    let wrk_pid = child.id();
    let mut wrk_cpu = 0.0;
    loop {
        if let Some(c) = cpu_seconds(wrk_pid, ticks) {
            wrk_cpu = c;
        }
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds(pid, ticks).ok_or("the server died during the run")?;
    let mut out = String::new();
    child
        .stdout
        .take()
        .ok_or("no wrk output")?
        .read_to_string(&mut out)
        .map_err(|e| e.to_string())?;
    let requests = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("could not read wrk's output:\n{out}"))?;
    let seconds_run = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split("in ").nth(1))
        .and_then(|t| t.split(',').next())
        .and_then(parse_duration)
        .unwrap_or(elapsed);
    // "Socket errors: connect 0, read 0, write 0, timeout 0" and
    // "Non-2xx or 3xx responses: 12": the counts are after the colon.
    let errors = out
        .lines()
        .filter(|l| l.contains("Socket errors") || l.contains("Non-2xx"))
        .filter_map(|l| l.split_once(':').map(|(_, counts)| counts))
        .flat_map(|counts| {
            counts
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u64>().ok())
        })
        .sum();
    Ok(Sample {
        requests,
        seconds: seconds_run,
        server_cpu: cpu1 - cpu0,
        wrk_cpu,
        errors,
        idle_bytes_per_conn: None,
        failed: false,
    })
}

fn parse_duration(t: &str) -> Option<f64> {
    let t = t.trim();
    if let Some(ms) = t.strip_suffix("ms") {
        return ms.parse::<f64>().ok().map(|v| v / 1e3);
    }
    if let Some(m) = t.strip_suffix('m') {
        return m.parse::<f64>().ok().map(|v| v * 60.0);
    }
    t.strip_suffix('s')?.parse().ok()
}

fn which_path(program: &str) -> Option<PathBuf> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = path.trim();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Open `n` connections that each make one `request`, and read the
/// server's RSS growth per connection.
fn run_idle(server: &Server, n: usize, request: &[u8]) -> Result<Sample, String> {
    let pid = server.child.id();
    // Warm up: a few requests so that lazily built state exists already.
    for _ in 0..10 {
        one_request(&mut connect(server.addr)?, request)?;
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_bytes(pid).ok_or("cannot read the server's RSS")?;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = connect(server.addr)?;
        one_request(&mut c, request)?;
        conns.push(c);
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = rss_bytes(pid).ok_or("cannot read the server's RSS")?;
    drop(conns);
    Ok(Sample {
        requests: n as u64,
        idle_bytes_per_conn: Some((after - before) / n as f64),
        ..Sample::default()
    })
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr).map_err(|e| format!("connect: {e} (raise ulimit -n?)"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

fn one_request(s: &mut TcpStream, request: &[u8]) -> Result<(), String> {
    s.write_all(request).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.ends_with(b"Hello, World!") {
        let n = s.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed an idle-test connection".into());
        }
        got.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

struct Row {
    server: &'static str,
    /// The compared figure of each round, in round order (see [`figure`]).
    rounds: Vec<f64>,
    rps: f64,
    cpu: f64,
    server_load: f64,
    wrk_load: f64,
    errors: u64,
    idle_bytes: Option<f64>,
    /// Rounds the server failed, left out of its figures.
    failed: usize,
}

fn summarize(server: &'static str, samples: &[Sample]) -> Row {
    let ok: Vec<&Sample> = samples.iter().filter(|x| !x.failed).collect();
    let of = |f: &dyn Fn(&Sample) -> f64| median(ok.iter().map(|x| f(x)).collect());
    Row {
        server,
        rounds: samples
            .iter()
            .map(|x| match (x.failed, x.idle_bytes_per_conn) {
                (true, _) => f64::NAN,
                (false, Some(bytes)) => bytes,
                (false, None) => x.cpu_us_per_request(),
            })
            .collect(),
        rps: of(&Sample::rps),
        cpu: of(&Sample::cpu_us_per_request),
        server_load: of(&|x| x.server_cpu / x.seconds.max(1e-9)),
        wrk_load: of(&|x| x.wrk_cpu / x.seconds.max(1e-9)),
        errors: ok.iter().map(|x| x.errors).sum(),
        idle_bytes: ok
            .first()
            .and(Some(median(
                ok.iter().filter_map(|x| x.idle_bytes_per_conn).collect(),
            )))
            .filter(|v| !v.is_nan()),
        failed: samples.len() - ok.len(),
    }
}

fn bounded(row: &Row) -> &'static str {
    if row.server_load >= 0.9 {
        "server"
    } else if row.wrk_load >= 0.9 {
        "load generator"
    } else {
        "neither (latency)"
    }
}

/// The order in which `n` servers run in round `round`: the rows of a
/// Williams design, so that no server always runs first (just after another
/// scenario), and no server always runs just after the same neighbour.
/// Over `n` rounds (`2n` when `n` is odd, whose second half runs the rows
/// backwards) each server runs first equally often and follows every other
/// server equally often.
fn running_order(n: usize, round: usize) -> impl Iterator<Item = usize> {
    // The first row: 0, 1, n-1, 2, n-2, ...; row r adds r to each place.
    let first = move |k: usize| {
        if k % 2 == 1 {
            k.div_ceil(2)
        } else {
            (n - k / 2) % n
        }
    };
    let backwards = n % 2 == 1 && (round / n) % 2 == 1;
    (0..n).map(move |k| {
        let place = if backwards { n - 1 - k } else { k };
        (first(place) + round) % n
    })
}

/// The figure a server is compared on: CPU per request, or idle bytes.
fn figure(row: &Row) -> f64 {
    row.idle_bytes.unwrap_or(row.cpu)
}

/// `row` against `base`, round by round: the servers of one round run back
/// to back, so a machine that slows down between rounds moves both sides of
/// a round's ratio alike. The median of those ratios, with the lowest and
/// highest; `None` when there is nothing to compare.
fn paired(row: &Row, base: Option<&Row>) -> Option<(f64, f64, f64)> {
    let base = base?;
    let ratios: Vec<f64> = row
        .rounds
        .iter()
        .zip(&base.rounds)
        // A failed round (NaN) on either side takes no part.
        .filter(|&(&a, &b)| a.is_finite() && b > 0.0)
        .map(|(&a, &b)| a / b)
        .collect();
    let lo = ratios.iter().copied().reduce(f64::min)?;
    let hi = ratios.iter().copied().reduce(f64::max)?;
    Some((median(ratios), lo, hi))
}

/// A table cell for [`paired`]: `0.97x`, with the range when rounds differ
/// (`0.97x (0.93-1.02)`).
fn ratio(row: &Row, base: Option<&Row>) -> String {
    match paired(row, base) {
        Some((m, lo, hi)) if row.rounds.len() > 1 => format!("{m:.2}x ({lo:.2}-{hi:.2})"),
        Some((m, _, _)) => format!("{m:.2}x"),
        None => "n/a".to_owned(),
    }
}

/// A JSON value for [`paired`].
fn ratio_json(row: &Row, base: Option<&Row>) -> String {
    match paired(row, base) {
        Some((m, lo, hi)) => format!("{{\"median\": {m:.4}, \"min\": {lo:.4}, \"max\": {hi:.4}}}"),
        None => "null".to_owned(),
    }
}

fn svg(results: &[(&Scenario, Vec<Row>)]) -> String {
    // Bars: each server's figure as a ratio to the raw loop (or to ours when
    // the raw loop did not run the scenario), per scenario.
    let servers: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for (_, rows) in results {
            for r in rows {
                if !v.contains(&r.server) {
                    v.push(r.server);
                }
            }
        }
        v
    };
    let colors = [
        "#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096", "#b7791f",
    ];
    let (bar, gap, left, top) = (14.0, 18.0, 150.0, 40.0);
    let group = bar * servers.len() as f64 + gap;
    let height = top + group * results.len() as f64 + 40.0;
    let width = 760.0;
    let scale = 150.0; // pixels per 1.0x
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n<text x=\"10\" y=\"20\" font-size=\"14\">Server CPU per request (idle: bytes per connection), as a ratio to the baseline; lower is better</text>\n"
    );
    for (i, (s, rows)) in results.iter().enumerate() {
        let y0 = top + group * i as f64;
        let base = rows
            .iter()
            .find(|r| r.server == "raw-mio")
            .or_else(|| rows.iter().find(|r| r.server == "mini-async-http"));
        let _ = writeln!(
            out,
            "<text x=\"10\" y=\"{:.0}\">{}</text>",
            y0 + group / 2.0,
            s.name
        );
        for r in rows {
            let Some(b) = base else { continue };
            let k = servers.iter().position(|x| *x == r.server).unwrap_or(0);
            let value = paired(r, Some(b)).map_or(0.0, |(m, _, _)| m);
            let y = y0 + bar * k as f64;
            let w = (value * scale).min(width - left - 60.0);
            let _ = writeln!(
                out,
                "<rect x=\"{left}\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"{:.0}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.0}\">{value:.2}x {}</text>",
                bar - 2.0,
                colors[k % colors.len()],
                left + w + 4.0,
                y + bar - 4.0,
                r.server
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Run every scenario `rounds` times against the release echo example (and,
/// with `compare`, the peers, interleaved round by round); print a markdown
/// table and write JSON and an SVG chart under `out_dir`.
/// The caller has checked that wrk is installed.
pub fn run(root: &Path, opts: &Options, out_dir: &Path) -> Result<(), String> {
    let status = Command::new("cargo")
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "mini-async-http",
            "--example",
            "echo",
        ])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("building the echo example failed".into());
    }
    let mut contenders = vec![Contender {
        name: "mini-async-http",
        binary: root.join("target/release/examples/echo"),
        echoes: true,
        delays: true,
        args: &[],
        peer: false,
    }];
    if opts.compare {
        let peers = root.join("bench/peers");
        let status = Command::new("cargo")
            .current_dir(&peers)
            .args(["build", "--release", "-q"])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("building bench/peers failed".into());
        }
        // The opt-in mode with handlers on the event loop; a handler that
        // blocks has no place there, so it skips the blocking scenario.
        contenders.push(Contender {
            name: "mini-async-http on-loop",
            binary: root.join("target/release/examples/echo"),
            echoes: true,
            delays: false,
            args: &["--on-loop"],
            peer: false,
        });
        for &(name, binary, echoes, delays) in PEERS {
            contenders.push(Contender {
                name,
                binary: peers.join("target/release").join(binary),
                echoes,
                delays,
                args: &[],
                peer: true,
            });
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    let ticks = clock_ticks();
    let all = scenarios();
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); contenders.len()]; all.len()];
    for round in 0..opts.rounds {
        for (i, s) in all.iter().enumerate() {
            for j in running_order(contenders.len(), round) {
                let c = &contenders[j];
                if (s.bodies && !c.echoes) || (s.delay_ms > 0 && !c.delays) {
                    continue;
                }
                eprintln!(
                    "[bench] {} ({}), {}, round {} of {}",
                    s.name,
                    s.what,
                    c.name,
                    round + 1,
                    opts.rounds
                );
                let measured = start_server(c, s).and_then(|server| match s.kind {
                    Kind::Idle { browser } => {
                        run_idle(&server, opts.idle_connections, &idle_request(browser))
                    }
                    kind => run_wrk(&server, kind, opts.seconds, out_dir, ticks),
                });
                let sample = match measured {
                    Ok(sample) => sample,
                    Err(e) if c.peer => {
                        eprintln!("[bench] {} failed {} this round: {e}", c.name, s.name);
                        Sample {
                            failed: true,
                            ..Sample::default()
                        }
                    }
                    Err(e) => return Err(format!("{} failed {}: {e}", c.name, s.name)),
                };
                samples[i][j].push(sample);
            }
        }
    }
    let results: Vec<(&Scenario, Vec<Row>)> = all
        .iter()
        .zip(&samples)
        .map(|(s, per)| {
            let rows = contenders
                .iter()
                .zip(per)
                .filter(|(_, v)| !v.is_empty())
                .map(|(c, v)| summarize(c.name, v))
                .collect();
            (s, rows)
        })
        .collect();
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| scenario | server | req/s | server CPU µs/req (idle: bytes/conn) | vs raw loop | vs hyper | server CPU | wrk CPU | bounded by | errors |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
    );
    let mut json = String::from("{\n  \"scenarios\": [\n");
    for (i, (s, rows)) in results.iter().enumerate() {
        let raw = rows.iter().find(|r| r.server == "raw-mio");
        let hyper = rows.iter().find(|r| r.server == "hyper");
        let _ = writeln!(
            json,
            "    {{\"name\": \"{}\", \"what\": \"{}\", \"servers\": [",
            s.name, s.what
        );
        for (k, r) in rows.iter().enumerate() {
            let all_failed = r.failed == r.rounds.len();
            let (rps, load) = if all_failed {
                ("—".to_owned(), ("—".to_owned(), "—".to_owned(), "failed"))
            } else if r.idle_bytes.is_some() {
                (String::new(), (String::new(), String::new(), ""))
            } else {
                (
                    format!("{:.0}", r.rps),
                    (
                        format!("{:.0}%", r.server_load * 100.0),
                        format!("{:.0}%", r.wrk_load * 100.0),
                        bounded(r),
                    ),
                )
            };
            let _ = writeln!(
                table,
                "| {} | {} | {rps} | {} | {} | {} | {} | {} | {} | {} |",
                s.name,
                r.server,
                if all_failed {
                    "—".to_owned()
                } else {
                    format!("{:.2}", figure(r))
                },
                ratio(r, raw),
                ratio(r, hyper),
                load.0,
                load.1,
                load.2,
                if r.failed > 0 {
                    format!(
                        "{} (failed {} of {} rounds)",
                        r.errors,
                        r.failed,
                        r.rounds.len()
                    )
                } else {
                    r.errors.to_string()
                }
            );
            let sep = if k + 1 == rows.len() { "" } else { "," };
            let _ = writeln!(
                json,
                "      {{\"server\": \"{}\", \"rps\": {:.1}, \"cpu_us_per_request\": {:.3}, \"idle_bytes_per_connection\": {}, \"vs_raw_loop\": {}, \"vs_hyper\": {}, \"server_cpu_load\": {:.3}, \"wrk_cpu_load\": {:.3}, \"bounded_by\": \"{}\", \"errors\": {}, \"failed_rounds\": {}}}{sep}",
                r.server,
                if r.rps.is_nan() { 0.0 } else { r.rps },
                if r.cpu.is_nan() { 0.0 } else { r.cpu },
                r.idle_bytes.map_or("null".to_owned(), |b| format!("{b:.1}")),
                ratio_json(r, raw),
                ratio_json(r, hyper),
                if r.server_load.is_nan() { 0.0 } else { r.server_load },
                if r.wrk_load.is_nan() { 0.0 } else { r.wrk_load },
                bounded(r),
                r.errors,
                r.failed
            );
        }
        let sep = if i + 1 == results.len() { "" } else { "," };
        let _ = writeln!(json, "    ]}}{sep}");
    }
    json.push_str("  ]\n}\n");
    println!("{table}");
    for (name, body) in [("load.json", json), ("load.svg", svg(&results))] {
        let path = out_dir.join(name);
        std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("[bench] wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(server: &'static str, rounds: &[f64]) -> Row {
        Row {
            server,
            rounds: rounds.to_vec(),
            rps: 0.0,
            cpu: median(rounds.to_vec()),
            server_load: 0.0,
            wrk_load: 0.0,
            errors: 0,
            idle_bytes: None,
            failed: 0,
        }
    }

    #[test]
    fn ratios_pair_the_rounds_and_show_their_range() {
        // Per-round ratios 2, 4 and 3: their median, with their range.
        let ours = row("ours", &[2.0, 8.0, 6.0]);
        let base = row("base", &[1.0, 2.0, 2.0]);
        assert_eq!(paired(&ours, Some(&base)), Some((3.0, 2.0, 4.0)));
        assert_eq!(ratio(&ours, Some(&base)), "3.00x (2.00-4.00)");
        assert_eq!(
            ratio_json(&ours, Some(&base)),
            "{\"median\": 3.0000, \"min\": 2.0000, \"max\": 4.0000}"
        );
        // One round: no range. Nothing to compare with: n/a.
        assert_eq!(ratio(&row("a", &[3.0]), Some(&row("b", &[2.0]))), "1.50x");
        assert_eq!(ratio(&ours, None), "n/a");
        assert_eq!(ratio_json(&ours, None), "null");
        // A machine that ran slow for the base's last round only: the
        // ratio of the medians says 6 / 2 = 3, the paired rounds 2, 4 and
        // 1.5, whose median is 2.
        let slow_last = row("base", &[1.0, 2.0, 4.0]);
        assert_eq!(paired(&ours, Some(&slow_last)), Some((2.0, 1.5, 4.0)));
        // A base round with nothing measured takes no part.
        let holes = row("base", &[0.0, 2.0, 2.0]);
        assert_eq!(paired(&ours, Some(&holes)), Some((3.5, 3.0, 4.0)));
    }

    #[test]
    fn the_running_order_balances_first_places_and_neighbours() {
        let order = |n, round| running_order(n, round).collect::<Vec<_>>();
        assert_eq!(order(4, 0), [0, 1, 3, 2]);
        assert_eq!(order(4, 1), [1, 2, 0, 3]);
        assert_eq!(order(4, 4), [0, 1, 3, 2]);
        assert_eq!(order(3, 0), [0, 1, 2]);
        assert_eq!(order(3, 3), [2, 1, 0]);
        assert_eq!(running_order(0, 2).count(), 0);
        assert_eq!(order(1, 5), [0]);
        for n in 1..=9 {
            let rounds = if n % 2 == 1 { 2 * n } else { n };
            let mut firsts = vec![0; n];
            let mut follows = vec![vec![0; n]; n];
            for round in 0..rounds {
                let row = order(n, round);
                // Every server runs once a round.
                let mut sorted = row.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n {n}, round {round}");
                firsts[row[0]] += 1;
                for pair in row.windows(2) {
                    follows[pair[0]][pair[1]] += 1;
                }
            }
            // Each runs first, and each follows each other, equally often.
            let times = rounds / n;
            assert!(firsts.iter().all(|&f| f == times), "n {n}: {firsts:?}");
            for (a, row) in follows.iter().enumerate() {
                for (b, &count) in row.iter().enumerate() {
                    let expected = if a == b { 0 } else { times };
                    assert_eq!(count, expected, "n {n}: {b} after {a}");
                }
            }
        }
    }

    #[test]
    fn a_failed_round_is_left_out_of_the_figures_and_the_ratios() {
        let ok = |cpu_seconds: f64| Sample {
            requests: 100,
            seconds: 1.0,
            server_cpu: cpu_seconds,
            ..Sample::default()
        };
        let failed = Sample {
            failed: true,
            ..Sample::default()
        };
        let peer = summarize("peer", &[ok(0.001), failed.clone(), ok(0.002)]);
        assert_eq!(peer.failed, 1);
        assert!((peer.cpu - 15.0).abs() < 1e-9, "{}", peer.cpu);
        assert!(peer.rounds[1].is_nan());
        // Its ratio pairs the two rounds it ran.
        let base = row("base", &[5.0, 5.0, 10.0]);
        let (m, lo, hi) = paired(&peer, Some(&base)).unwrap();
        assert!((m - 2.0).abs() < 1e-9 && (lo - 2.0).abs() < 1e-9 && (hi - 2.0).abs() < 1e-9);
        // And a base that failed a round leaves that round out too.
        let holed = summarize("base", &[ok(0.0005), ok(0.0005), failed]);
        let (m, _, _) = paired(&peer, Some(&holed)).unwrap();
        assert!((m - 2.0).abs() < 1e-9, "{m}");
    }
}
