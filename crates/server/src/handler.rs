//! [`Handler`]: the application.

use http_types::{Request, Response};

/// Answers requests. Runs on a worker thread, so it may block (a database
/// call, a file read) without holding up other connections.
///
/// Every `Fn(Request) -> Response + Send + Sync + 'static` is a handler, so
/// closures work, including ones that share state through `Arc<Mutex<_>>`.
/// A handler that panics costs its request a `500`; the worker carries on.
///
/// A request still waiting for a worker when its client hangs up (closes or
/// resets the connection, so that no answer could reach it) is dropped
/// without its handler running; one whose client only finished sending
/// (a half-close) still runs and is answered.
pub trait Handler: Send + Sync + 'static {
    /// Answer one request.
    fn handle(&self, request: Request) -> Response;
}

impl<F> Handler for F
where
    F: Fn(Request) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: Request) -> Response {
        self(request)
    }
}
