//! Where goroutines' waitables wait, and the task record through which
//! wit-bindgen's async imports register them.
//!
//! wit-bindgen (0.61 and later, here 0.62 inside the `wasip3` crate) does not
//! talk to an executor of its own when an import future is pending: it asks
//! the C hook `wasip3_task_set` for "the current task" and calls the task's
//! `waitable_register(ptr, waitable, callback, callback_ptr)`. While
//! goroutines run, gosched's record is the current one, so every pending
//! import, stream or future operation (and every [`super::wait`]) comes here.
//! Where it goes then depends on how the component was entered:
//!
//! * **Command** (`wasi:cli/run`, sync-lifted): the waitable joins the
//!   scheduler's own waitable-set; the idle hook blocks in
//!   `waitable-set.wait` and calls the callback (which wakes the goroutine's
//!   `Waker`) when its event comes.
//! * **Exports** (callback-lifted async exports, see `super::exports`): the
//!   instance must not block, so there is no set of ours. Each export call is
//!   a wit-bindgen task with a waitable-set of its own, and the scheduler runs
//!   inside that task's callbacks. A waitable is *delegated* to the task whose
//!   callback is running (the "host" task): we register it with the host's
//!   record, with our callback `delegated`. The host keeps the waitable in its
//!   set (and stays alive, even after its `task.return`, while it holds one);
//!   at the event, wit-bindgen calls `delegated`, which wakes the goroutine
//!   and runs the scheduler (the pump the export layer handed down).
//!
//! The record is version 3 (wit-bindgen 0.63): a V2 record plus a
//! `rust_spawn` hook, which runs `wit_bindgen::spawn_local`'s futures on new
//! goroutines. Older wit-bindgens read it as the V2 prefix it starts with.
//!
//! Invariants:
//! * command mode: a waitable in `waiters` is joined to the set; one that is
//!   not is not. Exports mode: a waitable in `waiters` is registered with the
//!   host task its entry names, and that entry holds a clone of the host's
//!   record, so the host cannot be freed before the event;
//! * an event is delivered at most once: the waitable leaves the set and the
//!   map before its callback runs (wit-bindgen re-registers it when the
//!   operation is not finished yet);
//! * a host task that loses our last waitable while it is not running (an
//!   operation was cancelled from another task's callback) is poked, so that
//!   it runs once more, sees it has nothing left and exits;
//! * no `RefCell` borrow of the reactor is held while a callback runs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::rc::Rc;
use std::task::Waker;

use super::abi::{self, Event};
use crate::platform::{Idle, SpawnedFuture, Spawner};

/// wit-bindgen's completion callback: `callback(callback_ptr, code)`.
type CabiCallback = unsafe extern "C" fn(*mut c_void, u32);

/// Who waits for a waitable's next event.
enum Waiter {
    /// A wit-bindgen operation (import call, stream or future read/write).
    Cabi {
        callback: CabiCallback,
        data: *mut c_void,
    },
    /// A goroutine in `gosched::wasip3::wait`.
    Raw(Rc<RawWait>),
}

/// A registration: who waits, and in exports mode the host task whose set
/// holds the waitable.
struct Entry {
    waiter: Waiter,
    host: Option<HostTask>,
}

/// Where `gosched::wasip3::wait` receives its event.
#[derive(Default)]
pub(super) struct RawWait {
    pub(super) event: std::cell::Cell<Option<Event>>,
    pub(super) waker: RefCell<Option<Waker>>,
}

/// The platform's sleep: one `wait-until` subtask for the earliest timer.
struct Timer {
    subtask: u32,
    deadline_ns: u64,
    /// Exports mode: the task whose set holds the subtask.
    host: Option<HostTask>,
}

/// How the component was entered (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Command,
    Exports,
}

