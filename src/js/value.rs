//! Values that cross between Rust and JS: [`JsValue`], [`JsObject`] handles
//! and [`JsError`].

use std::fmt;
use std::num::NonZeroU32;

use super::ffi::{self, Raw};

/// A JS value, copied into Rust: primitives by value, anything else (objects,
/// functions, promises, symbols, bigints) as a [`JsObject`] handle.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// use gosched::js::JsValue;
/// assert_eq!(JsValue::from(2.5), JsValue::Number(2.5));
/// assert_eq!(JsValue::from("hi").as_str(), Some("hi"));
/// assert_eq!(f64::try_from(JsValue::Number(4.0)).unwrap(), 4.0);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub enum JsValue {
    /// `undefined`.
    #[default]
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string (copied as UTF-8; lone surrogates become U+FFFD).
    String(String),
    /// Any other value, held in the loader's object table.
    Object(JsObject),
}

/// Objects are equal only if they are the same handle.
impl PartialEq for JsValue {
    fn eq(&self, other: &JsValue) -> bool {
        match (self, other) {
            (JsValue::Undefined, JsValue::Undefined) | (JsValue::Null, JsValue::Null) => true,
            (JsValue::Bool(a), JsValue::Bool(b)) => a == b,
            (JsValue::Number(a), JsValue::Number(b)) => a == b,
            (JsValue::String(a), JsValue::String(b)) => a == b,
            (JsValue::Object(a), JsValue::Object(b)) => a.handle == b.handle,
            _ => false,
        }
    }
}

impl JsValue {
    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            JsValue::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            JsValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&JsObject> {
        match self {
            JsValue::Object(o) => Some(o),
            _ => None,
        }
    }

    /// `undefined` or `null`.
    pub fn is_nullish(&self) -> bool {
        matches!(self, JsValue::Undefined | JsValue::Null)
    }

    /// This value as the loader reads it. Strings and handles are borrowed:
    /// the record is valid while `self` is.
    pub(crate) fn to_raw(&self) -> Raw {
        let (tag, len, num) = match self {
            JsValue::Undefined => (ffi::TAG_UNDEFINED, 0, 0.0),
            JsValue::Null => (ffi::TAG_NULL, 0, 0.0),
            JsValue::Bool(b) => (ffi::TAG_BOOL, 0, f64::from(u8::from(*b))),
            JsValue::Number(n) => (ffi::TAG_NUMBER, 0, *n),
            JsValue::String(s) => (ffi::TAG_STRING, s.len() as u32, s.as_ptr() as usize as f64),
            JsValue::Object(o) => (ffi::TAG_OBJECT, 0, f64::from(o.handle.get())),
        };
        Raw { tag, len, num }
    }

    /// The value the loader wrote, taking ownership of its handle; string
    /// bytes are in `exchange`.
    pub(crate) fn from_raw(raw: Raw, exchange: &[u8]) -> JsValue {
        match raw.tag {
            ffi::TAG_NULL => JsValue::Null,
            ffi::TAG_BOOL => JsValue::Bool(raw.num != 0.0),
            ffi::TAG_NUMBER => JsValue::Number(raw.num),
            ffi::TAG_STRING | ffi::TAG_ERROR => {
                JsValue::String(string_at(exchange, raw.num as usize, raw.len as usize))
            }
            ffi::TAG_OBJECT => match NonZeroU32::new(raw.num as u32) {
                Some(handle) => JsValue::Object(JsObject { handle }),
                None => JsValue::Undefined,
            },
            _ => JsValue::Undefined,
        }
    }
}

fn string_at(exchange: &[u8], at: usize, len: usize) -> String {
    let bytes = exchange.get(at..at.saturating_add(len)).unwrap_or_default();
    String::from_utf8_lossy(bytes).into_owned()
}

/// A handle to a JS object (or function, promise, symbol...) in the loader's
/// table. Dropping it frees the handle; cloning makes a second handle to the
/// same object.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// let date = gosched::js::call("Date", &[]).unwrap();
/// # }
/// ```
pub struct JsObject {
    handle: NonZeroU32,
}

impl JsObject {
    /// Calls the method `name` of this object: `this[name](...args)`.
    ///
    /// ```
    /// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    /// # {
    /// use gosched::js::{self, JsValue};
    /// let math = js::get("Math").unwrap();
    /// let math = math.as_object().unwrap();
    /// assert_eq!(math.call("max", &[1.into(), 5.into()]).unwrap(), JsValue::Number(5.0));
    /// # }
    /// ```
    pub fn call(&self, name: &str, args: &[JsValue]) -> Result<JsValue, JsError> {
        super::call_on(self.handle.get(), name, args)
    }

    /// Reads the property `name`: `this[name]`.
    ///
    /// ```
    /// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    /// # {
    /// let math = gosched::js::get("Math").unwrap();
    /// let pi = math.as_object().unwrap().get("PI").unwrap();
    /// assert_eq!(pi.as_f64(), Some(std::f64::consts::PI));
    /// # }
    /// ```
    pub fn get(&self, name: &str) -> Result<JsValue, JsError> {
        super::get_on(self.handle.get(), name)
    }

