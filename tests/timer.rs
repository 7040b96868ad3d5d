//! Timer, Ticker, after_func, and timer channels that are ready as soon as
//! they expire (Go 1.23). Tests named `go_*` are ports of Go's own tests in
//! src/time/sleep_test.go and tick_test.go (Go 1.23+), each named after its
//! Go original, with Go's assertions and retry loops kept.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use gosched::{
    after, after_func, chan, go, now, run, select, sleep, tick, yield_now, Receiver, Select,
    Ticker, Timer, TryRecvError,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const HOUR: Duration = Duration::from_secs(3600);

/// Keeps this goroutine busy (no switch, no park) until `d` has passed, so
/// that the scheduler cannot look at its timers meanwhile.
fn busy_for(d: Duration) {
    let start = now();
    while now() - start < d {
        std::hint::spin_loop();
    }
}

// ---- issue 15: expired timer channels are ready when received or selected ----

#[test]
fn expired_after_is_ready_for_try_recv_before_the_scheduler_sees_it() {
    run(|| {
        let zero = after(Duration::ZERO);
        assert!(zero.try_recv().is_ok(), "after(0) is ready at once");
        let rx = after(ms(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        busy_for(ms(3));
        let due = rx.try_recv().expect("expired 1 ms ago");
        assert!(now() - due >= ms(1));
    });
}

#[test]
fn expired_timer_is_ready_for_select_with_default() {
    run(|| {
        let (_tx, rx) = chan::<u8>(0);
        let timer = Timer::new(ms(1));
        busy_for(ms(2));
        let fired = select! {
            recv(rx) -> _ => false,
            recv(timer.receiver()) -> _ => true,
            default => false,
        };
        assert!(fired);
        // And through the run-time Select builder.
        let ticker = Ticker::new(ms(1));
        busy_for(ms(2));
        let mut sel = Select::new();
        let i = sel.recv(ticker.receiver());
        let op = sel.try_select().expect("the ticker expired");
        assert_eq!(op.index(), i);
        assert!(op.recv(ticker.receiver()).is_ok());
    });
}

#[test]
fn two_expired_timers_in_one_select_are_picked_at_random() {
    run(|| {
        let mut first = 0;
        let rounds = 400;
        for _ in 0..rounds {
            let a = after(Duration::ZERO);
            let b = after(Duration::ZERO);
            select! {
                recv(a) -> _ => first += 1,
                recv(b) -> _ => {}
                default => panic!("both timers had expired"),
            }
        }
        // Binomial(400, 1/2): outside [140, 260] has probability ~1e-9.
        assert!((140..=260).contains(&first), "{first} of {rounds}");
    });
}

#[test]
fn a_timer_delivers_the_instant_it_was_due() {
    run(|| {
        for _ in 0..20 {
            let start = now();
            let rx = after(ms(1));
            // Received late on purpose: the value is still the due instant.
            busy_for(ms(4));
            let due = rx.recv().unwrap();
            let received = now();
            assert!(due - start >= ms(1), "never before its deadline");
            assert!(received - due >= ms(2), "the due instant, not the receive");
        }
        // A ticker's values are on its period's grid exactly.
        let ticker = Ticker::new(ms(2));
        let a = ticker.receiver().recv().unwrap();
        busy_for(ms(5));
        let b = ticker.receiver().recv().unwrap();
        assert!(
            now() - b >= ms(3),
            "the tick due before the busy loop ended"
        );
        let c = ticker.receiver().recv().unwrap();
        for later in [b, c] {
            assert!(later > a);
            assert_eq!((later - a).as_nanos() % ms(2).as_nanos(), 0, "on the grid");
        }
    });
}

#[test]
fn a_blocked_receiver_is_served_before_a_try_recv_that_fires_the_timer() {
    run(|| {
        let timer = Timer::new(ms(2));
        let rx = timer.receiver().clone();
        let waiter = go(move || rx.recv().is_ok());
        yield_now(); // the waiter parks on the channel
        busy_for(ms(3));
        // This check fires the timer; its value goes to the waiter (FIFO).
        assert_eq!(timer.receiver().try_recv(), Err(TryRecvError::Empty));
        assert!(waiter.join().unwrap());
    });
}

// ---- Timer, Ticker, after_func ----

#[test]
fn stop_and_reset_leave_no_stale_value() {
    run(|| {
        let timer = Timer::new(ms(1));
        sleep(ms(3)); // fired into the channel, not received
        assert!(timer.stop(), "an unreceived value counts as pending");
        assert!(timer.receiver().try_recv().is_err());
        assert!(!timer.reset(ms(1)));
        sleep(ms(3));
        assert!(timer.reset(HOUR), "pending again: the value is dropped");
        assert!(timer.receiver().try_recv().is_err());
        assert!(timer.stop());
        assert!(!timer.stop());
    });
}

#[test]
fn after_func_runs_in_its_own_goroutine_and_can_be_stopped() {
    run(|| {
        let ran = Rc::new(Cell::new(0));
        let r = ran.clone();
        let (tx, rx) = chan(0);
        let t = after_func(ms(1), move || {
            r.set(r.get() + 1);
            // Blocks: only its own goroutine waits.
            tx.send(gosched::current_name()).unwrap();
        });
        assert_eq!(rx.recv().unwrap().as_deref(), Some("after_func"));
        assert!(!t.stop(), "f has run");
        assert!(!t.reset(ms(1)));
        rx.recv().unwrap();
        assert_eq!(ran.get(), 2);
        let t = after_func(ms(1), || unreachable!("stopped"));
        assert!(t.stop());
        sleep(ms(3));
    });
}

#[test]
fn timers_left_running_do_not_keep_run_from_returning() {
    // run returns when main does; armed timers and tickers are dropped.
    run(|| {
        let _t = Timer::new(HOUR);
        let _k = Ticker::new(ms(1));
        after_func(HOUR, || ());
    });
}

#[test]
#[cfg_attr(
    target_arch = "wasm32",
    ignore = "wasm32-wasip1 has no threads, and panics abort on wasm"
)]
fn dropped_timers_stop_so_a_deadlock_is_still_reported() {
    // If a dropped timer, ticker or select-loop `after` kept its heap entry
    // live, this deadlocked program would wait an hour instead of reporting.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| {
            run(|| {
                drop(Timer::new(HOUR));
                drop(Ticker::new(ms(1)));
                let (_tx, rx) = chan::<()>(0);
                for _ in 0..3 {
                    select! {
                        recv(rx) -> _ => {}
                        recv(after(HOUR)) -> _ => {}
                        default => {}
                    }
                }
                let stopped = Timer::new(HOUR);
                stopped.stop();
                rx.recv().ok();
                drop(stopped);
            })
        });
        done_tx.send(r.is_err()).unwrap();
    });
    let deadlocked = done_rx.recv_timeout(Duration::from_secs(20));
    assert_eq!(deadlocked, Ok(true));
}

