//! wasm32 backend: stackful coroutines on Binaryen's Asyncify.
//!
//! wasm has no instruction that switches stacks. Asyncify (a `wasm-opt` pass
//! run after linking, see cargo-gosched) rewrites every function that may be
//! on the stack when a goroutine suspends, so that it can save its locals to a
//! buffer and return ("unwind"), and later be re-entered and restore them
//! ("rewind"). What remains to switch is LLVM's shadow stack, the
//! `__stack_pointer` global, which stable Rust cannot write: that is the
//! assembly in asm/wasm32/switch.S.
//!
//! A switch, step by step:
//!
//! 1. The scheduler calls [`Coroutine::resume`] → `gosched_asyncify_resume`
//!    (asm), which saves the scheduler's stack pointer, installs the
//!    goroutine's, starts a rewind if the goroutine is suspended, and calls
//!    its [`entry`] through the function table.
//! 2. The goroutine runs until it calls [`suspend`]. That points Asyncify
//!    at the goroutine's buffer (its region, from the bottom up) and calls
//!    `gosched_asyncify_suspend` (asm), which starts the unwind: every
//!    instrumented frame saves itself and returns, back into
//!    `gosched_asyncify_resume`.
//! 3. There, the unwind is stopped, the goroutine's stack pointer saved and
//!    the scheduler's restored; [`Coroutine::resume`] checks that the saved
//!    frames stayed below the live ones.
//! 4. Resuming it again rewinds: the frames are re-entered down to
//!    `gosched_asyncify_suspend`, which stops the rewind and returns.
//!
//! Invariants: only the scheduler (never a goroutine) resumes a coroutine, so
//! Asyncify's single global state never nests; `gosched_asyncify_suspend` is
//! never inlined before the Asyncify pass (wasm-opt `--no-inline`), since its
//! caller would then be uninstrumented and re-run from its start on a rewind.
//!
//! wasm has `panic = "abort"`: a coroutine that is dropped unfinished cannot
//! be unwound, so its frames are abandoned (what they own is leaked).
//!
//! Stack overflow: a suspend in the red zone, a written canary, a full
//! Asyncify buffer or saved frames that reach the live ones are reported by
//! [`Coroutine::resume`]; a frame of any size
//! that would move the stack pointer out of the goroutine's stack is caught
//! where it happens by cargo-gosched's stack check (cargo-gosched/src/
//! stack_check.rs), which compares every new stack pointer with
//! [`gosched_stack_bounds`] and calls [`gosched_stack_overflow`].
//!
//! Stacks that grow lazily (wasm_stack.rs; only in a module with that check,
//! which moves a frame that does not fit the first segment to the region):
//! the bounds record holds both segments, and a goroutine that suspends on
//! its first segment is unwound into a shared scratch buffer, its saved
//! frames then copied below its stack pointer (or, if they do not fit, to
//! its region's bottom), so that it touches no page of its region. After
//! [`DIRECT_AFTER`] suspends it is unwound straight into its region, as a
//! goroutine that grew is: a goroutine that switches often pays the copy
//! only a few times, and one page.

use std::cell::Cell;
use std::ptr::{self, NonNull};

use super::wasm_stack::{self, Segments, Stack, RED_ZONE};
use super::{Identity, Resumed};

/// `Ctx::state` values, shared with asm/wasm32/switch.S.
const RUNNING: u32 = 0;
const SUSPENDED: u32 = 1;
const DONE: u32 = 2;
/// The last unwind wrote past the end of the Asyncify buffer.
const BUFFER_OVERFLOW: u32 = 3;
/// Suspends on the first segment unwound through the scratch buffer before a
/// goroutine is unwound straight into its region.
const DIRECT_AFTER: u32 = 4;

/// What the assembly reads and writes, at fixed offsets.
#[repr(C)]
struct Switch {
    /// Function table index of [`entry`].
    entry: u32,
    /// The shadow stack pointer while switched out.
    sp: u32,
    state: u32,
    /// Asyncify's data record: next free byte and end of the buffer.
    data_cur: u32,
    data_end: u32,
}

