//! The callback-lifted `wasi:http/handler@0.3.0#handle` export: one
//! component-model task per request, one goroutine per task, one scheduler
//! for all of them.
//!
//! A callback-lifted export never blocks: each entry (`start`, `callback`)
//! runs the scheduler until no goroutine can run ([`Program::poll`] with a
//! platform that returns to its host), then tells the host EXIT or WAIT on a
//! waitable-set. A task may `task.return` only for itself, and the host gives
//! a set's event to whichever task waits on that set (wasmtime 49 traps,
//! "BUG: delivering non-present event", if another task takes it first).
//! Hence:
//!
//! Invariants:
//! * every pending task waits on a set of its own, and only it polls that
//!   set;
//! * a waitable joins the set of the task during whose entry it was
//!   registered (the reactor's current set), so a request's own operations
//!   wake its own task; a task that ends hands the operations still pending
//!   in its set to a waiting task, or parks them in the scheduler's first set
//!   until the next entry adopts them;
//! * each task's set also holds its *wake stream*'s pending read (a
//!   `stream<unit>`), so any entry can wake any task by writing one unit;
//! * a task returns its response, and ends, only in its own entry.
//!
//! Protocol of one entry of task T:
//!
//! 1. `start` makes the task's record (its set, its wake stream) and starts
//!    the handler goroutine; `callback` takes the record back from context
//!    slot 0. T's set becomes the reactor's current set; parked operations
//!    move into it. The host's event is delivered: T's wake read completed,
//!    an operation of T's set finished, or CANCEL (T ends with
//!    `task.cancel`; its goroutine runs on and its response is dropped).
//! 2. The scheduler runs until idle, polling T's set without blocking.
//! 3. If T's response is ready: `task.return(ok(response))`, and the
//!    scheduler runs again: the body can be written now that the host has
//!    the response.
//! 4. Every other task whose response is ready, or whose goroutine finished,
//!    is woken.
//! 5. If T's goroutine has written the whole body: T's operations go to a
//!    waiting task (or are parked), its record is torn down; EXIT. Otherwise
//!    T re-arms its wake read and waits on its set: WAIT.
//!
//! With no request in flight no task waits: background goroutines (timers,
//! imports) make progress again at the next request.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Poll;

use super::super::abi::{self, Event};
use super::super::bindings::http::types as wasi;
use super::super::{reactor, Wasip3Platform};
use super::{respond, Handler};
use crate::Program;

const EVENT_NONE: u32 = 0;
const EVENT_CANCEL: u32 = 6;
const CALLBACK_EXIT: u32 = 0;
const CALLBACK_WAIT: u32 = 2;
/// A unit write whose reader was waiting: completed, one item.
const WROTE_ONE: u32 = 1 << 4;
/// A stream operation that has not completed yet.
const BLOCKED: u32 = u32::MAX;

#[link(wasm_import_module = "$root")]
unsafe extern "C" {
    #[link_name = "[context-get-0]"]
    fn context_get() -> *mut u8;
    #[link_name = "[context-set-0]"]
    fn context_set(value: *mut u8);
    #[link_name = "[stream-new-unit]"]
    fn unit_stream_new() -> u64;
    #[link_name = "[async-lower][stream-read-unit]"]
    fn unit_stream_read(stream: u32, buffer: *mut u8, count: usize) -> u32;
    #[link_name = "[async-lower][stream-write-unit]"]
    fn unit_stream_write(stream: u32, buffer: *const u8, count: usize) -> u32;
    #[link_name = "[stream-cancel-read-unit]"]
    fn unit_stream_cancel_read(stream: u32) -> u32;
    #[link_name = "[stream-drop-readable-unit]"]
    fn unit_stream_drop_readable(stream: u32);
    #[link_name = "[stream-drop-writable-unit]"]
    fn unit_stream_drop_writable(stream: u32);
}

#[link(wasm_import_module = "[export]wasi:http/handler@0.3.0")]
unsafe extern "C" {
    /// `task.return` of `handle`: `result<response, error-code>` flattened;
    /// `Ok(response)` is discriminant 0 and the handle, the rest unused.
    #[link_name = "[task-return]handle"]
    fn task_return(tag: i32, handle: i32, a: i32, b: u64, c: i32, d: i32, e: i32, f: i32);
}

