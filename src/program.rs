//! Starting a scheduler: [`Runtime`] configures one, [`Runtime::run`] runs it
//! to completion on a blocking platform, and [`Program`] lets a host that must
//! keep control (a JS event loop, a callback-lifted component export) drive
//! it step by step.
//!
//! This is where the layers meet: the scheduler runs `Task`s without knowing
//! what they return; here the main goroutine is a typed [`Packet`] whose
//! result `poll` hands back, and the platform is given a [`Spawner`] built on
//! [`go`](crate::go) and [`block_on`](crate::block_on).

use std::fmt;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use crate::coro::StackKind;
use crate::platform::{Platform, Spawner};
use crate::runtime::{Enter, GRef, Scheduler, Stop, DEFAULT_STACK_SIZE, G};
use crate::spawn::{Joinable, Packet};

/// Configures and starts a scheduler: the platform, default stack size and
/// stack kind. [`crate::run`] is `Runtime::new().run(f)`.
///
/// ```
/// let answer = gosched::Runtime::new().stack_size(64 * 1024).run(|| 6 * 7);
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    platform: Option<Box<dyn Platform>>,
    stack_size: usize,
    stack_kind: StackKind,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("stack_size", &self.stack_size)
            .field("stack_kind", &self.stack_kind)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// The target's default platform, 256 KiB stacks (guard-paged natively;
    /// on wasm32, whose memory cannot be protected, canary-checked).
    pub fn new() -> Runtime {
        Runtime {
            platform: None,
            stack_size: DEFAULT_STACK_SIZE,
            stack_kind: StackKind::DEFAULT,
        }
    }

    /// The platform [`Runtime::new`] runs on for this target: `NativePlatform`,
    /// `Wasip1Platform`, the JS host's `JsPlatform` or the WASIp3 host's
    /// `Wasip3Platform`.
    ///
    /// ```
    /// let platform = gosched::Runtime::default_platform();
    /// assert_eq!(gosched::Runtime::new().platform(platform).run(|| 7), 7);
    /// ```
    pub fn default_platform() -> Box<dyn Platform> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            Box::new(crate::platform::NativePlatform::new())
        }
        #[cfg(all(target_os = "wasi", target_env = "p1"))]
        {
            Box::new(crate::platform::Wasip1Platform::new())
        }
        #[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
        {
            Box::new(crate::wasip3::platform::Wasip3Platform::new())
        }
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        {
            Box::new(crate::js::platform::JsPlatform::new())
        }
    }

    /// Runs on `platform` instead of the target's default.
    pub fn platform(mut self, platform: impl Platform) -> Runtime {
        self.platform = Some(Box::new(platform));
        self
    }

    /// Default stack size of goroutines (rounded up to whole pages);
    /// [`Builder::stack_size`](crate::Builder::stack_size) overrides it per goroutine.
    pub fn stack_size(mut self, bytes: usize) -> Runtime {
        self.stack_size = bytes;
        self
    }

    /// Gives goroutines stacks without guard pages, packed half a page
    /// tighter: a canary at the bottom of each stack detects an overflow at
    /// the goroutine's next switch and aborts the process with a message.
    /// Guarded stacks need Linux 6.13 or later to hold a million goroutines
    /// (before it, each costs two kernel mappings and `vm.max_map_count`
    /// stops them near 28k); unguarded ones hold a million everywhere, and
    /// with small stacks (`stack_size(16 * 1024)`) cost less memory each
    /// (docs/benchmarks.md, "A million goroutines").
    ///
    /// # Safety
    ///
    /// No goroutine may use more stack than it was given: without a guard page,
    /// an overflow writes into the neighbouring stack before the canary check
    /// can see it, and the code that runs in between sees corrupted memory.
    ///
    /// ```
    /// // SAFETY: these goroutines use a few hundred bytes of their 16 KiB.
    /// let rt = unsafe { gosched::Runtime::new().stack_size(16 * 1024).unguarded_stacks() };
    /// let n = rt.run(|| {
    ///     let hs: Vec<_> = (0..1000).map(|i| gosched::go(move || i)).collect();
    ///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    /// });
    /// assert_eq!(n, 499_500);
    /// ```
    pub unsafe fn unguarded_stacks(mut self) -> Runtime {
        self.stack_kind = StackKind::Slab;
        self
    }

    /// Runs `main` as the main goroutine on this thread and returns its value
    /// once it returns; goroutines still alive then are unwound, as Go abandons
    /// them at exit.
    ///
    /// # Panics
    ///
    /// When called inside a goroutine; when every goroutine is blocked and
    /// nothing can wake them (the message lists each goroutine and what it
    /// waits for); with the main goroutine's panic if it panics; and if the
    /// platform returns to its host when idle (use [`Runtime::start`]).
    pub fn run<T: 'static>(self, main: impl FnOnce() -> T + 'static) -> T {
        match self.start(main).poll() {
            Poll::Ready(value) => value,
            Poll::Pending => panic!(
                "gosched::run: this platform returns to its host when idle; \
                 drive the runtime with Runtime::start and Program::poll instead"
            ),
        }
    }

    /// Creates the scheduler and its main goroutine without running anything;
    /// [`Program::poll`] runs it.
    ///
    /// ```
    /// use std::task::Poll;
    /// let mut program = gosched::Runtime::new().start(|| 6 * 7);
    /// assert_eq!(program.poll(), Poll::Ready(42));
    /// ```
    pub fn start<T: 'static>(self, main: impl FnOnce() -> T + 'static) -> Program<T> {
        // Miri cannot run coroutines nor install signal handlers; it checks
        // only what runs without switching (tests/without_switching.rs).
        #[cfg(not(any(target_arch = "wasm32", miri)))]
        crate::coro::install_overflow_handler();
        let platform = self.platform.unwrap_or_else(Runtime::default_platform);
        let scheduler = Box::new(Scheduler::new(platform, self.stack_size, self.stack_kind));
        let main = {
            let _enter = Enter::new(&scheduler);
            let main = scheduler
                .spawn(Some("main".to_owned()), None, Packet::new(main))
                .expect("a new scheduler has no goroutine waiting for a stack");
            scheduler.attach_platform(Spawner::new(|future| {
                crate::go(move || crate::block_on(future));
            }));
            main
        };
        Program {
            scheduler,
            main_g: main.clone(),
            main: Some(main),
            finished: false,
        }
    }
}

