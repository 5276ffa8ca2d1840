//! The loop when the process runs out of file descriptors.
//!
//! This file holds one test on its own because it lowers the process's
//! descriptor limit, which every other test in the same process would feel.
//! Waits are bounded by [`WAIT`] only so that a broken loop fails the test
//! instead of hanging it.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;
use std::time::Duration;

use reactor::{Config, Conn, ConnId, Event, EventLoop, Service};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const WAIT: Duration = Duration::from_secs(10);

/// Echoes what it reads and reports each connection it opens.
struct Echo {
    opened: Sender<ConnId>,
}

impl Service for Echo {
    type State = ();
    type Completion = ();

    fn open(&mut self, _peer: SocketAddr) {}

    fn event(&mut self, conn: &mut Conn<'_, ()>, event: Event<()>) {
        match event {
            Event::Opened => {
                let _ = self.opened.send(conn.id());
            }
            Event::Readable => {
                let bytes = conn.input().bytes().to_vec();
                conn.input().consume(bytes.len());
                conn.write(&bytes);
            }
            _ => {}
        }
    }
}

/// The soft and hard limits on open descriptors.
fn descriptor_limit() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through a pointer to a live,
    // writable one.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit");
    (limit.rlim_cur, limit.rlim_max)
}

fn set_descriptor_limit(soft: u64, hard: u64) {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `setrlimit` reads one `rlimit` through a pointer to a live one.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0, "setrlimit");
}

/// The highest descriptor number the process has open.
fn highest_descriptor() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

fn opened(notes: &Receiver<ConnId>) -> ConnId {
    notes
        .recv_timeout(WAIT)
        .expect("the loop opens the connection")
}

fn round_trip(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).expect("write");
    let mut got = vec![0; bytes.len()];
    stream.read_exact(&mut got).expect("read the echo");
    assert_eq!(got, bytes);
}

fn with_timeouts(stream: TcpStream) -> TcpStream {
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.set_write_timeout(Some(WAIT)).expect("timeout");
    stream
}

#[test]
fn out_of_descriptors_the_loop_pauses_accepting_serves_its_connections_and_resumes() {
    let (tx, notes) = mpsc::channel();
    let listener =
        reactor::bind("127.0.0.1:0".parse().expect("addr"), &Default::default()).expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let config = Config {
        accept_backoff: Duration::from_millis(10),
        ..Config::default()
    };
    let (event_loop, remote) =
        EventLoop::new(Echo { opened: tx }, vec![listener], config).expect("loop");
    let done = thread::spawn(move || event_loop.run().map(|_| ()));

    let mut first = with_timeouts(TcpStream::connect(addr).expect("connect"));
    opened(&notes);
    round_trip(&mut first, b"before");

    // Sockets for the later clients, made while descriptors are to be had;
    // connecting them later needs none.
    let waiting: Vec<Socket> = (0..3)
        .map(|_| Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket"))
        .collect();

    // Fill the descriptor table up to a limit just above what is open.
    let (soft, hard) = descriptor_limit();
    set_descriptor_limit(highest_descriptor() + 1, hard);
    let mut filler = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => filler.push(file),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("open /dev/null: {e}"),
        }
        assert!(filler.len() < 100_000, "the lowered limit does not bind");
    }

    // The kernel completes these handshakes; the loop cannot take them.
    let target = SockAddr::from(addr);
    let mut waiting: Vec<TcpStream> = waiting
        .into_iter()
        .map(|socket| {
            socket.connect(&target).expect("connect");
            let mut stream = with_timeouts(TcpStream::from(socket));
            stream.write_all(b"queued").expect("write");
            stream
        })
        .collect();

    // The loop still serves the connection it has, after the others arrived
    // and its accepts failed.
    round_trip(&mut first, b"while full");
    assert_eq!(
        notes.try_recv(),
        Err(TryRecvError::Empty),
        "a connection was accepted with no descriptor free"
    );

    // Descriptors free again: the waiting connections are taken, with no new
    // connection arriving to signal the listener.
    drop(filler);
    set_descriptor_limit(soft, hard);
    for stream in &mut waiting {
        opened(&notes);
        let mut got = [0; 6];
        match stream.read_exact(&mut got) {
            Ok(()) => assert_eq!(&got, b"queued"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => panic!("no echo within {WAIT:?}"),
            Err(e) => panic!("read: {e}"),
        }
    }
    round_trip(&mut first, b"after");

    remote.shutdown_now();
    done.join().expect("loop thread").expect("run returns Ok");
}
