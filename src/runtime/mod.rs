//! The scheduler: one per thread that calls [`run`](crate::run).
//!
//! A goroutine's life, as the scheduler sees it:
//!
//! 1. `spawn` takes a stack from the pool, builds a coroutine on it, enters the
//!    goroutine in the table (id, name, slot) and appends it to the run queue
//!    (`Runnable`).
//! 2. The loop takes the `runnext` goroutine if there is one, else the
//!    queue's front, marks it `Running` and resumes it.
//! 3. The goroutine runs until it parks (`Parked(reason)`: it waits on a
//!    channel, a timer, a lock, a future...), yields (back of the queue), or
//!    returns (`Dead`: its stack goes back to the pool, its slot is freed).
//! 4. `unpark` makes a parked goroutine `Runnable` and queues it once, however
//!    often it is called; an unpark that finds the goroutine not parked leaves
//!    a token that makes its next park return at once. A channel hand-off
//!    (`unpark_next`) puts the goroutine it woke in `runnext` instead, as Go's
//!    `ready(gp, next=true)` does (it runs while its partner's data is still
//!    in cache; a goroutine already there goes to the back of the queue).
//!    Goroutines taken from `runnext` in a row share one slice of
//!    [`RUNNEXT_SLICE`] switches (Go's `inheritTime`): after that the next
//!    one goes to the back of the queue, so that two goroutines handing
//!    values to each other cannot starve the queue.
//!    With our own switch (`--cfg gosched_own_switch`, src/coro/switch/) a
//!    goroutine that parks while `runnext` holds a goroutine (within its
//!    slice and the poll interval of step 5) hands over to it directly, one
//!    switch instead of two through the loop's stack; a goroutine that
//!    yields hands over the same way to whichever the loop would run next,
//!    if that one has started. The goroutine that finally switches back to
//!    the loop may thus not be the one the loop resumed: the loop files the
//!    one in `current`.
//! 5. Every [`POLL_INTERVAL`] switches, and whenever nothing is runnable, the
//!    loop takes wake-ups queued by other threads, fires due timers, and
//!    takes the goroutines whose platform events arrived
//!    (`Platform::poll_ready`: socket readiness). The goroutines that due
//!    timers woke go to the front of the queue, in deadline order, ahead of
//!    everything queued (Go readies them into `runnext`): a ticker keeps its
//!    ticks however long the queue.
//! 6. With nothing runnable it goes idle (see [`crate::platform`]): the idle
//!    hook, then the deadlock check, then `Platform::before_idle`.
//! 7. A goroutine due to start when no stack can be had (memory, address
//!    space or kernel mappings used up) waits in the `stackless` queue instead;
//!    each goroutine that returns its stack lets the oldest waiter retry.
//!    While any waits, `spawn` fails with the reason (back-pressure, one error
//!    for the spawner), and if nothing else can run the deadlock report says
//!    why they wait.
//! 8. When the main goroutine returns, the others are unwound (their
//!    destructors run, as at a panic) and their stacks pooled; `run` returns.

mod goroutine;
pub(crate) mod remote;
pub(crate) mod rng;
mod timer;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::coro::{self, Coroutine, Resumed, StackKind};
use crate::platform::{Idle, Platform};

use goroutine::{Body, State, Table};
pub(crate) use goroutine::{GRef, WaitReason};
pub(crate) use goroutine::{Task, G};
use remote::{FutureWake, Remote};
pub(crate) use timer::RuntimeTimer;
use timer::{TimerAction, Timers};

/// Switches between looks at timers and remote wake-ups while goroutines keep
/// the run queue busy. Reading the clock costs more than a switch.
const POLL_INTERVAL: u32 = 61;

/// Switches that goroutines taken from `runnext` in a row may run before the
/// queue's front gets its turn (step 4).
const RUNNEXT_SLICE: u32 = 61;

/// Goroutines the deadlock report lists one by one.
const DUMP_LINES: usize = 100;

/// Default usable stack size of a goroutine.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

type IdleHook = Box<dyn FnMut(Option<Duration>) -> bool>;

