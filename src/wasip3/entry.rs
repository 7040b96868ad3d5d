//! The component's entry: `wasi:cli/run@0.3.0#run`, exported by gosched
//! itself, runs the program's ordinary `main` (a binary's, or libtest's).
//!
//! Why this export and not std's `wasi:cli/run@0.2.0`: blocking in
//! `waitable-set.wait` is allowed only inside an async-typed export, and the
//! 0.3.0 `run` is `async func() -> result`. Lifted synchronously it needs no
//! wasmtime flag, and it holds its stack while it blocks, so goroutine stacks
//! and the scheduler stay where they are. wasmtime 49 calls the 0.3.0 `run`
//! when a component exports both.
//!
//! The export's WIT type travels in a `component-type:` custom section (as
//! wit-bindgen embeds its own), so the user passes no linker flags. The bytes
//! are `run-export.wit` encoded by
//! `wasm-tools component embed run-export.wit --world run-export EMPTY.wasm --only-custom`
//! (cargo-gosched's test `gosched_run_export_type_encodes_its_wit` checks them).

/// Encoded WIT of `world run-export { export wasi:cli/run@0.3.0; }`.
#[used]
#[unsafe(link_section = "component-type:gosched:wasip3@0.1.0:run-export")]
static RUN_EXPORT_TYPE: [u8; 189] = *include_bytes!("run-export.component-type");

unsafe extern "C" {
    /// wasi-libc's `crt1-command.o` entry (wasm32-wasip2): runs constructors,
    /// `main` and destructors; returns 0 on success.
    fn _start() -> i32;
}

/// `wasi:cli/run@0.3.0#run`, lifted synchronously; returns `result`'s
/// discriminant (0 = ok).
#[unsafe(export_name = "wasi:cli/run@0.3.0#run")]
extern "C" fn run() -> u32 {
    // Keeps the type section in the object that the export pulls in.
    std::hint::black_box(RUN_EXPORT_TYPE.as_ptr());
    // SAFETY: the command entry, called once, as the host would call it.
    let status = unsafe { _start() };
    u32::from(status != 0)
}