struct Reactor {
    /// Live `Wasip3Platform`s; the reactor is set up while this is non-zero.
    users: usize,
    mode: Mode,
    /// Command mode: the scheduler's waitable-set.
    set: u32,
    /// Exports mode, while the scheduler runs: the record that was current
    /// when it started (not a clone: the run is shorter than the callback),
    /// read, and as the pointer `wasip3_task_set` returned.
    host: Option<(RawHost, *mut c_void)>,
    waiters: BTreeMap<u32, Entry>,
    timer: Option<Timer>,
    /// Exports mode: pokes in flight, by their stream's readable end.
    pokes: BTreeMap<u32, Poke>,
    /// Command mode: the task record that was installed before ours.
    previous_task: usize,
    /// Runs `wit_bindgen::spawn_local`'s futures; handed down by the runtime.
    spawner: Option<Spawner>,
    /// Exports mode: runs the scheduler after a delegated event (handed down
    /// by the export layer).
    pump: Option<fn()>,
    /// While `noting_registrations` runs: the waitables registered anew.
    noted: Option<Vec<u32>>,
}

impl Default for Reactor {
    fn default() -> Self {
        Reactor {
            users: 0,
            mode: Mode::Command,
            set: 0,
            host: None,
            waiters: BTreeMap::new(),
            timer: None,
            pokes: BTreeMap::new(),
            previous_task: 0,
            spawner: None,
            pump: None,
            noted: None,
        }
    }
}

thread_local! {
    static REACTOR: RefCell<Reactor> = RefCell::new(Reactor::default());
}

// ---- the wit-bindgen task record (`wasip3_task`, version 3) ----------------

const WASIP3_TASK_V2: u32 = 2;
const WASIP3_TASK_V3: u32 = 3;

type RegisterFn = unsafe extern "C" fn(*mut c_void, u32, CabiCallback, *mut c_void) -> *mut c_void;
type UnregisterFn = unsafe extern "C" fn(*mut c_void, u32) -> *mut c_void;

/// A future handed to the spawn hook.
type HookFuture = Box<dyn std::future::Future<Output = ()>>;

/// `wasip3_task_v2` of wit-bindgen's `rt/async_support/cabi.rs`: ours, and
/// the layout we read a host task's record with.
#[repr(C)]
struct TaskRecord {
    version: u32,
    ptr: *mut c_void,
    waitable_register: RegisterFn,
    waitable_unregister: UnregisterFn,
    vtable: *const VtableV2,
}

/// `wasip3_task_vtable` (V2).
#[repr(C)]
struct VtableV2 {
    waitable_register: RegisterFn,
    waitable_unregister: UnregisterFn,
    clone: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    drop: unsafe extern "C" fn(*mut c_void),
}

/// `wasip3_task_vtable_v3`: the V2 vtable followed by the spawn hook, which
/// uses the Rust ABI (every crate in the module is built by the same rustc).
#[repr(C)]
struct Vtable {
    v2: VtableV2,
    rust_spawn: Option<unsafe fn(*mut c_void, HookFuture)>,
}

/// The record only holds function pointers and a null `ptr`; nothing ever
/// writes to it (wit-bindgen reads it through the `*mut` it is handed).
struct SharedTask(TaskRecord);
// SAFETY: immutable plain data (wasm32 has one thread anyway).
unsafe impl Sync for SharedTask {}

static VTABLE: Vtable = Vtable {
    v2: VtableV2 {
        waitable_register: register,
        waitable_unregister: unregister,
        clone: task_clone,
        drop: task_drop,
    },
    rust_spawn: Some(spawn),
};

static TASK: SharedTask = SharedTask(TaskRecord {
    version: WASIP3_TASK_V3,
    // The reactor is per thread; the record needs no state of its own.
    ptr: std::ptr::null_mut(),
    waitable_register: register,
    waitable_unregister: unregister,
    vtable: &raw const VTABLE.v2,
});

fn our_task() -> *mut c_void {
    std::ptr::addr_of!(TASK.0).cast_mut().cast::<c_void>()
}

unsafe extern "C" {
    /// wit-bindgen's weak C hook (libwit_bindgen_cabi): swaps the current task
    /// pointer and returns the previous one.
    fn wasip3_task_set(task: *mut c_void) -> *mut c_void;
}

