//! Goroutines in a JS host (wasm32-unknown-unknown): Node ≥ 20 and browsers.
//!
//! The module runs its goroutines until all of them wait, then returns to the
//! JS event loop, as Go's js/wasm port does. The loader, [`LOADER`]
//! (js/gosched.mjs), re-enters it when a timer is due, a promise a goroutine
//! waits on settles, or a JS event sends into a [`callback_channel`]. No
//! wasm-bindgen: the module imports a handful of functions from the loader.
//! docs/js.md has the whole story (building, the loader's API, wasm-bindgen).
//!
//! The entry point is an export of your cdylib that calls [`start`], most
//! simply through [`js_main!`](crate::js_main):
//!
//! ```
//! # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
//! # {
//! use std::time::Duration;
//!
//! gosched::js_main!(|| {
//!     let (tx, rx) = gosched::chan(0);
//!     gosched::go(move || {
//!         gosched::sleep(Duration::from_millis(10));
//!         tx.send("hello from a goroutine").unwrap();
//!     });
//!     rx.recv().unwrap() // the loader's promise resolves with it
//! });
//! # }
//! ```
//!
//! ```js
//! import { run } from "./gosched.mjs";
//! console.log(await run(await fetch("app.wasm")));
//! ```
//!
//! The `.wasm` must go through Binaryen's Asyncify pass first
//! (`cargo gosched build --target wasm32-unknown-unknown`), like every gosched wasm module.
//!
//! `println!` prints nothing on this target: use [`log`]. A panic traps the
//! module (wasm has no unwinding); the loader rejects with its message, and a
//! deadlock is such a panic (`all goroutines are asleep - deadlock!`).

mod callback;
mod exports;
pub(crate) mod ffi;
pub(crate) mod platform;
mod promise;
mod value;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use std::rc::Rc;

pub use callback::callback_channel;
pub use platform::JsPlatform;
pub use promise::Promise;
pub use value::{JsError, JsObject, JsValue};

use self::ffi::Raw;
use crate::runtime::try_scheduler;
use crate::{Program, Runtime};

/// The loader, js/gosched.mjs: an ES module to serve next to your `.wasm`.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// assert!(gosched::js::LOADER.contains("export async function run"));
/// ```
pub const LOADER: &str = include_str!("../../js/gosched.mjs");

/// Exports the function `gosched_main` (or the name given first) that the
/// loader calls to start the program: `main` becomes the main goroutine, see
/// [`start`].
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// // Exported as `gosched_main` (the loader's default entry):
/// gosched::js_main!(|| 6 * 7);
/// // Exported as `other_entry`: loader option { entry: "other_entry" }.
/// gosched::js_main!(other_entry, || "another program");
/// # }
/// ```
#[macro_export]
macro_rules! js_main {
    ($main:expr) => {
        $crate::js_main!(gosched_main, $main);
    };
    ($entry:ident, $main:expr) => {
        /// The entry point the gosched JS loader calls.
        #[no_mangle]
        pub extern "C" fn $entry() {
            $crate::js::start($main)
        }
    };
}

/// Creates the program of this module instance with `main` as its main
/// goroutine; the loader then runs it. Its value, converted to a
/// [`JsValue`], is what the loader's promise resolves with.
///
/// Also installs a panic hook that hands the panic's message to the loader
/// (then calls the hook that was installed before).
///
/// # Panics
///
/// If this instance already has a program.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// #[no_mangle]
/// pub extern "C" fn my_entry() {
///     gosched::js::start(|| gosched::js::log("main goroutine running"));
/// }
/// # }
/// ```
pub fn start<T: Into<JsValue> + 'static>(main: impl FnOnce() -> T + 'static) {
    start_with(Runtime::new(), main)
}

/// [`start`] with a configured [`Runtime`] (stack size...).
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// gosched::js::start_with(gosched::Runtime::new().stack_size(64 * 1024), || 1);
/// # }
/// ```
pub fn start_with<T: Into<JsValue> + 'static>(
    runtime: Runtime,
    main: impl FnOnce() -> T + 'static,
) {
    install_panic_hook();
    PROGRAM.with_borrow_mut(|program| {
        assert!(
            program.is_none(),
            "gosched::js::start: this module instance has a program already \
             (instantiate the module again for another one)"
        );
        *program = Some(runtime.start(move || main().into()));
    });
}

