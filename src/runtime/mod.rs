//! The scheduler: one per thread that calls [`run`](crate::run).
//!
//! A goroutine's life, as the scheduler sees it:
//!
//! 1. `spawn` takes a stack from the pool, builds a coroutine on it, enters the
//!    goroutine in the table (id, name, slot) and appends it to the run queue
//!    (`Runnable`).
//! 2. The loop pops the queue's front, marks it `Running` and resumes it.
//! 3. The goroutine runs until it parks (`Parked(reason)`: it waits on a
//!    channel, a timer, a lock, a future...), yields (back of the queue), or
//!    returns (`Dead`: its stack goes back to the pool, its slot is freed).
//! 4. `unpark` makes a parked goroutine `Runnable` and queues it once, however
//!    often it is called; an unpark that finds the goroutine not parked leaves
//!    a token that makes its next park return at once.
//! 5. Every [`POLL_INTERVAL`] switches, and whenever the queue runs dry, the
//!    loop takes wake-ups queued by other threads, the goroutines whose
//!    platform events arrived (`Platform::poll_ready`: socket readiness) and
//!    fires due timers.
//! 6. With nothing runnable it goes idle (see [`crate::platform`]): the idle
//!    hook, then the deadlock check, then `Platform::before_idle`.
//! 7. When the main goroutine returns, the others are unwound (their
//!    destructors run, as at a panic) and their stacks pooled; `run` returns.

mod goroutine;
pub(crate) mod remote;
pub(crate) mod rng;
mod timer;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::coro::{self, Coroutine, Resumed, StackKind};
use crate::platform::{Idle, Platform};

use goroutine::{Body, State, Table};
pub(crate) use goroutine::{GRef, WaitReason};
pub(crate) use goroutine::{Task, G};
use remote::{FutureWake, Remote};
pub(crate) use timer::TimerAction;
use timer::Timers;

/// Switches between looks at timers and remote wake-ups while goroutines keep
/// the run queue busy. Reading the clock costs more than a switch.
const POLL_INTERVAL: u32 = 61;

/// Default usable stack size of a goroutine.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