/// The coroutine of `g` if it has started: one to switch to.
#[cfg(gosched_own_switch)]
#[inline(always)]
fn started(g: &GRef) -> Option<*const Coroutine> {
    match &*g.body.borrow() {
        Body::Started(coro) => Some(coro),
        Body::NotStarted { .. } | Body::Finished => None,
    }
}

/// Why the scheduling loop stopped.
pub(crate) enum Stop {
    MainReturned,
    /// The platform asked to give control back to its host.
    ReturnToHost,
    /// Nothing can ever run again; the goroutine dump.
    Deadlock(String),
}

pub(crate) struct Scheduler {
    runq: RefCell<VecDeque<GRef>>,
    /// Step 4: the goroutine a channel hand-off just woke; it runs next.
    runnext: Cell<Option<GRef>>,
    /// Goroutines taken from `runnext` since the last from `runq`.
    runnext_streak: Cell<u32>,
    /// Switches since the last poll (step 5), hand-offs included.
    since_poll: Cell<u32>,
    /// The running goroutine (a second handle: moving the scheduler's in,
    /// with the borrow held across the switch, cost 18 instructions more per
    /// yield).
    current: RefCell<Option<GRef>>,
    table: RefCell<Table>,
    timers: RefCell<Timers>,
    /// The timers one poll found due, fired after it in random order (kept
    /// for its capacity).
    due_timers: RefCell<Vec<Rc<RuntimeTimer>>>,
    next_id: Cell<u64>,
    platform: RefCell<Box<dyn Platform>>,
    remote: Arc<Remote>,
    /// Goroutines parked in `block_on`, with the handle their wakers share,
    /// keyed by its address: thousands may be parked (one per socket).
    futures: RefCell<HashMap<usize, Arc<FutureWake>>>,
    idle_hook: RefCell<Option<IdleHook>>,
    /// The platform's, asked once: sockets wait on it.
    #[cfg(not(target_arch = "wasm32"))]
    netpoller: Option<Rc<crate::platform::Netpoller>>,
    stack_size: usize,
    stack_kind: StackKind,
    /// Step 7: goroutines waiting for a stack, oldest first.
    stackless: RefCell<VecDeque<GRef>>,
    /// Why the last stack could not be had, as `spawn` reports it.
    stack_error: RefCell<String>,
}

thread_local! {
    /// The scheduler active on this thread (inside `run`, `Program::poll` or
    /// `Program::enter`), or null.
    static SCHEDULER: Cell<*const Scheduler> = const { Cell::new(std::ptr::null()) };
}

/// Makes a scheduler this thread's active scheduler until dropped.
pub(crate) struct Enter<'a>(std::marker::PhantomData<&'a Scheduler>);

impl<'a> Enter<'a> {
    /// # Panics
    ///
    /// If a scheduler is already active on this thread.
    pub(crate) fn new(scheduler: &'a Scheduler) -> Enter<'a> {
        assert!(
            try_scheduler().is_none(),
            "gosched::run called inside a goroutine: there is one scheduler per thread, \
             use gosched::go to start more goroutines"
        );
        SCHEDULER.set(scheduler);
        Enter(std::marker::PhantomData)
    }
}

impl Drop for Enter<'_> {
    fn drop(&mut self) {
        SCHEDULER.set(std::ptr::null());
    }
}

/// The scheduler running on this thread, if any.
///
/// The reference must not be kept past the caller's own execution: it is valid
/// because every caller runs inside `run` (on a goroutine, or in the loop),
/// and `run` outlives all of them.
pub(crate) fn try_scheduler() -> Option<&'static Scheduler> {
    let ptr = SCHEDULER.get();
    // SAFETY: SCHEDULER is non-null only while an `Enter` guard lives, which
    // borrows the scheduler (so it can neither move nor be dropped), and all
    // code that can observe the pointer runs nested inside the guard's scope.
    unsafe { ptr.as_ref() }
}