/// The running goroutine's stack bounds, read by the code cargo-gosched's
/// stack check adds before every write of the stack pointer: `sp - limit >
/// span` (unsigned) leaves the running segment. `limit` 0 and `span`
/// `u32::MAX` (the initial values) check nothing: the thread's own stack.
/// The check then compares with both `segments` of a stack that grows
/// lazily and moves the frame, switches the running bounds, or reports an
/// overflow. cargo-gosched finds the record in the data segment by its magic
/// words and these initial values, and sets `grows` to 1; `handler` keeps
/// [`gosched_stack_overflow`] linked in.
///
/// A `static mut` written by plain assignments: between setting the bounds
/// and the switch no function may run (in a debug build even an atomic store
/// is a call, whose frame would be checked against the goroutine's bounds
/// while still on the scheduler's stack).
#[repr(C)]
struct StackBounds {
    magic: [u32; 2],
    limit: u32,
    span: u32,
    handler: extern "C" fn() -> !,
    grows: u32,
    segments: *const Segments,
}

// Exported (`no_mangle`) so that the optimizer keeps every store, and keeps
// them before the switch: the switch might read it. Never read from Rust.
#[no_mangle]
static mut gosched_stack_bounds: StackBounds = StackBounds {
    magic: [0x5ac4_c4ec, 0x9050_c4ee],
    limit: 0,
    span: u32::MAX,
    handler: gosched_stack_overflow,
    grows: 0,
    segments: ptr::null(),
};

/// Whether the module went through cargo-gosched's stack check, which grows
/// stacks from their first segment (wasm_stack.rs).
pub(crate) fn stacks_grow() -> bool {
    // SAFETY: a plain read of a word that only cargo-gosched (in the module's
    // data) writes; volatile, because the compiler sees only its initial 0.
    unsafe { ptr::addr_of!(gosched_stack_bounds.grows).read_volatile() != 0 }
}

/// Called by cargo-gosched's stack check when a frame would not fit in the
/// running goroutine's stack (the check is off by then): reports it as every
/// other overflow and aborts. It runs on the goroutine's stack, whose stack
/// pointer is still at least [`RED_ZONE`] above its bottom.
#[no_mangle]
extern "C" fn gosched_stack_overflow() -> ! {
    let ctx = CURRENT.get();
    assert!(
        !ctx.is_null(),
        "gosched: stack check fired outside a goroutine"
    );
    // SAFETY: CURRENT is the live context of the running coroutine.
    unsafe { (*ctx).report_overflow_and_abort() }
}

/// A coroutine's context; boxed, so it stays in place for the coroutine's
/// lifetime. `switch` comes first: a `*mut Switch` to it is a `*mut Ctx`.
#[repr(C)]
struct Ctx {
    switch: Switch,
    /// The stack check's bounds (`limit`, `span`) the goroutine starts with
    /// at each resume: those of the segment it suspended on.
    bounds: (u32, u32),
    /// Where a suspend unwinds (`data_cur`, `data_end`): on a stack that
    /// grows lazily, the scratch buffer for the first [`DIRECT_AFTER`], then
    /// the region, from its bottom up (the resume checks that the frames
    /// saved stayed below the stack pointer).
    buffer: (u32, u32),
    /// Suspends unwound through the scratch buffer so far.
    suspends: u32,
    /// For overflow reports: the goroutine's id and its name (which lives in
    /// the goroutine record, which outlives the coroutine).
    id: u64,
    name: Option<(NonNull<u8>, usize)>,
    /// A `Box<F>` for `entry::<F>`, until it starts (`dyn` for the drop in
    /// `into_stack` if it never does).
    body: Option<Box<dyn FnOnce()>>,
    /// The goroutine's stack, with its segments' bounds (worked out when it
    /// was carved), which the stack check reads through
    /// `gosched_stack_bounds.segments`.
    stack: Stack,
}

extern "C" {
    /// asm/wasm32/switch.S: runs the coroutine until it suspends or returns.
    fn gosched_asyncify_resume(switch: *mut Switch);
    /// asm/wasm32/switch.S: starts the unwind, or ends the rewind.
    fn gosched_asyncify_suspend(switch: *mut Switch);
    /// asm/wasm32/switch.S: ends the unwind under way.
    fn gosched_asyncify_stop_unwind();
}

thread_local! {
    /// The context of the coroutine running on this thread; null on the
    /// thread's own stack. (wasm32-wasip1 has one thread: this is a static.)
    static CURRENT: Cell<*mut Ctx> = const { Cell::new(ptr::null_mut()) };
}

