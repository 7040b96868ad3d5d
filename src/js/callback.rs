//! Channels fed by JS: a JS event calls the loader's `callback(name, value)`,
//! which sends the value into a gosched channel.

use std::fmt::Display;
use std::rc::{Rc, Weak};

use super::platform::{self, EventSource};
use super::value::{JsError, JsValue};
use super::STATE;
use crate::chan::{chan, Receiver, Sender, TrySendError};

/// What a delivery came to; the numbers are `gosched_js_callback`'s answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(super) enum Delivery {
    Sent = 0,
    /// The channel's buffer was full (and no receiver waiting): dropped.
    Full = 1,
    /// No callback of that name is registered (never, or all its receivers
    /// were dropped, or the program ended).
    Unknown = 2,
    /// The value did not convert to the channel's type.
    BadValue = 3,
}

/// One registered callback: the sending end of its channel.
pub(super) trait Registration {
    /// Sends `value` without blocking; `Err` says why the value did not
    /// convert.
    fn deliver(&self, value: JsValue) -> Result<Delivery, JsError>;
    /// Whether every receiver is gone (the registration is then dropped).
    fn is_closed(&self) -> bool;
}

impl<T: TryFrom<JsValue>> Registration for Sender<T>
where
    T::Error: Display,
{
    fn deliver(&self, value: JsValue) -> Result<Delivery, JsError> {
        let value = T::try_from(value).map_err(|e| JsError::new(e.to_string()))?;
        Ok(match self.try_send(value) {
            Ok(()) => Delivery::Sent,
            Err(TrySendError::Full(_)) => Delivery::Full,
            Err(TrySendError::Closed(_)) => Delivery::Unknown,
        })
    }

    fn is_closed(&self) -> bool {
        Sender::is_closed(self)
    }
}

/// A callback stays an event source until every receiver is dropped.
impl<T> EventSource for Sender<T> {
    fn is_live(&self) -> bool {
        !self.is_closed()
    }
}

/// Registers the callback `name` and returns the receiving end of a channel
/// of capacity `cap` that JS feeds: the loader's `instance.callback(name,
/// value)` sends `value`, converted to `T`, without blocking (a full channel
/// drops it and `callback` returns `false`).
///
/// The callback counts as an event source, so a goroutine blocked on the
/// channel is waiting for JS, not deadlocked, until every receiver of the
/// channel is dropped, which unregisters it.
///
/// # Panics
///
/// If a callback of that name is registered already; outside
/// [`start`](super::start)'s program.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// gosched::js::start(|| {
///     // JS: button.onclick = () => instance.callback("clicks", 1)
///     let clicks = gosched::js::callback_channel::<u32>("clicks", 16);
///     assert!(clicks.try_recv().is_err(), "no click yet");
///     // A goroutine would loop: `for n in &clicks { ... }`, waiting for JS.
/// });
/// # }
/// ```
pub fn callback_channel<T>(name: &str, cap: usize) -> Receiver<T>
where
    T: TryFrom<JsValue> + 'static,
    T::Error: Display,
{
    crate::runtime::any_scheduler("gosched::js::callback_channel");
    let (tx, rx) = chan::<T>(cap);
    let tx = Rc::new(tx);
    platform::watch(Rc::downgrade(&tx) as Weak<dyn EventSource>);
    STATE.with_borrow_mut(|s| {
        s.callbacks.retain(|_, r| !r.is_closed());
        assert!(
            !s.callbacks.contains_key(name),
            "gosched::js::callback_channel: a callback named {name:?} is registered already"
        );
        s.callbacks.insert(name.to_owned(), tx);
    });
    rx
}

/// `gosched_js_callback`: JS delivers `value` to the callback `name`.
pub(super) fn deliver(name: &str, value: JsValue) -> Result<Delivery, JsError> {
    let registration = STATE.with_borrow(|s| s.callbacks.get(name).cloned());
    match registration {
        // No borrow of STATE is held: sending may run destructors.
        Some(r) => r.deliver(value),
        None => Ok(Delivery::Unknown),
    }
}
