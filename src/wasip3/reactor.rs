//! The scheduler's waitable-set and the task record through which
//! wit-bindgen's async imports register their waitables with it.
//!
//! wit-bindgen (0.61 and later, here 0.62 inside the `wasip3` crate) does not
//! talk to an executor of its own when an import future is pending: it asks
//! the C hook `wasip3_task_set` for "the current task" and calls the task's
//! `waitable_register(ptr, waitable, callback, callback_ptr)`. We install one
//! record for the whole scheduler, so every pending import, stream or future
//! operation lands in our waitable-set, and the idle hook calls its callback
//! (which wakes the goroutine's `Waker`) when its event comes.
//!
//! The record is version 3 (wit-bindgen 0.63): a V2 record plus a
//! `rust_spawn` hook, which runs `wit_bindgen::spawn_local`'s futures on new
//! goroutines. Older wit-bindgens read it as the V2 prefix it starts with.
//!
//! Invariants:
//! * a waitable in `waiters` is joined to the set; one that is not is not;
//! * an event is delivered at most once: the waitable leaves the set and the
//!   map before its callback runs (wit-bindgen re-registers it when the
//!   operation is not finished yet);
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
}

#[derive(Default)]
struct Reactor {
    /// Live `Wasip3Platform`s; the set exists while this is non-zero.
    users: usize,
    set: u32,
    waiters: BTreeMap<u32, Waiter>,
    timer: Option<Timer>,
    /// The task record that was installed before ours.
    previous_task: usize,
    /// Runs `wit_bindgen::spawn_local`'s futures; handed down by the runtime.
    spawner: Option<Spawner>,
}

thread_local! {
    static REACTOR: RefCell<Reactor> = RefCell::new(Reactor::default());
}

// ---- the wit-bindgen task record (`wasip3_task`, version 3) ----------------

const WASIP3_TASK_V3: u32 = 3;

type RegisterFn = unsafe extern "C" fn(*mut c_void, u32, CabiCallback, *mut c_void) -> *mut c_void;
type UnregisterFn = unsafe extern "C" fn(*mut c_void, u32) -> *mut c_void;

/// A future handed to the spawn hook.
type HookFuture = Box<dyn std::future::Future<Output = ()>>;

/// `wasip3_task_v3` of wit-bindgen 0.63's `rt/async_support/cabi.rs` (the
/// same fields as `wasip3_task_v2`, with a longer vtable).
#[repr(C)]
struct TaskRecord {
    version: u32,
    ptr: *mut c_void,
    waitable_register: RegisterFn,
    waitable_unregister: UnregisterFn,
    vtable: &'static Vtable,
}

/// `wasip3_task_vtable_v3`: `wasip3_task_vtable` (V2) followed by the spawn
/// hook, which uses the Rust ABI (every crate in the module is built by the
/// same rustc).
#[repr(C)]
struct Vtable {
    waitable_register: RegisterFn,
    waitable_unregister: UnregisterFn,
    clone: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    drop: unsafe extern "C" fn(*mut c_void),
    rust_spawn: Option<unsafe fn(*mut c_void, HookFuture)>,
}

/// The record only holds function pointers and a null `ptr`; nothing ever
/// writes to it (wit-bindgen reads it through the `*mut` it is handed).
struct SharedTask(TaskRecord);
// SAFETY: immutable plain data (wasm32 has one thread anyway).
unsafe impl Sync for SharedTask {}

static VTABLE: Vtable = Vtable {
    waitable_register: register,
    waitable_unregister: unregister,
    clone: task_clone,
    drop: task_drop,
    rust_spawn: Some(spawn),
};

static TASK: SharedTask = SharedTask(TaskRecord {
    version: WASIP3_TASK_V3,
    // The reactor is per thread; the record needs no state of its own.
    ptr: std::ptr::null_mut(),
    waitable_register: register,
    waitable_unregister: unregister,
    vtable: &VTABLE,
});

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

// ---- what the platform and `wait` call ---------------------------------------

/// A `Wasip3Platform` was created: the first one creates the set and installs
/// the task record.
pub(super) fn attach() {
    REACTOR.with_borrow_mut(|r| {
        r.users += 1;
        if r.users == 1 {
            r.set = abi::waitable_set_new();
            let task = std::ptr::addr_of!(TASK.0).cast_mut().cast::<c_void>();
            // SAFETY: `TASK` is a valid V3 record for the program's lifetime.
            r.previous_task = unsafe { wasip3_task_set(task) } as usize;
        }
    });
}

