//! Go's timers with Go 1.23's semantics: `after`, `tick`, [`Timer`],
//! [`Ticker`] and [`after_func`].
//!
//! Each is a [`RuntimeTimer`] in the scheduler's heap (`src/runtime/timer.rs`
//! says how stopping and re-arming keep the heap small). A timer channel is a
//! capacity-1 channel whose `Chan::timer` links it to its timer:
//!
//! 1. When the timer fires it `try_send`s the instant it was due: to a
//!    waiting receiver, else into the buffer. A ticker whose last tick is
//!    still buffered drops the new one (a slow receiver misses ticks).
//! 2. A receive, or a select's readiness check, that finds the channel empty
//!    fires the timer if it is due, as Go 1.23 does: an expired timer is
//!    ready even if the scheduler has not looked at its heap since. Only
//!    timer channels read the clock there.
//! 3. `stop` and `reset` disarm the timer and drop a buffered value, so no
//!    value due before them is received after them. They return whether the
//!    timer was pending; a value not yet received counts as pending (Go 1.23:
//!    its timer channels are unbuffered, so such a timer has not expired).
//! 4. When the channel goes (every receiver, the `Timer`'s own included), its
//!    [`ChanTimer`] link stops the timer: an unreferenced timer never fires
//!    and leaves the heap, as Go 1.23's garbage-collected timers do. The
//!    timer holds its channel weakly, so there is no cycle.
//!
//! Timer callbacks run on the scheduler's stack or inside a receive; they
//! only `try_send` or spawn, and never block.

use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::core::Chan;
use super::Receiver;
use crate::runtime::{any_scheduler, try_scheduler, RuntimeTimer, Scheduler};

/// A channel that receives the instant ([`gosched::now`](crate::now)) its
/// timer was due, once, `duration` from now; Go's `time.After`. Use it for
/// timeouts in [`select!`](crate::select!). The channel never closes; dropping
/// it stops the timer. [`Timer`] is the same with `stop` and `reset`.
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
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
    let s = any_scheduler("gosched::after");
    let (timer, rx) = timer_chan();
    s.arm_timer(&timer, deadline(s, duration));
    rx
}

/// A channel that receives the instant ([`gosched::now`](crate::now)) each
/// tick was due, every `period`; Go's `time.Tick`. Like Go's ticker it holds
/// one tick: a slow receiver misses ticks rather than getting a backlog. The
/// ticks stop when the receiver (and its clones) is dropped. [`Ticker`] is
/// the same with `stop` and `reset`.
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)),
/// or if `period` is zero (as Go's `NewTicker` does).
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
    Ticker::start("gosched::tick", period).rx
}

/// Go's `time.Timer`: a channel that receives the instant its timer was due,
/// once, unless the timer is stopped first; `reset` arms it again.
///
/// As in Go 1.23, no value due before a [`stop`](Timer::stop) or
/// [`reset`](Timer::reset) is received after it returns, so they need no
/// draining; an expired timer's value is ready for `try_recv` and
/// [`select!`](crate::select!) even before the scheduler has looked at its
/// timers; dropping the `Timer` (and every clone of its receiver) stops it.
///
/// Not `Send`: a timer belongs to its thread's scheduler.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let timer = gosched::Timer::new(Duration::from_secs(5));
///     let (tx, rx) = gosched::chan(1);
///     tx.send("work done").unwrap();
///     gosched::select! {
///         recv(rx) -> msg => {
///             println!("{}", msg.unwrap());
///             assert!(timer.stop(), "stopped before it fired");
///         }
///         recv(timer.receiver()) -> _ => unreachable!(),
///     }
///     // Go 1.23: after stop, nothing stale is left to receive.
///     assert!(timer.receiver().try_recv().is_err());
/// });
/// ```
pub struct Timer {
    timer: Rc<RuntimeTimer>,
    rx: Receiver<Duration>,
}

