//! wasm32 backend on the stack-switching proposal (experimental, wasmtime only).
//!
//! Built with `--cfg gosched_stack_switching` instead of the Asyncify backend
//! (see experiments/stack-switch/README.md). Each goroutine runs in a wasm
//! continuation of its own, so a switch saves no frames: the engine switches
//! native stacks. rustc cannot emit `cont.new`, `resume` or `suspend`, so the
//! two switch functions are imports from `gosched_stack_switch` that a
//! post-link step (experiments/stack-switch/patch) replaces with definitions.
//! An unpatched module fails to instantiate, naming the import. Not shipped:
//! docs/wasm.md ("A stack-switching backend") has its figures beside Asyncify's.
//!
//! LLVM's shadow stack (`__stack_pointer`, for address-taken locals) still
//! has to be switched per goroutine: the patched `resume` does that, with the
//! same stacks, canary and red zone as the Asyncify backend (wasm_stack.rs;
//! the region Asyncify saves frames into simply stays unused).
//!
//! A switch, step by step:
//!
//! 1. The scheduler calls [`Coroutine::resume`] → `resume(ctx)` (patched in),
//!    which installs the goroutine's shadow stack pointer and resumes the
//!    continuation in the goroutine's table slot; an empty slot gets a new
//!    continuation that calls [`entry`] through the function table.
//! 2. The goroutine runs until [`suspend`] → `suspend()` (patched in):
//!    `suspend $tag` returns control to `resume`'s handler, which stores the
//!    continuation in the slot, saves the goroutine's stack pointer and
//!    restores the scheduler's.
//! 3. When [`entry`] returns, the continuation suspends once more, at the top
//!    of its loop: the slot keeps it, and the next coroutine given that slot
//!    runs on it (wasmtime frees no continuation before the store ends).
//!
//! Invariants: only the scheduler (never a goroutine) resumes a coroutine, so
//! the handler `suspend` reaches is always the scheduler's; a slot is reused
//! only after its goroutine finished (an abandoned goroutine's slot keeps its
//! frames and is never handed out again).

use std::cell::{Cell, RefCell};
use std::ptr;

use super::wasm_stack::{self, Stack, RED_ZONE};
use super::{Identity, Resumed};

/// What the patched functions read and write, at fixed offsets
/// (experiments/stack-switch/patch/src/main.rs).
#[repr(C)]
struct Switch {
    /// Function table index of [`entry`].
    entry: u32,
    /// The shadow stack pointer while switched out.
    sp: u32,
    /// Index of the goroutine's continuation in the patched-in table.
    slot: u32,
}

/// A coroutine's context; boxed, so it stays in place for the coroutine's
/// lifetime. `switch` comes first: a `*mut Switch` to it is a `*mut Ctx`.
#[repr(C)]
struct Ctx {
    switch: Switch,
    /// Set by [`entry`] when the body has returned.
    done: bool,
    /// Lowest usable address of the stack (above the canary).
    bottom: usize,
    /// Set by a suspend whose stack pointer was in the red zone.
    overflowed: bool,
    /// A `Box<F>` for `entry::<F>`, until it starts.
    body: Option<Box<dyn FnOnce()>>,
}

#[link(wasm_import_module = "gosched_stack_switch")]
extern "C" {
    /// Patched in: runs the coroutine until it suspends or finishes.
    #[link_name = "resume.ERROR.this_module_needs_experiments_stack_switch_patch"]
    fn gosched_ss_resume(switch: *mut Switch);
    /// Patched in: `suspend` to the scheduler's `resume`.
    #[link_name = "suspend.ERROR.this_module_needs_experiments_stack_switch_patch"]
    fn gosched_ss_suspend();
}

thread_local! {
    /// The context of the coroutine running on this thread; null on the
    /// thread's own stack. (wasm32-wasip1 has one thread: this is a static.)
    static CURRENT: Cell<*mut Ctx> = const { Cell::new(ptr::null_mut()) };
    /// Continuation slots whose goroutine finished, and the next never used.
    static SLOTS: RefCell<(Vec<u32>, u32)> = const { RefCell::new((Vec::new(), 0)) };
}

fn take_slot() -> u32 {
    SLOTS.with_borrow_mut(|(free, next)| {
        free.pop().unwrap_or_else(|| {
            *next += 1;
            *next - 1
        })
    })
}

