//! Time on the platform's clock: now, sleep.

use std::time::Duration;

use crate::runtime::{any_scheduler, scheduler, WaitReason};

/// The platform's monotonic clock (from an arbitrary origin fixed at
/// [`run`](crate::run)). `std::time::Instant` does not work on every target
/// gosched runs on; this does.
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
    let deadline = s.now() + duration;
    // A timed-out park needs no clock read: its timer fired at the deadline.
    while !s.park(WaitReason::Sleep, Some(deadline)) && s.now() < deadline {}
}
