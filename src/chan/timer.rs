//! Timer channels: Go's `time.After` and `time.Tick`, on scheduler timers.
//!
//! The timer callbacks run on the scheduler's stack and only `try_send`, so
//! they never block. They hold the channel itself, not a `Sender`: the
//! channels never close.

use std::rc::Rc;
use std::time::Duration;

use super::core::Chan;
use super::Receiver;
use crate::runtime::{scheduler, Scheduler, TimerAction};

/// A channel that receives the time ([`gosched::now`](crate::now)) once,
/// `duration` from now; Go's `time.After`. Use it for timeouts in
/// [`select!`](crate::select!). The channel never closes.
///
/// # Panics
///
/// Outside a goroutine.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let (_tx, rx) = gosched::chan::<i32>(0);
///     let timeout = gosched::after(Duration::from_millis(5));
///     let timed_out = gosched::select! {
///         recv(rx) -> _ => false,
///         recv(timeout) -> _ => true,
///     };
///     assert!(timed_out);
/// });
/// ```
pub fn after(duration: Duration) -> Receiver<Duration> {
    let s = scheduler("gosched::after");
    let (chan, rx) = timer_chan();
    let when = s.now().saturating_add(duration);
    s.add_timer(
        when,
        TimerAction::Call(Box::new(move || {
            // Capacity 1 and the only value: it cannot be full.
            let _ = chan.try_send(now_or(when));
        })),
    );
    rx
}

/// A channel that receives the time ([`gosched::now`](crate::now)) every
/// `period`; Go's `time.Tick`. Like Go's ticker it holds one tick: a slow
/// receiver misses ticks rather than getting a backlog. The ticks stop when
/// the receiver (and its clones) is dropped.
///
/// # Panics
///
/// Outside a goroutine, or if `period` is zero.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let ticks = gosched::tick(Duration::from_millis(2));
///     let start = gosched::now();
///     for _ in 0..3 {
///         ticks.recv().unwrap();
///     }
///     assert!(gosched::now() - start >= Duration::from_millis(6));
/// });
/// ```
pub fn tick(period: Duration) -> Receiver<Duration> {
    assert!(
        !period.is_zero(),
        "gosched::tick: the period must not be zero"
    );
    let s = scheduler("gosched::tick");
    let (chan, rx) = timer_chan();
    arm_tick(s, chan, s.now().saturating_add(period), period);
    rx
}

/// A capacity-1 channel with one receiver and a sender no handle owns.
fn timer_chan() -> (Rc<Chan<Duration>>, Receiver<Duration>) {
    let chan = Rc::new(Chan::new(1, 1, 1));
    (chan.clone(), Receiver::from_chan(chan))
}

fn arm_tick(s: &Scheduler, chan: Rc<Chan<Duration>>, when: Duration, period: Duration) {
    s.add_timer(
        when,
        TimerAction::Call(Box::new(move || {
            if chan.receiver_count() == 0 {
                return;
            }
            let now = now_or(when);
            // Full: the receiver has not taken the last tick; drop this one.
            let _ = chan.try_send(now);
            // The next tick on the period's grid, skipping the missed ones.
            let missed = (now.saturating_sub(when)).as_nanos() / period.as_nanos();
            let steps = u32::try_from(missed + 1).unwrap_or(u32::MAX);
            let next = when.saturating_add(period.saturating_mul(steps));
            if let Some(s) = crate::runtime::try_scheduler() {
                arm_tick(s, chan, next, period);
            }
        })),
    );
}

/// The platform clock, read from a timer callback.
fn now_or(fallback: Duration) -> Duration {
    crate::runtime::try_scheduler().map_or(fallback, Scheduler::now)
}
