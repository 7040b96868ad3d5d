//! wasm32-wasip1 platform: the WASI monotonic clock, and `poll_oneoff` on a
//! clock subscription to sleep until the next timer.
//!
//! wasip1 has no threads and no asynchronous I/O: nothing outside the module
//! can make a goroutine runnable, so when none can run the platform either
//! sleeps until the earliest timer or answers that nothing can end the wait
//! (the scheduler then reports the deadlock). A goroutine that
//! makes a blocking WASI call (reading stdin, `std::thread::sleep`) blocks
//! every goroutine until the call returns.

use std::time::Duration;

use super::{Idle, Platform, Unparker};

/// The platform `gosched::run` uses on wasm32-wasip1.
///
/// ```
/// use std::time::Duration;
/// # #[cfg(all(target_os = "wasi", target_env = "p1"))]
/// # {
/// let slept = gosched::Runtime::new()
///     .platform(gosched::platform::Wasip1Platform::new())
///     .run(|| {
///         let start = gosched::now();
///         gosched::sleep(Duration::from_millis(5));
///         gosched::now() - start
///     });
/// assert!(slept >= Duration::from_millis(5));
/// # }
/// ```
#[derive(Debug)]
pub struct Wasip1Platform {
    /// `CLOCK_MONOTONIC` reading at creation, in nanoseconds.
    epoch: u64,
}

impl Wasip1Platform {
    /// A platform whose clock starts now.
    pub fn new() -> Wasip1Platform {
        Wasip1Platform {
            epoch: monotonic_ns(),
        }
    }
}

impl Default for Wasip1Platform {
    fn default() -> Self {
        Wasip1Platform::new()
    }
}

impl Platform for Wasip1Platform {
    fn now(&self) -> Duration {
        Duration::from_nanos(monotonic_ns().saturating_sub(self.epoch))
    }

    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        let Some(deadline) = deadline else {
            // Only a timer can wake a goroutine on wasip1 (a `block_on`
            // future whose Waker is held but never woken, say, is stuck).
            return Idle::NothingToWaitFor;
        };
        let wait = deadline.saturating_sub(self.now());
        if !wait.is_zero() {
            // Whole milliseconds, rounded up: Node's WASI (libuv timers)
            // truncates to milliseconds, so it would wake up to 1 ms early
            // and then treat the sub-millisecond rest as 0, a busy loop.
            let ms = wait.as_nanos().div_ceil(1_000_000);
            sleep_ns(u64::try_from(ms * 1_000_000).unwrap_or(u64::MAX));
        }
        Idle::Resume
    }

    fn unparker(&self) -> Unparker {
        // No other thread exists to call it.
        Unparker::noop()
    }
}

/// WASI `clockid` of the monotonic clock.
const CLOCK_MONOTONIC: u32 = 1;
/// WASI `eventtype` of a clock subscription.
const EVENTTYPE_CLOCK: u8 = 0;

/// WASI `subscription` with the `clock` arm of its union (48 bytes).
#[repr(C)]
struct Subscription {
    userdata: u64,
    tag: u8,
    clock: SubscriptionClock,
}

#[repr(C)]
struct SubscriptionClock {
    id: u32,
    timeout: u64,
    precision: u64,
    /// 0: `timeout` is relative to now.
    flags: u16,
}

/// WASI `event` (32 bytes).
#[repr(C)]
struct Event {
    userdata: u64,
    error: u16,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

const _: () = assert!(std::mem::size_of::<Subscription>() == 48);
const _: () = assert!(std::mem::size_of::<Event>() == 32);

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn clock_time_get(id: u32, precision: u64, time: *mut u64) -> i32;
    fn poll_oneoff(
        subscriptions: *const Subscription,
        events: *mut Event,
        count: usize,
        written: *mut usize,
    ) -> i32;
}

fn monotonic_ns() -> u64 {
    let mut time = 0u64;
    // SAFETY: `time` is a valid, writable u64 for the call's duration.
    let errno = unsafe { clock_time_get(CLOCK_MONOTONIC, 1, &mut time) };
    assert_eq!(errno, 0, "wasi clock_time_get(monotonic) failed");
    time
}

/// Blocks the module for `ns` nanoseconds (relative clock subscription).
fn sleep_ns(ns: u64) {
    let subscription = Subscription {
        userdata: 0,
        tag: EVENTTYPE_CLOCK,
        clock: SubscriptionClock {
            id: CLOCK_MONOTONIC,
            timeout: ns,
            precision: 0,
            flags: 0,
        },
    };
    let mut event = Event {
        userdata: 0,
        error: 0,
        kind: 0,
        nbytes: 0,
        flags: 0,
    };
    let mut written = 0usize;
    // SAFETY: one initialised subscription in, room for one event out, and
    // `written` valid for writes, all live for the call's duration; the
    // structs have the wasip1 ABI layout (sizes asserted above).
    let errno = unsafe { poll_oneoff(&subscription, &mut event, 1, &mut written) };
    // A failed or early wake-up only makes the scheduler ask again.
    let _ = (errno, event.error);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Counts the scheduler's calls into the wasip1 platform's idle wait.
    struct Counting(Wasip1Platform, Rc<Cell<u32>>);

    impl Platform for Counting {
        fn now(&self) -> Duration {
            self.0.now()
        }
        fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
            self.1.set(self.1.get() + 1);
            self.0.before_idle(deadline)
        }
        fn unparker(&self) -> Unparker {
            self.0.unparker()
        }
    }

    #[test]
    fn idle_sleeps_in_poll_oneoff_instead_of_spinning() {
        let calls = Rc::new(Cell::new(0));
        let platform = Counting(Wasip1Platform::new(), calls.clone());
        let slept = crate::Runtime::new().platform(platform).run(|| {
            let start = crate::now();
            crate::sleep(Duration::from_millis(30));
            crate::now() - start
        });
        assert!(slept >= Duration::from_millis(30));
        // One wait covers the sleep; a poll_oneoff that returned at once
        // would have the scheduler ask thousands of times.
        assert!(calls.get() <= 3, "before_idle ran {} times", calls.get());
    }

    #[test]
    fn the_clock_is_monotonic_and_starts_near_zero() {
        let p = Wasip1Platform::new();
        let a = p.now();
        sleep_ns(1_000_000);
        let b = p.now();
        assert!(a < Duration::from_secs(1));
        assert!(b >= a + Duration::from_millis(1));
    }
}