/// `waitable_register`: `callback(data, code)` is to run at `waitable`'s next
/// event; returns the `data` of the registration it replaces, or null.
///
/// # Safety
///
/// Called by wit-bindgen with a waitable it owns and a `callback`/`data` pair
/// that stays valid until the callback runs or the waitable is unregistered.
unsafe extern "C" fn register(
    _task: *mut c_void,
    waitable: u32,
    callback: CabiCallback,
    data: *mut c_void,
) -> *mut c_void {
    match add_waiter(waitable, Waiter::Cabi { callback, data }) {
        Some(Waiter::Cabi { data, .. }) => data,
        _ => std::ptr::null_mut(),
    }
}

/// `waitable_unregister`: forgets `waitable`'s registration and returns its
/// `data`, or null if it had none.
///
/// # Safety
///
/// Called by wit-bindgen with a waitable it registered; `task` is not read.
unsafe extern "C" fn unregister(_task: *mut c_void, waitable: u32) -> *mut c_void {
    match remove_waiter(waitable) {
        Some(Waiter::Cabi { data, .. }) => data,
        _ => std::ptr::null_mut(),
    }
}

/// The record is `'static`: a clone is the same pointer.
///
/// # Safety
///
/// Any pointer is accepted; it is returned, never read.
unsafe extern "C" fn task_clone(task: *mut c_void) -> *mut c_void {
    task
}

/// Dropping a clone of the `'static` record does nothing.
///
/// # Safety
///
/// Any pointer is accepted; it is never read.
unsafe extern "C" fn task_drop(_task: *mut c_void) {}

/// `wit_bindgen::spawn_local` (0.63 and later): the future runs on a new
/// goroutine, through the spawner the runtime handed down.
///
/// # Safety
///
/// Called by wit-bindgen on the scheduler's thread while a runtime is
/// attached; `task` is not read.
unsafe fn spawn(_task: *mut c_void, future: HookFuture) {
    let spawner = REACTOR.with_borrow(|r| r.spawner.clone());
    let spawner = spawner.expect("gosched: wit_bindgen::spawn_local called outside gosched::run");
    spawner.spawn(SpawnedFuture::from(future));
}

// ---- host tasks (exports mode) -----------------------------------------------

/// A host task's record as it was current: its `ptr` and V2 vtable.
#[derive(Clone, Copy)]
struct RawHost {
    ptr: *mut c_void,
    vtable: *const VtableV2,
}

impl RawHost {
    /// Reads a wit-bindgen task record.
    ///
    /// # Panics
    ///
    /// If `record` is null or older than version 2 (no vtable to keep it
    /// alive with).
    ///
    /// # Safety
    ///
    /// `record` is null or the record `wasip3_task_set` returned, valid while
    /// the callback that installed it runs.
    unsafe fn read(record: *mut c_void) -> RawHost {
        assert!(
            !record.is_null(),
            "gosched: the scheduler of an export ran outside a wit-bindgen task"
        );
        // SAFETY: per the contract, a live `wasip3_task` record.
        let record = unsafe { &*record.cast::<TaskRecord>() };
        assert!(
            record.version >= WASIP3_TASK_V2,
            "gosched: wit-bindgen's task record version {} is too old (0.61 or later is needed)",
            record.version
        );
        RawHost {
            ptr: record.ptr,
            vtable: record.vtable,
        }
    }

    /// A clone of the record (wit-bindgen's tasks count references).
    fn clone_host(self) -> HostTask {
        // SAFETY: `self` was read from a live record; `clone` returns a new
        // reference to the same task.
        let ptr = unsafe { ((*self.vtable).clone)(self.ptr) };
        HostTask(RawHost {
            ptr,
            vtable: self.vtable,
        })
    }
}

/// A reference to a host task, held while one of our waitables is in its set.
struct HostTask(RawHost);

