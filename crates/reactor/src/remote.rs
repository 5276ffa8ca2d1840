//! [`Remote`]: the way other threads reach an event loop.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::ConnId;

pub(crate) const RUNNING: u8 = 0;
pub(crate) const GRACEFUL: u8 = 1;
pub(crate) const IMMEDIATE: u8 = 2;

pub(crate) struct Shared<C> {
    /// Completions for the loop; `None` once the loop is gone, when they
    /// are dropped rather than queued.
    pub queue: Mutex<Option<Vec<(ConnId, C)>>>,
    pub waker: mio::Waker,
    pub stop: AtomicU8,
    pub drain_deadline: Mutex<Option<Instant>>,
    /// Which connection holds each slab slot, for [`Remote::is_open`]: its
    /// generation with [`OPEN`] set, or 0 while the slot is free. Slots past
    /// the end are never published.
    pub open: Box<[AtomicU32]>,
}

/// Marks a published slot as held; generations never use this bit.
const OPEN: u32 = !crate::GENERATION_MASK;

/// Slots published for [`Remote::is_open`] at most (4 bytes each).
pub(crate) const OPEN_SLOTS_MAX: usize = 1 << 20;

impl<C> Shared<C> {
    /// Publish that `id` holds its slot (`true`) or has left it.
    pub fn set_open(&self, id: ConnId, open: bool) {
        if let Some(slot) = self.open.get(id.index()) {
            let value = if open { id.generation() | OPEN } else { 0 };
            slot.store(value, Ordering::Release);
        }
    }
}

/// Owned by an event loop: when the loop goes away (its `run` returned, or
/// it was dropped unrun), later completions are dropped at once and those
/// still queued are dropped, so nothing waits for a loop that will never
/// take it.
pub(crate) struct EndOnDrop<C>(pub Arc<Shared<C>>);

impl<C> Drop for EndOnDrop<C> {
    fn drop(&mut self) {
        let stale = self
            .0
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        // Dropped outside the lock: a completion's drop may be arbitrary code.
        drop(stale);
    }
}

/// A handle to an event loop, for other threads: it delivers completions and
/// asks the loop to stop. Cheap to clone.
///
/// Completions go into one queue; the loop is woken only when the queue goes
/// from empty to not empty, so a burst of completions costs one wake-up. The
/// queue holds at most one entry per piece of work the loop handed out, which
/// its owner bounds.
pub struct Remote<C> {
    pub(crate) shared: Arc<Shared<C>>,
}

impl<C> Clone for Remote<C> {
    fn clone(&self) -> Self {
        Remote {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> Remote<C> {
    /// Deliver `completion` to connection `id`. It is dropped by the loop if
    /// that connection has closed meanwhile, and dropped here if the loop
    /// has ended.
    pub fn complete(&self, id: ConnId, completion: C) {
        self.complete_all(std::iter::once((id, completion)));
    }

    /// Deliver several completions with at most one wake-up.
    pub fn complete_all(&self, completions: impl IntoIterator<Item = (ConnId, C)>) {
        let was_empty = {
            // A poisoned lock only means another producer panicked mid-push;
            // the queue itself is still a valid Vec.
            let mut guard = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            let Some(queue) = guard.as_mut() else {
                // The loop has ended: `completions` is dropped on return,
                // after the lock.
                return;
            };
            let was_empty = queue.is_empty();
            queue.extend(completions);
            was_empty && !queue.is_empty()
        };
        if was_empty {
            // If the loop is gone there is nobody to wake.
            let _ = self.shared.waker.wake();
        }
    }

    /// Whether connection `id` is still open. `false` is final: the
    /// connection has closed, and anything computed for it would be dropped.
    /// `true` can be out of date by the time it is read. For skipping work
    /// whose connection has gone, such as a queued request whose client
    /// hung up.
    pub fn is_open(&self, id: ConnId) -> bool {
        match self.shared.open.get(id.index()) {
            Some(slot) => slot.load(Ordering::Acquire) == id.generation() | OPEN,
            // Not published (beyond the table): assume open.
            None => true,
        }
    }

    /// Wake the loop with nothing to deliver: it runs
    /// [`Service::end_of_batch`](crate::Service::end_of_batch) again.
    pub fn wake(&self) {
        let _ = self.shared.waker.wake();
    }

    /// Stop accepting, let the service finish what is in flight, and stop once
    /// every connection has closed or at `deadline`, whichever comes first.
    pub fn shutdown_graceful(&self, deadline: Instant) {
        *self
            .shared
            .drain_deadline
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(deadline);
        let _ = self.shared.stop.compare_exchange(
            RUNNING,
            GRACEFUL,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        let _ = self.shared.waker.wake();
    }

    /// Close every connection and stop now.
    pub fn shutdown_now(&self) {
        self.shared.stop.store(IMMEDIATE, Ordering::SeqCst);
        let _ = self.shared.waker.wake();
    }
}
