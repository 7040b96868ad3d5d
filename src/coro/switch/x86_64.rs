//! The x86_64 System V switch.
//!
//! A suspended side's stack pointer points at the address it resumes at,
//! above which it pushed `rbp` and `rbx` (LLVM reserves both, so they cannot
//! be asm clobbers); the other callee-saved registers are clobbers, saved
//! by the compiler only where live. Whoever switches in jumps to that address
//! with the stack pointer in `rdx` and the word in `rdi`.
//!
//! Calls and returns stay paired for the CPU's return-address predictor:
//! the scheduler enters a coroutine with `call`, a coroutine goes back with
//! `ret` to right after that call, and a hand-off is a `jmp`. (Each
//! mispredicted return costs about as much as the whole switch.)

use std::arch::{asm, global_asm};

// A fresh stack's resume address: `entry(rdi: word, rsi: data)` on the
// fresh stack, under a null return address and `rbp` = 0 (unwinders and
// frame-pointer walks end there).
global_asm!(
    ".text",
    ".p2align 4",
    ".globl gosched_start",
    ".hidden gosched_start",
    ".type gosched_start, @function",
    "gosched_start:",
    "lea rsp, [rdx + 32]",
    "mov rsi, [rdx + 16]",
    "xor ebp, ebp",
    "push 0",
    "jmp qword ptr [rdx + 8]",
    ".size gosched_start, . - gosched_start",
);

/// The resume frame of a fresh stack whose closure starts at `data`, from
/// its lowest word (the stack pointer to switch to) up:
///
/// ```text
///  data      -> closure
///  data - 8     0              becomes the entry's null return address
///  data - 16    data           closure address, for `entry`'s rsi
///  data - 24    entry
///  data - 32    gosched_start  resume address
/// ```
pub(super) fn initial_frame(data: usize, entry: usize) -> [usize; 4] {
    extern "C" {
        fn gosched_start();
    }
    [gosched_start as *const () as usize, entry, data, 0]
}

/// Scheduler → coroutine at `sp`: stores the scheduler's stack pointer in
/// `*back` and enters with `word`; returns the word the coroutine that
/// switches back sends.
///
/// # Safety
///
/// `sp` is a suspended coroutine's (or a fresh frame's); whoever switches
/// back loads `*back`.
#[inline(always)]
pub(super) unsafe fn resume(sp: usize, back: *mut usize, word: usize) -> usize {
    let out;
    // SAFETY: the caller's contract; the registers the other side changes
    // are pushed or declared clobbered.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "lea rax, [rsp - 8]",
            "mov [rsi], rax",
            "call [rdx]",
            "pop rbx",
            "pop rbp",
            inlateout("rdi") word => out,
            in("rsi") back,
            in("rdx") sp,
            lateout("r12") _, lateout("r13") _, lateout("r14") _, lateout("r15") _,
            clobber_abi("sysv64"),
        );
    }
    out
}

/// Coroutine → elsewhere: pushes `rbp`, `rbx` and the resume address (label
/// 2), stores the stack pointer in `*$save`, then leaves with `$leave`
/// (which has `$val` in `$reg`) sending `$word`; evaluates to the word we
/// are resumed with, at label 2.
macro_rules! switch_away {
    ($save:expr, $word:expr, $leave:literal, $reg:tt = $val:expr) => {{
        let out: usize;
        asm!(
            "push rbp",
            "push rbx",
            "lea rax, [rip + 2f]",
            "push rax",
            "mov [rcx], rsp",
            $leave,
            "2:",
            "lea rsp, [rdx + 8]",
            "pop rbx",
            "pop rbp",
            inlateout("rdi") $word => out,
            in("rcx") $save,
            in($reg) $val,
            lateout("r12") _, lateout("r13") _, lateout("r14") _, lateout("r15") _,
            clobber_abi("sysv64"),
        );
        out
    }};
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
    unsafe { switch_away!(save, word, "mov rsp, rsi\nret", "rsi" = back) }
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
    unsafe { switch_away!(save, word, "jmp [rdx]", "rdx" = to) }
}

/// A finished coroutine's last switch: `word` to the scheduler at `back`.
///
/// # Safety
///
/// As [`suspend`]; nothing may switch to this stack again.
#[inline(always)]
pub(super) unsafe fn finish(back: usize, word: usize) -> ! {
    // SAFETY: the caller's contract.
    unsafe { asm!("mov rsp, rsi", "ret", in("rdi") word, in("rsi") back, options(noreturn)) }
}
