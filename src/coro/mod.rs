//! Stackful coroutines: the one interface the scheduler switches goroutines through.
//!
//! A backend provides
//!
//! * `Coroutine::new(stack, goroutine, body)`: a suspended coroutine that will
//!   run `body`; `goroutine` names it in an overflow report;
//! * `Coroutine::resume(&mut self)`: run it until it suspends or finishes
//!   (with `hand_off`: until the last coroutine handed over to does);
//! * `Coroutine::into_stack(self)`: the stack back, unwinding the coroutine's
//!   frames (running their destructors) if it has not finished;
//! * `suspend()`: called on a coroutine's stack, switch back to its resumer;
//! * `hand_off(to)` (own switch only): called on a coroutine's stack, switch
//!   straight to the suspended coroutine `to`, which runs as if resumed.
//!
//! Backends live in their own files behind this one cfg ladder: native
//! (mmap'd stacks, `stack.rs`, `overflow.rs`) with our own switch on x86_64
//! and AArch64 Linux (`switch/`, `--cfg gosched_own_switch`, set by build.rs),
//! which can also hand over from goroutine to goroutine (`hand_off`), and
//! corosensei elsewhere (`native.rs`); and
//! wasm32 (Binaryen Asyncify on heap stacks, `asyncify.rs`, `wasm_stack.rs`;
//! with `--cfg gosched_stack_switching`, wasm continuations patched in after
//! linking, `stack_switch.rs`, an experiment for wasmtime).

#[cfg(all(not(target_arch = "wasm32"), not(gosched_own_switch)))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
mod overflow;
#[cfg(not(target_arch = "wasm32"))]
mod stack;
#[cfg(gosched_own_switch)]
mod switch;

#[cfg(all(not(target_arch = "wasm32"), not(gosched_own_switch)))]
pub(crate) use native::{in_coroutine, suspend, Coroutine};
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use overflow::install as install_overflow_handler;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use stack::{acquire, round_to_page, StackKind};
#[cfg(gosched_own_switch)]
pub(crate) use switch::{hand_off, in_coroutine, suspend, Coroutine};

#[cfg(all(target_arch = "wasm32", not(gosched_stack_switching)))]
mod asyncify;
#[cfg(all(target_arch = "wasm32", gosched_stack_switching))]
mod stack_switch;
#[cfg(target_arch = "wasm32")]
mod wasm_stack;

#[cfg(all(target_arch = "wasm32", not(gosched_stack_switching)))]
pub(crate) use asyncify::{in_coroutine, suspend, Coroutine};
#[cfg(all(target_arch = "wasm32", gosched_stack_switching))]
pub(crate) use stack_switch::{in_coroutine, suspend, Coroutine};
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm_stack::{acquire, round_to_page, StackKind};

/// What the overflow report says about the goroutine on a stack.
#[derive(Clone, Copy)]
pub(crate) struct Identity<'a> {
    pub(crate) id: u64,
    pub(crate) name: Option<&'a str>,
}

/// Outcome of one `resume`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resumed {
    Suspended,
    Finished,
}
