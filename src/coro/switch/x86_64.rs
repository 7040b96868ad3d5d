//! The x86_64 System V switch: six callee-saved registers, the stack pointer
//! and the return address.

use std::arch::global_asm;

// `gosched_switch(save: *mut usize, to: usize, arg: usize) -> usize`: pushes
// the callee-saved registers, stores the stack pointer in `*save`, loads
// `to`, pops the registers saved there and returns `arg` into the frame that
// switched away from `to` (or, on a fresh stack, into `gosched_start`).
// MXCSR and the x87 control word are left alone: goroutines share them with
// the thread, as they did under corosensei.
//
// `gosched_start` is where a fresh stack first returns to: it calls the
// entry (`rbx`) with the resumer's `arg` and the closure's address (`r12`).
// Its return address is undefined for the unwinder, and `rbp` is 0 there, so
// backtraces (DWARF or frame pointers) end at the goroutine's base.
global_asm!(
    ".text",
    ".p2align 4",
    ".globl gosched_switch",
    ".hidden gosched_switch",
    ".type gosched_switch, @function",
    "gosched_switch:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "mov rax, rdx",
    "ret",
    ".size gosched_switch, . - gosched_switch",
    "",
    ".p2align 4",
    ".globl gosched_start",
    ".hidden gosched_start",
    ".type gosched_start, @function",
    "gosched_start:",
    ".cfi_startproc",
    ".cfi_undefined rip",
    "mov rdi, rax",
    "mov rsi, r12",
    "call rbx",
    "ud2",
    ".cfi_endproc",
    ".size gosched_start, . - gosched_start",
);

/// Bytes between the first saved register and the closure: what
/// [`initial_frame`] writes.
const FRAME: usize = 72;

/// Writes the frame `gosched_switch` pops on a fresh stack whose closure
/// starts at `data` (16-byte aligned); returns the stack pointer to load.
///
/// ```text
///  data      -> closure
///  data - 8     0            (padding: `gosched_start` calls with rsp
///  data - 16    0             16-byte aligned)
///  data - 24    gosched_start  return address of the first switch
///  data - 32    rbp = 0
///  data - 40    rbx = entry
///  data - 48    r12 = data
///  data - 56    r13 = 0
///  data - 64    r14 = 0
///  data - 72    r15 = 0      <- returned stack pointer
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
    let words = [
        0,
        0,
        0,
        data,
        entry,
        0,
        gosched_start as *const () as usize,
        0,
        0,
    ];
    // SAFETY: the caller gives us these FRAME bytes, 8-byte aligned.
    unsafe { std::ptr::copy_nonoverlapping(words.as_ptr(), sp as *mut usize, words.len()) };
    sp
}
