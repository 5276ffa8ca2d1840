//! A mio event loop that knows nothing of HTTP.
//!
//! - [`EventLoop`]: one thread's loop. One `Poll`, one reused `Events`,
//!   listeners, and connections in a [`Slab`](slab::Slab) addressed by
//!   [`ConnId`]s that carry a generation, so that work finished for a closed
//!   connection can never reach the connection that reuses its slot.
//! - [`Service`]: what a protocol (the `server` crate's HTTP) plugs in. It is
//!   told of [`Event`]s on a connection and acts through [`Conn`].
//! - [`Remote`]: hands results from other threads back to the loop (a
//!   completion queue and a `Waker`, one wake per batch) and asks it to stop.
//! - [`Buffer`]: a connection's input, bounded; the storage goes back to a pool
//!   whenever it is empty, so an idle connection holds no buffers.
//!
//! Reads and writes follow mio's edge-triggered rules: read until `WouldBlock`
//! (or a short read, which on a stream socket means the kernel queue is empty),
//! write until `WouldBlock`, and ask for `WRITABLE` only while output is
//! pending. Deadlines live in one binary heap with at most one live entry per
//! connection: no timer thread, no syscall per timer.
//!
//! ```no_run
//! use reactor::{Config, Conn, Event, EventLoop, Service};
//!
//! /// Echo every byte back.
//! struct Echo;
//!
//! impl Service for Echo {
//!     type State = ();
//!     type Completion = ();
//!     fn open(&mut self, _peer: std::net::SocketAddr) {}
//!     fn event(&mut self, conn: &mut Conn<'_, ()>, event: Event<()>) {
//!         if let Event::Readable = event {
//!             let (_, input, output) = conn.parts();
//!             output.extend_from_slice(input.bytes());
//!             let n = input.len();
//!             input.consume(n);
//!             if conn.read_closed() {
//!                 conn.close_after_flush();
//!             }
//!         }
//!     }
//! }
//!
//! let listener = reactor::bind("127.0.0.1:0".parse()?, &Default::default())?;
//! let (event_loop, remote) = EventLoop::new(Echo, vec![listener], Config::default())?;
//! std::thread::spawn(move || event_loop.run());
//! remote.shutdown_now();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

#[cfg(not(target_pointer_width = "64"))]
compile_error!("reactor packs a slot index and a generation into a 64-bit mio token");

mod buffer;
mod event_loop;
mod listener;
mod remote;

pub use buffer::Buffer;
pub use event_loop::{Config, Conn, Event, EventLoop, Service};
pub use listener::{bind, ListenerOptions};
pub use remote::Remote;

/// A connection's address: its slot and the generation of that slot.
///
/// Slots are reused; the generation is not, so a `ConnId` kept past its
/// connection's close matches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

/// Generations use 31 bits, so a connection's token never has the top bit set,
/// which listener and waker tokens do.
const GENERATION_MASK: u32 = 0x7fff_ffff;

impl ConnId {
    pub(crate) fn new(index: usize, generation: u32) -> Option<ConnId> {
        Some(ConnId {
            index: u32::try_from(index).ok()?,
            generation: generation & GENERATION_MASK,
        })
    }

    pub(crate) fn index(self) -> usize {
        self.index as usize
    }

    pub(crate) fn generation(self) -> u32 {
        self.generation
    }

    pub(crate) fn token(self) -> mio::Token {
        mio::Token(((self.generation as usize) << 32) | self.index as usize)
    }

    pub(crate) fn from_token(token: mio::Token) -> Option<ConnId> {
        let t = token.0;
        if t >> 63 != 0 {
            return None;
        }
        Some(ConnId {
            index: (t & 0xffff_ffff) as u32,
            generation: (t >> 32) as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_never_collide_with_reserved_ones() {
        for (i, g) in [
            (0, 0),
            (7, 1),
            (u32::MAX as usize, GENERATION_MASK),
            (12, u32::MAX),
        ] {
            let id = ConnId::new(i, g).unwrap();
            assert_eq!(ConnId::from_token(id.token()), Some(id));
            assert_eq!(id.token().0 >> 63, 0);
        }
        assert_eq!(ConnId::from_token(mio::Token(usize::MAX)), None);
    }
}
