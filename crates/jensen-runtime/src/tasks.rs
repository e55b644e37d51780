//! The E-step's tasks shared among the pool's threads, with the last wait spent spinning.
//!
//! Rayon's parallel iterators split the tasks in halves; the thread that finishes its half
//! first waits in a join for the other, and after a few rounds of yielding it sleeps. On a
//! virtual machine the wake-up that follows costs tens of microseconds, and it falls on the
//! E-step's critical path every iteration (about two sleeps per iteration on two threads,
//! counted with `perf record -e sched:sched_switch`). Here every thread takes the next task
//! from one counter, so they finish within a task of each other, and the calling thread
//! waits for the last ones in a spin ([`SPIN`] at most) rather than asleep. Results come back
//! in task order, whichever thread computed them, so the caller's reduction is the same on
//! any number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest the calling thread spins for the other threads' last tasks before it leaves
/// the wait to rayon (which sleeps). A task is a few hundred microseconds at most on the
/// workloads measured; past this the other threads are likely descheduled, and spinning
/// would only take a core from them.
const SPIN: Duration = Duration::from_millis(1);

/// `f` of each of `items`, run on the current rayon pool's threads (each takes the next item
/// in turn), in the items' order: as `items.into_par_iter().map(f).collect()`.
pub fn map<I, T, F>(items: Vec<I>, f: F) -> Vec<T>
where
    I: Send,
    T: Send,
    F: Fn(I) -> T + Sync,
{
    let n = items.len();
    let threads = rayon::current_num_threads().min(n);
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let items: Vec<Mutex<Option<I>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    // Tasks finished, or left by a panic (which the scope then raises): the calling thread's
    // wait ends either way.
    let finished = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        let _count = Counted(&finished);
        let item = items[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("each item is taken once");
        let value = f(item);
        *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    };
    rayon::scope(|s| {
        for _ in 1..threads {
            s.spawn(|_| work());
        }
        work();
        // Every task is taken; wait for those still running elsewhere.
        let start = Instant::now();
        while finished.load(Ordering::Acquire) < n && start.elapsed() < SPIN {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .expect("every task ran (a panic would have been raised by the scope)")
        })
        .collect()
}

/// Counts a task as finished when dropped, also when the task panics.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_task_order_on_any_number_of_threads() {
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for n in [0, 1, 2, 7, 100] {
                let out = pool.install(|| map((0..n).collect(), |i| i * i));
                assert_eq!(out, (0..n).map(|i| i * i).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_panicking_task_is_raised_not_waited_for() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| {
                map((0..8).collect(), |i| {
                    assert!(i != 5, "task five fails");
                    i
                })
            })
        }));
        assert!(caught.is_err());
    }
}