#[link(wasm_import_module = "[export]$root")]
unsafe extern "C" {
    #[link_name = "[task-cancel]"]
    fn task_cancel();
}

/// Encoded WIT of `world service-export { export wasi:http/handler@0.3.0; }`
/// (src/wasip3/http/service-export.wit; tools/wasip3-run --check-type).
#[used]
#[unsafe(link_section = "component-type:gosched:wasip3@0.1.0:service-export")]
static SERVICE_EXPORT_TYPE: [u8; include_bytes!("service-export.component-type").len()] =
    *include_bytes!("service-export.component-type");

/// One request's task.
struct Call {
    /// The response resource, once the handler goroutine has made it and
    /// until `task.return` sends it.
    response: Cell<Option<u32>>,
    /// The goroutine has written the whole body: the task may end.
    finished: Cell<bool>,
    /// The task's own waitable-set (its wake read waits there unless it polls).
    set: u32,
    wake_reader: u32,
    wake_writer: u32,
    reading: Cell<bool>,
    /// A unit was written and its event has not been seen yet.
    woken: Cell<bool>,
}

impl Call {
    fn new() -> Call {
        // SAFETY: no arguments; returns the readable end in the low half and
        // the writable end in the high half.
        let ends = unsafe { unit_stream_new() };
        Call {
            response: Cell::new(None),
            finished: Cell::new(false),
            set: abi::waitable_set_new(),
            wake_reader: ends as u32,
            wake_writer: (ends >> 32) as u32,
            reading: Cell::new(false),
            woken: Cell::new(false),
        }
    }

    /// Whether the task has something to do in its own entry: return its
    /// response, or end.
    fn ready(&self) -> bool {
        self.response.get().is_some() || self.finished.get()
    }

    /// Makes sure a read is pending on the wake stream.
    fn arm(&self) {
        if !self.reading.get() {
            // SAFETY: a unit read has no buffer to write to.
            let status = unsafe { unit_stream_read(self.wake_reader, std::ptr::null_mut(), 1) };
            assert_eq!(status, BLOCKED, "gosched: wake stream read did not block");
            self.reading.set(true);
        }
    }

    /// Wakes the task: completes its pending wake read.
    fn wake(&self) {
        if self.reading.get() && !self.woken.get() {
            // SAFETY: a unit write has no buffer to read from.
            let status = unsafe { unit_stream_write(self.wake_writer, std::ptr::null(), 1) };
            assert_eq!(
                status, WROTE_ONE,
                "gosched: wake stream write did not complete"
            );
            self.woken.set(true);
        }
    }

    /// The host delivered the wake read's completion.
    fn woke(&self) {
        self.reading.set(false);
        self.woken.set(false);
    }

    /// Releases the wake stream and the set (the task is ending).
    fn tear_down(&self) {
        abi::waitable_join(self.wake_reader, 0);
        // SAFETY: handle-only built-ins on handles this record owns; the read
        // is cancelled (out of any set, as required) before its end is dropped.
        unsafe {
            if self.reading.replace(false) {
                unit_stream_cancel_read(self.wake_reader);
            }
            unit_stream_drop_readable(self.wake_reader);
            unit_stream_drop_writable(self.wake_writer);
        }
        abi::waitable_set_drop(self.set);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // A response whose task was cancelled: nobody will take it.
        if let Some(handle) = self.response.take() {
            // SAFETY: the handler goroutine gave up this owned handle.
            drop(unsafe { wasi::Response::from_handle(handle) });
        }
    }
}

struct Driver {
    program: Program<()>,
    pending: Vec<Rc<Call>>,
}

thread_local! {
    static DRIVER: RefCell<Option<Driver>> = const { RefCell::new(None) };
}

