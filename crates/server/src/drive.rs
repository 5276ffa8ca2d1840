//! The server's threads, and the event loops they drive.
//!
//! Every thread of a server is a worker that may, for a while, drive an
//! event loop. At start, thread `i` of the first `event_loops` drives loop
//! `i` and the others wait for jobs. A loop sits in a [`LoopSlot`]: whoever
//! holds its lock drives it, one thread at a time.
//!
//! When handlers are quick and the server runs quick batches where they are
//! read ([`QuickBatches`](crate::QuickBatches)), the driving thread takes
//! the jobs of a turn, puts the loop down (unlocks it), runs them, then
//! takes the loop up again and delivers the responses itself: no wake-up,
//! no context switch. Handler code never runs while its thread holds a
//! loop. If the thread cannot take its loop up again, somebody else has
//! it: the responses go through the loop's completion queue, as a worker's
//! do, and the thread goes back to waiting for jobs.
//!
//! A loop put down must not stay down while a handler blocks. The watch, a
//! thread of its own, looks at every loop each [`TICK`]; one that has been
//! down since its last look is handed to an idle worker
//! ([`Work::TakeLoop`]). When no loop was put down during a tick, the watch
//! sleeps until one is.
//!
//! With [`batch_workers`](crate::ServerConfig::batch_workers), a thread is
//! in the batch class while it waits for and runs jobs from the queue, and
//! in the default class while it drives a loop, quick batches it runs
//! itself included.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use http_codec::http_date_now;
use reactor::{ConnId, EventLoop, Remote};

use crate::pool::{run_each, work, Worker};
use crate::queue::{Receiver, Sender};
use crate::service::{Answer, Done, HttpService, Job, Shared, Work};
use crate::Handler;

/// How often the watch looks at the loops.
pub(crate) const TICK: Duration = Duration::from_millis(1);

type Loop = EventLoop<HttpService>;

/// An event loop, and whether it is down.
pub(crate) struct LoopSlot {
    /// `None` once the loop has ended.
    event_loop: Mutex<Option<Loop>>,
    /// Counted up each time the loop is put down and each time it is taken
    /// up again: odd while it is down. Written only under the lock.
    turns: AtomicU64,
    /// A [`Work::TakeLoop`] for this loop is on its way: set by the watch
    /// when it sends one, cleared by the worker that receives it, before it
    /// tries. A try can fail with the loop down (its thread has counted the
    /// put-down but not yet let go of the lock), and the watch then sends
    /// another at its next look instead of leaving the loop down.
    handover: AtomicBool,
}

/// A loop taken up by this thread. Should the thread panic while it holds
/// it, the loop ends (its connections close, its sender of jobs goes)
/// rather than stay in its slot with nobody to drive it.
struct Held<'a> {
    guard: MutexGuard<'a, Option<Loop>>,
    crew: &'a Crew,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() && self.guard.take().is_some() {
            self.crew.loop_ended();
        }
    }
}

impl LoopSlot {
    /// Take the loop up, unless another thread holds it.
    fn take_up<'a>(&'a self, crew: &'a Crew) -> Option<Held<'a>> {
        let guard = match self.event_loop.try_lock() {
            Ok(guard) => guard,
            // A thread that panicked while driving left the loop as it was
            // between two steps; no step of it panics on what a peer sends.
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        let turns = self.turns.load(Ordering::SeqCst);
        if turns % 2 == 1 {
            self.turns.store(turns + 1, Ordering::SeqCst);
        }
        Some(Held { guard, crew })
    }

    /// Put the loop down for somebody else to take up.
    fn put_down(&self, held: Held<'_>, watch: Option<&Watch>) {
        self.turns.fetch_add(1, Ordering::SeqCst);
        drop(held);
        if let Some(watch) = watch {
            watch.rouse();
        }
    }
}

/// The thread that makes sure no loop stays down.
struct Watch {
    /// Set while the watch sleeps for want of loops put down.
    parked: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Watch {
    /// Wake the watch if it sleeps.
    fn rouse(&self) {
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
    }
}

/// What every thread of a server shares.
pub(crate) struct Crew {
    pub jobs: Receiver<Work>,
    pub handler: Arc<dyn Handler>,
    pub remotes: Arc<Vec<Remote<Done>>>,
    pub shared: Arc<Shared>,
    loops: Vec<LoopSlot>,
    /// Loops that have not ended.
    running: AtomicUsize,
    /// Present when quick batches are run where they are read.
    watch: Option<Watch>,
}

impl Crew {
    /// A loop has ended. After the last, jobs still queued are dropped
    /// unrun, and the watch stops.
    fn loop_ended(&self) {
        if self.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.stopped.store(true, Ordering::SeqCst);
            if let Some(thread) = self.watch.as_ref().and_then(|w| w.thread.get()) {
                thread.unpark();
            }
        }
    }

