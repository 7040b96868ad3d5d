//! Native backend: corosensei's stack switch on a pooled [`Stack`].

use std::cell::Cell;
use std::ptr;

use corosensei::{CoroutineResult, Yielder};

use super::overflow;
use super::overflow::StackOwner;
use super::stack::{self, Bounds, Stack};
use super::{Identity, Resumed};

type Raw = corosensei::Coroutine<(), (), (), Stack>;

thread_local! {
    /// The yielder of the coroutine running on this thread; null on the
    /// thread's own stack.
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(ptr::null()) };
}

/// A goroutine's execution context.
pub(crate) struct Coroutine {
    raw: Raw,
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
    pub(crate) unsafe fn new(
        stack: Stack,
        who: Identity<'_>,
        body: impl FnOnce() + 'static,
    ) -> Coroutine {
        let bounds = stack.bounds();
        // SAFETY: the caller keeps `who.name` valid as long as the coroutine,
        // which owns `owner`.
        let owner = unsafe { StackOwner::new(bounds, who) };
        let raw = Raw::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
            YIELDER.set(yielder);
            body();
            YIELDER.set(ptr::null());
        });
        Coroutine { raw, bounds, owner }
    }

    /// Runs the coroutine until it suspends or returns.
    #[inline]
    pub(crate) fn resume(&mut self) -> Resumed {
        let result = self.switch_in(|raw| raw.resume(()));
        match result {
            CoroutineResult::Yield(()) => Resumed::Suspended,
            CoroutineResult::Return(()) => Resumed::Finished,
        }
    }

    /// Returns the stack to the pool, first unwinding the coroutine if it is
    /// suspended mid-way (its destructors run on its own stack).
    pub(crate) fn into_stack(mut self) {
        if !self.raw.done() {
            self.switch_in(Raw::force_unwind);
        }
        stack::release(self.raw.into_stack());
    }

    #[inline]
    fn switch_in<R>(&mut self, switch: impl FnOnce(&mut Raw) -> R) -> R {
        // SAFETY: `self.owner` stays in place while `self` is borrowed, and
        // the guard is dropped before this function returns.
        let running = unsafe { overflow::Running::enter(&self.owner) };
        let result = switch(&mut self.raw);
        drop(running);
        // Back on the scheduler's stack, which is no coroutine's.
        YIELDER.set(ptr::null());
        if !self.bounds.canary_intact() {
            overflow::report_and_abort(&self.owner);
        }
        result
    }
}

/// Whether the caller runs on a goroutine's stack.
#[inline]
pub(crate) fn in_coroutine() -> bool {
    !YIELDER.get().is_null()
}

/// Switches from the running coroutine back to the scheduler; returns when the
/// scheduler resumes it.
///
/// # Panics
///
/// When called on a thread's own stack (not inside a goroutine).
#[inline]
pub(crate) fn suspend() {
    let yielder = YIELDER.get();
    assert!(
        !yielder.is_null(),
        "gosched: cannot block outside a goroutine"
    );
    overflow::check_stack_pointer();
    // SAFETY: YIELDER holds the yielder of the coroutine running on this thread
    // (set at its entry and restored after each switch back into it); that
    // yielder lives on the coroutine's stack for as long as the coroutine runs.
    unsafe { (*yielder).suspend(()) };
    // The scheduler set YIELDER back to its own (null) value while we were away.
    YIELDER.set(yielder);
}
