//! What a server costs with no HTTP in it: one thread, one mio loop, every
//! `\r\n\r\n` answered with a canned `Hello, World!`, `Connection: close`
//! honoured by a substring search. Bodies are not understood, so this peer
//! only takes part in the GET scenarios.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const KEEP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\nHello, World!";
const CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\nHello, World!";

struct Conn {
    stream: TcpStream,
    /// The last bytes of the previous read, so a `\r\n\r\n` split across
    /// reads is still found.
    tail: Vec<u8>,
    out: Vec<u8>,
    close: bool,
}

fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:7878".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        if a == "--addr" {
            addr = v;
        }
    }
    let mut listener = TcpListener::bind(addr.parse().expect("HOST:PORT"))?;
    println!("raw-mio listening on http://{}", listener.local_addr()?);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next = 1usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            if event.token() == Token(0) {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            poll.registry().register(
                                &mut stream,
                                Token(next),
                                Interest::READABLE,
                            )?;
                            conns.insert(
                                next,
                                Conn {
                                    stream,
                                    tail: Vec::new(),
                                    out: Vec::new(),
                                    close: false,
                                },
                            );
                            next += 1;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let id = event.token().0;
            let Some(c) = conns.get_mut(&id) else {
                continue;
            };
            let mut dead = false;
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        dead = true;
                        break;
                    }
                    Ok(n) => {
                        let mut data = std::mem::take(&mut c.tail);
                        data.extend_from_slice(&buf[..n]);
                        let mut start = 0;
                        while let Some(p) = data[start..].windows(4).position(|w| w == b"\r\n\r\n")
                        {
                            let head = &data[start..start + p];
                            let close = head
                                .windows(17)
                                .any(|w| w.eq_ignore_ascii_case(b"connection: close"));
                            c.out.extend_from_slice(if close { CLOSE } else { KEEP });
                            c.close |= close;
                            start += p + 4;
                        }
                        c.tail = data[start..].to_vec();
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => {
                        dead = true;
                        break;
                    }
                }
            }
            if !c.out.is_empty() {
                // Responses are small; the socket buffer takes them.
                if c.stream.write_all(&c.out).is_err() {
                    dead = true;
                }
                c.out.clear();
            }
            if dead || c.close {
                if let Some(mut c) = conns.remove(&id) {
                    let _ = poll.registry().deregister(&mut c.stream);
                }
            }
        }
    }
}