    /// Assigns the property `name`: `this[name] = value`.
    ///
    /// ```
    /// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    /// # {
    /// let obj = gosched::js::call("Object", &[]).unwrap();
    /// let obj = obj.as_object().unwrap();
    /// obj.set("answer", 42).unwrap();
    /// assert_eq!(obj.get("answer").unwrap().as_f64(), Some(42.0));
    /// # }
    /// ```
    pub fn set(&self, name: &str, value: impl Into<JsValue>) -> Result<(), JsError> {
        super::set_on(self.handle.get(), name, &value.into())
    }

    /// The handle, borrowed.
    pub(crate) fn handle(&self) -> u32 {
        self.handle.get()
    }

    /// The handle; the loader takes it over.
    pub(crate) fn into_handle(self) -> u32 {
        let handle = self.handle.get();
        std::mem::forget(self);
        handle
    }
}

impl Clone for JsObject {
    fn clone(&self) -> JsObject {
        let handle =
            NonZeroU32::new(ffi::dup(self.handle.get())).expect("the loader's handles start at 1");
        JsObject { handle }
    }
}

impl Drop for JsObject {
    fn drop(&mut self) {
        ffi::release(self.handle.get());
    }
}

impl fmt::Debug for JsObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsObject(#{})", self.handle)
    }
}

/// What JS threw, or why a value did not convert: `"TypeError: x is not a
/// function"`, the reason of a rejected promise, ...
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// let err = gosched::js::call("JSON.parse", &["{".into()]).unwrap_err();
/// assert!(err.message().starts_with("SyntaxError"));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsError {
    message: String,
}

impl JsError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> JsError {
        JsError {
            message: message.into(),
        }
    }

    /// What happened: for a thrown `Error`, `"{name}: {message}"`; for any
    /// other thrown value, `String(value)`.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn from_raw(raw: Raw, exchange: &[u8]) -> JsError {
        match JsValue::from_raw(raw, exchange) {
            JsValue::String(message) => JsError { message },
            other => JsError::new(format!("{other:?}")),
        }
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsError {}

impl From<()> for JsValue {
    fn from((): ()) -> JsValue {
        JsValue::Undefined
    }
}

impl From<bool> for JsValue {
    fn from(b: bool) -> JsValue {
        JsValue::Bool(b)
    }
}

impl From<&str> for JsValue {
    fn from(s: &str) -> JsValue {
        JsValue::String(s.to_owned())
    }
}

impl From<String> for JsValue {
    fn from(s: String) -> JsValue {
        JsValue::String(s)
    }
}

impl From<JsObject> for JsValue {
    fn from(o: JsObject) -> JsValue {
        JsValue::Object(o)
    }
}

impl<T: Into<JsValue>> From<Option<T>> for JsValue {
    fn from(v: Option<T>) -> JsValue {
        v.map_or(JsValue::Null, Into::into)
    }
}

/// Numbers: every Rust number type converts to a JS number (`u64`/`i64`
/// beyond 2^53 lose precision, as in JS).
macro_rules! number_conversions {
    ($($t:ty),*) => {$(
        impl From<$t> for JsValue {
            fn from(n: $t) -> JsValue {
                JsValue::Number(n as f64)
            }
        }
    )*};
}
number_conversions!(f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

fn wrong_type(want: &str, got: &JsValue) -> JsError {
    JsError::new(format!("TypeError: expected {want}, got {got:?}"))
}

impl TryFrom<JsValue> for f64 {
    type Error = JsError;
    fn try_from(v: JsValue) -> Result<f64, JsError> {
        v.as_f64().ok_or_else(|| wrong_type("a number", &v))
    }
}

/// Integers: a JS number that is an integer in the target's range.
macro_rules! integer_conversions {
    ($($t:ty),*) => {$(
        impl TryFrom<JsValue> for $t {
            type Error = JsError;
            fn try_from(v: JsValue) -> Result<$t, JsError> {
                match v.as_f64() {
                    Some(n) if n.fract() == 0.0 && n >= <$t>::MIN as f64 && n <= <$t>::MAX as f64 => {
                        Ok(n as $t)
                    }
                    _ => Err(wrong_type(concat!("an integer in the range of ", stringify!($t)), &v)),
                }
            }
        }
    )*};
}
integer_conversions!(i32, i64, u8, u16, u32, u64, usize);

impl TryFrom<JsValue> for bool {
    type Error = JsError;
    fn try_from(v: JsValue) -> Result<bool, JsError> {
        v.as_bool().ok_or_else(|| wrong_type("a boolean", &v))
    }
}

impl TryFrom<JsValue> for String {
    type Error = JsError;
    fn try_from(v: JsValue) -> Result<String, JsError> {
        match v {
            JsValue::String(s) => Ok(s),
            other => Err(wrong_type("a string", &other)),
        }
    }
}

impl TryFrom<JsValue> for JsObject {
    type Error = JsError;
    fn try_from(v: JsValue) -> Result<JsObject, JsError> {
        match v {
            JsValue::Object(o) => Ok(o),
            other => Err(wrong_type("an object", &other)),
        }
    }
}

impl TryFrom<JsValue> for () {
    type Error = JsError;
    fn try_from(_: JsValue) -> Result<(), JsError> {
        Ok(())
    }
}