#[test]
fn many_reset_timers_in_a_select_loop_keep_firing_in_order() {
    // The Go idiom: one idle timer, reset on every message of a select loop.
    // It fires only in the long gap, however many resets came before.
    run(|| {
        let (tx, rx) = chan::<u32>(0);
        go(move || {
            for i in 0..200 {
                tx.send(i).unwrap();
            }
            sleep(ms(200));
            tx.send(1000).unwrap();
        });
        let idle = Timer::new(ms(50));
        let mut got = 0;
        let mut timeouts = 0;
        loop {
            select! {
                recv(rx) -> v => {
                    if v.unwrap() == 1000 {
                        break;
                    }
                    got += 1;
                    idle.reset(ms(50));
                }
                recv(idle.receiver()) -> _ => {
                    timeouts += 1;
                    idle.reset(HOUR);
                }
            }
        }
        assert_eq!(got, 200);
        // One in the 200 ms gap; more only if the OS stalled us for 50 ms.
        assert!(timeouts >= 1, "the idle timer fired in the gap");
        assert!(idle.stop(), "re-armed for an hour by the timeout arm");
    });
}

#[test]
#[should_panic(expected = "period must not be zero")]
fn ticker_reset_to_zero_panics() {
    // Go's TestTickerResetLtZeroDuration.
    run(|| Ticker::new(HOUR).reset(Duration::ZERO));
}

#[test]
#[should_panic(expected = "period must not be zero")]
fn ticker_of_zero_panics() {
    // Go's TestNewTickerLtZeroDuration.
    run(|| {
        Ticker::new(Duration::ZERO);
    });
}

// ---- Go's tests, ported ----

/// Go's `newTimerFunc`: a timer made with AfterFunc that sends on its own
/// buffered channel (so it may leave a stale value, as in Go).
struct FuncChanTimer {
    timer: gosched::FuncTimer,
    c: Receiver<Duration>,
}

impl FuncChanTimer {
    fn new(d: Duration) -> FuncChanTimer {
        let (tx, c) = chan(1);
        let timer = after_func(d, move || {
            let _ = tx.try_send(now());
        });
        FuncChanTimer { timer, c }
    }
}

/// The Stop/Reset interface Go's tests share between the timer kinds.
trait GoTimer {
    fn stop(&self) -> bool;
    fn reset(&self, d: Duration) -> bool;
    fn c(&self) -> &Receiver<Duration>;
}

impl GoTimer for Timer {
    fn stop(&self) -> bool {
        Timer::stop(self)
    }
    fn reset(&self, d: Duration) -> bool {
        Timer::reset(self, d)
    }
    fn c(&self) -> &Receiver<Duration> {
        self.receiver()
    }
}

impl GoTimer for FuncChanTimer {
    fn stop(&self) -> bool {
        self.timer.stop()
    }
    fn reset(&self, d: Duration) -> bool {
        self.timer.reset(d)
    }
    fn c(&self) -> &Receiver<Duration> {
        &self.c
    }
}

/// Go's `tickerTimer`: a Ticker with Timer's signatures.
struct TickerTimer {
    ticker: Ticker,
    stopped: Cell<bool>,
}