/// Writes `message` to the console (`console.log`, or the loader's `print`
/// option).
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// gosched::js::log(format_args!("{} goroutines", 3));
/// ```
pub fn log(message: impl Display) {
    ffi::print(1, &message.to_string());
}

/// Writes `message` to the error console (`console.error`, or the loader's
/// `print` option).
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// gosched::js::error("something went wrong");
/// ```
pub fn error(message: impl Display) {
    ffi::print(2, &message.to_string());
}

/// Calls the JS function `name` with `args`: a function given to the loader
/// (option `functions`), else a property path of `globalThis`
/// (`"console.log"`, `"document.getElementById"`; `this` is the object the
/// last step was read from). What it throws comes back as `Err`.
///
/// A call returns at once: if the function returns a promise, wait for it
/// with [`Promise`].
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// use gosched::js::{self, JsValue};
/// assert_eq!(js::call("Math.max", &[1.into(), 3.into()]).unwrap(), JsValue::Number(3.0));
/// assert!(js::call("no.such.function", &[]).is_err());
/// # }
/// ```
pub fn call(name: &str, args: &[JsValue]) -> Result<JsValue, JsError> {
    call_on(0, name, args)
}

/// Reads a value given to the loader (option `functions`) or a property path
/// of `globalThis`.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// let pi = gosched::js::get("Math.PI").unwrap();
/// assert_eq!(pi.as_f64(), Some(std::f64::consts::PI));
/// # }
/// ```
pub fn get(name: &str) -> Result<JsValue, JsError> {
    get_on(0, name)
}

fn call_on(this: u32, name: &str, args: &[JsValue]) -> Result<JsValue, JsError> {
    let raw_args: Vec<Raw> = args.iter().map(JsValue::to_raw).collect();
    let mut out = Raw::default();
    let ok = ffi::call(this, name, &raw_args, &mut out);
    take_result(ok, out)
}

fn get_on(this: u32, name: &str) -> Result<JsValue, JsError> {
    let mut out = Raw::default();
    let ok = ffi::get(this, name, &mut out);
    take_result(ok, out)
}

fn set_on(this: u32, name: &str, value: &JsValue) -> Result<(), JsError> {
    let mut out = Raw::default();
    let ok = ffi::set(this, name, &value.to_raw(), &mut out);
    take_result(ok, out).map(drop)
}

/// The value or error an import wrote to `out` (strings in the exchange buffer).
fn take_result(ok: bool, out: Raw) -> Result<JsValue, JsError> {
    EXCHANGE.with_borrow(|bytes| {
        if ok {
            Ok(JsValue::from_raw(out, bytes))
        } else {
            Err(JsError::from_raw(out, bytes))
        }
    })
}

/// Module-wide state of the JS side.
#[derive(Default)]
struct State {
    /// Promises goroutines wait on, by the id the loader settles them with.
    promises: HashMap<u32, promise::Pending>,
    next_promise: u32,
    callbacks: HashMap<String, Rc<dyn callback::Registration>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::default();
    /// The program [`start`] created; taken out when its main goroutine returns.
    static PROGRAM: RefCell<Option<Program<JsValue>>> = const { RefCell::new(None) };
    /// Bytes the loader writes for us (strings), see `gosched_js_buffer`.
    static EXCHANGE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// A value we hand to the loader (`gosched_js_out`), with its string.
    static OUT: RefCell<(Raw, JsValue)> = RefCell::new((Raw::default(), JsValue::Undefined));
}

/// Installs (once per instance) the panic hook that hands panic messages to
/// the loader before the module traps.
fn install_panic_hook() {
    thread_local!(static INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    if INSTALLED.replace(true) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        ffi::panic(message, &location);
        previous(info);
    }));
}

/// Runs `f` with the program's scheduler active: directly when called from
/// inside a poll (a goroutine called JS, which called us back), else through
/// `Program::enter`. `None` if there is no program.
fn with_scheduler<R>(f: impl FnOnce() -> R) -> Option<R> {
    if try_scheduler().is_some() {
        return Some(f());
    }
    PROGRAM.with_borrow(|program| program.as_ref().map(|p| p.enter(f)))
}

/// Puts `value` where `gosched_js_out` shows it; its handle passes to the loader.
fn set_out(value: JsValue) {
    OUT.with_borrow_mut(|(raw, keep)| {
        *raw = value.to_raw();
        *keep = match value {
            // The loader takes the handle over: it must not be released here.
            JsValue::Object(o) => {
                o.into_handle();
                JsValue::Undefined
            }
            other => other,
        };
    });
}
