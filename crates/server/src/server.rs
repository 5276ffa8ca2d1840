//! [`ServerBuilder`], [`ServerHandle`] and [`ServerError`].

use std::collections::VecDeque;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_codec::Limits;
use reactor::{EventLoop, ListenerOptions, Remote};

use crate::budget::BodyBudget;
use crate::service::{Done, HttpService, LoopWakes, Shared};
use crate::{Handler, QuickBatches, ServerConfig};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address does not parse or resolve.
    #[error("invalid address {addr:?}: expected HOST:PORT such as 127.0.0.1:8080 or 0.0.0.0:80")]
    InvalidAddress {
        /// What was given.
        addr: String,
    },
    /// Binding the listener failed.
    #[error("could not listen on {addr}: {source}; if the port is taken, stop the other server or pick another port (port 0 lets the system choose)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Config(&'static str),
    /// Starting a thread or an event loop failed.
    #[error("could not start the server: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds and starts a server; every setting has a default (see
/// [`ServerConfig`]).
///
/// ```no_run
/// use server::ServerBuilder;
/// use http_types::ResponseBuilder;
/// let handle = ServerBuilder::new()
///     .workers(8)
///     .bind("127.0.0.1:0")
///     .start(|_req| ResponseBuilder::empty_200().body("hi").build().unwrap())?;
/// println!("listening on {}", handle.local_addr());
/// handle.shutdown_graceful(std::time::Duration::from_secs(5));
/// # Ok::<(), server::ServerError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until start() is called"]
pub struct ServerBuilder {
    addr: String,
    config: ServerConfig,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.config.$name = value;
                self
            }
        )*
    };
}

impl ServerBuilder {
    /// Defaults, listening on `127.0.0.1:8080`.
    pub fn new() -> ServerBuilder {
        ServerBuilder {
            addr: "127.0.0.1:8080".to_owned(),
            config: ServerConfig::default(),
        }
    }