/// The first frame of a coroutine running `F`, called by the patched-in
/// continuation loop.
extern "C" fn entry<F: FnOnce() + 'static>(switch: *mut Switch) {
    let ctx = switch.cast::<Ctx>();
    // SAFETY: `ctx` is the live, boxed context `resume` was given; its body
    // is taken exactly once, here, when the coroutine starts.
    let body = unsafe { (*ctx).body.take() }.expect("a coroutine starts once");
    // SAFETY: `Coroutine::new` stored a `Box<F>` and paired it with
    // `entry::<F>`; this drops only the vtable of the fat pointer.
    let body = unsafe { Box::from_raw(Box::into_raw(body).cast::<F>()) };
    body();
    // SAFETY: as above; the context outlives every resume.
    unsafe { (*ctx).done = true };
}

/// A goroutine's execution context.
pub(crate) struct Coroutine {
    ctx: Box<Ctx>,
    stack: Stack,
    id: u64,
    /// The goroutine's name (it lives in the goroutine record, which outlives
    /// the coroutine).
    name: Option<(*const u8, usize)>,
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
        let entry: extern "C" fn(*mut Switch) = entry::<F>;
        let ctx = Box::new(Ctx {
            switch: Switch {
                // On wasm a function pointer is its index in the function table.
                entry: entry as usize as u32,
                sp: stack.top() as u32,
                slot: take_slot(),
            },
            done: false,
            bottom: stack.bottom(),
            overflowed: false,
            body: Some(Box::new(body)),
        });
        Coroutine {
            ctx,
            stack,
            id: who.id,
            name: who.name.map(|n| (n.as_ptr(), n.len())),
        }
    }

    /// Runs the coroutine until it suspends or returns.
    #[inline]
    pub(crate) fn resume(&mut self) -> Resumed {
        let ctx: *mut Ctx = &mut *self.ctx;
        CURRENT.set(ctx);
        // SAFETY: `ctx` is boxed and stays in place while the coroutine
        // exists; its `sp` lies in `self.stack`, which the coroutine owns; its
        // slot holds its continuation, or one whose goroutine finished, or
        // nothing. The scheduler is on its own stack (CURRENT was null), so
        // the patched `resume`'s handler is the one `suspend` reaches.
        unsafe { gosched_ss_resume(ctx.cast()) };
        CURRENT.set(ptr::null_mut());
        if self.ctx.overflowed || !self.stack.canary_intact() {
            self.report_overflow_and_abort();
        }
        if self.ctx.done {
            Resumed::Finished
        } else {
            Resumed::Suspended
        }
    }

    /// Returns the stack to the pool. A finished coroutine's continuation
    /// slot is reused; one suspended mid-way is abandoned with its slot: wasm
    /// cannot unwind it, so the destructors of its live frames never run.
    pub(crate) fn into_stack(mut self) {
        let never_started = self.ctx.body.take().is_some();
        if never_started || self.ctx.done {
            let slot = self.ctx.switch.slot;
            SLOTS.with_borrow_mut(|(free, _)| free.push(slot));
        }
        wasm_stack::release(self.stack);
    }

    #[cold]
    fn report_overflow_and_abort(&self) -> ! {
        let name = self.name.map(|(ptr, len)| {
            // SAFETY: the name outlives the coroutine (see `Coroutine::new`).
            unsafe { std::slice::from_raw_parts(ptr, len) }
        });
        wasm_stack::report_overflow_and_abort(self.id, name, self.stack.size())
    }
}

/// Whether the caller runs on a goroutine's stack.
#[inline]
pub(crate) fn in_coroutine() -> bool {
    !CURRENT.get().is_null()
}

/// Switches from the running coroutine back to the scheduler; returns when the
/// scheduler resumes it.
///
/// # Panics
///
/// When called on a thread's own stack (not inside a goroutine).
#[inline]
pub(crate) fn suspend() {
    let ctx = CURRENT.get();
    assert!(!ctx.is_null(), "gosched: cannot block outside a goroutine");
    let marker = 0u8;
    let sp = std::hint::black_box(&marker) as *const u8 as usize;
    // SAFETY: CURRENT is the context of the coroutine running on this stack
    // (set by `resume` around the switch into it), boxed and alive; the
    // patched `suspend` returns to the scheduler's `resume`, which resumes
    // this continuation later.
    unsafe {
        // Nearly out of stack: the resumer reports the overflow.
        (*ctx).overflowed = sp < (*ctx).bottom + RED_ZONE;
        gosched_ss_suspend();
    }
}