type IdleHook = Box<dyn FnMut(Option<Duration>) -> bool>;

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
    current: RefCell<Option<GRef>>,
    table: RefCell<Table>,
    timers: RefCell<Timers>,
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
            current: RefCell::new(None),
            table: RefCell::new(Table::default()),
            timers: RefCell::new(Timers::default()),
            next_id: Cell::new(1),
            remote: Arc::new(Remote::new(platform.unparker())),
            #[cfg(not(target_arch = "wasm32"))]
            netpoller: platform.netpoller(),
            platform: RefCell::new(platform),
            futures: RefCell::new(HashMap::new()),
            idle_hook: RefCell::new(None),
            stack_size: coro::round_to_page(stack_size),
            stack_kind,
        }
    }

    /// Creates a goroutine and queues it; its stack is mapped when it first runs.
    pub(crate) fn spawn<E: Task + 'static>(
        &self,
        name: Option<String>,
        stack_size: Option<usize>,
        task: E,
    ) -> Rc<G<E>> {
        let stack_size = stack_size.map_or(self.stack_size, coro::round_to_page);
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let g = Rc::new(G::new(id, name, stack_size, task));
        self.table.borrow_mut().insert(g.clone());
        self.runq.borrow_mut().push_back(g.clone());
        g
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
            State::Runnable | State::Dead => {}
        }
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
            if let Some(when) = deadline {
                self.arm_park_timer(g, when);
            }
            g.state.set(State::Parked(reason));
        }
        coro::suspend();
        let current = self.current.borrow();
        let g = current.as_ref().expect("a goroutine is running");
        g.park_seq.set(g.park_seq.get() + 1);
        g.timed_out.replace(false)
    }

    /// Wakes `g` at `when` unless its current park has ended by then. Out of
    /// line: `park` is inlined everywhere, the timer path is the rare one.
    #[inline(never)]
    fn arm_park_timer(&self, g: &GRef, when: Duration) {
        let action = TimerAction::Wake {
            g: g.clone(),
            park_seq: g.park_seq.get(),
        };
        self.timers.borrow_mut().push(when, action);
    }

    /// Puts the running goroutine at the back of the run queue and switches.
    /// Always inlined: see `park`.
    #[inline(always)]
    pub(crate) fn yield_now(&self) {
        // `switch_to` sees the state and re-queues the goroutine it holds.
        self.current
            .borrow()
            .as_ref()
            .expect("a goroutine is running")
            .state
            .set(State::Runnable);
        coro::suspend();
    }

    pub(crate) fn now(&self) -> Duration {
        self.platform.borrow().now()
    }

    /// Runs `action` when the platform clock reaches `when`.
    pub(crate) fn add_timer(&self, when: Duration, action: TimerAction) {
        self.timers.borrow_mut().push(when, action);
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
    pub(crate) fn park_on_future(&self, wake: &Arc<FutureWake>) {
        let key = Arc::as_ptr(wake) as usize;
        self.futures.borrow_mut().insert(key, wake.clone());
        self.park(WaitReason::Future, None);
        self.futures.borrow_mut().remove(&key);
    }

    /// The loop of steps 2-6, until `main` is dead or the loop must stop.
    pub(crate) fn run_until_dead(&self, main: &GRef) -> Stop {
        let mut since_poll = 0u32;
        loop {
            let next = self.runq.borrow_mut().pop_front();
            match next {
                Some(g) => {
                    if self.switch_to(g) == Resumed::Finished && main.state.get() == State::Dead {
                        return Stop::MainReturned;
                    }
                    since_poll += 1;
                    if since_poll >= POLL_INTERVAL {
                        since_poll = 0;
                        self.poll_events();
                    }
                }
                None => {
                    self.poll_events();
                    if self.runq.borrow().is_empty() {
                        if let Some(stop) = self.idle() {
                            return stop;
                        }
                    }
                }
            }
        }
    }

    fn switch_to(&self, g: GRef) -> Resumed {
        g.state.set(State::Running);
        let resumed = {
            let mut body = g.body.borrow_mut();
            if let Body::NotStarted { .. } = &*body {
                self.start(&g, &mut body);
            }
            match &mut *body {
                Body::Started(coro) => {
                    // Goroutine code only reads `current` (a shared borrow).
                    self.current.replace(Some(g.clone()));
                    let resumed = coro.resume();
                    self.current.replace(None);
                    resumed
                }
                Body::NotStarted { .. } | Body::Finished => Resumed::Finished,
            }
        };
        match (resumed, g.state.get()) {
            (Resumed::Finished, _) => self.retire(&g),
            (Resumed::Suspended, State::Runnable) => self.runq.borrow_mut().push_back(g),
            (Resumed::Suspended, _) => {}
        }
        resumed
    }

    /// Gives a goroutine about to run for the first time its stack; if none can
    /// be mapped, its entry learns why instead of running.
    fn start(&self, g: &GRef, body: &mut Body) {
        let Body::NotStarted { stack_size } = *body else {
            return;
        };
        *body = Body::Finished;
        match coro::acquire(stack_size, self.stack_kind) {
            Ok(stack) => {
                let owner = g.clone();
                // SAFETY: the name lives in `g`'s record, which the body's
                // `owner` keeps alive and in place as long as the coroutine.
                let coro =
                    unsafe { Coroutine::new(stack, g.identity(), move || owner.task.run(None)) };
                *body = Body::Started(coro);
            }
            Err(error) => g.task.run(Some(error)),
        }
    }

    fn retire(&self, g: &GRef) {
        g.state.set(State::Dead);
        self.table.borrow_mut().remove(g);
        if let Body::Started(coro) = std::mem::replace(&mut *g.body.borrow_mut(), Body::Finished) {
            coro.into_stack();
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

    /// Step 5: remote wake-ups, platform events and due timers.
    fn poll_events(&self) {
        self.platform
            .borrow_mut()
            .poll_ready(&mut |waiter| self.unpark_slot(waiter.slot, waiter.id));
        // After the platform's events: those may wake `block_on` Wakers
        // (WASIp3, wasip1), which queue their wake-ups here.
        self.remote.drain(|slot, id| self.unpark_slot(slot, id));
        if self.timers.borrow().is_empty() {
            return;
        }
        let now = self.now();
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                Some(TimerAction::Wake { g, .. }) => {
                    g.timed_out.set(true);
                    self.unpark(&g);
                }
                Some(TimerAction::Call(callback)) => callback(),
                None => break,
            }
        }
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

    fn deadlock_report(&self) -> String {
        let mut report = String::from("all goroutines are asleep - deadlock!\n");
        let table = self.table.borrow();
        let mut all: Vec<&GRef> = table.iter().collect();
        all.sort_by_key(|g| g.id);
        for g in all {
            let _ = write!(report, "\n{g}");
        }
        report
    }

    /// Step 7: unwinds every goroutine still alive. Their destructors may wake
    /// or even spawn others; those are unwound in turn (never run).
    pub(crate) fn teardown(&self) {
        loop {
            self.runq.borrow_mut().clear();
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
