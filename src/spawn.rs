//! Starting goroutines and waiting for them.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use crate::runtime::{any_scheduler, scheduler, try_scheduler, GRef, Task, WaitReason, G};

/// Runs `f` and catches its panic, except the unwinding the runtime itself
/// starts to tear a goroutine down at shutdown, which must go on.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    if result.is_err()
        && crate::runtime::try_scheduler().is_some_and(|s| s.current().cancelled.get())
    {
        panic::resume_unwind(result.err().expect("checked is_err"));
    }
    result
}

/// What a goroutine's entry does: run `f`, catching its panic, then drop its
/// goroutine-local values.
pub(crate) fn run_entry<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let result = catch(f);
    // As std's thread-locals: dropped on the goroutine's own stack, before a
    // joiner sees the result.
    crate::local::destroy_current();
    result
}

/// A goroutine's code and result slot, stored inline in its record.
pub(crate) struct Packet<F, T> {
    code: Cell<Option<F>>,
    result: RefCell<Option<std::thread::Result<T>>>,
    finished: Cell<bool>,
    /// The join handle is gone: nobody will take the result, so it is
    /// dropped as soon as it exists (the record may wait for reuse long after).
    detached: Cell<bool>,
    joiner: RefCell<Option<GRef>>,
}

impl<F: FnOnce() -> T, T> Packet<F, T> {
    pub(crate) fn new(code: F) -> Packet<F, T> {
        Packet {
            code: Cell::new(Some(code)),
            result: RefCell::new(None),
            finished: Cell::new(false),
            detached: Cell::new(false),
            joiner: RefCell::new(None),
        }
    }
}

impl<F: FnOnce() -> T, T> Task for Packet<F, T> {
    fn run(&self) {
        let code = self.code.take().expect("a goroutine runs once");
        let result = run_entry(code);
        if self.detached.get() {
            drop(result);
        } else {
            *self.result.borrow_mut() = Some(result);
        }
        self.finished.set(true);
        let joiner = self.joiner.borrow_mut().take();
        if let Some(joiner) = joiner {
            try_scheduler()
                .expect("goroutines run inside run")
                .unpark(&joiner);
        }
    }

    fn discard(&self) {
        drop(self.code.take());
    }
}

/// The typed side of a goroutine's packet, as its [`JoinHandle`] sees it.
pub(crate) trait Joinable<T> {
    fn take_result(&self) -> Option<std::thread::Result<T>>;
    fn is_finished(&self) -> bool;
    fn set_joiner(&self, joiner: GRef);
    /// The handle is dropped: drops the result now or when it comes.
    fn detach(&self);
}

impl<F, T> Joinable<T> for Packet<F, T> {
    fn take_result(&self) -> Option<std::thread::Result<T>> {
        self.result.borrow_mut().take()
    }

    fn is_finished(&self) -> bool {
        self.finished.get()
    }

    fn set_joiner(&self, joiner: GRef) {
        *self.joiner.borrow_mut() = Some(joiner);
    }

    fn detach(&self) {
        self.detached.set(true);
        // Out of the RefCell before it is dropped: its destructor is user code.
        let result = self.result.borrow_mut().take();
        drop(result);
    }
}

/// Owns the right to wait for a goroutine's result; like
/// [`std::thread::JoinHandle`]. Dropping it detaches the goroutine.
///
/// Not `Send`: goroutines and their handles belong to the thread whose
/// scheduler runs them.
///
/// ```
/// gosched::run(|| {
///     let h = gosched::go(|| 40 + 2);
///     assert_eq!(h.join().unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    g: Rc<G<dyn Joinable<T>>>,
}

impl<T> JoinHandle<T> {
    /// Parks the calling goroutine until the goroutine finishes; `Err` holds
    /// its panic payload.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let h = gosched::go(|| -> u32 { panic!("boom") });
    ///     assert!(h.join().is_err());
    /// });
    /// ```
    pub fn join(self) -> Result<T, Box<dyn Any + Send + 'static>> {
        let s = scheduler("JoinHandle::join");
        loop {
            if let Some(result) = self.g.task.take_result() {
                return result;
            }
            self.g.task.set_joiner(s.current());
            s.park(WaitReason::Join, None);
        }
    }

    /// Whether the goroutine has finished (returned or panicked).
    ///
    /// ```
    /// gosched::run(|| {
    ///     let h = gosched::go(|| ());
    ///     assert!(!h.is_finished());
    ///     gosched::yield_now();
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.g.task.is_finished()
    }

    /// The goroutine's id, as the deadlock dump shows it.
    ///
    /// ```
    /// gosched::run(|| assert!(gosched::go(|| ()).id() > 1));
    /// ```
    pub fn id(&self) -> u64 {
        self.g.id
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.g.task.detach();
    }
}

// Goroutines belong to the thread whose scheduler runs them.
static_assertions::assert_not_impl_any!(JoinHandle<u8>: Send, Sync);

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Goroutine factory with a name and a stack size; like
/// [`std::thread::Builder`].
///
/// ```
/// gosched::run(|| {
///     let h = gosched::Builder::new()
///         .name("worker".into())
///         .stack_size(64 * 1024)
///         .spawn(|| gosched::current_name())
///         .unwrap();
///     assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// });
/// ```
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until spawn is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the runtime's default stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine (shown in deadlock dumps and overflow reports).
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Usable stack size in bytes, rounded up to whole pages.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the goroutine.
    ///
    /// Its stack is taken from the thread's pool when it first runs. If none
    /// can be had then (memory or address space used up; on wasm32, linear
    /// memory's 4 GiB; on Linux before 6.13 with guarded stacks,
    /// `vm.max_map_count`), the goroutine waits until a running goroutine
    /// returns its stack. While any goroutine waits so, `spawn` returns `Err`
    /// (kind [`OutOfMemory`](io::ErrorKind::OutOfMemory)) saying why and what
    /// to change: smaller stacks, fewer goroutines alive at once, or
    /// [`Runtime::unguarded_stacks`](crate::Runtime::unguarded_stacks).
    ///
    /// # Panics
    ///
    /// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let s = any_scheduler("gosched::go");
        let g = s.spawn(self.name, self.stack_size, Packet::new(f))?;
        Ok(JoinHandle { g })
    }
}

/// Starts a goroutine running `f`; Go's `go f()`.
///
/// The closure need not be `Send`: all goroutines of a [`run`](crate::run)
/// share one thread.
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
/// While goroutines wait for a stack (see [`Builder::spawn`]), with the
/// reason.
///
/// ```
/// use std::rc::Rc;
/// gosched::run(|| {
///     let shared = Rc::new(5);
///     let mine = shared.clone();
///     let h = gosched::go(move || *mine * 2);
///     assert_eq!(h.join().unwrap(), 10);
/// });
/// ```
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("gosched::go: {e}"))
}

/// The same function as [`go`], under std's name.
///
/// ```
/// gosched::run(|| assert_eq!(gosched::spawn(|| 1).join().unwrap(), 1));
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    go(f)
}