    /// The address to listen on (`HOST:PORT`; port 0 picks a free one).
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
    }

    /// Replace every setting at once.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    setters! {
        /// See [`ServerConfig::workers`].
        workers: usize,
        /// See [`ServerConfig::event_loops`].
        event_loops: usize,
        /// See [`ServerConfig::queue_capacity`].
        queue_capacity: usize,
        /// See [`ServerConfig::max_connections`].
        max_connections: usize,
        /// See [`ServerConfig::max_pipelined`].
        max_pipelined: usize,
        /// See [`ServerConfig::max_output`].
        max_output: usize,
        /// See [`ServerConfig::max_output_memory`].
        max_output_memory: usize,
        /// See [`ServerConfig::limits`].
        limits: Limits,
        /// See [`ServerConfig::max_body_memory`].
        max_body_memory: usize,
        /// See [`ServerConfig::allow_bare_lf`].
        allow_bare_lf: bool,
        /// See [`ServerConfig::head_timeout`].
        head_timeout: Duration,
        /// See [`ServerConfig::body_timeout`].
        body_timeout: Duration,
        /// See [`ServerConfig::body_min_rate`].
        body_min_rate: usize,
        /// See [`ServerConfig::idle_timeout`].
        idle_timeout: Duration,
        /// See [`ServerConfig::write_timeout`].
        write_timeout: Duration,
        /// See [`ServerConfig::linger_timeout`].
        linger_timeout: Duration,
        /// See [`ServerConfig::linger_bytes`].
        linger_bytes: usize,
        /// See [`ServerConfig::server_name`].
        server_name: &'static str,
        /// See [`ServerConfig::reuse_port`].
        reuse_port: bool,
        /// See [`ServerConfig::handlers_on_loop`].
        handlers_on_loop: bool,
        /// See [`ServerConfig::batch_workers`].
        batch_workers: bool,
        /// See [`ServerConfig::quick_batches`].
        quick_batches: QuickBatches,
    }

    fn check(&self) -> Result<(), ServerError> {
        let c = &self.config;
        let checks = [
            (c.workers == 0, "workers must be at least 1"),
            (c.event_loops == 0, "event_loops must be at least 1"),
            (c.event_loops > 64, "event_loops must be at most 64"),
            (c.queue_capacity == 0, "queue_capacity must be at least 1"),
            (c.max_connections == 0, "max_connections must be at least 1"),
            (c.max_pipelined == 0, "max_pipelined must be at least 1"),
            (
                c.limits.max_head_bytes < 64,
                "limits.max_head_bytes must be at least 64",
            ),
            (
                c.limits.max_headers == 0,
                "limits.max_headers must be at least 1",
            ),
            (
                c.head_timeout.is_zero(),
                "head_timeout must be more than zero",
            ),
            (
                c.body_timeout.is_zero(),
                "body_timeout must be more than zero",
            ),
            (c.body_min_rate == 0, "body_min_rate must be at least 1"),
            (
                c.idle_timeout.is_zero(),
                "idle_timeout must be more than zero",
            ),
            (
                c.write_timeout.is_zero(),
                "write_timeout must be more than zero",
            ),
        ];
        match checks.into_iter().find(|(bad, _)| *bad) {
            Some((_, why)) => Err(ServerError::Config(why)),
            None => Ok(()),
        }
    }

    /// Bind and start serving with `handler` on background threads.
    pub fn start(self, handler: impl Handler) -> Result<ServerHandle, ServerError> {
        self.start_shared(Arc::new(handler))
    }

    /// [`start`](Self::start) with a handler already in an `Arc`.
    pub fn start_shared(self, handler: Arc<dyn Handler>) -> Result<ServerHandle, ServerError> {
        self.check()?;
        let mut config = self.config;
        config.cap_timeouts();
        let addr = self
            .addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| ServerError::InvalidAddress {
                addr: self.addr.clone(),
            })?;
        let options = ListenerOptions {
            reuse_port: config.reuse_port,
            ..ListenerOptions::default()
        };
        let listener =
            reactor::bind(addr, &options).map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        let reactor_config = reactor::Config {
            max_connections: config.max_connections.div_ceil(config.event_loops),
            max_input: config.limits.max_head_bytes + 16 * 1024,
            write_timeout: config.write_timeout,
            linger_timeout: config.linger_timeout,
            linger_bytes: config.linger_bytes,
            ..reactor::Config::default()
        };
        // Batches of jobs; the bound on queued jobs is kept by the loops
        // (`Shared::queued`), so the queue itself need not be bounded.
        let (jobs_tx, jobs_rx) = crate::queue::queue();
        let workers = if config.handlers_on_loop {
            0
        } else {
            config.workers
        };
        let on_loop = config.handlers_on_loop.then(|| Arc::clone(&handler));
        let quick_here = !config.handlers_on_loop
            && match config.quick_batches {
                QuickBatches::Auto => {
                    std::thread::available_parallelism().is_ok_and(|n| n.get() == 1)
                }
                QuickBatches::Reader => true,
                QuickBatches::Worker => false,
            };
        let loops = config.event_loops;
        let max_body = usize::try_from(config.limits.max_body_bytes).unwrap_or(usize::MAX);
        let budget = Arc::new(BodyBudget::new(config.max_body_memory.max(max_body)));
        let shared = Arc::new(Shared {
            config,
            draining: AtomicBool::new(false),
            stalled_loops: LoopWakes::default(),
            stopped: AtomicBool::new(false),
            queued: std::sync::atomic::AtomicUsize::new(0),
            idle_workers: std::sync::atomic::AtomicUsize::new(0),
            handler_nanos: std::sync::atomic::AtomicU64::new(crate::service::FIRST_HANDLER_NANOS),
            budget: Arc::clone(&budget),
            held_output: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            spare_batches: std::sync::Mutex::new(Vec::new()),
        });
        // Every loop listens on the same socket (a clone each): the kernel
        // wakes them all and whichever accepts first gets the connection.
        let mut listeners = Vec::with_capacity(loops);
        for _ in 1..loops {
            listeners.push(listener.try_clone()?);
        }
        listeners.push(listener);
        let mut event_loops = Vec::with_capacity(loops);
        let mut remotes = Vec::with_capacity(loops);
        for (loop_index, listener) in listeners.into_iter().enumerate() {
            let service = HttpService {
                loop_index,
                shared: Arc::clone(&shared),
                jobs: jobs_tx.clone(),
                pending: Vec::new(),
                stalled: Default::default(),
                budget_waiters: VecDeque::new(),
                on_loop: on_loop.clone(),
                quick_here,
                quick: Vec::new(),
                decoders: Vec::new(),
                turn_date: std::cell::Cell::new(None),
            };
            let (mut event_loop, remote) = EventLoop::new(service, vec![listener], reactor_config)?;
            event_loop.count_held_output(Arc::clone(&shared.held_output));
            event_loops.push(event_loop);
            remotes.push(remote);
        }
        // The watch's sender, to hand a loop left down to a worker.
        let watch_jobs = quick_here.then(|| jobs_tx.clone());
        drop(jobs_tx);
        let remotes = Arc::new(remotes);
        budget.set_remotes(Arc::clone(&remotes));
        let threads = crate::drive::start(
            event_loops,
            workers,
            jobs_rx,
            watch_jobs,
            handler,
            Arc::clone(&remotes),
            Arc::clone(&shared),
        )?;
        Ok(ServerHandle {
            local_addr,
            remotes,
            shared,
            threads,
        })
    }
}

/// A running server: its address, and the way to stop it.
///
/// Dropping the handle leaves the server running (detached) until the process
/// ends; [`wait`](Self::wait) blocks on it, and the shutdown methods stop it and
/// join every thread.
pub struct ServerHandle {
    local_addr: SocketAddr,
    remotes: Arc<Vec<Remote<Done>>>,
    shared: Arc<Shared>,
    /// Every thread: those that drive the loops, the workers, the watch.
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address the server listens on (with the real port when bound to
    /// port 0). Nim: `getPort`.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What the loops and workers share, for tests that look inside.
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Close every connection now (responses in progress are dropped) and
    /// join every thread. A handler still running is waited for.
    pub fn shutdown(self) {
        for r in self.remotes.iter() {
            r.shutdown_now();
        }
        self.join();
    }

    /// Stop accepting, finish requests in flight (their responses carry
    /// `Connection: close`), close idle connections, then stop; anything
    /// still open at `timeout` is closed. A connection lingering after its
    /// last response ([`ServerConfig::linger_timeout`]) counts as open until
    /// it ends. Joins every thread.
    pub fn shutdown_graceful(self, timeout: Duration) {
        self.shared.draining.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + timeout.min(crate::LONGEST_TIMEOUT);
        for r in self.remotes.iter() {
            r.shutdown_graceful(deadline);
        }
        self.join();
    }

    /// Block until the server stops (it stops only through another handle's
    /// shutdown... which there is none of: this serves forever, as the
    /// original `AIOServer::start` did).
    pub fn wait(self) {
        self.join();
    }

    fn join(self) {
        // Once the last loop ends, with it every sender of jobs, the workers
        // drop what is still queued (its connections are closed) and stop.
        drop(self.remotes);
        for t in self.threads {
            let _ = t.join();
        }
    }
}