impl Timer {
    /// A timer that fires `duration` from now; Go's `time.NewTimer`.
    ///
    /// # Panics
    ///
    /// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let start = gosched::now();
    ///     let timer = gosched::Timer::new(Duration::from_millis(3));
    ///     let due = timer.receiver().recv().unwrap();
    ///     // The instant it was due, not the (later) one it was received.
    ///     assert!(due >= start + Duration::from_millis(3) && due <= gosched::now());
    /// });
    /// ```
    pub fn new(duration: Duration) -> Timer {
        let s = any_scheduler("gosched::Timer::new");
        let (timer, rx) = timer_chan();
        s.arm_timer(&timer, deadline(s, duration));
        Timer { timer, rx }
    }

    /// The channel the timer sends on; Go's `t.C`. Use it in
    /// [`select!`](crate::select!) as `recv(timer.receiver())`.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let timer = gosched::Timer::new(Duration::ZERO);
    ///     assert!(timer.receiver().recv().is_ok());
    /// });
    /// ```
    pub fn receiver(&self) -> &Receiver<Duration> {
        &self.rx
    }

    /// Stops the timer; Go's `Timer.Stop`. Returns true if this call stopped
    /// it, false if it had already been stopped or its value received. After
    /// it returns, nothing is received until the timer is
    /// [`reset`](Timer::reset). A stopped timer leaves the scheduler's timer
    /// heap (stopped entries are purged in bulk, in amortized O(1) each).
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let timer = gosched::Timer::new(Duration::from_secs(3600));
    ///     assert!(timer.stop());
    ///     assert!(!timer.stop());
    /// });
    /// ```
    pub fn stop(&self) -> bool {
        stop_and_drain(&self.timer, &self.rx)
    }

    /// Re-arms the timer to fire `duration` from now; Go's `Timer.Reset`.
    /// Returns whether it was pending, as [`stop`](Timer::stop) would have.
    /// No value due before the reset is received after it.
    ///
    /// # Panics
    ///
    /// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let timer = gosched::Timer::new(Duration::ZERO);
    ///     timer.receiver().recv().unwrap();
    ///     // Fired and received: not pending any more.
    ///     assert!(!timer.reset(Duration::from_millis(1)));
    ///     timer.receiver().recv().unwrap();
    /// });
    /// ```
    pub fn reset(&self, duration: Duration) -> bool {
        let s = any_scheduler("gosched::Timer::reset");
        let pending = stop_and_drain(&self.timer, &self.rx);
        s.arm_timer(&self.timer, deadline(s, duration));
        pending
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("when", &self.timer.when())
            .finish()
    }
}

/// Go's `time.Ticker`: a channel that receives the instant each tick was
/// due, every period, until the ticker is stopped.
///
/// It holds one tick: a slow receiver misses ticks rather than getting a
/// backlog, and the ticks stay on the period's grid. As with [`Timer`], no
/// tick due before [`stop`](Ticker::stop) or [`reset`](Ticker::reset) is
/// received after it, and dropping the ticker (and every clone of its
/// receiver) stops it.
///
/// Not `Send`: a ticker belongs to its thread's scheduler.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let ticker = gosched::Ticker::new(Duration::from_millis(2));
///     let give_up = gosched::after(Duration::from_secs(10));
///     let mut ticks = 0;
///     while ticks < 3 {
///         gosched::select! {
///             recv(ticker.receiver()) -> _ => ticks += 1,
///             recv(give_up) -> _ => panic!("only {ticks} ticks in 10 s"),
///         }
///     }
///     ticker.stop();
///     assert!(ticker.receiver().try_recv().is_err(), "none after stop");
/// });
/// ```
pub struct Ticker {
    timer: Rc<RuntimeTimer>,
    rx: Receiver<Duration>,
}