    /// End every loop (used when the threads could not all start): those
    /// driven end at their next turn, the others here, so that the job queue
    /// closes and the threads that did start stop.
    fn abandon(&self) {
        for remote in self.remotes.iter() {
            remote.shutdown_now();
        }
        for slot in &self.loops {
            let mut guard = slot.event_loop.lock().unwrap_or_else(|p| p.into_inner());
            if guard.take().is_some() {
                self.loop_ended();
            }
        }
    }
}

/// Start the server's threads: one per loop, driving it, `workers` more
/// waiting for jobs, and the watch if `watch_jobs` is given (a sender on
/// the job queue, for [`Work::TakeLoop`]).
pub(crate) fn start(
    event_loops: Vec<Loop>,
    workers: usize,
    jobs: Receiver<Work>,
    watch_jobs: Option<Sender<Work>>,
    handler: Arc<dyn Handler>,
    remotes: Arc<Vec<Remote<Done>>>,
    shared: Arc<Shared>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let count = event_loops.len();
    let crew = Arc::new(Crew {
        jobs,
        handler,
        remotes,
        shared,
        loops: event_loops
            .into_iter()
            .map(|l| LoopSlot {
                event_loop: Mutex::new(Some(l)),
                turns: AtomicU64::new(0),
                handover: AtomicBool::new(false),
            })
            .collect(),
        running: AtomicUsize::new(count),
        watch: watch_jobs.as_ref().map(|_| Watch {
            parked: AtomicBool::new(false),
            thread: OnceLock::new(),
        }),
    });
    let mut threads = Vec::with_capacity(count + workers + 1);
    let started = start_threads(&crew, count, workers, watch_jobs, &mut threads);
    if let Err(e) = started {
        crew.abandon();
        return Err(e);
    }
    Ok(threads)
}

fn start_threads(
    crew: &Arc<Crew>,
    loops: usize,
    workers: usize,
    watch_jobs: Option<Sender<Work>>,
    threads: &mut Vec<JoinHandle<()>>,
) -> std::io::Result<()> {
    if let Some(jobs) = watch_jobs {
        let t = spawn(crew, "http-watch".into(), move |c| watch(c, &jobs))?;
        if let Some(w) = &crew.watch {
            let _ = w.thread.set(t.thread().clone());
        }
        threads.push(t);
    }
    for i in 0..workers {
        threads.push(spawn(crew, format!("http-worker-{i}"), |c| {
            let mut worker = Worker::new(c.loops.len());
            worker.driving(false, &c.shared);
            work(&mut worker, c);
        })?);
    }
    for i in 0..loops {
        threads.push(spawn(crew, format!("http-loop-{i}"), move |c| {
            let mut worker = Worker::new(c.loops.len());
            drive(i, &mut worker, c);
            // Its loop driven by another now (or ended): a worker.
            worker.driving(false, &c.shared);
            work(&mut worker, c);
        })?);
    }
    Ok(())
}

/// Start a thread called `name` that runs `f` with the crew.
fn spawn(
    crew: &Arc<Crew>,
    name: String,
    f: impl FnOnce(&Crew) + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    let c = Arc::clone(crew);
    std::thread::Builder::new().name(name).spawn(move || f(&c))
}

/// [`Work::TakeLoop`]: take up loop `index`, left down, and drive it, as
/// [`drive`] does.
pub(crate) fn take_over(index: usize, worker: &mut Worker, crew: &Crew) {
    if let Some(slot) = crew.loops.get(index) {
        slot.handover.store(false, Ordering::SeqCst);
    }
    drive(index, worker, crew);
}

/// Take up loop `index` and drive it until another thread takes it or it
/// ends. Returns at once if another thread holds it.
pub(crate) fn drive(index: usize, worker: &mut Worker, crew: &Crew) {
    let Some(slot) = crew.loops.get(index) else {
        return;
    };
    let Some(held) = slot.take_up(crew) else {
        return;
    };
    worker.driving(true, &crew.shared);
    drive_held(index, slot, held, worker, crew);
    worker.driving(false, &crew.shared);
}

/// Batches a driving thread runs and answers one after another before it
/// polls its loop again.
const QUICK_ROUNDS_PER_POLL: usize = 16;

/// [`drive`], once the loop is taken up.
fn drive_held<'a>(
    index: usize,
    slot: &'a LoopSlot,
    mut held: Held<'a>,
    worker: &mut Worker,
    crew: &'a Crew,
) {
    let mut quick: Vec<Job> = Vec::new();
    let mut answers: Vec<(ConnId, Answer)> = Vec::new();
    let (handler, remotes, shared) = (&*crew.handler, &crew.remotes[..], &*crew.shared);
    // Taken over from a thread still in a handler: hand out what its loop
    // holds back (connections waiting for room) before waiting on events.
    if let Some(event_loop) = held.guard.as_mut() {
        event_loop.end_turn();
    }
    // Batches run since the last poll.
    let mut rounds = 0;
    loop {
        let Some(event_loop) = held.guard.as_mut() else {
            return;
        };
        if rounds < QUICK_ROUNDS_PER_POLL {
            event_loop.service_mut().take_quick(&mut quick);
        } else {
            // Answering a batch can read the next (a client keeping its
            // pipeline full): poll, without blocking, so that other
            // connections are served too, then go on.
            event_loop.poll_soon();
        }
        if !quick.is_empty() {
            rounds += 1;
            slot.put_down(held, crew.watch.as_ref());
            let date = http_date_now();
            run_each(
                quick.drain(..),
                handler,
                remotes,
                shared,
                |conn, _, answer| {
                    answers.push((conn, answer));
                },
            );
            let Some(again) = slot.take_up(crew) else {
                worker.send_answers(index, answers.drain(..), date, remotes, shared);
                return;
            };
            held = again;
            match held.guard.as_mut() {
                Some(event_loop) => event_loop.visit_each(answers.drain(..), |service, conn, a| {
                    service.answer(conn, a, date);
                }),
                // Ended meanwhile: its connections are closed.
                None => answers.clear(),
            }
            continue;
        }
        rounds = 0;
        match event_loop.turn() {
            Ok(true) => {}
            // An error of the poll itself ends the loop as a shutdown does.
            Ok(false) | Err(_) => {
                if let Some(mut event_loop) = held.guard.take() {
                    // Jobs the last turn left for this thread go unrun.
                    event_loop.service_mut().take_quick(&mut quick);
                    for job in quick.drain(..) {
                        shared.budget.give_back(job.body_share);
                    }
                    drop(event_loop.finish());
                }
                drop(held);
                crew.loop_ended();
                return;
            }
        }
    }
}

