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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
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
        // (A helper kept waiting in `keep_warm` takes its job at once.)
        touch();
        work();
        // Every task is taken; wait for those still running elsewhere.
        let start = Instant::now();
        while finished.load(Ordering::Acquire) < n && start.elapsed() < SPIN {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
        }
    });
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

/// How long the other threads stay awake after the last [`map`] (see [`keep_warm`]).
const WARM: Duration = Duration::from_millis(2);

/// When the last [`map`] started or ended, in nanoseconds since [`epoch`].
static LAST: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this thread is in [`stay_awake`] (a nested one returns at once).
    static AWAKE: Cell<bool> = const { Cell::new(false) };
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

fn touch() {
    LAST.store(now(), Ordering::Relaxed);
}

/// Keeps the pool's other threads awake until no [`map`] has started or ended for [`WARM`]:
/// each waits in [`stay_awake`], taking any job of the pool as soon as it is there. Left to
/// rayon, an idle thread sleeps after a few rounds of yielding, and the serial work between
/// two passes (the merge, the M-step) is longer than that: on a virtual machine the helper
/// then joined each pass 0.2–0.3 ms late, measured at the first task it took.
fn keep_warm(threads: usize) {
    touch();
    let caller = rayon::current_thread_index();
    for _ in 1..threads {
        rayon::spawn(move || stay_awake(caller));
    }
}

/// Runs the pool's jobs as they come, yielding the core between looks, until no [`map`] has
/// started or ended for [`WARM`]. Not on the thread that asked (`caller`), which has the next
/// pass to start (it may find the job in its own queue while it waits for another), and
/// once per thread: a thread already in here returns at once (so that the jobs spawned by
/// later passes do not nest).
fn stay_awake(caller: Option<usize>) {
    if AWAKE.get() || rayon::current_thread_index() == caller {
        return;
    }
    AWAKE.set(true);
    loop {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => {}
            Some(rayon::Yield::Idle) => {
                if now().saturating_sub(LAST.load(Ordering::Relaxed)) > WARM.as_nanos() as u64 {
                    break;
                }
                std::thread::yield_now();
            }
            None => break,
        }
    }
    AWAKE.set(false);
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