impl GoTimer for TickerTimer {
    fn stop(&self) -> bool {
        let pending = !self.stopped.replace(true);
        self.ticker.stop();
        pending
    }
    fn reset(&self, d: Duration) -> bool {
        let pending = !self.stopped.replace(false);
        self.ticker.reset(d);
        pending
    }
    fn c(&self) -> &Receiver<Duration> {
        self.ticker.receiver()
    }
}

#[test]
fn go_test_after_func() {
    // TestAfterFunc: an AfterFunc that re-arms itself ten times.
    run(|| {
        let (c, done) = chan::<bool>(0);
        let i = Rc::new(Cell::new(10));
        type Rearm = Rc<RefCell<Option<Rc<dyn Fn()>>>>;
        let f: Rearm = Rc::new(RefCell::new(None));
        let f2 = f.clone();
        *f.borrow_mut() = Some(Rc::new(move || {
            i.set(i.get() - 1);
            if i.get() >= 0 {
                let again = f2.borrow().clone().unwrap();
                after_func(Duration::ZERO, move || again());
                sleep(Duration::from_secs(1));
            } else {
                c.send(true).unwrap();
            }
        }));
        let first = f.borrow().clone().unwrap();
        after_func(Duration::ZERO, move || first());
        assert!(done.recv().unwrap());
        f.borrow_mut().take(); // break the cycle
    });
}

#[test]
fn go_test_after_stop() {
    // TestAfterStop, both impl=chan and impl=func; retried five times.
    fn attempt(t0: &dyn GoTimer) -> Result<(), String> {
        after_func(ms(100), || ());
        let (c1_tx, c1) = chan::<bool>(1);
        let t1 = after_func(ms(150), move || {
            let _ = c1_tx.try_send(true);
        });
        let c2 = after(ms(200));
        if !t0.stop() {
            return Err("failed to stop event 0".into());
        }
        if !t1.stop() {
            return Err("failed to stop event 1".into());
        }
        c2.recv().unwrap();
        select! {
            recv(t0.c()) -> _ => return Err("event 0 was not stopped".into()),
            recv(c1) -> _ => return Err("event 1 was not stopped".into()),
            default => {}
        }
        if t1.stop() {
            return Err("Stop returned true twice".into());
        }
        Ok(())
    }
    run(|| {
        for make in [
            (|d| Box::new(Timer::new(d)) as Box<dyn GoTimer>) as fn(Duration) -> Box<dyn GoTimer>,
            |d| Box::new(FuncChanTimer::new(d)),
        ] {
            let mut errs = Vec::new();
            let passed = (0..5).any(|_| match attempt(&*make(ms(50))) {
                Ok(()) => true,
                Err(e) => {
                    errs.push(e);
                    false
                }
            });
            assert!(passed, "saw errors: {errs:?}");
        }
    });
}

#[test]
fn go_test_after_queuing() {
    // TestAfterQueuing: 13 After channels, awaited in goroutines, arrive in
    // the order of their durations, each at about its time.
    const SLOTS: [u32; 13] = [5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0];
    fn attempt(delta: Duration) -> Result<(), String> {
        let (result_tx, result) = chan::<(u32, Duration)>(SLOTS.len());
        let t0 = now();
        for slot in SLOTS {
            let ac = after(delta * slot);
            let result_tx = result_tx.clone();
            go(move || result_tx.send((slot, ac.recv().unwrap())).unwrap());
        }
        let got: Vec<(u32, Duration)> = (0..SLOTS.len()).map(|_| result.recv().unwrap()).collect();
        for w in got.windows(2) {
            if w[1].0 < w[0].0 {
                return Err(format!("After calls returned out of order: {got:?}"));
            }
        }
        for (slot, t) in got {
            let dt = t - t0;
            let target = delta * slot;
            if dt < target.saturating_sub(delta / 2) || dt > target + delta * 10 {
                return Err(format!("After({target:?}) arrived at {dt:?}"));
            }
        }
        Ok(())
    }
    run(|| {
        let mut last = Ok(());
        for i in 0..5 {
            last = attempt(ms(20 + i * 50));
            if last.is_ok() {
                break;
            }
        }
        last.unwrap();
    });
}

