//! Goroutine-local storage: a value per goroutine, like `thread_local!` per
//! thread.
//!
//! `thread_local!` cannot tell goroutines apart: all goroutines of a
//! [`run`](crate::run) share their OS thread, and on wasm32 there is only one
//! thread. [`goroutine_local!`](crate::goroutine_local) declares a
//! [`LocalKey`] instead: each goroutine that uses it gets its own value,
//! created by the initializer on the goroutine's first access and dropped
//! when the goroutine finishes (on its own stack, after its code returned or
//! panicked, before [`JoinHandle::join`](crate::JoinHandle::join) returns).
//! Goroutines still parked when `main` returns drop their values before
//! [`run`](crate::run) returns (on wasm too, where their frames are
//! abandoned).
//!
//! ```
//! use std::cell::Cell;
//!
//! gosched::goroutine_local! {
//!     static DEPTH: Cell<u32> = Cell::new(0);
//! }
//!
//! gosched::run(|| {
//!     DEPTH.set(5);
//!     let other = gosched::go(|| {
//!         DEPTH.set(DEPTH.get() + 1); // starts from its own 0
//!         gosched::yield_now();
//!         DEPTH.get()
//!     });
//!     gosched::yield_now();
//!     assert_eq!(other.join().unwrap(), 1);
//!     assert_eq!(DEPTH.get(), 5);
//! });
//! ```

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::rc::Rc;

use crate::runtime::{try_scheduler, GRef};

/// Declares goroutine-local statics of type [`LocalKey`]; the syntax of
/// `thread_local!` (attributes, visibility, several declarations).
///
/// The initializer runs in each goroutine that first touches the key.
///
/// ```
/// use std::cell::RefCell;
///
/// gosched::goroutine_local! {
///     /// Lines this goroutine logged.
///     pub static LOG: RefCell<Vec<String>> = RefCell::new(Vec::new());
///     static NAME: String = gosched::current_name().unwrap_or_default();
/// }
///
/// gosched::run(|| {
///     LOG.with_borrow_mut(|log| log.push("hello".into()));
///     assert_eq!(NAME.with(|n| n.clone()), "main");
///     assert_eq!(LOG.with_borrow(|log| log.len()), 1);
/// });
/// ```
#[macro_export]
macro_rules! goroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::goroutine_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::goroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])*
        $vis static $name: $crate::local::LocalKey<$t> = $crate::local::LocalKey::new({
            fn init() -> $t {
                $init
            }
            init
        });
    };
}

/// A goroutine-local key, declared with
/// [`goroutine_local!`](crate::goroutine_local); std's
/// [`LocalKey`](std::thread::LocalKey) for goroutines.
///
/// ```
/// gosched::goroutine_local!(static ID: u64 = gosched::current_id());
///
/// gosched::run(|| {
///     let child = gosched::go(|| ID.with(|id| *id));
///     assert_eq!(child.join().unwrap(), 2);
///     assert_eq!(ID.with(|id| *id), 1);
/// });
/// ```
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

impl<T: 'static> LocalKey<T> {
    /// A key whose values start as `init()`. Use
    /// [`goroutine_local!`](crate::goroutine_local) rather than this.
    ///
    /// ```
    /// static KEY: gosched::local::LocalKey<u8> = gosched::local::LocalKey::new(|| 7);
    /// assert_eq!(gosched::run(|| KEY.with(|v| *v)), 7);
    /// ```
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init }
    }

    /// Calls `f` with the running goroutine's value, creating it first if
    /// this goroutine has none yet. `f` may block (the value stays put).
    ///
    /// # Panics
    ///
    /// Outside a goroutine.
    ///
    /// ```
    /// gosched::goroutine_local!(static GREETING: String = "hi".to_owned());
    /// gosched::run(|| assert_eq!(GREETING.with(|g| g.len()), 2));
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(AccessError) => panic!(
                "gosched::local::LocalKey::with must be called inside a goroutine \
                 (inside gosched::run)"
            ),
        }
    }

    /// As [`with`](Self::with), but returns [`AccessError`] instead of
    /// panicking outside a goroutine.
    ///
    /// ```
    /// gosched::goroutine_local!(static N: u32 = 1);
    /// assert!(N.try_with(|n| *n).is_err());
    /// assert_eq!(gosched::run(|| N.try_with(|n| *n)), Ok(1));
    /// ```
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        let g = current().ok_or(AccessError)?;
        let value = self.value(&g);
        drop(g);
        Ok(f(value
            .downcast_ref::<T>()
            .expect("a key's values have its type")))
    }

    /// The running goroutine's value (an `Rc`, so that no borrow of the slot
    /// table is held while the caller uses it).
    fn value(&'static self, g: &GRef) -> Rc<dyn Any> {
        let id = self.id();
        if let Some(v) = g.locals.find(id) {
            return v;
        }
        // `init` may use other keys (or, oddly, this one): no borrow is held.
        let fresh: Rc<dyn Any> = Rc::new((self.init)());
        g.locals.find(id).unwrap_or_else(|| {
            g.locals.insert(id, fresh.clone());
            fresh
        })
    }

    fn id(&'static self) -> usize {
        // A static's address identifies it.
        self as *const Self as usize
    }
}