impl Ticker {
    /// A ticker whose first tick is `period` from now; Go's `time.NewTicker`.
    ///
    /// # Panics
    ///
    /// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)),
    /// or if `period` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let start = gosched::now();
    ///     let ticker = gosched::Ticker::new(Duration::from_millis(2));
    ///     let first = ticker.receiver().recv().unwrap();
    ///     let second = ticker.receiver().recv().unwrap();
    ///     assert!(first >= start + Duration::from_millis(2));
    ///     assert_eq!((second - first).as_millis() % 2, 0, "on the period's grid");
    /// });
    /// ```
    pub fn new(period: Duration) -> Ticker {
        Ticker::start("gosched::Ticker::new", period)
    }

    fn start(what: &str, period: Duration) -> Ticker {
        assert!(!period.is_zero(), "{what}: the period must not be zero");
        let s = any_scheduler(what);
        let (timer, rx) = timer_chan();
        timer.set_period(Some(period));
        s.arm_timer(&timer, deadline(s, period));
        Ticker { timer, rx }
    }

    /// The channel the ticker sends on; Go's `t.C`.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let ticker = gosched::Ticker::new(Duration::from_millis(1));
    ///     assert!(ticker.receiver().recv().is_ok());
    /// });
    /// ```
    pub fn receiver(&self) -> &Receiver<Duration> {
        &self.rx
    }

    /// Stops the ticker; Go's `Ticker.Stop`. No tick is received after it
    /// returns, until [`reset`](Ticker::reset).
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let ticker = gosched::Ticker::new(Duration::from_millis(1));
    ///     gosched::sleep(Duration::from_millis(3));
    ///     ticker.stop();
    ///     assert!(ticker.receiver().try_recv().is_err());
    /// });
    /// ```
    pub fn stop(&self) {
        stop_and_drain(&self.timer, &self.rx);
    }

    /// Stops the ticker and restarts it with a new `period`, the next tick
    /// `period` from now; Go's `Ticker.Reset`.
    ///
    /// # Panics
    ///
    /// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)),
    /// or if `period` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let ticker = gosched::Ticker::new(Duration::from_secs(3600));
    ///     ticker.reset(Duration::from_millis(1));
    ///     assert!(ticker.receiver().recv().is_ok());
    /// });
    /// ```
    pub fn reset(&self, period: Duration) {
        assert!(
            !period.is_zero(),
            "gosched::Ticker::reset: the period must not be zero"
        );
        let s = any_scheduler("gosched::Ticker::reset");
        stop_and_drain(&self.timer, &self.rx);
        self.timer.set_period(Some(period));
        s.arm_timer(&self.timer, deadline(s, period));
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("period", &self.timer.period())
            .field("next", &self.timer.when())
            .finish()
    }
}

/// Runs `f` in a goroutine of its own `duration` from now, unless stopped
/// first; Go's `time.AfterFunc`. Each [`reset`](FuncTimer::reset) runs it
/// again (so `f` is `Fn`). Dropping the handle does not stop the timer.
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan(1);
///     gosched::after_func(Duration::from_millis(2), move || {
///         let _ = tx.try_send("ran");
///     });
///     let cancelled = gosched::after_func(Duration::from_millis(1), || unreachable!());
///     assert!(cancelled.stop());
///     assert_eq!(rx.recv(), Ok("ran"));
/// });
/// ```
pub fn after_func(duration: Duration, f: impl Fn() + 'static) -> FuncTimer {
    let s = any_scheduler("gosched::after_func");
    let f = Rc::new(f);
    let timer = Rc::new(RuntimeTimer::new(move |_due| {
        let f = f.clone();
        crate::Builder::new()
            .name("after_func".to_owned())
            .spawn(move || f())
            .expect("Builder::spawn does not fail");
    }));
    s.arm_timer(&timer, deadline(s, duration));
    FuncTimer { timer }
}

/// The handle of an [`after_func`] timer; the `*Timer` Go's `AfterFunc`
/// returns.
///
/// Not `Send`: a timer belongs to its thread's scheduler.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let t = gosched::after_func(Duration::from_secs(3600), || ());
///     assert!(t.reset(Duration::from_secs(7200)));
///     assert!(t.stop());
/// });
/// ```
pub struct FuncTimer {
    timer: Rc<RuntimeTimer>,
}

