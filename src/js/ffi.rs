//! The imports a JS host provides (js/gosched.mjs implements them), wrapped
//! in safe functions, and the value record both sides exchange.
//!
//! Module name `gosched_js`. Every import is synchronous and never switches
//! goroutines (cargo-gosched tells Asyncify to ignore imports). An import
//! may call back into the module's exports (`gosched_js_buffer`,
//! `gosched_js_callback`); those never switch goroutines either.

/// A value crossing the boundary, 16 bytes, read and written by the loader
/// with a DataView (js/gosched.mjs `readRaw`/`writeRaw` mirror this).
///
/// `tag`: 0 undefined, 1 null, 2 bool (`num` 0 or 1), 3 number, 4 string,
/// 5 object (`num` is its handle in the loader's table), 6 error (a string
/// describing what JS threw). Strings sent from Rust: `num` is the address
/// and `len` the byte length of UTF-8 in linear memory. Strings sent from JS:
/// `num` is the offset of the bytes in the exchange buffer
/// (`gosched_js_buffer`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Raw {
    pub(crate) tag: u32,
    pub(crate) len: u32,
    pub(crate) num: f64,
}

const _: () = assert!(std::mem::size_of::<Raw>() == 16);

pub(crate) const TAG_UNDEFINED: u32 = 0;
pub(crate) const TAG_NULL: u32 = 1;
pub(crate) const TAG_BOOL: u32 = 2;
pub(crate) const TAG_NUMBER: u32 = 3;
pub(crate) const TAG_STRING: u32 = 4;
pub(crate) const TAG_OBJECT: u32 = 5;
pub(crate) const TAG_ERROR: u32 = 6;

mod sys {
    use super::Raw;

    #[link(wasm_import_module = "gosched_js")]
    extern "C" {
        pub(super) fn now() -> f64;
        pub(super) fn print(stream: u32, ptr: *const u8, len: usize);
        pub(super) fn panic(msg: *const u8, msg_len: usize, loc: *const u8, loc_len: usize);
        pub(super) fn call(
            this: u32,
            name: *const u8,
            name_len: usize,
            args: *const Raw,
            argc: usize,
            out: *mut Raw,
        ) -> u32;
        pub(super) fn get(this: u32, name: *const u8, name_len: usize, out: *mut Raw) -> u32;
        pub(super) fn set(
            this: u32,
            name: *const u8,
            name_len: usize,
            value: *const Raw,
            out: *mut Raw,
        ) -> u32;
        pub(super) fn then(handle: u32, id: u32);
        pub(super) fn dup(handle: u32) -> u32;
        pub(super) fn release(handle: u32);
        pub(super) fn wake();
    }
}

// SAFETY (for every wrapper below): the imports are implemented by the
// loader, which reads only the `len` bytes at `ptr` that the wrapper passes
// from a live `&str`/slice, writes only the one `Raw` behind `out` (a live
// `&mut Raw`), and takes or gives handles by value. None of them unwinds
// or rewinds Asyncify state.

/// `performance.now()`: milliseconds since the page or process started.
pub(crate) fn now_ms() -> f64 {
    unsafe { sys::now() }
}

/// Writes `text` to the console: stream 1 is `console.log`, 2 `console.error`.
pub(crate) fn print(stream: u32, text: &str) {
    unsafe { sys::print(stream, text.as_ptr(), text.len()) }
}

/// Tells the loader why the module is about to trap.
pub(crate) fn panic(message: &str, location: &str) {
    unsafe {
        sys::panic(
            message.as_ptr(),
            message.len(),
            location.as_ptr(),
            location.len(),
        )
    }
}

/// Calls `this[name](...args)` (`this` 0: the loader's function table, then
/// `globalThis`, `name` may be a dotted path). Returns whether it returned
/// (else it threw and `out` describes the error).
pub(crate) fn call(this: u32, name: &str, args: &[Raw], out: &mut Raw) -> bool {
    unsafe {
        sys::call(
            this,
            name.as_ptr(),
            name.len(),
            args.as_ptr(),
            args.len(),
            out,
        ) == 0
    }
}

/// Reads `this[name]` (`this` 0: as in [`call`]).
pub(crate) fn get(this: u32, name: &str, out: &mut Raw) -> bool {
    unsafe { sys::get(this, name.as_ptr(), name.len(), out) == 0 }
}

/// Assigns `this[name] = value`.
pub(crate) fn set(this: u32, name: &str, value: &Raw, out: &mut Raw) -> bool {
    unsafe { sys::set(this, name.as_ptr(), name.len(), value, out) == 0 }
}

/// Asks the loader to settle promise `id` (`gosched_js_settle`) when the
/// object `handle` (any value: it goes through `Promise.resolve`) settles.
pub(crate) fn then(handle: u32, id: u32) {
    unsafe { sys::then(handle, id) }
}

/// A second handle to the object behind `handle`.
pub(crate) fn dup(handle: u32) -> u32 {
    unsafe { sys::dup(handle) }
}

/// Frees a handle of the loader's object table.
pub(crate) fn release(handle: u32) {
    unsafe { sys::release(handle) }
}

/// 64 random bits from two `Math.random()` calls (53 bits each).
pub(crate) fn random_u64() -> u64 {
    let draw = || {
        let mut out = Raw::default();
        let ok = call(0, "Math.random", &[], &mut out) && out.tag == TAG_NUMBER;
        if ok {
            (out.num * 9_007_199_254_740_992.0) as u64
        } else {
            0
        }
    };
    draw() << 32 ^ draw()
}

/// `Date.now()`: the wall clock, in milliseconds since the Unix epoch.
///
/// # Panics
///
/// If the host's `Date.now` does not return a number.
pub(crate) fn date_now_ms() -> f64 {
    let mut out = Raw::default();
    let ok = call(0, "Date.now", &[], &mut out) && out.tag == TAG_NUMBER;
    assert!(
        ok,
        "gosched: the JS host's Date.now() did not return a number"
    );
    out.num
}

/// Asks the loader to poll the scheduler soon (a waker was woken).
pub(crate) fn wake() {
    unsafe { sys::wake() }
}
