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
    // What wasi-libc's `_start` (crt1-command.o) does, step by step. `_start`
    // itself exists only in a binary: naming it would leave a library
    // (`crate-type = ["cdylib"]`, a service) with an unresolved `env::_start`
    // import, which `wasm-tools component new` rejects. These exist in both.
    /// wasi-libc: sets up the thread pointer (thread-locals).
    fn __wasi_init_tp();
    /// wasm-ld's: runs the static constructors.
    fn __wasm_call_ctors();
    /// wasi-libc (weak): reads the arguments and calls `main`, which only a
    /// binary has (a library's call would trap; nothing calls it there).
    fn __main_void() -> i32;
    /// wasi-libc: runs the destructors (`atexit`, stdio flush).
    fn __wasm_call_dtors();
}

/// `wasi:cli/run@0.3.0#run`, lifted synchronously; returns `result`'s
/// discriminant (0 = ok).
#[unsafe(export_name = "wasi:cli/run@0.3.0#run")]
extern "C" fn run() -> u32 {
    // Keeps the type section in the object that the export pulls in.
    std::hint::black_box(RUN_EXPORT_TYPE.as_ptr());
    // SAFETY: the command start-up sequence, once, as the host would run it
    // through `_start` (the host calls `run` once per instance).
    let status = unsafe {
        __wasi_init_tp();
        __wasm_call_ctors();
        let status = __main_void();
        __wasm_call_dtors();
        status
    };
    u32::from(status != 0)
}