impl FuncTimer {
    /// Stops the timer; true if that kept `f` from starting, false if it had
    /// already started (or the timer was stopped). It does not wait for a
    /// started `f`; Go's `Timer.Stop`.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let t = gosched::after_func(Duration::ZERO, || ());
    ///     gosched::sleep(Duration::from_millis(1));
    ///     assert!(!t.stop(), "f has started");
    /// });
    /// ```
    pub fn stop(&self) -> bool {
        stop(&self.timer)
    }

    /// Re-arms the timer to start `f` `duration` from now; whether it was
    /// pending. Go's `Timer.Reset`.
    ///
    /// # Panics
    ///
    /// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    /// gosched::run(|| {
    ///     let runs = Rc::new(Cell::new(0));
    ///     let r = runs.clone();
    ///     let t = gosched::after_func(Duration::ZERO, move || r.set(r.get() + 1));
    ///     gosched::sleep(Duration::from_millis(1));
    ///     assert!(!t.reset(Duration::ZERO));
    ///     gosched::sleep(Duration::from_millis(1));
    ///     assert_eq!(runs.get(), 2);
    /// });
    /// ```
    pub fn reset(&self, duration: Duration) -> bool {
        let s = any_scheduler("gosched::FuncTimer::reset");
        let pending = s.stop_timer(&self.timer);
        s.arm_timer(&self.timer, deadline(s, duration));
        pending
    }
}

impl fmt::Debug for FuncTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuncTimer")
            .field("when", &self.timer.when())
            .finish()
    }
}

/// The link from a timer channel to its timer (step 4 of the module docs).
pub(crate) struct ChanTimer(Rc<RuntimeTimer>);

impl ChanTimer {
    /// Step 2: fires the timer if it is due; whether it fired.
    pub(crate) fn fire_if_due(&self) -> bool {
        try_scheduler().is_some_and(|s| s.fire_timer_if_due(&self.0))
    }
}

impl Drop for ChanTimer {
    fn drop(&mut self) {
        stop(&self.0);
    }
}

/// A stopped timer and its channel, which receives each firing's due instant.
fn timer_chan() -> (Rc<RuntimeTimer>, Receiver<Duration>) {
    let mut timer = None;
    let chan = Rc::new_cyclic(|chan: &Weak<Chan<Duration>>| {
        let chan = chan.clone();
        let t = Rc::new(RuntimeTimer::new(move |due| {
            if let Some(chan) = chan.upgrade() {
                // Full: a ticker's last tick is still there; drop this one.
                let _ = chan.try_send(due);
            }
        }));
        timer = Some(t.clone());
        // One sender counted that no handle owns: it never closes.
        Chan::new(1, 1, 1).with_timer(ChanTimer(t))
    });
    let timer = timer.expect("new_cyclic ran the closure");
    (timer, Receiver::from_chan(chan))
}

/// Step 3: stops the timer and drops a value it sent that nobody received;
/// whether the timer was pending.
fn stop_and_drain(timer: &RuntimeTimer, rx: &Receiver<Duration>) -> bool {
    let was_armed = stop(timer);
    // Stopped, so this receive cannot fire it: only a buffered value comes.
    let undelivered = rx.try_recv().is_ok();
    was_armed || undelivered
}

/// Stops `timer`; whether it was armed. Without a running scheduler (a
/// timer dropped after `run` returned) the heap is gone already.
fn stop(timer: &RuntimeTimer) -> bool {
    match try_scheduler() {
        Some(s) => s.stop_timer(timer),
        None => timer.disarm_unscheduled(),
    }
}

/// The platform-clock instant `duration` from now (the end of time if that
/// is past the clock's range: the timer never fires).
fn deadline(s: &Scheduler, duration: Duration) -> Duration {
    s.now().saturating_add(duration)
}
