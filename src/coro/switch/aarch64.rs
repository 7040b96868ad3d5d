//! The AArch64 (AAPCS64) switch.
//!
//! A suspended side's stack pointer points at a 32-byte frame: x29 and x19
//! (LLVM reserves both, so they cannot be asm clobbers), then the address it
//! resumes at; the other callee-saved registers are clobbers, saved by the
//! compiler only where live. Whoever switches in branches to that address
//! with the stack pointer in x1 and the word in x0 (a coroutine going back
//! to the scheduler too, which then finds the return address in x30).
//!
//! Branches and returns stay paired for the CPU's return-address predictor:
//! the scheduler enters a coroutine with `blr`, a coroutine goes back with
//! `ret` to right after it, and a hand-off is a `br`.

use std::arch::{asm, global_asm};

// A fresh stack's resume address: `entry(x0: word, x1: data)` on the fresh
// stack, with x29 and the link register 0 (unwinders and frame-record walks
// end there).
global_asm!(
    ".text",
    ".p2align 4",
    ".globl gosched_start",
    ".hidden gosched_start",
    ".type gosched_start, %function",
    "gosched_start:",
    "ldp x2, x3, [x1]",
    "add sp, x1, #32",
    "mov x29, xzr",
    "mov x30, xzr",
    "mov x1, x3",
    "br x2",
    ".size gosched_start, . - gosched_start",
);

/// The resume frame of a fresh stack whose closure starts at `data`, from
/// its lowest word (the stack pointer to switch to) up:
///
/// ```text
///  data      -> closure
///  data - 8     0
///  data - 16    gosched_start  resume address
///  data - 24    data           closure address, for `entry`'s x1
///  data - 32    entry
/// ```
pub(super) fn initial_frame(data: usize, entry: usize) -> [usize; 4] {
    extern "C" {
        fn gosched_start();
    }
    [entry, data, gosched_start as *const () as usize, 0]
}

/// Stores x29, x19 and the resume address (label 2) in a frame and the
/// stack pointer in `*$save`, then leaves with `$leave` (which has `$val` in
/// `$reg`) sending `$word`; evaluates to the word we are resumed with, at
/// label 2 (entered with our stack pointer in x1).
macro_rules! switch_away {
    ($save:expr, $word:expr, $leave:literal, $reg:tt = $val:expr) => {{
        let out: usize;
        asm!(
            "sub sp, sp, #32",
            "adr x4, 2f",
            "stp x29, x19, [sp]",
            "str x4, [sp, #16]",
            "mov x4, sp",
            "str x4, [x2]",
            $leave,
            "2:",
            "mov sp, x1",
            "ldp x29, x19, [sp]",
            "add sp, sp, #32",
            inlateout("x0") $word => out,
            in("x2") $save,
            in($reg) $val,
            lateout("x20") _, lateout("x21") _, lateout("x22") _, lateout("x23") _,
            lateout("x24") _, lateout("x25") _, lateout("x26") _, lateout("x27") _,
            lateout("x28") _,
            clobber_abi("C"),
        );
        out
    }};
}

/// Scheduler → coroutine at `sp`: stores the scheduler's stack pointer in
/// `*back` and enters with `word` (`blr`: the coroutine's `ret` comes back
/// to label 2); returns the word the coroutine that switches back sends.
///
/// # Safety
///
/// `sp` is a suspended coroutine's (or a fresh frame's); whoever switches
/// back loads `*back`.
#[inline(always)]
pub(super) unsafe fn resume(sp: usize, back: *mut usize, word: usize) -> usize {
    // SAFETY: the caller's contract; the registers the other side changes
    // are saved in the frame or declared clobbered.
    unsafe { switch_away!(back, word, "ldr x4, [x1, #16]\nblr x4", "x1" = sp) }
}

/// Coroutine → scheduler: saves our stack pointer in `*save` and returns
/// `word` to the scheduler whose stack pointer is `back`; returns the word
/// we are resumed with.
///
/// # Safety
///
/// On a coroutine's stack; `back` is the scheduler's, saved by [`resume`].
#[inline(always)]
pub(super) unsafe fn suspend(save: *mut usize, back: usize, word: usize) -> usize {
    // SAFETY: as in `resume`.
    unsafe {
        switch_away!(
            save,
            word,
            "mov sp, x3\nmov x1, x3\nldr x30, [sp, #16]\nret",
            "x3" = back
        )
    }
}

/// Coroutine → coroutine at `to`: saves our stack pointer in `*save` and
/// enters `to` with `word`; returns the word we are resumed with.
///
/// # Safety
///
/// On a coroutine's stack; `to` is a suspended coroutine's.
#[inline(always)]
pub(super) unsafe fn hand_off(save: *mut usize, to: usize, word: usize) -> usize {
    // SAFETY: as in `resume`.
    unsafe { switch_away!(save, word, "ldr x4, [x1, #16]\nbr x4", "x1" = to) }
}

/// A finished coroutine's last switch: `word` to the scheduler at `back`.
///
/// # Safety
///
/// As [`suspend`]; nothing may switch to this stack again.
#[inline(always)]
pub(super) unsafe fn finish(back: usize, word: usize) -> ! {
    // SAFETY: the caller's contract.
    unsafe {
        asm!(
            "mov sp, x3",
            "mov x1, x3",
            "ldr x30, [sp, #16]",
            "ret",
            in("x0") word,
            in("x3") back,
            options(noreturn),
        )
    }
}