/// The first (and, through rewinds, every) frame of a coroutine running `F`.
///
/// Generic, so that the body is called directly (and inlined) rather than
/// through a `dyn FnOnce` shim: every frame between here and the suspend is
/// saved and restored by Asyncify at each switch.
extern "C" fn entry<F: FnOnce() + 'static>(switch: *mut Switch) {
    let ctx = switch.cast::<Ctx>();
    // SAFETY: `ctx` is the live, boxed context `gosched_asyncify_resume` was
    // given; its body is taken exactly once, here, on the first resume (a
    // rewind restores this frame past this point).
    let body = unsafe { (*ctx).body.take() }.expect("a coroutine starts once");
    // SAFETY: `Coroutine::new` stored a `Box<F>` and paired it with
    // `entry::<F>`; this drops only the vtable of the fat pointer.
    let body = unsafe { Box::from_raw(Box::into_raw(body).cast::<F>()) };
    body();
    // SAFETY: as above; the context outlives every resume.
    unsafe {
        if (*ctx).switch.state == SUSPENDED {
            // Only an unwind that passed through a frame Asyncify left
            // uninstrumented returns here while suspending.
            gosched_uninstrumented_frame();
        }
        (*ctx).switch.state = DONE;
    }
}

/// What a goroutine whose suspend could not unwind says (the wasm-opt step
/// ran with `asyncify-ignore-indirect`, which goroutine bodies cannot take).
/// Ends the unwind first, so that the report runs normally; a function of its
/// own because Asyncify leaves every caller of `stop_unwind` uninstrumented,
/// which [`entry`] must not be (cargo-gosched's wasm-opt step passes
/// `--no-inline=gosched_uninstrumented_frame`).
#[cold]
#[inline(never)]
#[no_mangle]
extern "C" fn gosched_uninstrumented_frame() -> ! {
    // SAFETY: an unwind is under way (the caller saw the suspended state
    // after its goroutine's body returned); nothing resumes it any more.
    unsafe { gosched_asyncify_stop_unwind() };
    panic!(
        "gosched: a goroutine's switch returned through a function Asyncify did not \
         instrument: the module went through wasm-opt with asyncify-ignore-indirect (or a \
         removelist naming a function that blocks); process it with `cargo gosched` \
         (`cargo gosched asyncify --print-command` shows the flags)"
    )
}

impl Ctx {
    /// The context of a coroutine on `stack` whose [`entry`] (a function
    /// table index) runs `body`. Short: the scheduler's loop, into which
    /// wasm-opt inlines it, starts every goroutine.
    fn new(stack: Stack, who: Identity<'_>, entry: u32, body: Box<dyn FnOnce()>) -> Box<Ctx> {
        let s = stack.segments();
        // The first segment's bounds if the stack grows lazily, else the
        // region's; either way `limit + span` is the segment's top.
        let bounds = match s.first_span {
            0 => (s.region_limit, s.region_span),
            _ => (s.first_limit, s.first_span),
        };
        let scratch = stack.scratch() as u32;
        let buffer = (scratch, scratch + RED_ZONE as u32 + s.region_span);
        Box::new(Ctx {
            switch: Switch {
                entry,
                sp: bounds.0 + bounds.1,
                state: RUNNING,
                data_cur: 0,
                data_end: 0,
            },
            bounds,
            buffer,
            suspends: 0,
            id: who.id,
            name: who.name.map(|n| (NonNull::from(n).cast(), n.len())),
            body: Some(body),
            stack,
        })
    }

    /// Whether `sp` lies on the first segment (never, if there is none).
    #[inline]
    fn on_first(&self, sp: usize) -> bool {
        let s = self.stack.segments();
        (sp as u32).wrapping_sub(s.first_limit) <= s.first_span
    }

    /// After an unwind: whether the goroutine's stack held, its saved frames
    /// kept where the rewind will read them. A stack pointer in the region's
    /// red zone, or saved frames that reach the live ones, are an overflow.
    /// Frames saved in the scratch buffer move to the free part of the first
    /// segment, below the stack pointer, or if they do not fit to the bottom
    /// of the region, below its live frames if it has any: Asyncify's saved
    /// frames do not depend on where they lie.
    #[inline]
    fn keep_unwound_frames(&mut self) -> bool {
        // The common case once the goroutine unwinds straight into its
        // region: it suspended on its first segment, the region is empty,
        // and it resumes with the first segment's bounds.
        let s = self.stack.segments();
        (self.buffer.0 == s.region_limit - RED_ZONE as u32
            && self.on_first(self.switch.sp as usize)
            && self.bounds.0 == s.first_limit)
            || self.check_unwound_frames()
    }

