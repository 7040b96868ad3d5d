//! The AArch64 (AAPCS64) switch: x19–x30 and d8–d15, and the stack pointer.

use std::arch::global_asm;

// `gosched_switch(save: *mut usize, to: usize, arg: usize) -> usize`: saves
// the callee-saved registers (the link register holds the return address) in
// a 160-byte frame, stores the stack pointer in `*save`, loads `to`, restores
// the registers saved there and returns `arg` into the frame that switched
// away from `to` (or, on a fresh stack, into `gosched_start`).
//
// `gosched_start` is where a fresh stack first returns to: it calls the
// entry (`x19`) with the resumer's `arg` and the closure's address (`x20`).
// Its return address is undefined for the unwinder, and x29 is 0 there, so
// backtraces (DWARF or frame records) end at the goroutine's base.
global_asm!(
    ".text",
    ".p2align 4",
    ".globl gosched_switch",
    ".hidden gosched_switch",
    ".type gosched_switch, %function",
    "gosched_switch:",
    "sub sp, sp, #160",
    "stp x19, x20, [sp, #0]",
    "stp x21, x22, [sp, #16]",
    "stp x23, x24, [sp, #32]",
    "stp x25, x26, [sp, #48]",
    "stp x27, x28, [sp, #64]",
    "stp x29, x30, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    "mov x3, sp",
    "str x3, [x0]",
    "mov sp, x1",
    "ldp x19, x20, [sp, #0]",
    "ldp x21, x22, [sp, #16]",
    "ldp x23, x24, [sp, #32]",
    "ldp x25, x26, [sp, #48]",
    "ldp x27, x28, [sp, #64]",
    "ldp x29, x30, [sp, #80]",
    "ldp d8, d9, [sp, #96]",
    "ldp d10, d11, [sp, #112]",
    "ldp d12, d13, [sp, #128]",
    "ldp d14, d15, [sp, #144]",
    "add sp, sp, #160",
    "mov x0, x2",
    "ret",
    ".size gosched_switch, . - gosched_switch",
    "",
    ".p2align 4",
    ".globl gosched_start",
    ".hidden gosched_start",
    ".type gosched_start, %function",
    "gosched_start:",
    ".cfi_startproc",
    ".cfi_undefined x30",
    "mov x1, x20",
    "blr x19",
    "brk #1",
    ".cfi_endproc",
    ".size gosched_start, . - gosched_start",
);

/// Bytes of the frame [`initial_frame`] writes below the closure.
const FRAME: usize = 160;

/// Writes the frame `gosched_switch` restores on a fresh stack whose closure
/// starts at `data` (16-byte aligned); returns the stack pointer to load.
///
/// ```text
///  data       -> closure
///  data - 64    d8 … d15 = 0
///  data - 72    x30 = gosched_start   (the first switch returns there)
///  data - 80    x29 = 0
///  data - 144   x21 … x28 = 0
///  data - 152   x20 = data
///  data - 160   x19 = entry          <- returned stack pointer
/// ```
///
/// # Safety
///
/// The [`FRAME`] bytes below `data` must be writable stack memory that
/// nothing else uses.
pub(super) unsafe fn initial_frame(data: usize, entry: usize) -> usize {
    extern "C" {
        fn gosched_start();
    }
    let sp = data - FRAME;
    let mut words = [0usize; FRAME / 8];
    words[0] = entry;
    words[1] = data;
    words[11] = gosched_start as *const () as usize;
    // SAFETY: the caller gives us these FRAME bytes, 16-byte aligned.
    unsafe { std::ptr::copy_nonoverlapping(words.as_ptr(), sp as *mut usize, words.len()) };
    sp
}
