//! The functions the loader calls (wasm exports). `pub` in a private module:
//! `#[no_mangle]` exports them from the user's cdylib, and they stay out of
//! the crate's API.

use std::task::Poll;

use super::ffi::Raw;
use super::{callback, promise, set_out, take_result, with_scheduler, JsValue};
use super::{EXCHANGE, OUT, PROGRAM};

/// Runs goroutines until all wait. Returns -1 when the main goroutine has
/// returned (its value is at `gosched_js_out`), -2 when they wait only for
/// JS events, else the `performance.now()` time in ms of the next timer.
#[no_mangle]
pub extern "C" fn gosched_js_poll() -> f64 {
    PROGRAM.with_borrow_mut(|slot| {
        let Some(program) = slot.as_mut() else {
            super::install_panic_hook();
            panic!("gosched: no program to poll: the entry must call gosched::js::start");
        };
        match program.poll() {
            Poll::Ready(value) => {
                *slot = None;
                set_out(value);
                -1.0
            }
            Poll::Pending => super::platform::armed_deadline()
                .map_or(-2.0, |deadline| deadline.as_secs_f64() * 1000.0),
        }
    })
}

/// The address of the `Raw` record of the last value handed to the loader.
#[no_mangle]
pub extern "C" fn gosched_js_out() -> *const u8 {
    OUT.with_borrow(|(raw, _)| (raw as *const Raw).cast())
}

/// Makes the exchange buffer `len` bytes long and returns its address, for
/// the loader to write strings into.
#[no_mangle]
pub extern "C" fn gosched_js_buffer(len: u32) -> *mut u8 {
    EXCHANGE.with_borrow_mut(|bytes| {
        bytes.clear();
        bytes.resize(len as usize, 0);
        bytes.as_mut_ptr()
    })
}

/// Promise `id` settled: `ok` 1 resolved with the value, 0 rejected with the
/// error (a string).
#[no_mangle]
pub extern "C" fn gosched_js_settle(id: u32, ok: u32, tag: u32, num: f64, len: u32) {
    let raw = Raw { tag, len, num };
    let result = take_result(ok != 0, raw);
    promise::settle(id, result);
}

/// JS delivers a value to the callback whose name is the first `name_len`
/// bytes of the exchange buffer (a string value follows it). Returns 0 sent,
/// 1 dropped (channel full), 2 no such callback, 3 the value does not convert
/// (the message is at `gosched_js_out`).
#[no_mangle]
pub extern "C" fn gosched_js_callback(name_len: u32, tag: u32, num: f64, len: u32) -> u32 {
    let (name, value) = EXCHANGE.with_borrow(|bytes| {
        let name = bytes.get(..name_len as usize).unwrap_or_default();
        let name = String::from_utf8_lossy(name).into_owned();
        (name, JsValue::from_raw(Raw { tag, len, num }, bytes))
    });
    let delivery = with_scheduler(|| callback::deliver(&name, value));
    match delivery {
        None => callback::Delivery::Unknown as u32,
        Some(Ok(d)) => d as u32,
        Some(Err(error)) => {
            set_out(JsValue::String(error.message().to_owned()));
            callback::Delivery::BadValue as u32
        }
    }
}