/// Whether the caller runs on a goroutine, so that it may park.
#[cfg(any(not(target_arch = "wasm32"), feature = "wasip3"))]
pub(crate) fn in_goroutine() -> bool {
    coro::in_coroutine() && try_scheduler().is_some_and(|s| !s.unwinding_at_shutdown())
}

/// The running scheduler, for an operation that may block; `what` names it in
/// the panic message.
#[track_caller]
pub(crate) fn scheduler(what: &str) -> &'static Scheduler {
    match try_scheduler() {
        Some(s) if coro::in_coroutine() => s,
        Some(s) if s.unwinding_at_shutdown() => panic!(
            "gosched: {what} would block in a goroutine that is being unwound because main \
             returned; destructors of goroutines must not block at shutdown"
        ),
        _ => panic!("gosched: {what} must be called inside a goroutine (inside gosched::run)"),
    }
}

/// The scheduler of this thread, for an operation that never blocks (spawning,
/// non-blocking channel operations): also usable from host callbacks inside
/// [`Program::enter`].
#[track_caller]
pub(crate) fn any_scheduler(what: &str) -> &'static Scheduler {
    try_scheduler().unwrap_or_else(|| {
        panic!("gosched: {what} must be called inside gosched::run (or Program::enter)")
    })
}

impl Scheduler {
    pub(crate) fn new(
        platform: Box<dyn Platform>,
        stack_size: usize,
        stack_kind: StackKind,
    ) -> Scheduler {
        rng::seed(platform.random_seed());
        Scheduler {
            runq: RefCell::new(VecDeque::new()),
            runnext: Cell::new(None),
            runnext_streak: Cell::new(0),
            since_poll: Cell::new(0),
            current: RefCell::new(None),
            table: RefCell::new(Table::default()),
            timers: RefCell::new(Timers::default()),
            due_timers: RefCell::new(Vec::new()),
            next_id: Cell::new(1),
            remote: Arc::new(Remote::new(platform.unparker())),
            #[cfg(not(target_arch = "wasm32"))]
            netpoller: platform.netpoller(),
            platform: RefCell::new(platform),
            futures: RefCell::new(HashMap::new()),
            idle_hook: RefCell::new(None),
            stack_size: coro::round_to_page(stack_size),
            stack_kind,
            stackless: RefCell::new(VecDeque::new()),
            stack_error: RefCell::new(String::new()),
        }
    }

