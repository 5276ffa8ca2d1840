//! The scheduling class of worker threads.
//!
//! On Linux, workers can run in `SCHED_BATCH`: the same priority as any
//! other thread, but a batch thread that wakes up does not preempt the one
//! running. An event loop that hands a batch of requests to a sleeping
//! worker therefore goes on with its own work (writing responses, reading
//! the next requests) instead of being switched out at once and back in
//! later: one context switch per hand-off instead of two. Any thread may put
//! itself in this class; no privilege is needed.
//!
//! This is the crate's only `unsafe`: one system call on the calling thread.
#![allow(unsafe_code)]

/// Put the calling thread in `SCHED_BATCH`. Returns whether it worked;
/// where the class does not exist this does nothing and returns false.
#[cfg(target_os = "linux")]
pub(crate) fn batch_this_thread() -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `sched_setscheduler` reads the `sched_param` behind the pointer
    // during the call only, and `param` is a valid, initialised value that
    // outlives it. Pid 0 names the calling thread, so no other thread's
    // scheduling changes.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) == 0 }
}

/// Put the calling thread in `SCHED_BATCH`: not available here.
#[cfg(not(target_os = "linux"))]
pub(crate) fn batch_this_thread() -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn a_thread_can_put_itself_in_the_batch_class() {
        // SAFETY: no arguments; pid 0 is the calling thread.
        let before = unsafe { libc::sched_getscheduler(0) };
        let policy = std::thread::spawn(|| {
            let ok = super::batch_this_thread();
            // SAFETY: as above.
            (ok, unsafe { libc::sched_getscheduler(0) })
        })
        .join()
        .unwrap();
        assert_eq!(policy, (true, libc::SCHED_BATCH));
        // Only the calling thread changed, not the one that spawned it.
        // SAFETY: as above.
        assert_eq!(unsafe { libc::sched_getscheduler(0) }, before);
    }
}
