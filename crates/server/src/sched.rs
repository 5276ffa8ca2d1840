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
//! Only a thread in the default class (`SCHED_OTHER`) moves: a process run
//! on purpose under a real-time or idle class keeps it. A thread that this
//! module moved moves back while it drives an event loop (see
//! `pool::Worker::driving`), so the driving thread is in the default class
//! whichever thread it is. Threads a handler spawns inherit the class of
//! the thread that runs it, as they would any other.
//!
//! This is the crate's only `unsafe`: two calls on the calling thread.
#![allow(unsafe_code)]

/// Put the calling thread in `SCHED_BATCH` if it is in the default class.
/// Returns whether it moved it; where the class does not exist this does
/// nothing and returns false.
#[cfg(target_os = "linux")]
pub(crate) fn batch_this_thread() -> bool {
    policy_of_this_thread() == Some(libc::SCHED_OTHER) && set_policy(libc::SCHED_BATCH)
}

/// Put the calling thread back in the default class, after
/// [`batch_this_thread`] moved it. Returns whether it moved it.
#[cfg(target_os = "linux")]
pub(crate) fn normal_this_thread() -> bool {
    policy_of_this_thread() == Some(libc::SCHED_BATCH) && set_policy(libc::SCHED_OTHER)
}

/// Set the calling thread's policy (at priority 0); returns whether it did.
#[cfg(target_os = "linux")]
fn set_policy(policy: libc::c_int) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `pthread_self` names the calling thread, which is alive for
    // the whole call; `param` is a valid, initialised value that the call
    // only reads, and it outlives the call.
    unsafe { libc::pthread_setschedparam(libc::pthread_self(), policy, &param) == 0 }
}

/// The calling thread's scheduling policy.
#[cfg(target_os = "linux")]
fn policy_of_this_thread() -> Option<libc::c_int> {
    let mut policy = 0;
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `pthread_self` names the calling thread, alive for the whole
    // call; both pointers are to valid, initialised locals that outlive the
    // call, which writes through them only.
    let err = unsafe { libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) };
    (err == 0).then_some(policy)
}

/// Put the calling thread in `SCHED_BATCH`: not available here.
#[cfg(not(target_os = "linux"))]
pub(crate) fn batch_this_thread() -> bool {
    false
}

/// Put the calling thread back in the default class: nothing to do here.
#[cfg(not(target_os = "linux"))]
pub(crate) fn normal_this_thread() -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_in_the_default_class_moves_to_the_batch_class_alone_and_back() {
        let before = policy_of_this_thread();
        let (moved, after, back) = std::thread::spawn(|| {
            let started = policy_of_this_thread();
            let moved = batch_this_thread();
            let now = policy_of_this_thread();
            let moved_back = moved && normal_this_thread();
            assert_eq!(moved_back, moved);
            (moved, (started, now), policy_of_this_thread())
        })
        .join()
        .unwrap();
        match after {
            // The usual case: a new thread starts in the default class.
            (Some(libc::SCHED_OTHER), now) => {
                assert!(moved);
                assert_eq!(now, Some(libc::SCHED_BATCH));
                assert_eq!(back, Some(libc::SCHED_OTHER));
            }
            // Run under another class (say `chrt`): left as it was.
            (started, now) => {
                assert!(!moved);
                assert_eq!(now, started);
                assert_eq!(back, started);
            }
        }
        // Only the calling thread changed, not the one that spawned it.
        assert_eq!(policy_of_this_thread(), before);
    }
}
