//! The floor of the blocking-handler scenario, without sockets or HTTP: a
//! dispatching thread hands jobs to 64 workers through a mutex and condition
//! variable, each worker sleeps 1 ms (the "database call") and hands the job
//! back, and the dispatcher sends it out again at once. What it reports is
//! what the operating system alone charges for that pattern on this machine:
//! jobs per second against the ideal 64,000, and CPU time per job.
//!
//! `taskset -c 0 target/release/examples/handoff [seconds]` (pin it to one
//! core, as `cargo xtask bench` pins the server).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const WORKERS: u32 = 64;
const SLEEP: Duration = Duration::from_millis(1);

/// A list behind a mutex, with a condition variable for its waiters.
struct Slot<T> {
    items: Mutex<T>,
    ready: Condvar,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, T> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.ready.wait(guard).unwrap_or_else(|p| p.into_inner())
    }
}

/// User plus system CPU seconds of this process, from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel's USER_HZ, 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4);
    let jobs = Arc::new(Slot {
        items: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    });
    let done = Arc::new(Slot {
        items: Mutex::new(Vec::new()),
        ready: Condvar::new(),
    });
    for _ in 0..WORKERS {
        let (jobs, done) = (Arc::clone(&jobs), Arc::clone(&done));
        std::thread::spawn(move || loop {
            let job = {
                let mut queue = jobs.lock();
                loop {
                    if let Some(job) = queue.pop_front() {
                        break job;
                    }
                    queue = jobs.wait(queue);
                }
            };
            std::thread::sleep(SLEEP);
            done.lock().push(job);
            done.ready.notify_one();
        });
    }
    for job in 0..WORKERS {
        jobs.lock().push_back(job);
        jobs.ready.notify_one();
    }
    let (started, cpu_before) = (Instant::now(), cpu_seconds());
    let (mut count, mut back) = (0u64, Vec::new());
    while started.elapsed() < Duration::from_secs(seconds) {
        {
            let mut finished = done.lock();
            while finished.is_empty() {
                finished = done.wait(finished);
            }
            std::mem::swap(&mut *finished, &mut back);
        }
        count += back.len() as u64;
        for job in back.drain(..) {
            jobs.lock().push_back(job);
            jobs.ready.notify_one();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = count as f64 / elapsed;
    let ideal = f64::from(WORKERS) / SLEEP.as_secs_f64();
    print!(
        "{rate:.0} jobs/s ({:.1}% of {ideal:.0})",
        rate * 100.0 / ideal
    );
    match cpu_before.zip(cpu_seconds()) {
        Some((before, after)) => println!(
            ", {:.2} µs CPU per job, {:.0}% of a core",
            (after - before) * 1e6 / count.max(1) as f64,
            (after - before) * 100.0 / elapsed
        ),
        None => println!(),
    }
    // The workers are still asleep or waiting; leave without joining them.
    std::process::exit(0);
}