/// A started runtime that its host drives: each [`poll`](Program::poll) runs
/// goroutines until the main goroutine returns or the platform asks to give
/// control back.
///
/// Dropping a `Program` unwinds the goroutines still alive. Not `Send`: it
/// must be polled on the thread that started it.
pub struct Program<T> {
    // Boxed: goroutines reach the scheduler through a thread-local pointer,
    // so it must not move while the program is polled.
    scheduler: Box<Scheduler>,
    main: Option<Rc<G<dyn Joinable<T>>>>,
    /// The same goroutine as `main`, seen as a scheduler entry.
    main_g: GRef,
    finished: bool,
}

impl<T> Program<T> {
    /// Runs goroutines until the main goroutine returns (`Ready` with its
    /// value) or the platform returns to its host (`Pending`: poll again
    /// when the host has delivered an event or [`next_deadline`] passed).
    ///
    /// [`next_deadline`]: Program::next_deadline
    ///
    /// # Panics
    ///
    /// Inside a goroutine or another `poll`; after it returned `Ready`; on a
    /// deadlock (with the goroutine dump); with the main goroutine's panic.
    pub fn poll(&mut self) -> Poll<T> {
        assert!(
            !self.finished,
            "gosched: Program polled after its main goroutine returned"
        );
        let stop = {
            let _enter = Enter::new(&self.scheduler);
            self.scheduler.run_until_dead(&self.main_g)
        };
        match stop {
            Stop::ReturnToHost => Poll::Pending,
            Stop::Deadlock(dump) => {
                self.shut_down();
                panic!("{dump}");
            }
            Stop::MainReturned => {
                self.shut_down();
                let main = self.main.take().expect("main goroutine");
                match main
                    .task
                    .take_result()
                    .expect("the main goroutine finished")
                {
                    Ok(value) => Poll::Ready(value),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        }
    }

    /// When the earliest timer fires, on the platform clock: the host should
    /// poll again then at the latest.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.scheduler.next_deadline()
    }

    /// Runs `f` with this program's scheduler active, outside any goroutine:
    /// for host callbacks that start goroutines or use non-blocking channel
    /// operations. Goroutines made runnable run at the next `poll`.
    ///
    /// ```
    /// use std::task::Poll;
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let seen = Rc::new(Cell::new(0));
    /// let mut program = gosched::Runtime::new().start(|| ());
    /// let s = seen.clone();
    /// program.enter(|| gosched::go(move || s.set(1)));
    /// assert_eq!(program.poll(), Poll::Ready(()));
    /// ```
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _enter = Enter::new(&self.scheduler);
        f()
    }

    /// Unwinds every goroutine still alive (their destructors run).
    fn shut_down(&mut self) {
        if !self.finished {
            self.finished = true;
            let _enter = Enter::new(&self.scheduler);
            self.scheduler.teardown();
        }
    }
}

// The scheduler is per thread: a program must be polled where it started.
static_assertions::assert_not_impl_any!(Program<u8>: Send, Sync);

impl<T> Drop for Program<T> {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl<T> fmt::Debug for Program<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