/// The watch: every [`TICK`], hand each loop that has been down since the
/// last look to an idle worker; sleep while no loop is put down.
fn watch(crew: &Crew, jobs: &Sender<Work>) {
    let Some(w) = &crew.watch else {
        return;
    };
    let turns = |slot: &LoopSlot| slot.turns.load(Ordering::SeqCst);
    let mut seen: Vec<u64> = crew.loops.iter().map(turns).collect();
    while crew.running.load(Ordering::SeqCst) > 0 {
        std::thread::sleep(TICK);
        let mut active = false;
        for (i, slot) in crew.loops.iter().enumerate() {
            let look = look(&mut seen[i], turns(slot), &slot.handover);
            active |= look != Look::Quiet;
            if look == Look::HandOver {
                // Ahead of queued jobs: the next worker free takes it.
                jobs.send_front(Work::TakeLoop(i));
            }
        }
        if !active {
            w.parked.store(true, Ordering::SeqCst);
            // A loop put down after the look above finds `parked` set and
            // unparks; one put down before it is seen here.
            let quiet = crew.loops.iter().zip(&seen).all(|(s, &t)| turns(s) == t);
            if quiet && crew.running.load(Ordering::SeqCst) > 0 {
                std::thread::park();
            }
            w.parked.store(false, Ordering::SeqCst);
        }
    }
}

/// What the watch makes of one loop at one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// Up, and not put down since the last look.
    Quiet,
    /// Put down or taken up since the last look, or down with a hand-over
    /// on its way.
    Busy,
    /// Down since the last look, with no hand-over on its way: send one.
    HandOver,
}

/// Look at a loop whose count of turns is `now`, `seen` at the last look;
/// `handover` is set when a hand-over is to be sent, so that a loop no
/// worker has taken yet is not handed over again and again.
fn look(seen: &mut u64, now: u64, handover: &AtomicBool) -> Look {
    if now != *seen {
        *seen = now;
        Look::Busy
    } else if now % 2 == 0 {
        Look::Quiet
    } else if handover.swap(true, Ordering::SeqCst) {
        Look::Busy
    } else {
        Look::HandOver
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::{look, Look};

    #[test]
    fn a_loop_left_down_is_handed_over_once_until_the_hand_over_is_taken() {
        let handover = AtomicBool::new(false);
        let mut seen = 6;
        // Put down since the last look.
        assert_eq!(look(&mut seen, 7, &handover), Look::Busy);
        // Down a whole tick: handed over, once.
        assert_eq!(look(&mut seen, 7, &handover), Look::HandOver);
        assert_eq!(look(&mut seen, 7, &handover), Look::Busy);
        assert_eq!(look(&mut seen, 7, &handover), Look::Busy);
        // A worker takes the hand-over and fails to take the loop up (its
        // thread had counted the put-down but not let go of the lock yet):
        // the loop, still down, is handed over again.
        handover.store(false, Ordering::SeqCst);
        assert_eq!(look(&mut seen, 7, &handover), Look::HandOver);
        // Taken up, then up and quiet.
        handover.store(false, Ordering::SeqCst);
        assert_eq!(look(&mut seen, 8, &handover), Look::Busy);
        assert_eq!(look(&mut seen, 8, &handover), Look::Quiet);
    }
}
