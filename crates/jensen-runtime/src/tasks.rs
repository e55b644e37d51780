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
//! any number of threads. Between passes the other threads stay awake ([`keep_warm`]), so
//! that the next pass, or any other job of the pool, starts on them at once.

use std::cell::Cell;
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
        let _busy = Busy::enter();
        let _count = Counted(&finished);
        let item = items[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("each item is taken once");
        let value = f(item);
        *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    };
    let busy = Busy::enter();
    rayon::scope(|s| {
        for _ in 1..threads {
            s.spawn(|_| work());
        }
        // (A helper kept waiting in `keep_warm` takes its job at once.)
        work();
        // Every task is taken; wait for those still running elsewhere.
        let start = Instant::now();
        while finished.load(Ordering::Acquire) < n && start.elapsed() < SPIN {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
        }
    });
    drop(busy);
    keep_warm(threads);
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .expect("every task ran (a panic would have been raised by the scope)")
        })
        .collect()
}

/// How long a thread kept awake after a [`map`] waits for its next job (see [`keep_warm`]).
const WARM: Duration = Duration::from_millis(2);

thread_local! {
    /// Whether this thread is running a [`map`] (its calling thread, or a task of one) or
    /// waiting in [`stay_awake`]: it then has work of its own to return to.
    static BUSY: Cell<usize> = const { Cell::new(0) };
}

/// Marks the thread busy ([`BUSY`]) while alive, also through a panic.
struct Busy;

impl Busy {
    fn enter() -> Self {
        BUSY.set(BUSY.get() + 1);
        Self
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.set(BUSY.get() - 1);
    }
}

/// Keeps the pool's other threads awake until the next pass: each waits in [`stay_awake`],
/// taking the next job of the pool as soon as it is there. Left to rayon, an idle thread
/// sleeps after a few rounds of yielding, and the serial work between two passes (the merge,
/// the M-step) is longer than that: on a virtual machine the helper then joined each pass
/// 0.2–0.3 ms late, measured at the first task it took.
fn keep_warm(threads: usize) {
    let caller = rayon::current_thread_index();
    for _ in 1..threads {
        rayon::spawn(move || {
            stay_awake(caller);
        });
    }
}

/// Waits on a thread of the pool for its next job, yielding the core between looks, runs it
/// and returns (the next pass's own [`keep_warm`] starts the next wait); returns after
/// [`WARM`] without one. Whether it waited: not on the thread that asked (`caller`, which
/// has the next pass to start) nor on a busy thread ([`BUSY`]: one that took this job from
/// a queue while it waits for its own work elsewhere, or is already waiting here), which
/// return at once.
fn stay_awake(caller: Option<usize>) -> bool {
    if BUSY.get() > 0 || rayon::current_thread_index() == caller {
        return false;
    }
    let _busy = Busy::enter();
    let start = Instant::now();
    while start.elapsed() < WARM {
        match rayon::yield_now() {
            Some(rayon::Yield::Idle) => std::thread::yield_now(),
            Some(rayon::Yield::Executed) | None => break,
        }
    }
    true
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

    /// Thousands of passes in a row, with joins between them, on threads kept awake: the
    /// waits of later passes do not nest in earlier ones (which would overflow the stack),
    /// and a join's other half runs on the waiting thread.
    #[test]
    fn passes_and_joins_follow_each_other_on_threads_kept_awake() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            for pass in 0..5000usize {
                let out = map((0..4).collect(), |i| i + pass);
                assert_eq!(out, vec![pass, pass + 1, pass + 2, pass + 3]);
                if pass % 100 == 0 {
                    let (a, b) = rayon::join(|| pass * 2, || pass * 3);
                    assert_eq!((a, b), (pass * 2, pass * 3));
                }
            }
        });
    }

    /// Maps whose tasks run maps of their own (a chain's sequences, each with its pieces):
    /// every result in order, and no thread inside a map waits in `stay_awake` for a job it
    /// took from a queue (it returns at once, with work of its own to go back to).
    #[test]
    fn maps_inside_maps_do_not_keep_their_threads_waiting() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            for pass in 0..200usize {
                let out = map((0..6).collect(), |i| {
                    assert!(!stay_awake(None), "a thread in a map does not wait");
                    map((0..5).collect(), |j| pass + 10 * i + j)
                });
                let expected: Vec<Vec<usize>> = (0..6)
                    .map(|i| (0..5).map(|j| pass + 10 * i + j).collect())
                    .collect();
                assert_eq!(out, expected);
            }
        });
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
