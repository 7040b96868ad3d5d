//! Native backend on x86_64 and AArch64 Linux: our own stack switch on a
//! pooled [`Stack`], symmetric, so that a goroutine can hand over straight
//! to another ([`hand_off`]) instead of going through the scheduler's stack.
//! Other targets use corosensei (`native.rs`); src/coro/mod.rs chooses.
//!
//! A switch (inline asm, in the per-architecture file) saves the callee-saved
//! registers on the current stack (or has the compiler save the live ones),
//! stores the stack pointer in the switching side's slot, loads the other
//! side's and continues where that side left off, passing one word along: what the resumer asks ([`RUN`], or unwind: the
//! coroutine's address), or how a coroutine came back ([`SUSPENDED`],
//! [`FINISHED`], or a panic).
//!
//! A fresh stack, from its top (x86_64; AArch64 orders its 32-byte frame as
//! drawn in `aarch64.rs`):
//!
//! ```text
//!  top  (Stack::base: the stack's colour)
//!  +--------------------------+
//!  | the body closure `F`     |  <- data: moved out by `entry` on the first run
//!  +--------------------------+     (rounded down to F's and 16-byte alignment)
//!  | 0                        |  becomes the entry's (null) return address
//!  | data                     |
//!  | entry::<F>               |
//!  | gosched_start            |  <- Coroutine::sp before the first resume
//!  +--------------------------+
//!  |          ...             |  grows down to the overflow zone
//!  +--------------------------+
//!  | guard page / canary      |  Stack::limit
//!  +--------------------------+
//! ```
//!
//! The first switch in jumps to `gosched_start`, which moves the stack
//! pointer to `data` and jumps to `entry::<F>(word, data)` under a null
//! return address: it runs the closure under `catch_unwind` and switches
//! back for good. Unwinding and backtraces stop at the goroutine's base (the
//! null return address; the frame-pointer chain ends at 0 too).
//!
//! Invariants: only the scheduler's stack resumes a coroutine ([`resume`]),
//! and every coroutine that runs holds in [`Coroutine::back`] where that
//! scheduler's stack pointer was saved, so that a suspend (or a coroutine's
//! end) returns to it, however many hand-offs happened in between.
//! [`CURRENT`] names the running coroutine; null on the thread's own stack.
//!
//! [`resume`]: Coroutine::resume

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
use aarch64 as arch;
#[cfg(target_arch = "x86_64")]
use x86_64 as arch;

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use super::overflow::{self, Running, StackOwner};
use super::stack::{self, Bounds, Stack};
use super::{Identity, Resumed};

/// Resumer → coroutine: go on. Any other word: unwind (shutdown), then
/// finish; the word is the coroutine's address.
const RUN: usize = 0;
/// Coroutine → resumer: suspended.
const SUSPENDED: usize = 0;
/// Coroutine → resumer: returned. Any other word is a panic
/// (`Box<Box<dyn Any + Send>>`).
const FINISHED: usize = 1;

thread_local! {
    /// The running coroutine; null on the thread's own stack.
    static CURRENT: Cell<*const Coroutine> = const { Cell::new(ptr::null()) };
}

/// The payload an unwind request raises in a suspended coroutine, with the
/// coroutine's address; its base catches it.
struct ForcedUnwind(usize);

/// A goroutine's execution context. Fields in this order (`repr(C)`): with
/// the compiler's order B1b took 95.7 ns per goroutine instead of 93.7 (a
/// stall on the first resume's load of `sp` right after the coroutine was
/// copied into its record, we think; this VM has no counters to tell).
#[repr(C)]
pub(crate) struct Coroutine {
    /// The stack pointer saved when it last switched away.
    sp: Cell<usize>,
    /// Where the scheduler's stack pointer was saved when it resumed this
    /// coroutine, or the one that handed over to it.
    back: Cell<usize>,
    done: Cell<bool>,
    stack: Stack,
    bounds: Bounds,
    owner: StackOwner,
}

