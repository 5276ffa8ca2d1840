//! Binding listeners with the socket options a server wants.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// How to bind a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerOptions {
    /// `SO_REUSEADDR`: rebind at once after a restart, despite connections in
    /// TIME_WAIT. On by default.
    pub reuse_address: bool,
    /// `SO_REUSEPORT`: let several sockets (or processes) listen on the same
    /// port, the kernel spreading connections among them. Off by default.
    pub reuse_port: bool,
    /// Length of the queue of connections not yet accepted.
    pub backlog: i32,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions {
            reuse_address: true,
            reuse_port: false,
            backlog: 1024,
        }
    }
}

/// Bind a non-blocking listener on `addr`.
pub fn bind(addr: SocketAddr, options: &ListenerOptions) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(options.reuse_address)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuse_port(options.reuse_port)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(options.backlog)?;
    Ok(socket.into())
}
