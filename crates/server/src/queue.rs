//! The queue of work (batches of jobs, or jobs on their own) from the event
//! loops to the workers: a mutex, a condition variable and a list.
//!
//! A worker with nothing to do sleeps at once, without spinning or yielding
//! first: on a busy machine a spinning worker only takes time from the thread
//! that is about to give it work. A sender pays for a wake-up only when a
//! worker is asleep and no earlier send has woken it. The loops bound how
//! many jobs are queued (`Shared::queued`), so the list needs no bound of its
//! own.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct Queue<T> {
    inner: Mutex<Inner<T>>,
    ready: Condvar,
}

struct Inner<T> {
    items: VecDeque<T>,
    /// Live senders; at zero, receivers stop once the list is empty.
    senders: usize,
    /// Receivers asleep on `ready`.
    sleeping: usize,
    /// Wake-ups sent to sleeping receivers that have not yet run. A receiver
    /// that was woken but is still waiting for a core counts in `sleeping`
    /// until it runs; without this count every send in that time would pay
    /// for a wake-up that finds nobody left to wake.
    woken: usize,
}

impl<T> Queue<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding the lock leaves a valid list behind.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<T> Inner<T> {
    /// Add an item; whether a receiver must be woken for it (one is asleep
    /// and not yet woken), counted as woken.
    fn push(&mut self, item: T, front: bool) -> bool {
        if front {
            self.items.push_front(item);
        } else {
            self.items.push_back(item);
        }
        let wake = self.sleeping > self.woken;
        if wake {
            self.woken += 1;
        }
        wake
    }
}

/// The sending side; the queue closes when the last clone is dropped.
pub(crate) struct Sender<T>(Arc<Queue<T>>);

/// The receiving side.
pub(crate) struct Receiver<T>(Arc<Queue<T>>);

/// A new, open queue.
pub(crate) fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let q = Arc::new(Queue {
        inner: Mutex::new(Inner {
            items: VecDeque::new(),
            senders: 1,
            sleeping: 0,
            woken: 0,
        }),
        ready: Condvar::new(),
    });
    (Sender(Arc::clone(&q)), Receiver(q))
}

impl<T> Sender<T> {
    /// Add an item, waking one sleeping receiver if there is one that no
    /// earlier send has woken already. Every receiver checks the list before
    /// it sleeps again, so an item sent while all sleepers are being woken
    /// is taken by one of them.
    pub fn send(&self, item: T) {
        let wake = self.0.lock().push(item, false);
        if wake {
            self.0.ready.notify_one();
        }
    }

    /// [`send`](Self::send), but ahead of the items already queued.
    pub fn send_front(&self, item: T) {
        let wake = self.0.lock().push(item, true);
        if wake {
            self.0.ready.notify_one();
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Sender(Arc::clone(&self.0))
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut inner = self.0.lock();
            inner.senders -= 1;
            inner.senders == 0
        };
        if last {
            self.0.ready.notify_all();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item, sleeping until there is one; `None` once every sender
    /// is gone and the list is empty.
    pub fn recv(&self) -> Option<T> {
        let mut inner = self.0.lock();
        loop {
            if let Some(item) = inner.items.pop_front() {
                return Some(item);
            }
            if inner.senders == 0 {
                return None;
            }
            inner.sleeping += 1;
            inner = self.0.ready.wait(inner).unwrap_or_else(|p| p.into_inner());
            inner.sleeping -= 1;
            // A spurious wake-up takes one from the count too: at worst a
            // later send then wakes a receiver that was already awake.
            inner.woken = inner.woken.saturating_sub(1);
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver(Arc::clone(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_sent_to_the_front_overtakes_those_queued() {
        let (tx, rx) = queue();
        tx.send(1);
        tx.send(2);
        tx.send_front(0);
        drop(tx);
        let got: Vec<i32> = std::iter::from_fn(|| rx.recv()).collect();
        assert_eq!(got, [0, 1, 2]);
    }

    #[test]
    fn items_arrive_in_order_and_the_last_sender_closes() {
        let (tx, rx) = queue();
        let tx2 = tx.clone();
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(i) = rx.recv() {
                        got.push(i);
                    }
                    got
                })
            })
            .collect();
        for i in 0..1000 {
            if i % 2 == 0 { &tx } else { &tx2 }.send(i);
        }
        drop(tx);
        tx2.send(1000);
        drop(tx2);
        let mut all: Vec<i32> = Vec::new();
        for w in workers {
            let got = w.join().unwrap();
            assert!(
                got.windows(2).all(|p| p[0] < p[1]),
                "each worker sees order"
            );
            all.extend(got);
        }
        all.sort_unstable();
        assert_eq!(all, (0..=1000).collect::<Vec<_>>());
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn a_send_wakes_a_sleeping_receiver() {
        let (tx, rx) = queue();
        let (got_tx, got) = std::sync::mpsc::channel();
        let receiver = std::thread::spawn(move || {
            let _ = got_tx.send(rx.recv());
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while tx.0.lock().sleeping == 0 {
            assert!(std::time::Instant::now() < deadline, "receiver never slept");
            std::thread::yield_now();
        }
        tx.send(7);
        // The sender stays alive, so only the send's own wake-up can end the
        // receiver's wait.
        assert_eq!(
            got.recv_timeout(std::time::Duration::from_secs(10)),
            Ok(Some(7))
        );
        drop(tx);
        receiver.join().unwrap();
    }

    #[test]
    fn a_sleeper_is_woken_once_for_the_items_sent_before_it_runs() {
        let (tx, rx) = queue();
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || [rx.recv(), rx.recv()])
            })
            .collect();
        // Bounded wait until both receivers are asleep, then keep the lock:
        // neither can run between the sends below.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut inner = loop {
            let inner = tx.0.lock();
            if inner.sleeping == 2 {
                break inner;
            }
            drop(inner);
            assert!(
                std::time::Instant::now() < deadline,
                "receivers never slept"
            );
            std::thread::yield_now();
        };
        let wakes: Vec<bool> = (0..4).map(|i| inner.push(i, false)).collect();
        assert_eq!(wakes, [true, true, false, false]);
        drop(inner);
        tx.0.ready.notify_one();
        tx.0.ready.notify_one();
        let mut got: Vec<i32> = receivers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .map(|item| item.unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3]);
        let inner = tx.0.lock();
        assert_eq!((inner.sleeping, inner.woken), (0, 0));
    }
}