impl HostTask {
    /// Puts `waitable` in the host's set; at its event the host calls
    /// `delegated(waitable, code)`.
    fn register(&self, waitable: u32) {
        let data = waitable as usize as *mut c_void;
        // SAFETY: a live host (we hold a reference); `delegated` ignores the
        // pointer's target, it only reads the number.
        unsafe { ((*self.0.vtable).waitable_register)(self.0.ptr, waitable, delegated, data) };
    }

    /// Takes `waitable` out of the host's set and map.
    fn unregister(&self, waitable: u32) {
        // SAFETY: as in `register`.
        unsafe { ((*self.0.vtable).waitable_unregister)(self.0.ptr, waitable) };
    }

    fn is(&self, raw: Option<RawHost>) -> bool {
        raw.is_some_and(|raw| raw.ptr == self.0.ptr)
    }
}

impl Drop for HostTask {
    fn drop(&mut self) {
        // SAFETY: releases the reference `clone_host` took.
        unsafe { ((*self.0.vtable).drop)(self.0.ptr) }
    }
}

/// A wake-up for an idle host task: a unit stream whose read is in the
/// host's set and has already completed.
struct Poke {
    writable: u32,
    _host: HostTask,
}

/// Runs `f` (a scheduler run of the export layer) with gosched's record
/// current, delegating waitables to the task record that is current now.
/// Nested calls run `f` directly.
pub(super) fn with_host_task<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: installs our static record; the previous one is put back below.
    let previous = unsafe { wasip3_task_set(our_task()) };
    if previous == our_task() {
        let result = f();
        // SAFETY: it was ours already.
        unsafe { wasip3_task_set(previous) };
        return result;
    }
    // SAFETY: the record wit-bindgen installed for the running callback.
    let host = unsafe { RawHost::read(previous) };
    let outer = REACTOR.with_borrow_mut(|r| r.host.replace((host, previous)));
    let result = f();
    REACTOR.with_borrow_mut(|r| r.host = outer);
    // SAFETY: restores the record that was current before.
    unsafe { wasip3_task_set(previous) };
    result
}

/// Runs `f` with the record of the host task whose callback runs the
/// scheduler now current instead of ours, so that what `f` waits for joins
/// that task's set as wit-bindgen's own: its event then goes straight to its
/// callback, not through [`delegated`] and a scheduler run. Outside a
/// scheduler run of an export (wit-bindgen's record is current already, or
/// a command's) it runs `f` as is.
pub(super) fn as_host_task<R>(f: impl FnOnce() -> R) -> R {
    let Some((_, record)) = REACTOR.with_borrow(|r| r.host) else {
        return f();
    };
    // SAFETY: `record` is the record of the callback that runs the scheduler
    // now (set by `with_host_task` below us on this stack); ours goes back
    // below.
    let ours = unsafe { wasip3_task_set(record) };
    let result = f();
    // SAFETY: restores the record that was current.
    unsafe { wasip3_task_set(ours) };
    result
}

/// A host task's callback delivered the event of a waitable we delegated:
/// hand it over, then run the scheduler.
///
/// # Safety
///
/// Called by wit-bindgen with the `data` we registered (a waitable number).
unsafe extern "C" fn delegated(data: *mut c_void, code: u32) {
    let waitable = data as usize as u32;
    enum Found {
        Waiter(Entry),
        Timer(Option<HostTask>),
        Poke(Poke),
        Nothing,
    }
    let found = REACTOR.with_borrow_mut(|r| {
        if r.timer.as_ref().is_some_and(|t| t.subtask == waitable) {
            if code == abi::STATUS_RETURNED {
                abi::subtask_drop(waitable);
                return Found::Timer(r.timer.take().and_then(|t| t.host));
            }
            // Not finished yet: back into its host's set.
            if let Some(host) = r.timer.as_ref().and_then(|t| t.host.as_ref()) {
                host.register(waitable);
            }
            return Found::Nothing;
        }
        if let Some(poke) = r.pokes.remove(&waitable) {
            return Found::Poke(poke);
        }
        r.waiters
            .remove(&waitable)
            .map_or(Found::Nothing, Found::Waiter)
    });
    match found {
        Found::Waiter(entry) => deliver_to(entry.waiter, event_of(waitable, code)),
        Found::Poke(poke) => {
            abi::stream_drop_readable_unit(waitable);
            abi::stream_drop_writable_unit(poke.writable);
        }
        // The host's reference is released outside the borrow.
        Found::Timer(host) => drop(host),
        Found::Nothing => {}
    }
    if let Some(pump) = REACTOR.with_borrow(|r| r.pump) {
        pump();
    }
}