impl<T: Copy + 'static> LocalKey<Cell<T>> {
    /// The running goroutine's value.
    ///
    /// # Panics
    ///
    /// Outside a goroutine.
    ///
    /// ```
    /// gosched::goroutine_local!(static HITS: std::cell::Cell<u32> = std::cell::Cell::new(3));
    /// gosched::run(|| assert_eq!(HITS.get(), 3));
    /// ```
    pub fn get(&'static self) -> T {
        self.with(Cell::get)
    }

    /// Sets the running goroutine's value.
    ///
    /// # Panics
    ///
    /// Outside a goroutine.
    ///
    /// ```
    /// gosched::goroutine_local!(static HITS: std::cell::Cell<u32> = std::cell::Cell::new(0));
    /// gosched::run(|| {
    ///     HITS.set(9);
    ///     assert_eq!(HITS.get(), 9);
    /// });
    /// ```
    pub fn set(&'static self, value: T) {
        self.with(|cell| cell.set(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Calls `f` with a shared borrow of the running goroutine's value.
    ///
    /// # Panics
    ///
    /// Outside a goroutine, or if the value is mutably borrowed.
    ///
    /// ```
    /// gosched::goroutine_local!(static V: std::cell::RefCell<Vec<u8>> = Default::default());
    /// gosched::run(|| assert!(V.with_borrow(|v| v.is_empty())));
    /// ```
    pub fn with_borrow<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Calls `f` with a mutable borrow of the running goroutine's value.
    ///
    /// # Panics
    ///
    /// Outside a goroutine, or if the value is already borrowed.
    ///
    /// ```
    /// gosched::goroutine_local!(static V: std::cell::RefCell<Vec<u8>> = Default::default());
    /// gosched::run(|| {
    ///     V.with_borrow_mut(|v| v.push(1));
    ///     assert_eq!(V.with_borrow(|v| v.clone()), [1]);
    /// });
    /// ```
    pub fn with_borrow_mut<R>(&'static self, f: impl FnOnce(&mut T) -> R) -> R {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }
}

/// [`LocalKey::try_with`] was called outside a goroutine.
///
/// ```
/// let err = gosched::local::AccessError;
/// assert!(err.to_string().contains("outside a goroutine"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("goroutine-local value accessed outside a goroutine")
    }
}

impl Error for AccessError {}

/// The running goroutine, if the caller is one.
fn current() -> Option<GRef> {
    let s = try_scheduler()?;
    crate::coro::in_coroutine().then(|| s.current())
}

/// Drops the running goroutine's local values; called as its code ends. A
/// panicking destructor aborts, as for std's thread-locals.
pub(crate) fn destroy_current() {
    let Some(g) = current() else { return };
    struct AbortOnUnwind;
    impl Drop for AbortOnUnwind {
        fn drop(&mut self) {
            eprintln!("fatal error: a goroutine-local value panicked while being dropped");
            std::process::abort();
        }
    }
    let guard = AbortOnUnwind;
    g.locals.clear();
    std::mem::forget(guard);
}
