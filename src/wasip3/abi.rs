//! The component-model built-ins the platform calls directly (canonical ABI
//! names as wit-component 0.245 and wasmtime 49 spell them), with safe
//! wrappers. Handles are plain `u32`s: passing a wrong one traps the instance,
//! which is not undefined behaviour.

/// Subtask status codes of `subtask.cancel` and of subtask events.
pub(super) const STATUS_RETURNED: u32 = 2;
/// `waitable-set.poll` found nothing.
const EVENT_NONE: u32 = 0;

#[link(wasm_import_module = "$root")]
unsafe extern "C" {
    #[link_name = "[waitable-set-new]"]
    fn raw_waitable_set_new() -> u32;
    #[link_name = "[waitable-set-drop]"]
    fn raw_waitable_set_drop(set: u32);
    #[link_name = "[waitable-set-wait]"]
    fn raw_waitable_set_wait(set: u32, payload: *mut [u32; 2]) -> u32;
    #[link_name = "[waitable-set-poll]"]
    fn raw_waitable_set_poll(set: u32, payload: *mut [u32; 2]) -> u32;
    #[link_name = "[waitable-join]"]
    fn raw_waitable_join(waitable: u32, set: u32);
    #[link_name = "[subtask-cancel]"]
    fn raw_subtask_cancel(subtask: u32) -> u32;
    #[link_name = "[subtask-drop]"]
    fn raw_subtask_drop(subtask: u32);
    #[link_name = "[thread-yield]"]
    fn raw_thread_yield() -> u32;
}

// `stream<_>` (no element type): the pokes that wake an idle export task.
#[link(wasm_import_module = "$root")]
unsafe extern "C" {
    #[link_name = "[stream-new-unit]"]
    fn raw_stream_new_unit() -> u64;
    #[link_name = "[async-lower][stream-read-unit]"]
    fn raw_stream_read_unit(readable: u32, buffer: *mut u8, count: usize) -> u32;
    #[link_name = "[async-lower][stream-write-unit]"]
    fn raw_stream_write_unit(writable: u32, buffer: *const u8, count: usize) -> u32;
    #[link_name = "[stream-drop-readable-unit]"]
    fn raw_stream_drop_readable_unit(readable: u32);
    #[link_name = "[stream-drop-writable-unit]"]
    fn raw_stream_drop_writable_unit(writable: u32);
}

#[link(wasm_import_module = "wasi:clocks/monotonic-clock@0.3.0")]
unsafe extern "C" {
    #[link_name = "[async-lower]wait-until"]
    fn raw_wait_until(when: u64) -> u32;
}

pub(super) fn waitable_set_new() -> u32 {
    // SAFETY: no arguments; returns a fresh handle.
    unsafe { raw_waitable_set_new() }
}

pub(super) fn waitable_set_drop(set: u32) {
    // SAFETY: handle-only built-in (a stale handle traps, it is not UB).
    unsafe { raw_waitable_set_drop(set) }
}

/// Adds `waitable` to `set`, or removes it from its set when `set` is 0.
pub(super) fn waitable_join(waitable: u32, set: u32) {
    // SAFETY: handle-only built-in.
    unsafe { raw_waitable_join(waitable, set) }
}

/// Blocks the instance until a member of `set` has an event.
pub(super) fn waitable_set_wait(set: u32) -> Option<Event> {
    let mut payload = [0u32; 2];
    // SAFETY: `payload` is valid for the two u32 the built-in writes.
    let kind = unsafe { raw_waitable_set_wait(set, &mut payload) };
    event(kind, payload)
}

/// The next event of `set` if one is ready, without blocking.
pub(super) fn waitable_set_poll(set: u32) -> Option<Event> {
    let mut payload = [0u32; 2];
    // SAFETY: as in `waitable_set_wait`.
    let kind = unsafe { raw_waitable_set_poll(set, &mut payload) };
    event(kind, payload)
}

/// Lets the host run its side of pending operations (wasmtime moves socket
/// data only while the instance waits or yields), then returns.
pub(super) fn thread_yield() {
    // SAFETY: no arguments; the result (whether the task was cancelled)
    // does not apply to the sync-lifted `run` export.
    unsafe { raw_thread_yield() };
}