    /// The rest of [`Ctx::keep_unwound_frames`], which also counts the
    /// suspends that went through the scratch buffer, and sets the bounds
    /// the goroutine resumes with to those of the segment it is on (the
    /// check would switch them at its first frame, at every resume).
    #[inline(never)]
    fn check_unwound_frames(&mut self) -> bool {
        let sp = self.switch.sp as usize;
        let on_first = self.on_first(sp);
        let s = self.stack.segments();
        self.bounds = match on_first {
            true => (s.first_limit, s.first_span),
            false => (s.region_limit, s.region_span),
        };
        let (first, region) = (s.first_limit as usize, self.stack.bottom());
        if !on_first && sp < region + RED_ZONE {
            return false;
        }
        let start = self.buffer.0 as usize;
        if start == region {
            return on_first || self.switch.data_cur as usize <= sp;
        }
        self.suspends += 1;
        if self.suspends == DIRECT_AFTER {
            self.buffer = (region as u32, self.stack.top() as u32);
        }
        let len = self.switch.data_cur as usize - start;
        let to = match on_first {
            true if len <= sp - first => first,
            true => region,
            false if len <= sp - region => region,
            false => return false,
        };
        // SAFETY: `len` bytes the unwind just wrote to the scratch buffer
        // (the asm checked that it stayed inside), copied to memory of this
        // goroutine's stack that no live frame uses: below its stack pointer,
        // or the region (empty while the stack pointer is on the first
        // segment), which is as large as the buffer.
        unsafe { ptr::copy_nonoverlapping(start as *const u8, to as *mut u8, len) };
        self.switch.data_cur = (to + len) as u32;
        self.switch.data_end = self.switch.data_cur;
        true
    }

    #[cold]
    fn report_overflow_and_abort(&self) -> ! {
        let name = self.name.map(|(ptr, len)| {
            // SAFETY: the name outlives the coroutine (see `Coroutine::new`).
            unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) }
        });
        wasm_stack::report_overflow_and_abort(self.id, name, self.stack.size())
    }
}