/// The event a delegated waitable had (wit-bindgen passes only its code).
fn event_of(waitable: u32, code: u32) -> Event {
    Event {
        kind: abi::EventKind::Unknown,
        waitable,
        code,
    }
}

/// Wakes `host` (not running now) so that it runs once more: it exits if it
/// has nothing else to do.
fn poke(r: &mut Reactor, host: HostTask) {
    let (readable, writable) = abi::stream_new_unit();
    let read = abi::stream_read_unit(readable);
    debug_assert_eq!(read, abi::BLOCKED, "a fresh stream has nothing to read");
    host.register(readable);
    abi::stream_write_unit(writable);
    r.pokes.insert(
        readable,
        Poke {
            writable,
            _host: host,
        },
    );
}

/// `host` lost one of our waitables: pokes it if it holds none of ours any
/// more and is not the task whose callback runs now.
fn release_host(r: &mut Reactor, host: HostTask) {
    let holds_more = r
        .waiters
        .values()
        .any(|e| e.host.as_ref().is_some_and(|h| h.is(Some(host.0))))
        || r.timer
            .as_ref()
            .and_then(|t| t.host.as_ref())
            .is_some_and(|h| h.is(Some(host.0)));
    if !holds_more && !host.is(r.host.map(|(host, _)| host)) {
        poke(r, host);
    }
}

// ---- what the platform and `wait` call ---------------------------------------

/// A `Wasip3Platform` was created: the first one sets the reactor up in
/// `mode` (command: creates the set and installs the task record).
///
/// # Panics
///
/// If a platform of the other mode is alive on this thread.
pub(super) fn attach(mode: Mode) {
    REACTOR.with_borrow_mut(|r| {
        if r.users > 0 {
            assert_eq!(
                r.mode, mode,
                "gosched: a WASIp3 component is a command (gosched::run) or serves exports, not both at once"
            );
        }
        r.users += 1;
        if r.users == 1 {
            r.mode = mode;
            if mode == Mode::Command {
                r.set = abi::waitable_set_new();
                // SAFETY: `TASK` is a valid V3 record for the program's lifetime.
                r.previous_task = unsafe { wasip3_task_set(our_task()) } as usize;
            }
        }
    });
}

/// The runtime started on a `Wasip3Platform`: `spawner` starts goroutines.
pub(super) fn set_spawner(spawner: Spawner) {
    REACTOR.with_borrow_mut(|r| r.spawner = Some(spawner));
}

/// Exports mode: `pump` runs the scheduler after a delegated event.
pub(super) fn set_pump(pump: fn()) {
    REACTOR.with_borrow_mut(|r| r.pump = Some(pump));
}

/// A `Wasip3Platform` was dropped: the last one forgets every registration
/// and drops the set.
///
/// Goroutines abandoned when `main` returned may still own pending operations
/// whose callback data lives on their (now recycled) stacks: those waitables
/// leave the set and are never reported, so nothing writes to that memory.
/// Their handles stay open in the instance (a leak, not a fault).
pub(super) fn detach() {
    let forgotten = REACTOR.with_borrow_mut(|r| {
        r.users -= 1;
        if r.users > 0 {
            return None;
        }
        let waiters = std::mem::take(&mut r.waiters);
        for (&waitable, entry) in &waiters {
            withdraw(waitable, entry.host.as_ref());
        }
        let timer_host = r.timer.take().and_then(Timer::cancel);
        if r.mode == Mode::Command {
            abi::waitable_set_drop(std::mem::take(&mut r.set));
            // SAFETY: restores the record that was current before `attach`.
            unsafe { wasip3_task_set(r.previous_task as *mut c_void) };
        }
        Some((waiters, timer_host, r.spawner.take(), r.pump.take()))
    });
    // Dropped outside the borrow: a raw waiter's Waker may run code.
    drop(forgotten);
}