impl Coroutine {
    /// A coroutine that runs `body` on `stack`, named `who` in overflow reports.
    ///
    /// # Safety
    ///
    /// `who.name` must stay valid and in place until the coroutine is dropped:
    /// the overflow report reads it (as a raw pointer) while the coroutine runs.
    pub(crate) unsafe fn new<F: FnOnce() + 'static>(
        stack: Stack,
        who: Identity<'_>,
        body: F,
    ) -> Coroutine {
        let bounds = stack.bounds();
        // SAFETY: the caller keeps `who.name` valid as long as the coroutine,
        // which owns `owner`.
        let owner = unsafe { StackOwner::new(bounds, who) };
        let top = corosensei::stack::Stack::base(&stack).get();
        let align = std::mem::align_of::<F>().max(16);
        let data = (top - std::mem::size_of::<F>()) & !(align - 1);
        let frame = arch::initial_frame(data, entry::<F> as *const () as usize);
        let sp = data - std::mem::size_of_val(&frame);
        // SAFETY: the stack is ours and unused; the closure and the frame
        // below it take a few hundred bytes at its top, far above its limit
        // (a stack is at least a page), and `data` is aligned for `F` and
        // 16 bytes, so `sp` for words.
        unsafe {
            ptr::write(data as *mut F, body);
            ptr::write(sp as *mut [usize; 4], frame);
        }
        Coroutine {
            sp: Cell::new(sp),
            back: Cell::new(0),
            done: Cell::new(false),
            stack,
            bounds,
            owner,
        }
    }

    /// Runs the coroutine until a coroutine switches back to the scheduler:
    /// this one, or (after hand-offs) the last one handed over to, which
    /// the scheduler then knows as its running goroutine. Says how that one
    /// came back; its panic, if it panicked, goes on here.
    #[inline]
    pub(crate) fn resume(&self) -> Resumed {
        self.switch_in(false)
    }

    /// Returns the stack to the pool, first unwinding the coroutine if it is
    /// suspended mid-way (its destructors run on its own stack) or dropping
    /// its closure there if it never ran.
    pub(crate) fn into_stack(self) {
        if !self.done.get() {
            let resumed = self.switch_in(true);
            assert!(
                resumed == Resumed::Finished,
                "gosched: a goroutine suspended while it was being unwound"
            );
        }
        stack::release(self.stack);
    }

    #[inline]
    fn switch_in(&self, unwind: bool) -> Resumed {
        // A coroutine being unwound runs as no goroutine (CURRENT stays
        // null), as under corosensei: blocking in a destructor at shutdown
        // then panics (runtime::scheduler) instead of suspending.
        let arg = if unwind {
            ptr::from_ref(self) as usize
        } else {
            CURRENT.set(self);
            RUN
        };
        // SAFETY: `self.owner` stays in place while `self` is borrowed, and
        // the guard is dropped before this function returns.
        let running = unsafe { Running::enter(&self.owner) };
        // SAFETY: `self.sp` holds the stack pointer this coroutine saved when
        // it switched away (or its initial frame); `self.back` is a slot of
        // ours for the scheduler's. The coroutine, and any it hands over to,
        // switches back through `back` before this returns.
        let word = unsafe { arch::resume(self.sp.get(), self.back.as_ptr(), arg) };
        drop(running);
        let came_back = CURRENT.replace(ptr::null());
        // SAFETY: CURRENT held the coroutine that switched back (null: this
        // one, unwound), which stays in place while the scheduler is in this
        // call (it retires coroutines only after `resume` returns).
        let came_back = unsafe { came_back.as_ref() }.unwrap_or(self);
        if !came_back.bounds.canary_intact() {
            overflow::report_and_abort(&came_back.owner);
        }
        match word {
            SUSPENDED => Resumed::Suspended,
            FINISHED => {
                came_back.done.set(true);
                Resumed::Finished
            }
            panicked => {
                came_back.done.set(true);
                // SAFETY: `entry` sent this word from `Box::into_raw`.
                let payload = unsafe { Box::from_raw(panicked as *mut Box<dyn Any + Send>) };
                panic::resume_unwind(*payload)
            }
        }
    }
}

/// The base of every coroutine: runs its closure, then switches back to the
/// scheduler for good.
extern "C" fn entry<F: FnOnce()>(arg: usize, data: *mut F) -> ! {
    // SAFETY: `Coroutine::new` moved the closure to `data`; this is its one
    // read (the first switch in lands here once).
    let body = unsafe { ptr::read(data) };
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        if arg == RUN {
            body();
        } else {
            drop(body);
        }
    }));
    let (me, word) = match result {
        Ok(()) if arg == RUN => (CURRENT.get(), FINISHED),
        Ok(()) => (arg as *const Coroutine, FINISHED),
        Err(payload) => match payload.downcast::<ForcedUnwind>() {
            Ok(unwound) => (unwound.0 as *const Coroutine, FINISHED),
            Err(payload) => (CURRENT.get(), Box::into_raw(Box::new(payload)) as usize),
        },
    };
    // SAFETY: `me` is this coroutine: CURRENT while it runs, or the address
    // the unwind request named. Its `back` holds the scheduler's saved stack
    // pointer. Nothing switches back into this stack: the scheduler marks the
    // coroutine done.
    unsafe { arch::finish((*me).back.get(), word) }
}

/// Whether the caller runs on a goroutine's stack.
#[inline]
pub(crate) fn in_coroutine() -> bool {
    !CURRENT.get().is_null()
}

/// Switches from the running coroutine back to the scheduler; returns when the
/// scheduler (or a hand-off) resumes it.
///
/// # Panics
///
/// When called on a thread's own stack (not inside a goroutine).
#[inline]
pub(crate) fn suspend() {
    let me = CURRENT.get();
    assert!(!me.is_null(), "gosched: cannot block outside a goroutine");
    overflow::check_stack_pointer();
    // SAFETY: CURRENT is the running coroutine, in place while it runs; its
    // `back` holds the scheduler's saved stack pointer.
    let word = unsafe { arch::suspend((*me).sp.as_ptr(), (*me).back.get(), SUSPENDED) };
    unwind_if_asked(word);
}

/// Switches from the running coroutine straight to `to`, which runs as if
/// the scheduler had resumed it; returns when this one is resumed or handed
/// over to in turn.
///
/// # Safety
///
/// Called on a goroutine's stack; `to` must be a suspended coroutine (not
/// this one), in place until it switches away again.
#[inline]
pub(crate) unsafe fn hand_off(to: *const Coroutine) {
    let me = CURRENT.get();
    overflow::check_stack_pointer();
    // SAFETY: the caller runs on a goroutine, so CURRENT is the running
    // coroutine, and `to` is suspended and in place (the caller's promise).
    let word = unsafe {
        if !(*me).bounds.canary_intact() {
            overflow::report_and_abort(&(*me).owner);
        }
        (*to).back.set((*me).back.get());
        CURRENT.set(to);
        // Left set: whoever switches back to the scheduler's stack clears it.
        std::mem::forget(Running::enter(&(*to).owner));
        arch::hand_off((*me).sp.as_ptr(), (*to).sp.get(), RUN)
    };
    unwind_if_asked(word);
}

/// After a switch back in: starts unwinding if the resumer asked for it.
#[inline(always)]
fn unwind_if_asked(word: usize) {
    if word != RUN {
        forced_unwind(word);
    }
}

#[cold]
#[inline(never)]
fn forced_unwind(me: usize) -> ! {
    panic::resume_unwind(Box::new(ForcedUnwind(me)))
}