/// A goroutine's execution context.
pub(crate) struct Coroutine {
    ctx: Box<Ctx>,
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
        // On wasm a function pointer is its index in the function table.
        Coroutine {
            ctx: Ctx::new(stack, who, entry as usize as u32, Box::new(body)),
        }
    }

    /// Runs the coroutine until it suspends or returns.
    #[inline]
    pub(crate) fn resume(&mut self) -> Resumed {
        // The stack check's bounds: those of the segment the goroutine's
        // stack pointer is on (the region's: from the red zone up to the
        // top). Nothing between here and the switch moves the stack pointer.
        let (limit, span) = self.ctx.bounds;
        let segments: *const Segments = self.ctx.stack.segments();
        let ctx: *mut Ctx = &mut *self.ctx;
        let switch: *mut Switch = ctx.cast();
        CURRENT.set(ctx);
        // SAFETY: `ctx` is boxed and stays in place while the coroutine
        // exists; its `sp` lies in `self.stack`, which the coroutine owns; its
        // state says whether to start or rewind. The scheduler is on its own
        // stack (CURRENT was null), so Asyncify is not mid-unwind or rewind.
        // gosched_stack_bounds is only written here, on wasm's one thread, with no
        // reference to it taken.
        unsafe {
            gosched_stack_bounds.limit = limit;
            gosched_stack_bounds.span = span;
            gosched_stack_bounds.segments = segments;
            gosched_asyncify_resume(switch);
            gosched_stack_bounds.limit = 0;
            gosched_stack_bounds.span = u32::MAX;
        }
        CURRENT.set(ptr::null_mut());
        let state = self.ctx.switch.state;
        let held = match state {
            SUSPENDED => self.ctx.keep_unwound_frames(),
            _ => state != BUFFER_OVERFLOW,
        };
        if !held || !self.ctx.stack.canary_intact() {
            self.ctx.report_overflow_and_abort();
        }
        debug_assert!(state == SUSPENDED || state == DONE);
        if state == DONE {
            Resumed::Finished
        } else {
            Resumed::Suspended
        }
    }

    /// Returns the stack to the pool. A coroutine that never ran drops its
    /// body; one suspended mid-way is abandoned: wasm cannot unwind it, so
    /// the destructors of its live frames never run.
    pub(crate) fn into_stack(self) {
        let Ctx { body, stack, .. } = *self.ctx;
        drop(body);
        wasm_stack::release(stack);
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
/// Always inlined into its callers (`park`, `yield_now`): every frame
/// between a goroutine's entry and `gosched_asyncify_suspend` is saved and
/// restored by Asyncify at each switch, so one frame fewer is measurably
/// faster. The caller is instrumented: on the rewind it skips straight back
/// into `gosched_asyncify_suspend`, so the set-up below runs only on the way
/// out (the state check keeps it so if wasm-opt inlines the assembly here).
///
/// # Panics
///
/// When called on a thread's own stack (not inside a goroutine).
#[inline(always)]
pub(crate) fn suspend() {
    let ctx = CURRENT.get();
    assert!(!ctx.is_null(), "gosched: cannot block outside a goroutine");
    // SAFETY: CURRENT is the context of the coroutine running on this stack
    // (set by `resume` around the switch into it), boxed and alive.
    unsafe {
        let c = &mut *ctx;
        if c.switch.state == RUNNING {
            (c.switch.data_cur, c.switch.data_end) = c.buffer;
        }
        gosched_asyncify_suspend(ctx.cast());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// The running goroutine's first segment and region.
    fn segments() -> ((usize, usize), (usize, usize)) {
        let ctx = CURRENT.get();
        assert!(!ctx.is_null());
        // SAFETY: the running coroutine's live context.
        let stack = unsafe { &(*ctx).stack };
        let s = stack.segments();
        let first = (
            s.first_limit as usize,
            (s.first_limit + s.first_span) as usize,
        );
        (first, (stack.bottom(), stack.top()))
    }

    /// Asserts that `local` lies wholly in the running goroutine's region.
    fn assert_in_region<T>(local: &T) {
        let (_, region) = segments();
        let at = black_box(local) as *const T as usize;
        let size = std::mem::size_of::<T>();
        assert!(
            region.0 < at && at + size <= region.1,
            "a {size}-byte local not wholly in the region"
        );
    }

    /// A frame larger than a first segment, switching at every level: it
    /// must lie in the region, and keep its contents across the switches.
    #[inline(never)]
    fn deep(depth: u64) -> u64 {
        let frame = black_box([depth; 80]);
        assert_in_region(&frame);
        crate::yield_now();
        let below = if depth == 0 { 0 } else { deep(depth - 1) };
        crate::yield_now();
        assert!(black_box(&frame).iter().all(|&w| w == depth));
        below + frame[79]
    }

    /// Goes through the region and back: its own frame is on the first
    /// segment, so its epilogue returns there with the region's bounds.
    #[inline(never)]
    fn through_the_region() -> u64 {
        let mine = black_box([1u64; 2]);
        deep(0) + black_box(&mine)[0]
    }

    /// A frame larger than a first segment.
    #[inline(never)]
    fn large_frame(fill: u64) -> u64 {
        let frame = black_box([fill; 70]);
        assert_in_region(&frame);
        crate::yield_now();
        black_box(&frame).iter().sum()
    }

    #[test]
    fn frames_go_to_the_region_again_after_an_epilogue_left_it() {
        if !stacks_grow() {
            return;
        }
        fn fill(i: u64) -> u64 {
            (0..3).map(|_| through_the_region() + large_frame(i)).sum()
        }
        // More goroutines than a block holds first segments, so that some
        // stacks are new: their first segments and regions carved here.
        let sum = crate::run(|| {
            let handles: Vec<_> = (0..300).map(|i| crate::go(move || fill(i))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>() + fill(300)
        });
        assert_eq!(sum, (0..=300).map(|i| 3 * (1 + 70 * i)).sum::<u64>());
    }

    #[test]
    fn stacks_grow_into_the_region_and_back() {
        if !stacks_grow() {
            return; // a module without cargo-gosched's check: whole regions
        }
        let sum = crate::run(|| {
            let handles: Vec<_> = (0..50u64)
                .map(|i| {
                    crate::go(move || {
                        // Small frames on the first segment, switching more
                        // often than the scratch buffer is used for.
                        let mine = black_box([i; 4]);
                        for _ in 0..2 * DIRECT_AFTER {
                            crate::yield_now();
                        }
                        let grown = deep(3);
                        // Back on the first segment, the stack grows again.
                        for _ in 0..2 {
                            crate::yield_now();
                        }
                        assert_eq!(black_box(mine), [i; 4]);
                        grown + deep(2) + mine[0]
                    })
                })
                .collect();
            assert_ne!(
                segments().0,
                (0, 0),
                "stacks grow, but main has no first segment"
            );
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(sum, 50 * (6 + 3) + (0..50).sum::<u64>());
    }
}