    /// Creates a goroutine and queues it; its stack is taken when it first
    /// runs. Fails while goroutines wait for a stack (step 7).
    pub(crate) fn spawn<E: Task + 'static>(
        &self,
        name: Option<String>,
        stack_size: Option<usize>,
        task: E,
    ) -> io::Result<Rc<G<E>>> {
        if let Some(waiting) = self.stack_shortage() {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, waiting));
        }
        let stack_size = stack_size.map_or(self.stack_size, coro::round_to_page);
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let g = goroutine::reuse(id, name, stack_size, task);
        self.table.borrow_mut().insert(&g);
        self.runq.borrow_mut().push_back(g.clone());
        Ok(g)
    }

    /// While goroutines wait for a stack: how many, and why.
    fn stack_shortage(&self) -> Option<String> {
        let waiting = self.stackless.borrow().len();
        (waiting > 0).then(|| {
            format!(
                "{waiting} goroutine(s) wait for a stack: {}",
                self.stack_error.borrow()
            )
        })
    }

    /// Whether the "running" goroutine is one that teardown is unwinding.
    fn unwinding_at_shutdown(&self) -> bool {
        self.current
            .borrow()
            .as_ref()
            .is_some_and(|g| g.cancelled.get())
    }

    /// The running goroutine.
    pub(crate) fn current(&self) -> GRef {
        self.current
            .borrow()
            .clone()
            .expect("a goroutine is running")
    }

    pub(crate) fn num_goroutines(&self) -> usize {
        self.table.borrow().len()
    }

    /// Makes `g` runnable if it is parked; see step 4 of the module docs.
    pub(crate) fn unpark(&self, g: &GRef) {
        match g.state.get() {
            State::Parked(_) => {
                g.state.set(State::Runnable);
                self.runq.borrow_mut().push_back(g.clone());
            }
            State::Running => g.token.set(true),
            State::Runnable | State::WaitingForStack | State::Dead => {}
        }
    }

    /// `unpark`, but `g` runs next (step 4): for a channel hand-off. The
    /// common case (a parked goroutine, no other in `runnext`) is inlined
    /// into every send and receive; the rest is out of line.
    #[inline(always)]
    pub(crate) fn unpark_next(&self, g: &GRef) {
        if !matches!(g.state.get(), State::Parked(_)) {
            return self.unpark(g);
        }
        g.state.set(State::Runnable);
        if let Some(kicked) = self.runnext.replace(Some(g.clone())) {
            self.requeue(kicked);
        }
    }

    /// A goroutine that `unpark_next` pushed out of `runnext`: to the back
    /// of the queue.
    #[cold]
    #[inline(never)]
    fn requeue(&self, g: GRef) {
        self.runq.borrow_mut().push_back(g);
    }

    /// The goroutine to run next (steps 2 and 4).
    #[inline(always)]
    fn next_runnable(&self) -> Option<GRef> {
        if let Some(g) = self.runnext.take() {
            let streak = self.runnext_streak.get();
            if streak < RUNNEXT_SLICE {
                self.runnext_streak.set(streak + 1);
                return Some(g);
            }
            self.runq.borrow_mut().push_back(g);
        }
        self.runnext_streak.set(0);
        self.runq.borrow_mut().pop_front()
    }

    /// Whether any goroutine is runnable.
    fn has_runnable(&self) -> bool {
        let next = self.runnext.take();
        let any = next.is_some() || !self.runq.borrow().is_empty();
        self.runnext.set(next);
        any
    }

    /// Parks the running goroutine until it is unparked or, with a deadline,
    /// until the platform clock reaches it. Returns whether the timer ended the
    /// park. May return early (a stale token or wake-up): callers re-check
    /// their condition.
    ///
    /// Always inlined, like `yield_now`: a resumed goroutine continues right
    /// after the switch, and every return from there up to its own code is
    /// mispredicted (the CPU's return-address stack holds the scheduler's
    /// calls, not the goroutine's), so each call level between the switch and
    /// the caller costs a few ns per switch.
    #[inline(always)]
    pub(crate) fn park(&self, reason: WaitReason, deadline: Option<Duration>) -> bool {
        {
            let current = self.current.borrow();
            let g = current.as_ref().expect("a goroutine is running");
            if g.token.replace(false) {
                return false;
            }
            // Numbered before the timer is armed: a timer of an earlier park
            // no longer matches.
            g.park_seq.set(g.park_seq.get() + 1);
            if let Some(when) = deadline {
                self.arm_park_timer(g, when);
            }
            g.state.set(State::Parked(reason));
        }
        self.leave_parked();
        // Only this park's own timer sets `timed_out`, so a park without a
        // deadline has nothing to look at after the switch (the path every
        // channel hand-off takes).
        if deadline.is_none() {
            return false;
        }
        let current = self.current.borrow();
        let g = current.as_ref().expect("a goroutine is running");
        g.timed_out.replace(false)
    }

    /// Switches away from the goroutine that just parked: straight to the
    /// goroutine in `runnext` when it may run now (step 4), else to the loop.
    #[inline(always)]
    fn leave_parked(&self) {
        #[cfg(gosched_own_switch)]
        if let Some(to) = self.hand_off_target() {
            // SAFETY: we run on the parking goroutine; `to` is the coroutine
            // of the goroutine just made `current`, which was parked (so
            // suspended) and whose record, kept by `current` and the table,
            // holds it in place until it switches away again.
            unsafe { coro::hand_off(to) };
            return;
        }
        coro::suspend();
    }

    /// Takes the goroutine in `runnext` as the running one if it may run
    /// without a turn of the loop: its `runnext` slice and the poll interval
    /// (step 5) allow one more switch. Its coroutine, to hand over to.
    #[cfg(gosched_own_switch)]
    #[inline(always)]
    fn hand_off_target(&self) -> Option<*const Coroutine> {
        let streak = self.runnext_streak.get();
        if streak >= RUNNEXT_SLICE || self.since_poll.get() >= POLL_INTERVAL {
            return None;
        }
        let next = self.runnext.take()?;
        // Only parked goroutines go to `runnext`, and only started ones park.
        let to = started(&next).expect("runnext holds a parked goroutine");
        self.runnext_streak.set(streak + 1);
        self.hand_over_to(next);
        Some(to)
    }

    /// Makes `next` the running goroutine without a turn of the loop (it
    /// counts as a switch towards the next poll); the one it replaces.
    #[cfg(gosched_own_switch)]
    #[inline(always)]
    fn hand_over_to(&self, next: GRef) -> GRef {
        self.since_poll.set(self.since_poll.get() + 1);
        next.state.set(State::Running);
        self.current
            .replace(Some(next))
            .expect("a goroutine is running")
    }

    /// Wakes `g` at `when` unless its current park has ended by then. Out of
    /// line: `park` is inlined everywhere, the timer path is the rare one.
    #[inline(never)]
    fn arm_park_timer(&self, g: &GRef, when: Duration) {
        self.timers
            .borrow_mut()
            .push_wake(when, g.clone(), g.park_seq.get());
    }

    /// Puts the running goroutine at the back of the run queue and switches.
    /// Always inlined: see `park`.
    #[inline(always)]
    pub(crate) fn yield_now(&self) {
        #[cfg(gosched_own_switch)]
        if let Some(to) = self.yield_target() {
            // SAFETY: as in `leave_parked`; the goroutine taken was queued,
            // so it is suspended, and not this one (queued behind it).
            unsafe { coro::hand_off(to) };
            return;
        }
        // A goroutine that suspends still `Running` has yielded: `switch_to`
        // re-queues the goroutine it holds.
        coro::suspend();
    }

    /// For a yield: takes the goroutine the loop would run next as the
    /// running one, if it has started and the poll interval (step 5) allows
    /// one more switch, and queues the yielding one at the back, as the loop
    /// would. Its coroutine, to hand over to.
    #[cfg(gosched_own_switch)]
    #[inline(always)]
    fn yield_target(&self) -> Option<*const Coroutine> {
        if self.since_poll.get() >= POLL_INTERVAL {
            return None;
        }
        let next = self.next_runnable()?;
        let Some(to) = started(&next) else {
            // Its stack is taken in the loop (step 7 may make it wait).
            self.runq.borrow_mut().push_front(next);
            return None;
        };
        let me = self.hand_over_to(next);
        me.state.set(State::Runnable);
        self.runq.borrow_mut().push_back(me);
        Some(to)
    }

    pub(crate) fn now(&self) -> Duration {
        self.platform.borrow().now()
    }

    /// Arms `timer` to fire when the platform clock reaches `when`, replacing
    /// its previous deadline.
    pub(crate) fn arm_timer(&self, timer: &Rc<RuntimeTimer>, when: Duration) {
        self.timers.borrow_mut().arm(timer, when);
    }

    /// Stops `timer`; whether it was armed.
    pub(crate) fn stop_timer(&self, timer: &RuntimeTimer) -> bool {
        self.timers.borrow_mut().disarm(timer)
    }

    /// Fires `timer` now if it is due, without waiting for the poll step (Go
    /// 1.23 runs an expired timer when its channel is received from); whether
    /// it fired. Reads the clock only for an armed timer.
    pub(crate) fn fire_timer_if_due(&self, timer: &Rc<RuntimeTimer>) -> bool {
        let Some(when) = timer.when() else {
            return false;
        };
        let now = self.now();
        if when > now {
            return false;
        }
        self.fire_timer(timer, now);
        true
    }

    /// Fires an armed timer that is due at `now`: re-arms a ticker on its
    /// period's grid (skipping the ticks it missed), then calls `expire` with
    /// the instant the timer was due.
    fn fire_timer(&self, timer: &Rc<RuntimeTimer>, now: Duration) {
        let due = timer.when().expect("only an armed timer fires");
        match timer.period() {
            Some(period) => {
                let missed = now.saturating_sub(due).as_nanos() / period.as_nanos();
                let steps = u32::try_from(missed + 1).unwrap_or(u32::MAX);
                let next = due.saturating_add(period.saturating_mul(steps));
                self.timers.borrow_mut().arm(timer, next);
            }
            None => {
                self.timers.borrow_mut().disarm(timer);
            }
        }
        timer.expire(due);
    }

    /// Hands the platform its capabilities ([`Platform::attach`]).
    pub(crate) fn attach_platform(&self, spawner: crate::platform::Spawner) {
        self.platform.borrow_mut().attach(spawner);
    }

    pub(crate) fn set_idle_hook(&self, hook: IdleHook) {
        *self.idle_hook.borrow_mut() = Some(hook);
    }

    pub(crate) fn remote(&self) -> &Arc<Remote> {
        &self.remote
    }

    /// Parks the running goroutine in `block_on` until `wake` is woken.
    pub(crate) fn park_on_future(&self, wake: &Arc<FutureWake>, reason: WaitReason) {
        let key = Arc::as_ptr(wake) as usize;
        self.futures.borrow_mut().insert(key, wake.clone());
        self.park(reason, None);
        self.futures.borrow_mut().remove(&key);
    }

    /// The loop of steps 2-6, until `main` is dead or the loop must stop.
    pub(crate) fn run_until_dead(&self, main: &GRef) -> Stop {
        loop {
            match self.next_runnable() {
                Some(g) => {
                    if self.switch_to(g) == Resumed::Finished && main.state.get() == State::Dead {
                        return Stop::MainReturned;
                    }
                    let since_poll = self.since_poll.get() + 1;
                    self.since_poll.set(since_poll);
                    if since_poll >= POLL_INTERVAL {
                        self.since_poll.set(0);
                        self.poll_events();
                    }
                }
                None => {
                    self.poll_events();
                    if !self.has_runnable() {
                        if let Some(stop) = self.idle() {
                            return stop;
                        }
                    }
                }
            }
        }
    }

    /// Runs `g` until a goroutine switches back to the loop: `g`, or the
    /// last one handed over to (step 4), which it then files.
    fn switch_to(&self, g: GRef) -> Resumed {
        g.state.set(State::Running);
        let coro = {
            let mut body = g.body.borrow_mut();
            if let Body::NotStarted { stack_size } = *body {
                if !self.start(&g, &mut body, stack_size) {
                    g.state.set(State::WaitingForStack);
                    drop(body);
                    self.stackless.borrow_mut().push_back(g);
                    return Resumed::Suspended;
                }
            }
            match &mut *body {
                Body::Started(coro) => Some(coro as *mut Coroutine),
                Body::NotStarted { .. } | Body::Finished => None,
            }
        };
        let (resumed, g) = match coro {
            Some(coro) => {
                // Goroutine code only reads `current` (a shared borrow), and
                // replaces it when it hands over.
                self.current.replace(Some(g));
                // SAFETY: the coroutine lives in the record's body, which the
                // table keeps alive and which only this loop replaces
                // (`retire`, after the switch back); the body is not borrowed
                // while goroutines run, so that a hand-off can reach the
                // coroutine.
                let resumed = unsafe { (*coro).resume() };
                let g = self.current.take().expect("a goroutine came back");
                (resumed, g)
            }
            None => (Resumed::Finished, g),
        };
        match (resumed, g.state.get()) {
            (Resumed::Finished, _) => self.retire(&g),
            (Resumed::Suspended, State::Running) => {
                g.state.set(State::Runnable);
                self.runq.borrow_mut().push_back(g);
            }
            (Resumed::Suspended, _) => {}
        }
        resumed
    }

    /// Gives a goroutine about to run for the first time its stack; false if
    /// none can be had (step 7).
    fn start(&self, g: &GRef, body: &mut Body, stack_size: usize) -> bool {
        match coro::acquire(stack_size, self.stack_kind) {
            Ok(stack) => {
                let owner = g.clone();
                // SAFETY: the name lives in `g`'s record, which the body's
                // `owner` keeps alive and in place as long as the coroutine.
                let coro = unsafe { Coroutine::new(stack, g.identity(), move || owner.task.run()) };
                *body = Body::Started(coro);
                true
            }
            Err(error) => {
                *self.stack_error.borrow_mut() = error.to_string();
                false
            }
        }
    }

    fn retire(&self, g: &GRef) {
        g.state.set(State::Dead);
        let record = self.table.borrow_mut().remove(g);
        if let Some(record) = record {
            goroutine::recycle(record);
        }
        if let Body::Started(coro) = std::mem::replace(&mut *g.body.borrow_mut(), Body::Finished) {
            coro.into_stack();
            // Step 7: a stack is free, so the oldest waiter may retry.
            let waiter = self.stackless.borrow_mut().pop_front();
            if let Some(waiter) = waiter {
                waiter.state.set(State::Runnable);
                self.runq.borrow_mut().push_back(waiter);
            }
        }
    }

    /// The running goroutine as the platform knows it, for waiting on a
    /// platform event.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn current_waiter(&self) -> crate::platform::Waiter {
        let current = self.current.borrow();
        let g = current.as_ref().expect("a goroutine is running");
        crate::platform::Waiter {
            slot: g.slot.get(),
            id: g.id,
        }
    }

    /// The platform's readiness registry, if it has one.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn netpoller(&self) -> Option<&Rc<crate::platform::Netpoller>> {
        self.netpoller.as_ref()
    }

    /// Unparks the goroutine in `slot` if it is still the one with `id`.
    fn unpark_slot(&self, slot: usize, id: u64) {
        let g = self.table.borrow().get(slot, id).cloned();
        if let Some(g) = g {
            self.unpark(&g);
        }
    }

    /// Step 5: remote wake-ups, due timers, platform events.
    fn poll_events(&self) {
        // Timers before sockets: a goroutine whose timer fired queues ahead
        // of a batch of ready sockets, so a ticker stays on time under load.
        self.fire_due_timers();
        self.platform
            .borrow_mut()
            .poll_ready(&mut |waiter| self.unpark_slot(waiter.slot, waiter.id));
        // After the platform's events: those may wake `block_on` Wakers
        // (WASIp3, wasip1), which queue their wake-ups here.
        self.remote.drain(|slot, id| self.unpark_slot(slot, id));
    }

    fn fire_due_timers(&self) {
        if self.timers.borrow().is_empty() {
            return;
        }
        let now = self.now();
        // Step 5: what the timers wake goes to the front of the queue. Set
        // aside the goroutine in `runnext`, so that a hand-off from a timer
        // cannot push it back.
        let queued_before = self.runq.borrow().len();
        let next = self.runnext.take();
        let mut due_timers = std::mem::take(&mut *self.due_timers.borrow_mut());
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                Some(TimerAction::Wake { g, .. }) => {
                    g.timed_out.set(true);
                    self.unpark(&g);
                }
                Some(TimerAction::Timer(timer)) => due_timers.push(timer),
                None => break,
            }
        }
        // Timers that are all due fire in random order, as a select that
        // checks the clock would find them all ready (crossbeam's choice):
        // of two expired timers in one blocked select, either may win.
        for i in (1..due_timers.len()).rev() {
            due_timers.swap(i, rng::below(i + 1));
        }
        for timer in due_timers.drain(..) {
            // One timer's callback may have stopped or moved another (a
            // context cancelling its children's deadlines).
            if timer.when().is_some_and(|when| when <= now) {
                self.fire_timer(&timer, now);
            }
        }
        *self.due_timers.borrow_mut() = due_timers;
        let mut runq = self.runq.borrow_mut();
        runq.extend(self.runnext.replace(next));
        let woken = runq.len() - queued_before;
        runq.rotate_right(woken);
    }

    /// Step 6. `None`: go on scheduling.
    fn idle(&self) -> Option<Stop> {
        let deadline = self.timers.borrow_mut().purge_and_next_deadline();
        let hook = self.idle_hook.borrow_mut().take();
        if let Some(mut hook) = hook {
            let until = deadline.map(|d| d.saturating_sub(self.now()));
            let busy = hook(until);
            let mut slot = self.idle_hook.borrow_mut();
            if slot.is_none() {
                *slot = Some(hook);
            }
            if busy {
                return None;
            }
        }
        let waiting = deadline.is_some()
            || self.remote.has_pending()
            || self.futures.borrow().values().any(|f| f.may_be_woken())
            || self.platform.borrow().has_event_sources();
        if !waiting {
            return Some(Stop::Deadlock(self.deadlock_report()));
        }
        match self.platform.borrow_mut().before_idle(deadline) {
            Idle::Resume => None,
            Idle::ReturnToHost => Some(Stop::ReturnToHost),
            Idle::NothingToWaitFor => Some(Stop::Deadlock(self.deadlock_report())),
        }
    }

    /// The earliest live timer deadline, on the platform clock.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        self.timers.borrow_mut().purge_and_next_deadline()
    }

    /// The deadlock message, then the goroutine dump.
    fn deadlock_report(&self) -> String {
        let mut report = String::from("all goroutines are asleep - deadlock!\n");
        if let Some(waiting) = self.stack_shortage() {
            let _ = write!(report, "\n{waiting}\n");
        }
        report.push('\n');
        report + &self.goroutine_dump()
    }

    /// The goroutine dump: one line per goroutine, by id, except that
    /// beyond [`DUMP_LINES`] the rest is counted by state.
    pub(crate) fn goroutine_dump(&self) -> String {
        let mut report = String::new();
        let table = self.table.borrow();
        let mut all: Vec<&GRef> = table.iter().collect();
        all.sort_by_key(|g| g.id);
        for (i, g) in all.iter().take(DUMP_LINES).enumerate() {
            let _ = write!(report, "{}{g}", if i == 0 { "" } else { "\n" });
        }
        if all.len() > DUMP_LINES {
            let mut rest: Vec<(String, usize)> = Vec::new();
            for g in &all[DUMP_LINES..] {
                let line = g.to_string();
                let state = line[line.rfind(" [").unwrap_or(line.len())..].to_owned();
                match rest.iter_mut().find(|(s, _)| *s == state) {
                    Some((_, n)) => *n += 1,
                    None => rest.push((state, 1)),
                }
            }
            let _ = write!(report, "\n... and {} more:", all.len() - DUMP_LINES);
            for (state, n) in rest {
                let _ = write!(report, "\n{n} x{state}");
            }
        }
        report
    }

    /// Step 7: unwinds every goroutine still alive. Their destructors may wake
    /// or even spawn others; those are unwound in turn (never run).
    pub(crate) fn teardown(&self) {
        loop {
            self.runq.borrow_mut().clear();
            self.runnext.take();
            self.stackless.borrow_mut().clear();
            let victims: Vec<GRef> = self.table.borrow().iter().cloned().collect();
            if victims.is_empty() {
                break;
            }
            for g in victims {
                g.cancelled.set(true);
                g.state.set(State::Running);
                *self.current.borrow_mut() = Some(g.clone());
                let body = std::mem::replace(&mut *g.body.borrow_mut(), Body::Finished);
                match body {
                    Body::Started(coro) => coro.into_stack(),
                    // Dropped here, on the scheduler's stack: the entry never ran.
                    Body::NotStarted { .. } => g.task.discard(),
                    Body::Finished => {}
                }
                // On wasm the coroutine's frames are abandoned, not unwound,
                // and with them the reference to the record they hold: its
                // goroutine-locals are dropped here instead.
                g.locals.clear();
                *self.current.borrow_mut() = None;
                g.state.set(State::Dead);
                self.table.borrow_mut().remove(&g);
            }
        }
        self.timers.borrow_mut().clear();
        self.futures.borrow_mut().clear();
        *self.idle_hook.borrow_mut() = None;
    }
}