/// Registers `waiter` for `waitable`'s next event; returns the previous one.
fn add_waiter(waitable: u32, waiter: Waiter) -> Option<Waiter> {
    REACTOR.with_borrow_mut(|r| {
        assert!(
            r.users > 0,
            "gosched: a WASIp3 async operation was started outside gosched::run"
        );
        if let Some(entry) = r.waiters.get_mut(&waitable) {
            // Still registered where it was: only who waits changes.
            return Some(std::mem::replace(&mut entry.waiter, waiter));
        }
        let host = match r.mode {
            Mode::Command => {
                abi::waitable_join(waitable, r.set);
                None
            }
            Mode::Exports => {
                let (host, _) = r
                    .host
                    .expect("gosched: a WASIp3 async operation was started outside an export call");
                let host = host.clone_host();
                host.register(waitable);
                Some(host)
            }
        };
        r.waiters.insert(waitable, Entry { waiter, host });
        if let Some(noted) = &mut r.noted {
            noted.push(waitable);
        }
        None
    })
}

fn remove_waiter(waitable: u32) -> Option<Waiter> {
    REACTOR.with_borrow_mut(|r| {
        let entry = r.waiters.remove(&waitable)?;
        withdraw(waitable, entry.host.as_ref());
        if let Some(host) = entry.host {
            release_host(r, host);
        }
        Some(entry.waiter)
    })
}

/// Takes `waitable` out of its set and forgets who waited for it, without
/// calling anyone; `false` if it was not registered.
pub(super) fn forget(waitable: u32) -> bool {
    remove_waiter(waitable).is_some()
}

/// Runs `f` and returns the waitables registered anew meanwhile.
pub(super) fn noting_registrations<R>(f: impl FnOnce() -> R) -> (R, Vec<u32>) {
    let outer = REACTOR.with_borrow_mut(|r| r.noted.replace(Vec::new()));
    let result = f();
    let noted = REACTOR.with_borrow_mut(|r| std::mem::replace(&mut r.noted, outer));
    (result, noted.unwrap_or_default())
}

/// Makes `wait` the receiver of `waitable`'s next event.
pub(super) fn add_raw(waitable: u32, wait: Rc<RawWait>) {
    let previous = add_waiter(waitable, Waiter::Raw(wait));
    assert!(
        previous.is_none(),
        "gosched: waitable {waitable} is already being waited for"
    );
}

/// Withdraws a raw wait that was not delivered (its future was dropped).
pub(super) fn remove_raw(waitable: u32, wait: &Rc<RawWait>) {
    let registered = REACTOR.with_borrow(
        |r| matches!(r.waiters.get(&waitable), Some(Entry { waiter: Waiter::Raw(w), .. }) if Rc::ptr_eq(w, wait)),
    );
    if registered {
        remove_waiter(waitable);
    }
}

/// How many waitables goroutines wait for (the timer does not count: the
/// scheduler knows its own timers).
pub(super) fn waiter_count() -> usize {
    REACTOR.with_borrow(|r| r.waiters.len())
}

/// The platform's idle step. Command mode: blocks in `waitable-set.wait`
/// until an event arrives or the monotonic clock reaches `deadline_ns`, then
/// delivers every event that is ready; with no deadline and nothing
/// registered, nothing could ever end the wait: answers
/// [`Idle::NothingToWaitFor`] without waiting. Exports mode: arms the timer
/// and returns to the host ([`Idle::Resume`] if the deadline has passed).
pub(super) fn wait_for_events(deadline_ns: Option<u64>) -> Idle {
    let (mode, set, passed, idle) = REACTOR.with_borrow_mut(|r| {
        let passed = !set_timer(r, deadline_ns);
        (
            r.mode,
            r.set,
            passed,
            r.waiters.is_empty() && r.timer.is_none(),
        )
    });
    if mode == Mode::Exports {
        return if passed {
            Idle::Resume
        } else {
            Idle::ReturnToHost
        };
    }
    let mut event = if passed {
        abi::waitable_set_poll(set)
    } else if idle {
        return Idle::NothingToWaitFor;
    } else {
        abi::waitable_set_wait(set)
    };
    while let Some(ready) = event {
        deliver(ready);
        event = abi::waitable_set_poll(set);
    }
    Idle::Resume
}