#[test]
fn go_test_reset() {
    // TestReset, with its doubling of the unit on a slow machine.
    fn attempt(d: Duration) -> Result<(), &'static str> {
        let t0 = Timer::new(2 * d);
        sleep(d);
        if !t0.reset(3 * d) {
            return Err("resetting unfired timer returned false");
        }
        sleep(2 * d);
        select! {
            recv(t0.receiver()) -> _ => return Err("timer fired early"),
            default => {}
        }
        sleep(2 * d);
        select! {
            recv(t0.receiver()) -> _ => {}
            default => return Err("reset timer did not fire"),
        }
        if t0.reset(ms(50)) {
            return Err("resetting expired timer returned true");
        }
        Ok(())
    }
    run(|| {
        let mut d = ms(1);
        loop {
            match attempt(d) {
                Ok(()) => break,
                Err(e) if d < Duration::from_secs(10) => {
                    eprintln!("{e}; trying duration {:?}", d * 2);
                    d *= 2;
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
}

#[test]
fn go_test_overflow_sleep() {
    // TestOverflowSleep: a timer at the end of time never fires, nor does it
    // disturb the others.
    run(|| {
        go(|| {
            sleep(Duration::MAX);
            panic!("big sleep returned");
        });
        select! {
            recv(after(Duration::MAX)) -> _ => panic!("big timeout fired"),
            recv(after(ms(25))) -> _ => {}
        }
        let big = Timer::new(Duration::MAX);
        assert!(big.reset(Duration::MAX));
        assert!(big.stop());
    });
}

#[test]
fn go_test_zero_timer() {
    // TestZeroTimer (impl=chan, impl=func, impl=cache), 10^4 rather than 10^6
    // rounds each: a zero-duration timer is never missed.
    run(|| {
        for _ in 0..10_000 {
            let start = now();
            Timer::new(Duration::ZERO).receiver().recv().unwrap();
            FuncChanTimer::new(Duration::ZERO).c.recv().unwrap();
            assert!(now() - start < Duration::from_secs(2));
        }
        let cached = FuncChanTimer::new(HOUR);
        for _ in 0..10_000 {
            cached.timer.reset(Duration::ZERO);
            cached.c.recv().unwrap();
        }
    });
}

#[test]
fn go_test_timer_modified_earlier() {
    // TestTimerModifiedEarlier (issue 47329): moving a timer earlier, again
    // and again, never loses it.
    run(|| {
        for _ in 0..1000 {
            let timer = FuncChanTimer::new(HOUR);
            for _ in 0..10 {
                if !timer.timer.stop() {
                    timer.c.recv().unwrap();
                }
                timer.timer.reset(Duration::ZERO);
            }
            let deadline = Timer::new(Duration::from_secs(10));
            select! {
                recv(timer.c) -> _ => {}
                recv(deadline.receiver()) -> _ => panic!("deadline expired"),
            }
            deadline.stop();
        }
    });
}

#[test]
fn go_test_adjust_timers() {
    // TestAdjustTimers (issue 47762): 100 timers moved earlier and later in
    // random order; none of the short sleeps is lost.
    run(|| {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let mut timers: Vec<Option<FuncChanTimer>> = (0..100).map(|_| None).collect();
        let mut states = vec![0; timers.len()];
        let mut indices: Vec<usize> = (0..timers.len()).collect();
        while !indices.is_empty() {
            let ii = rand(indices.len());
            let i = indices[ii];
            let state = states[i];
            states[i] += 1;
            let timer = timers[i].as_ref();
            match state {
                0 => timers[i] = Some(FuncChanTimer::new(Duration::ZERO)),
                1 => {
                    timer.unwrap().c.recv().unwrap();
                }
                2 | 4 | 6 => {
                    let mins = [1, 3, 2][(state - 2) / 2];
                    let t = timer.unwrap();
                    assert!(!t.timer.reset(Duration::from_secs(60 * mins)), "active");
                }
                3 | 5 | 7 => {
                    let t = timer.unwrap();
                    if !t.timer.stop() {
                        t.c.recv().unwrap();
                    }
                }
                8 => assert!(!timer.unwrap().timer.reset(Duration::ZERO)),
                9 => {
                    let start = now();
                    timer.unwrap().c.recv().unwrap();
                    assert!(now() - start < ms(750));
                }
                _ => {
                    indices.swap_remove(ii);
                }
            }
        }
    });
}

#[test]
fn go_test_ticker() {
    // TestTicker: count/2 ticks of delta, a reset to 2*delta, count/2 more;
    // then the stopped ticker sends nothing. The 1 s variant is Go's retry.
    run(|| {
        let mut errs = Vec::new();
        for (count, delta) in [(10u32, ms(20)), (8, Duration::from_secs(1))] {
            let ticker = Ticker::new(delta);
            let t0 = now();
            for _ in 0..count / 2 {
                ticker.receiver().recv().unwrap();
            }
            ticker.reset(delta * 2);
            for _ in 0..count - count / 2 {
                ticker.receiver().recv().unwrap();
            }
            ticker.stop();
            let dt = now() - t0;
            let target = 3 * delta * (count / 2);
            let slop = target * 3 / 10;
            if dt < target - slop || dt > target + slop {
                errs.push(format!("took {dt:?}, expected {target:?} ± {slop:?}"));
                continue;
            }
            sleep(2 * delta);
            select! {
                recv(ticker.receiver()) -> _ => {
                    errs.push("Ticker did not shut down".into());
                    continue;
                }
                default => {}
            }
            return;
        }
        panic!("saw errors: {errs:?}");
    });
}

#[test]
fn go_test_teardown() {
    // TestTeardown: a ticker received from, then stopped, three times.
    run(|| {
        for _ in 0..3 {
            let ticker = Ticker::new(ms(20));
            ticker.receiver().recv().unwrap();
            ticker.stop();
        }
    });
}

#[test]
fn go_test_after_times_and_tick_times() {
    // TestAfterTimes and TestTickTimes (500 ms shortened to 100): a value
    // received late carries the time it was due, not the time it was read.
    run(|| {
        for make in [after as fn(Duration) -> Receiver<Duration>, tick] {
            let ok = (0..10).any(|_| {
                let start = now();
                let c = make(ms(10));
                sleep(ms(100));
                c.recv().unwrap() - start < ms(80)
            });
            assert!(ok, "values are the receive time, not the due time");
        }
    });
}

#[test]
fn go_test_ticker_stress() {
    // TestTickerStress and TestTickerConcurrentStress: a 1 ns ticker, received
    // from by one goroutine, then by ten, while another keeps sleeping 1 ns.
    run(|| {
        let stop = Rc::new(Cell::new(false));
        let s = stop.clone();
        let sleeper = go(move || {
            while !s.get() {
                sleep(Duration::from_nanos(1));
            }
        });
        let ticker = Rc::new(Ticker::new(Duration::from_nanos(1)));
        for _ in 0..100 {
            ticker.receiver().recv().unwrap();
        }
        let receivers: Vec<_> = (0..10)
            .map(|_| {
                let ticker = ticker.clone();
                go(move || {
                    for _ in 0..100 {
                        ticker.receiver().recv().unwrap();
                    }
                })
            })
            .collect();
        for r in receivers {
            r.join().unwrap();
        }
        ticker.stop();
        stop.set(true);
        sleeper.join().unwrap();
    });
}

#[test]
fn go_test_timer_stop_stress() {
    // TestTimerStopStress, with 100 ms and 200 ms for Go's 1 s and 2 s.
    run(|| {
        for i in 0..100 {
            go(move || {
                let timer = after_func(ms(200), move || panic!("timer {i} was not stopped"));
                sleep(ms(100));
                timer.stop();
            });
        }
        sleep(ms(300));
    });
}

#[test]
fn go_test_after_func_starvation() {
    // TestAfterFuncStarvation (go.dev/issue/65178, seen live-locking on
    // wasip1 and js/wasm): two goroutines ping-pong through a buffered
    // channel, so one is always runnable; the AfterFunc must still run.
    run(|| {
        let stop = Rc::new(Cell::new(false));
        let (c_tx, c) = chan::<bool>(1);
        let s = stop.clone();
        let sender = go(move || {
            while !s.get() {
                c_tx.send(true).unwrap();
            }
        });
        let receiver = go(move || for _ in c.iter() {});
        let s = stop.clone();
        after_func(Duration::from_micros(1), move || s.set(true));
        sender.join().unwrap();
        receiver.join().unwrap();
    });
}

#[test]
fn go_test_chan() {
    // TestChan with asynctimerchan=0 (Go 1.23's synchronous timer channels),
    // for a Timer and for a Ticker behind Timer's signatures.
    run(|| {
        test_timer_chan(&Timer::new(Duration::from_secs(10_000)), false);
        let ticker = TickerTimer {
            ticker: Ticker::new(Duration::from_secs(10_000)),
            stopped: Cell::new(false),
        };
        test_timer_chan(&ticker, true);
    });
}

fn test_timer_chan(tim: &dyn GoTimer, is_ticker: bool) {
    const SCHED: Duration = Duration::from_millis(10);
    const TRIES: usize = 100;
    let c = tim.c().clone();
    let no_tick = || {
        select! {
            recv(c) -> _ => panic!("extra tick"),
            default => {}
        }
    };
    let assert_tick = || {
        for i in 0..=TRIES {
            if i > 0 {
                sleep(SCHED);
            }
            select! {
                recv(c) -> _ => return,
                default => {}
            }
        }
        panic!("missing tick");
    };
    let not_done = |done: &Receiver<bool>| {
        // Go's `<-done` succeeds on a closed channel too.
        assert_eq!(done.try_recv(), Err(TryRecvError::Empty), "early done");
    };
    let wait_done = |done: &Receiver<bool>| {
        for _ in 0..TRIES {
            sleep(SCHED);
            if done.try_recv() != Err(TryRecvError::Empty) {
                return;
            }
        }
        panic!("never got done");
    };

    // Test simple stop; timer never in heap.
    tim.stop();
    no_tick();
    // Test modify of timer not in heap.
    tim.reset(Duration::from_secs(10_000));
    no_tick();
    // Test modify of timer in heap.
    tim.reset(Duration::from_nanos(1));
    sleep(SCHED);
    assert_tick();
    // Sleep long enough that a second tick must happen if this is a ticker.
    // Test that Reset does not lose the tick that should have happened.
    sleep(SCHED);
    tim.reset(Duration::from_secs(10_000));
    no_tick();

    // Reset timer in heap (already reset above, but just in case).
    tim.reset(Duration::from_secs(10_000));
    // Test stop while timer in heap (because goroutine is blocked on <-C).
    let (done_tx, done) = chan::<bool>(0);
    not_done(&done);
    let c2 = c.clone();
    go(move || {
        c2.recv().unwrap();
        done_tx.close();
    });
    sleep(SCHED);
    not_done(&done);
    // Test reset far away while timer in heap.
    tim.reset(Duration::from_secs(20_000));
    sleep(SCHED);
    not_done(&done);
    // Test imminent reset while in heap.
    tim.reset(Duration::from_nanos(1));
    wait_done(&done);
    // If this is a ticker, another tick should have come in already (they
    // are 1 ns apart). If a timer, it should have stopped.
    if is_ticker {
        assert_tick();
    } else {
        no_tick();
    }
    tim.stop();
    no_tick();

    // Again using select and with two goroutines waiting.
    tim.reset(Duration::from_secs(10_000));
    let (done_tx, done) = chan::<bool>(2);
    let (stop_tx, stop) = chan::<bool>(0);
    let mut finished = Vec::new();
    for _ in 0..2 {
        let (c, stop, done_tx) = (c.clone(), stop.clone(), done_tx.clone());
        finished.push(go(move || {
            select! {
                recv(c) -> _ => done_tx.send(true).unwrap(),
                recv(stop) -> _ => {}
            }
        }));
    }
    sleep(SCHED);
    not_done(&done);
    tim.reset(SCHED / 2);
    sleep(SCHED);
    wait_done(&done);
    tim.stop();
    stop_tx.close();
    for f in finished {
        f.join().unwrap();
    }
    if is_ticker {
        // An extra send might have sent done again, and filled C after that.
        let _ = done.try_recv();
        let _ = c.try_recv();
    }
    not_done(&done);

    // Test enqueueTimerChan when timer is stopped.
    let (stop_tx, stop) = chan::<bool>(0);
    let (done_tx, done) = chan::<bool>(2);
    for _ in 0..2 {
        let (c, stop, done_tx) = (c.clone(), stop.clone(), done_tx.clone());
        go(move || {
            select! {
                recv(c) -> _ => panic!("unexpected data"),
                recv(stop) -> _ => {}
            }
            done_tx.send(true).unwrap();
        });
    }
    sleep(SCHED);
    stop_tx.close();
    wait_done(&done);
    wait_done(&done);

    // Test that Stop and Reset block old values from being received
    // (proposal go.dev/issue/37196).
    tim.reset(Duration::from_nanos(1));
    sleep(ms(10));
    assert!(tim.stop(), "tim.Stop() = false, want true");
    no_tick();
    tim.reset(HOUR);
    no_tick();
    assert!(
        tim.reset(Duration::from_nanos(1)),
        "tim.Reset() = false, want true"
    );
    assert_tick();
    sleep(ms(10));
    if is_ticker {
        assert_tick();
        sleep(ms(10));
    } else {
        no_tick();
    }
    assert_eq!(tim.reset(HOUR), is_ticker, "tim.Reset(Hour)");
    no_tick();
}

// ---- crossbeam-channel's tests/after.rs and tests/tick.rs, ported ----
//
// Threads become goroutines; `thread::sleep` stays: it blocks the whole
// scheduler thread, so the timers expire while the scheduler cannot look at
// them (issue 15's case). Upper time bounds are widened for a loaded machine.
// Left out: `capacity` (gosched has `cap()`: tested below), `ready` (needs
// `Select::ready`), and the `tick(0)` variants (a zero period panics in
// gosched, as in Go).

fn cb_sleep(d: Duration) {
    std::thread::sleep(d);
}

#[test]
fn crossbeam_after_fire() {
    run(|| {
        let start = now();
        let r = after(ms(50));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        cb_sleep(ms(100));
        let fired = r.try_recv().unwrap();
        assert!(start < fired);
        assert!(fired - start >= ms(50));
        let now = now();
        assert!(fired < now);
        assert!(now - fired >= ms(50));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        select! {
            recv(r) -> _ => panic!(),
            default => {}
        }
        select! {
            recv(r) -> _ => panic!(),
            recv(after(ms(200))) -> _ => {}
        }
    });
}

#[test]
fn crossbeam_after_and_tick_len_empty_full() {
    run(|| {
        for make in [after as fn(Duration) -> Receiver<Duration>, tick] {
            let r = make(ms(50));
            assert_eq!((r.len(), r.cap()), (0, 1));
            assert!(r.is_empty() && !r.is_full());
            cb_sleep(ms(100));
            assert_eq!(r.len(), 1);
            assert!(!r.is_empty() && r.is_full());
            r.try_recv().unwrap();
            assert_eq!(r.len(), 0);
            assert!(r.is_empty() && !r.is_full());
        }
    });
}

#[test]
fn crossbeam_after_try_recv() {
    run(|| {
        let start = now();
        let r = after(ms(200));
        assert!(r.try_recv().is_err());
        cb_sleep(ms(100));
        // A loaded machine may oversleep: only a timer surely not due yet
        // must be empty.
        let not_due_yet = now() - start < ms(200);
        assert!(r.try_recv().is_err() || !not_due_yet);
        cb_sleep(ms(200));
        assert!(r.try_recv().is_ok() || !not_due_yet);
        assert!(r.try_recv().is_err());
        cb_sleep(ms(200));
        assert!(r.try_recv().is_err());
    });
}

#[test]
fn crossbeam_after_and_tick_recv() {
    run(|| {
        for make in [after as fn(Duration) -> Receiver<Duration>, tick] {
            let start = now();
            let r = make(ms(50));
            let fired = r.recv().unwrap();
            assert!(start < fired);
            assert!(fired - start >= ms(50));
            let now = now();
            assert!(fired <= now);
            assert!(now - fired < fired - start);
            assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        }
    });
}

#[test]
fn crossbeam_after_recv_timeout() {
    run(|| {
        let start = now();
        let r = after(ms(200));
        assert!(r.recv_timeout(ms(100)).is_err());
        assert!(now() - start >= ms(100));
        let fired = r.recv_timeout(ms(200)).unwrap();
        assert!(fired - start >= ms(200));
        assert!(fired - start <= ms(1000));
        assert!(r.recv_timeout(ms(200)).is_err());
        assert!(now() - start >= ms(400));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn crossbeam_after_and_tick_recv_two() {
    run(|| {
        for make in [after as fn(Duration) -> Receiver<Duration>, tick] {
            let (r1, r2) = (make(ms(50)), make(ms(50)));
            let rounds = if make(HOUR).cap() == 1 { 1 } else { 0 };
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (r1, r2) = (r1.clone(), r2.clone());
                    go(move || {
                        for _ in 0..rounds {
                            select! {
                                recv(r1) -> _ => {}
                                recv(r2) -> _ => {}
                            }
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
    });
}

#[test]
fn crossbeam_after_and_tick_recv_race() {
    run(|| {
        for make in [after as fn(Duration) -> Receiver<Duration>, tick] {
            select! {
                recv(make(ms(50))) -> _ => {}
                recv(make(ms(100))) -> _ => panic!(),
            }
            select! {
                recv(make(ms(100))) -> _ => panic!(),
                recv(make(ms(50))) -> _ => {}
            }
        }
    });
}

#[test]
fn crossbeam_after_stress_default() {
    run(|| {
        for _ in 0..10 {
            select! {
                recv(after(ms(0))) -> _ => {}
                default => panic!(),
            }
        }
        for _ in 0..10 {
            select! {
                recv(after(ms(100))) -> _ => panic!(),
                default => {}
            }
        }
    });
}

#[test]
fn crossbeam_after_select() {
    // Four goroutines select over 1000 after channels (due within 5 ms) and
    // a 100 ms timeout each; every channel delivers exactly once.
    run(|| {
        const COUNT: usize = 1000;
        let v: Rc<Vec<Receiver<Duration>>> =
            Rc::new((0..COUNT).map(|i| after(ms(i as u64 / 200))).collect());
        let hits = Rc::new(Cell::new(0));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (v, hits) = (v.clone(), hits.clone());
                go(move || loop {
                    let timeout = after(ms(100));
                    let mut sel = Select::new();
                    for r in v.iter() {
                        sel.recv(r);
                    }
                    let oper_timeout = sel.recv(&timeout);
                    let oper = sel.select();
                    match oper.index() {
                        i if i == oper_timeout => {
                            oper.recv(&timeout).unwrap();
                            break;
                        }
                        i => {
                            oper.recv(&v[i]).unwrap();
                            hits.set(hits.get() + 1);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(hits.get(), COUNT);
    });
}

#[test]
fn crossbeam_after_stress_clone() {
    run(|| {
        for i in 0..100 {
            let r = after(ms(i));
            let hs: Vec<_> = (0..10)
                .map(|_| {
                    let r = r.clone();
                    go(move || {
                        let _ = r.try_recv();
                        for _ in 0..50 {
                            drop(r.clone());
                            yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
    });
}

#[test]
fn crossbeam_after_fairness() {
    // Two expired timers in one select: either may win, whether they expired
    // before the select (0 ms) or while it was blocked (1 ms).
    run(|| {
        const COUNT: usize = 1000;
        for dur in [0, 1] {
            let mut hits = [0usize; 2];
            for _ in 0..COUNT {
                select! {
                    recv(after(ms(dur))) -> _ => hits[0] += 1,
                    recv(after(ms(dur))) -> _ => hits[1] += 1,
                }
            }
            assert!(
                hits.iter().all(|x| *x >= COUNT / hits.len() / 2),
                "{dur} ms: {hits:?}"
            );
        }
    });
}

#[test]
fn crossbeam_after_and_tick_fairness_duplicates() {
    run(|| {
        const COUNT: usize = 1000;
        for dur in [0, 1] {
            let mut hits = [0usize; 5];
            for _ in 0..COUNT {
                let r = after(ms(dur));
                select! {
                    recv(r) -> _ => hits[0] += 1,
                    recv(r) -> _ => hits[1] += 1,
                    recv(r) -> _ => hits[2] += 1,
                    recv(r) -> _ => hits[3] += 1,
                    recv(r) -> _ => hits[4] += 1,
                }
            }
            assert!(
                hits.iter().all(|x| *x >= COUNT / hits.len() / 2),
                "{hits:?}"
            );
        }
        let mut hits = [0usize; 5];
        for _ in 0..30 {
            let r = tick(ms(1));
            for _ in 0..30 {
                select! {
                    recv(r) -> _ => hits[0] += 1,
                    recv(r) -> _ => hits[1] += 1,
                    recv(r) -> _ => hits[2] += 1,
                    recv(r) -> _ => hits[3] += 1,
                    recv(r) -> _ => hits[4] += 1,
                }
            }
        }
        assert!(hits.iter().all(|x| *x >= 30 / 5 / 2), "{hits:?}");
    });
}

#[test]
fn crossbeam_tick_fire_and_intervals() {
    run(|| {
        let start = now();
        let r = tick(ms(50));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        cb_sleep(ms(100));
        let fired = r.try_recv().unwrap();
        assert!(start < fired && fired - start >= ms(50));
        assert!(now() - fired >= ms(50));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        select! {
            recv(r) -> _ => panic!(),
            default => {}
        }
        select! {
            recv(r) -> _ => {}
            recv(tick(ms(200))) -> _ => panic!(),
        }

        // intervals: a tick that waited is the one due; missed ticks are
        // skipped, the next stays on the grid.
        let start = now();
        let r = tick(ms(50));
        let t1 = r.recv().unwrap();
        let t1_in_time = now() - start < ms(100);
        assert!(start + ms(50) <= t1 && t1 < start + ms(100));
        cb_sleep(ms(300));
        let t2 = r.try_recv().unwrap();
        assert!(start + ms(100) <= t2);
        // The tick that waited (unless t1 came so late that it was skipped).
        assert!(t2 < start + ms(150) || !t1_in_time, "{:?}", t2 - start);
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        let t3 = r.recv().unwrap();
        assert!(start + ms(400) <= t3, "{:?}", t3 - start);
        assert_eq!((t3 - t1).as_nanos() % ms(50).as_nanos(), 0);
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn crossbeam_tick_try_recv() {
    run(|| {
        let start = now();
        let r = tick(ms(200));
        assert!(r.try_recv().is_err());
        cb_sleep(ms(100));
        let not_due_yet = now() - start < ms(200);
        assert!(r.try_recv().is_err() || !not_due_yet);
        cb_sleep(ms(200));
        assert!(r.try_recv().is_ok());
        assert!(r.try_recv().is_err());
        cb_sleep(ms(200));
        assert!(r.try_recv().is_ok());
        assert!(r.try_recv().is_err());
    });
}

#[test]
fn crossbeam_tick_select() {
    // Four goroutines share two tickers (200 ms, 300 ms) until 1100 ms:
    // 5 + 3 ticks, each received once.
    run(|| {
        let hits = Rc::new(Cell::new(0));
        let (r1, r2) = (tick(ms(200)), tick(ms(300)));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (r1, r2, hits) = (r1.clone(), r2.clone(), hits.clone());
                go(move || {
                    let timeout = after(ms(1100));
                    loop {
                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r1);
                        let oper2 = sel.recv(&r2);
                        let oper3 = sel.recv(&timeout);
                        let oper = sel.select();
                        match oper.index() {
                            i if i == oper1 => {
                                oper.recv(&r1).unwrap();
                                hits.set(hits.get() + 1);
                            }
                            i if i == oper2 => {
                                oper.recv(&r2).unwrap();
                                hits.set(hits.get() + 1);
                            }
                            i if i == oper3 => {
                                oper.recv(&timeout).unwrap();
                                break;
                            }
                            _ => unreachable!(),
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(hits.get(), 8);
    });
}

#[test]
fn crossbeam_tick_fairness() {
    run(|| {
        const COUNT: usize = 30;
        let mut hits = [0usize; 2];
        for _ in 0..COUNT {
            let r1 = tick(ms(1));
            let r2 = tick(ms(1));
            for _ in 0..COUNT {
                select! {
                    recv(r1) -> _ => hits[0] += 1,
                    recv(r2) -> _ => hits[1] += 1,
                }
            }
        }
        assert!(
            hits.iter().all(|x| *x >= COUNT / hits.len() / 2),
            "{hits:?}"
        );
    });
}

#[test]
fn a_ticker_keeps_its_ticks_under_a_full_run_queue() {
    // 1000 goroutines each busy for 50 µs per turn keep the run queue full:
    // one pass over it takes 50 ms, five ticker periods. The goroutine a
    // timer wakes goes to the front of the queue, so it gets nearly every
    // tick; at the back it would get about one in five. (On a loaded
    // machine the process also loses ticks while it is descheduled: the
    // bound is loose.)
    const WORKERS: usize = 1000;
    const PERIOD: Duration = Duration::from_millis(10);
    let (ticks, expected) = run(|| {
        let stop = Rc::new(Cell::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let stop = stop.clone();
                go(move || {
                    while !stop.get() {
                        busy_for(Duration::from_micros(50));
                        yield_now();
                    }
                })
            })
            .collect();
        yield_now(); // every worker is running
        let ticker = Ticker::new(PERIOD);
        let t0 = now();
        let mut ticks = 0u32;
        while now() - t0 < 30 * PERIOD {
            ticker.receiver().recv().unwrap();
            ticks += 1;
        }
        let expected = ((now() - t0).as_nanos() / PERIOD.as_nanos()) as u32;
        stop.set(true);
        workers.into_iter().for_each(|w| w.join().unwrap());
        (ticks, expected)
    });
    assert!(
        ticks * 2 >= expected,
        "the ticker's goroutine got {ticks} of {expected} ticks"
    );
}