/// The runtime started on a `Wasip3Platform`: `spawner` starts goroutines.
pub(super) fn set_spawner(spawner: Spawner) {
    REACTOR.with_borrow_mut(|r| r.spawner = Some(spawner));
}

/// A `Wasip3Platform` was dropped: the last one forgets every registration
/// and drops the set.
///
/// Goroutines abandoned when `main` returned may still own pending operations
/// whose callback data lives on their (now recycled) stacks: those waitables
/// leave the set and are never reported, so nothing writes to that memory.
/// Their handles stay open in the instance (a leak, not a fault).
pub(super) fn detach() {
    let waiters = REACTOR.with_borrow_mut(|r| {
        r.users -= 1;
        if r.users > 0 {
            return (BTreeMap::new(), None);
        }
        for &waitable in r.waiters.keys() {
            abi::waitable_join(waitable, 0);
        }
        if let Some(timer) = r.timer.take() {
            // A waitable in a set cannot be cancelled synchronously.
            abi::waitable_join(timer.subtask, 0);
            abi::cancel_subtask(timer.subtask);
        }
        abi::waitable_set_drop(std::mem::take(&mut r.set));
        // SAFETY: restores the record that was current before `attach`.
        unsafe { wasip3_task_set(r.previous_task as *mut c_void) };
        (std::mem::take(&mut r.waiters), r.spawner.take())
    });
    // Dropped outside the borrow: a raw waiter's Waker may run code.
    drop(waiters);
}

/// Registers `waiter` for `waitable`'s next event; returns the previous one.
fn add_waiter(waitable: u32, waiter: Waiter) -> Option<Waiter> {
    REACTOR.with_borrow_mut(|r| {
        assert!(
            r.users > 0,
            "gosched: a WASIp3 async operation was started outside gosched::run"
        );
        let previous = r.waiters.insert(waitable, waiter);
        if previous.is_none() {
            abi::waitable_join(waitable, r.set);
        }
        previous
    })
}

fn remove_waiter(waitable: u32) -> Option<Waiter> {
    REACTOR.with_borrow_mut(|r| {
        let waiter = r.waiters.remove(&waitable);
        if waiter.is_some() {
            abi::waitable_join(waitable, 0);
        }
        waiter
    })
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
        |r| matches!(r.waiters.get(&waitable), Some(Waiter::Raw(w)) if Rc::ptr_eq(w, wait)),
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

/// Blocks in `waitable-set.wait` until an event arrives or the monotonic clock
/// reaches `deadline_ns`, then delivers every event that is ready. With no
/// deadline and nothing registered, nothing could ever end the wait: answers
/// [`Idle::NothingToWaitFor`] without waiting.
pub(super) fn wait_for_events(deadline_ns: Option<u64>) -> Idle {
    let (set, passed, idle) = REACTOR.with_borrow_mut(|r| {
        let passed = !set_timer(r, deadline_ns);
        (r.set, passed, r.waiters.is_empty() && r.timer.is_none())
    });
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
    let (set, waiting) = REACTOR.with_borrow(|r| (r.set, !r.waiters.is_empty()));
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
    if let Some(timer) = r.timer.take() {
        abi::waitable_join(timer.subtask, 0);
        abi::cancel_subtask(timer.subtask);
    }
    let Some(deadline_ns) = deadline_ns else {
        return true;
    };
    let Some(subtask) = abi::wait_until(deadline_ns) else {
        return false;
    };
    abi::waitable_join(subtask, r.set);
    r.timer = Some(Timer {
        subtask,
        deadline_ns,
    });
    true
}

/// Hands one event to whoever waits for its waitable.
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
        let waiter = r.waiters.remove(&event.waitable);
        // Unknown waitables cannot be in the set; leaving it is idempotent.
        abi::waitable_join(event.waitable, 0);
        waiter
    });
    match waiter {
        // SAFETY: wit-bindgen keeps `data` valid until the callback runs or
        // it unregisters the waitable (which removes it from the map first).
        Some(Waiter::Cabi { callback, data }) => unsafe { callback(data, event.code) },
        Some(Waiter::Raw(wait)) => {
            wait.event.set(Some(event));
            if let Some(waker) = wait.waker.borrow_mut().take() {
                waker.wake();
            }
        }
        None => {}
    }
}