/// Delivers the events that are ready now, without waiting: while goroutines
/// keep the run queue busy, the scheduler still serves its waitables.
pub(super) fn poll_events() {
    // In exports mode the waitables sit in the export tasks' sets, whose
    // callbacks deliver their events; only a command owns a set to poll.
    let (set, waiting) =
        REACTOR.with_borrow(|r| (r.set, r.mode == Mode::Command && !r.waiters.is_empty()));
    if !waiting {
        return;
    }
    abi::thread_yield();
    while let Some(ready) = abi::waitable_set_poll(set) {
        deliver(ready);
    }
}

/// Makes the timer subtask match `deadline_ns`: keeps it if it already does,
/// else cancels it and starts a new `wait-until`. Returns `false` if the
/// deadline has passed already.
fn set_timer(r: &mut Reactor, deadline_ns: Option<u64>) -> bool {
    if r.timer.as_ref().map(|t| t.deadline_ns) == deadline_ns {
        return true;
    }
    if let Some(host) = r.timer.take().and_then(Timer::cancel) {
        release_host(r, host);
    }
    let Some(deadline_ns) = deadline_ns else {
        return true;
    };
    let Some(subtask) = abi::wait_until(deadline_ns) else {
        return false;
    };
    let host = match r.mode {
        Mode::Command => {
            abi::waitable_join(subtask, r.set);
            None
        }
        Mode::Exports => {
            let (host, _) = r
                .host
                .expect("gosched: the scheduler of an export ran outside its callback");
            let host = host.clone_host();
            host.register(subtask);
            Some(host)
        }
    };
    r.timer = Some(Timer {
        subtask,
        deadline_ns,
        host,
    });
    true
}

/// Takes `waitable` out of the set it is in (ours, or its host's).
fn withdraw(waitable: u32, host: Option<&HostTask>) {
    match host {
        Some(host) => host.unregister(waitable),
        None => abi::waitable_join(waitable, 0),
    }
}

impl Timer {
    /// Takes the pending subtask out of its set, then cancels and drops it
    /// (`subtask.cancel` traps on a waitable that is still in a set);
    /// returns the host that held it.
    fn cancel(self) -> Option<HostTask> {
        withdraw(self.subtask, self.host.as_ref());
        abi::cancel_subtask(self.subtask);
        self.host
    }
}

/// Command mode: hands one event to whoever waits for its waitable.
fn deliver(event: Event) {
    let waiter = REACTOR.with_borrow_mut(|r| {
        if r.timer.as_ref().map(|t| t.subtask) == Some(event.waitable) {
            if event.code == abi::STATUS_RETURNED {
                abi::waitable_join(event.waitable, 0);
                abi::subtask_drop(event.waitable);
                r.timer = None;
            }
            return None;
        }
        let entry = r.waiters.remove(&event.waitable);
        // Unknown waitables cannot be in the set; leaving it is idempotent.
        abi::waitable_join(event.waitable, 0);
        entry.map(|e| e.waiter)
    });
    if let Some(waiter) = waiter {
        deliver_to(waiter, event);
    }
}

fn deliver_to(waiter: Waiter, event: Event) {
    match waiter {
        // SAFETY: wit-bindgen keeps `data` valid until the callback runs or
        // it unregisters the waitable (which removes it from the map first).
        Waiter::Cabi { callback, data } => unsafe { callback(data, event.code) },
        Waiter::Raw(wait) => {
            wait.event.set(Some(event));
            if let Some(waker) = wait.waker.borrow_mut().take() {
                waker.wake();
            }
        }
    }
}