/// `[async-lift]wasi:http/handler@0.3.0#handle`: starts a request's task.
///
/// # Safety
///
/// Called by the host (through [`service!`](super::service)) with an owned
/// `request` handle, once per task.
pub unsafe fn start(request: u32, handler: Handler, init: fn()) -> u32 {
    std::hint::black_box(SERVICE_EXPORT_TYPE.as_ptr());
    super::super::bindings::wit_bindgen::rt::run_ctors_once();
    let call = Rc::new(Call::new());
    DRIVER.with_borrow_mut(|driver| {
        let driver = driver.get_or_insert_with(|| Driver::new(init));
        driver.pending.push(call.clone());
        let done = call.clone();
        driver.program.enter(|| {
            crate::go(move || {
                // SAFETY: the host gave this task the handle.
                let request = unsafe { wasi::Request::from_handle(request) };
                let (response, send_body) = respond(request, handler);
                done.response.set(Some(response.take_handle()));
                // Blocks until the host reads, after `task.return`.
                send_body();
                done.finished.set(true);
            })
        });
        driver.step(&call, None)
    })
}

/// `[callback][async-lift]wasi:http/handler@0.3.0#handle`: an event for a
/// task that `start` began.
///
/// # Safety
///
/// Called by the host only for tasks whose context slot 0 `start` or an
/// earlier callback set.
pub unsafe fn callback(event: u32, waitable: u32, code: u32) -> u32 {
    // SAFETY: slot 0 holds the `Rc<Call>` leaked when the task last waited.
    let call = unsafe {
        let raw = context_get();
        context_set(std::ptr::null_mut());
        Rc::from_raw(raw.cast::<Call>())
    };
    DRIVER.with_borrow_mut(|driver| {
        let driver = driver
            .as_mut()
            .expect("gosched: http callback before start");
        if event == EVENT_CANCEL {
            driver.finish(&call);
            // SAFETY: ends this task, which has not returned.
            unsafe { task_cancel() };
            return CALLBACK_EXIT;
        }
        let event = (event != EVENT_NONE).then(|| abi::event_of(event, waitable, code));
        driver.step(&call, event)
    })
}

impl Driver {
    fn new(init: fn()) -> Driver {
        let program = crate::Runtime::new()
            .platform(Wasip3Platform::for_exports())
            .start(move || {
                init();
                // Main stays parked: its return would end the scheduler.
                let (_keep, never) = crate::chan::<()>(0);
                let _ = never.recv();
            });
        Driver {
            program,
            pending: Vec::new(),
        }
    }

    /// Steps 1-5 for `call`, with the host's `event` if any.
    fn step(&mut self, call: &Rc<Call>, event: Option<Event>) -> u32 {
        reactor::use_set(call.set);
        // Operations left behind while no task ran: this task waits for them.
        reactor::rehome(reactor::parked_set(), call.set);
        match event {
            Some(event) if event.waitable == call.wake_reader => call.woke(),
            Some(event) => self.program.enter(|| reactor::deliver(event)),
            None => {}
        }
        self.run();
        if let Some(response) = call.response.take() {
            // SAFETY: `Ok(response)` for this task, which is current.
            unsafe { task_return(0, response as i32, 0, 0, 0, 0, 0, 0) };
            // The body writer can go on now that the host has the response.
            self.run();
        }
        for other in &self.pending {
            if !Rc::ptr_eq(other, call) && other.ready() {
                other.wake();
            }
        }
        let code = if call.finished.get() {
            self.finish(call);
            CALLBACK_EXIT
        } else {
            call.arm();
            abi::waitable_join(call.wake_reader, call.set);
            // SAFETY: the callback takes this reference back.
            unsafe { context_set(Rc::into_raw(call.clone()).cast_mut().cast()) };
            CALLBACK_WAIT | (call.set << 4)
        };
        reactor::use_set(reactor::parked_set());
        code
    }

    /// Runs goroutines until none can run; notes the wake reads that the
    /// scheduler's polling completed (a task's own read sits in its set).
    fn run(&mut self) {
        if let Poll::Ready(()) = self.program.poll() {
            unreachable!("gosched: the http service's main goroutine returned");
        }
        for event in reactor::take_foreign_events() {
            if let Some(call) = self
                .pending
                .iter()
                .find(|c| c.wake_reader == event.waitable)
            {
                call.woke();
            }
        }
    }

    /// Forgets an ending task; its pending operations move to a task that
    /// waits, or are parked until the next one.
    fn finish(&mut self, call: &Rc<Call>) {
        self.pending.retain(|other| !Rc::ptr_eq(other, call));
        let heir = self
            .pending
            .first()
            .map_or(reactor::parked_set(), |next| next.set);
        reactor::rehome(call.set, heir);
        call.tear_down();
    }
}