fn event(kind: u32, [waitable, code]: [u32; 2]) -> Option<Event> {
    (kind != EVENT_NONE).then(|| Event {
        kind: EventKind::from_raw(kind),
        waitable,
        code,
    })
}

/// Cancels a subtask that has not delivered its `RETURNED` event yet and drops
/// its handle. The caller has removed it from its set (`subtask.cancel`
/// traps on a waitable that is still in one).
pub(super) fn cancel_subtask(subtask: u32) {
    // SAFETY: handle-only built-ins. `subtask.cancel` is synchronous: it
    // returns once the subtask is resolved (returned or cancelled).
    unsafe {
        raw_subtask_cancel(subtask);
        raw_subtask_drop(subtask);
    }
}

/// A stream or future operation did not complete at once.
pub(super) const BLOCKED: u32 = 0xffff_ffff;

/// A new `stream<_>`: (readable end, writable end).
pub(super) fn stream_new_unit() -> (u32, u32) {
    // SAFETY: no arguments; returns `readable | writable << 32`.
    let ends = unsafe { raw_stream_new_unit() };
    (ends as u32, (ends >> 32) as u32)
}

/// Starts reading one unit item; [`BLOCKED`] until a writer writes.
pub(super) fn stream_read_unit(readable: u32) -> u32 {
    // SAFETY: unit items occupy no memory: the buffer is never touched.
    unsafe { raw_stream_read_unit(readable, std::ptr::NonNull::dangling().as_ptr(), 1) }
}

/// Writes one unit item (completes at once when a read is pending).
pub(super) fn stream_write_unit(writable: u32) -> u32 {
    // SAFETY: as in `stream_read_unit`.
    unsafe { raw_stream_write_unit(writable, std::ptr::NonNull::dangling().as_ptr(), 1) }
}

pub(super) fn stream_drop_readable_unit(readable: u32) {
    // SAFETY: handle-only built-in.
    unsafe { raw_stream_drop_readable_unit(readable) }
}

pub(super) fn stream_drop_writable_unit(writable: u32) {
    // SAFETY: handle-only built-in.
    unsafe { raw_stream_drop_writable_unit(writable) }
}

pub(super) fn subtask_drop(subtask: u32) {
    // SAFETY: handle-only built-in.
    unsafe { raw_subtask_drop(subtask) }
}

/// Starts `wasi:clocks/monotonic-clock@0.3.0#wait-until(when_ns)`; the subtask
/// handle, or `None` if it returned at once (the time has passed).
pub(super) fn wait_until(when_ns: u64) -> Option<u32> {
    // SAFETY: one scalar argument, no memory; returns `status | handle << 4`.
    let packed = unsafe { raw_wait_until(when_ns) };
    (packed & 0xf != STATUS_RETURNED).then_some(packed >> 4)
}

/// What a waitable's event reports (`waitable-set.wait`'s event codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A subtask (an async-lowered import call) changed state; `code` is its
    /// status: 1 started, 2 returned, 3/4 cancelled.
    Subtask,
    /// A stream read finished; `code` is `count << 4 | result`.
    StreamRead,
    /// A stream write finished; `code` is `count << 4 | result`.
    StreamWrite,
    /// A future read finished; `code` is its result.
    FutureRead,
    /// A future write finished; `code` is its result.
    FutureWrite,
    /// A code this version does not know.
    Other(u32),
    /// Not known: in a component that serves exports, the event reaches
    /// gosched through the export task's wit-bindgen executor, which passes
    /// on only the code.
    Unknown,
}

impl EventKind {
    fn from_raw(kind: u32) -> EventKind {
        match kind {
            1 => EventKind::Subtask,
            2 => EventKind::StreamRead,
            3 => EventKind::StreamWrite,
            4 => EventKind::FutureRead,
            5 => EventKind::FutureWrite,
            other => EventKind::Other(other),
        }
    }
}

/// One event of a waitable, as `gosched::wasip3::wait` returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The waitable handle the event is about.
    pub waitable: u32,
    /// The event's payload (a status, or a count and result).
    pub code: u32,
}
