//! Scenarios that end a wasm32 module on purpose: stack overflows must abort
//! with a message that names the goroutine.
//!
//! wasm32-wasip1 cannot start a child process, so these are `#[ignore]`d and
//! tools/wasm-abort-checks runs each one alone (`--ignored --exact NAME`)
//! under wasmtime and checks how it ended. Natively, tests/abort.rs covers the
//! same ground with child processes.
#![cfg(target_arch = "wasm32")]

use std::hint::black_box;

/// Recurses without end, yielding at every level: the stack-pointer check at
/// a suspend catches the overflow while the stack still has its red zone.
#[allow(unconditional_recursion)]
fn recurse_yielding(depth: u64) -> u64 {
    let frame = black_box([depth; 16]);
    gosched::yield_now();
    recurse_yielding(depth + 1) + black_box(frame)[3]
}

/// Runs `body` on a goroutine named "deep" with a stack of `kib` KiB.
fn in_named_goroutine(kib: usize, body: fn() -> u64) {
    gosched::run(move || {
        let h = gosched::Builder::new()
            .name("deep".into())
            .stack_size(kib * 1024)
            .spawn(body)
            .unwrap();
        h.join().map(drop).unwrap();
    });
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasm-abort-checks"]
fn overflow_while_yielding() {
    in_named_goroutine(64, || recurse_yielding(0));
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasm-abort-checks"]
fn overflow_past_the_canary_is_caught_at_the_next_switch() {
    in_named_goroutine(64, || {
        // A frame a little larger than the whole allocation overwrites the
        // canary below the stack (and a few bytes of the heap below it).
        let big = black_box([7u8; 64 * 1024 + 4096 + 64]);
        gosched::yield_now();
        u64::from(big[100])
    });
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasm-abort-checks"]
fn a_frame_larger_than_the_stack_is_reported() {
    in_named_goroutine(64, || {
        // 1 MiB of locals on a 64 KiB stack, no switch: without cargo-gosched's
        // stack check this writes over the heap below the stack.
        let huge = black_box([9u8; 1024 * 1024]);
        u64::from(black_box(&huge)[4096])
    });
}

/// Recurses without end and without a switch.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 16]);
    recurse(depth + 1) + black_box(frame)[3]
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasm-abort-checks"]
fn recursion_without_a_switch_is_reported() {
    in_named_goroutine(64, || recurse(0));
}

/// Recurses with scalars only, which optimized code keeps in wasm locals: the
/// stack pointer barely moves, but each frame takes room in the Asyncify
/// buffer when the goroutine yields at the bottom.
fn deep_scalar(n: u32) -> u32 {
    if n == 0 {
        gosched::yield_now();
        return 0;
    }
    black_box(deep_scalar(black_box(n - 1))) + 1
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasm-abort-checks"]
fn asyncify_buffer_overflow_is_reported() {
    in_named_goroutine(8, || u64::from(deep_scalar(3_000)));
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasm-abort-checks"]
fn overflow_of_main_names_main() {
    gosched::Runtime::new()
        .stack_size(64 * 1024)
        .run(|| recurse_yielding(0));
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasm-abort-checks"]
fn deadlock_is_reported_as_natively() {
    gosched::run(|| {
        let (_tx, rx) = gosched::chan::<u32>(0);
        gosched::Builder::new()
            .name("sleeper".into())
            .spawn(|| gosched::sleep(std::time::Duration::from_millis(5)))
            .unwrap();
        rx.recv().ok()
    });
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasm-abort-checks"]
fn million_goroutines_with_default_stacks_fail_once() {
    // 256 KiB each: linear memory holds about 16k; the rest wait for a
    // stack, so `go` fails (one panic) and nothing else is printed.
    gosched::run(|| {
        let (_tx, rx) = gosched::chan::<()>(0);
        for _ in 0..1_000_000 {
            let rx = rx.clone();
            gosched::go(move || rx.recv().ok());
            if gosched::num_goroutines() % 1024 == 0 {
                gosched::yield_now(); // let them start
            }
        }
    });
}
