//! Time: the platform's monotonic clock (`now`, `sleep`) and the wall clock
//! (`system_time`).

use std::time::{Duration, SystemTime};

use crate::runtime::{any_scheduler, scheduler, WaitReason};

/// The scheduler's monotonic clock: a `Duration` since an origin that
/// depends on the platform (natively the start of [`run`](crate::run); in a
/// JS host the origin of `performance.now()`, the start of the page or
/// process). Timers, [`sleep`], timeouts and the values timer channels
/// deliver are all on this clock. It never goes back and is not the time of
/// day: for that, see [`system_time`]. `std::time::Instant` does not work on
/// every target gosched runs on; this does (Go's monotonic clock reading).
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
///
/// ```
/// gosched::run(|| {
///     let a = gosched::now();
///     assert!(gosched::now() >= a);
/// });
/// ```
pub fn now() -> Duration {
    any_scheduler("gosched::now").now()
}

/// Parks the calling goroutine for at least `duration`; the others keep
/// running. Go's `time.Sleep`.
///
/// # Panics
///
/// Outside a goroutine.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let start = gosched::now();
///     gosched::sleep(Duration::from_millis(10));
///     assert!(gosched::now() - start >= Duration::from_millis(10));
/// });
/// ```
pub fn sleep(duration: Duration) {
    let s = scheduler("gosched::sleep");
    if duration.is_zero() {
        return;
    }
    // Past the clock's range (Go's TestOverflowSleep): a deadline that never
    // comes, not an overflow panic.
    let deadline = s.now().saturating_add(duration);
    // A timed-out park needs no clock read: its timer fired at the deadline.
    while !s.park(WaitReason::Sleep, Some(deadline)) && s.now() < deadline {}
}

/// The wall clock: the system's time of day, as std's
/// [`SystemTime::now`], on every target, the JS host included (where std's
/// clocks panic; there it is `Date.now()`, with millisecond resolution). Go's
/// `time.Now()` without its monotonic part: it can jump when the system clock
/// is set, so measure intervals with [`now`] instead. Needs no scheduler.
///
/// ```
/// use std::time::UNIX_EPOCH;
/// let since_epoch = gosched::system_time().duration_since(UNIX_EPOCH).unwrap();
/// assert!(since_epoch.as_secs() > 1_700_000_000); // after November 2023
/// ```
pub fn system_time() -> SystemTime {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        let ms = crate::js::ffi::date_now_ms();
        let since_epoch = Duration::from_secs_f64(ms.abs() / 1000.0);
        if ms >= 0.0 {
            std::time::UNIX_EPOCH + since_epoch
        } else {
            std::time::UNIX_EPOCH - since_epoch
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    SystemTime::now()
}
