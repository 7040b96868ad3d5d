//! Awaiting JS promises from goroutines.

use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use super::ffi;
use super::platform::{self, EventSource};
use super::value::{JsError, JsObject, JsValue};
use super::STATE;

/// A JS promise (or any value: non-objects are already resolved, objects go
/// through `Promise.resolve`, so thenables work too).
///
/// [`wait`](Promise::wait) parks only the calling goroutine until it settles;
/// it is also a [`Future`] for async code. A rejection comes back as
/// `Err(JsError)`. While a goroutine waits on a promise, the program is not
/// deadlocked: JS may still settle it.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// use gosched::js::{self, Promise};
/// gosched::js::start(|| {
///     // Any JS function that returns a promise, e.g. fetch:
///     let p = js::call("Promise.resolve", &["later".into()]).unwrap();
///     let value = Promise::from(p).wait().unwrap();
///     assert_eq!(value.as_str(), Some("later"));
/// });
/// # }
/// ```
#[derive(Debug)]
pub struct Promise {
    state: State,
}

#[derive(Debug)]
enum State {
    /// Not an object: resolves to itself.
    Value(JsValue),
    /// Not polled yet.
    Unsent(JsObject),
    /// The loader calls `gosched_js_settle(id, ..)` when it settles.
    Waiting {
        id: u32,
        _object: JsObject,
    },
    Done,
}

/// A promise the loader is watching.
pub(super) struct Pending {
    waker: Option<Waker>,
    result: Option<Result<JsValue, JsError>>,
    /// Counts as a JS event source while the entry is listed.
    _source: Rc<Watched>,
}

/// A watched promise, as the platform's event sources see it.
struct Watched;

impl EventSource for Watched {
    fn is_live(&self) -> bool {
        true
    }
}

impl Promise {
    /// Like JS `Promise.resolve(value)`.
    ///
    /// ```
    /// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    /// # {
    /// gosched::js::start(|| {
    ///     let v = gosched::js::Promise::resolve(7).wait().unwrap();
    ///     assert_eq!(v, 7.into());
    /// });
    /// # }
    /// ```
    pub fn resolve(value: impl Into<JsValue>) -> Promise {
        Promise::from(value.into())
    }

    /// Parks the calling goroutine until the promise settles: `Ok` with the
    /// value it resolved to, `Err` with the reason it was rejected for.
    ///
    /// # Panics
    ///
    /// Outside a goroutine.
    ///
    /// ```
    /// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    /// # {
    /// gosched::js::start(|| {
    ///     let p = gosched::js::call("Promise.reject", &["no".into()]).unwrap();
    ///     let err = gosched::js::Promise::from(p).wait().unwrap_err();
    ///     assert_eq!(err.message(), "no");
    /// });
    /// # }
    /// ```
    pub fn wait(self) -> Result<JsValue, JsError> {
        crate::block_on(self)
    }
}

impl From<JsValue> for Promise {
    fn from(value: JsValue) -> Promise {
        let state = match value {
            JsValue::Object(object) => State::Unsent(object),
            other => State::Value(other),
        };
        Promise { state }
    }
}

impl From<JsObject> for Promise {
    fn from(object: JsObject) -> Promise {
        Promise {
            state: State::Unsent(object),
        }
    }
}

impl Future for Promise {
    type Output = Result<JsValue, JsError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Value(value) => Poll::Ready(Ok(value)),
            State::Unsent(object) => {
                let id = STATE.with_borrow_mut(|s| {
                    let id = s.next_promise;
                    s.next_promise = s.next_promise.wrapping_add(1);
                    let source = Rc::new(Watched);
                    platform::watch(Rc::downgrade(&source) as Weak<dyn EventSource>);
                    let pending = Pending {
                        waker: Some(cx.waker().clone()),
                        result: None,
                        _source: source,
                    };
                    s.promises.insert(id, pending);
                    id
                });
                ffi::then(object.handle(), id);
                self.state = State::Waiting {
                    id,
                    _object: object,
                };
                Poll::Pending
            }
            State::Waiting { id, _object } => {
                let result = STATE.with_borrow_mut(|s| {
                    let pending = s
                        .promises
                        .get_mut(&id)
                        .expect("a waiting promise is listed");
                    let result = pending.result.take();
                    if result.is_some() {
                        s.promises.remove(&id);
                    } else {
                        pending.waker = Some(cx.waker().clone());
                    }
                    result
                });
                match result {
                    Some(result) => Poll::Ready(result),
                    None => {
                        self.state = State::Waiting { id, _object };
                        Poll::Pending
                    }
                }
            }
            State::Done => panic!("gosched::js::Promise polled after it completed"),
        }
    }
}

impl Drop for Promise {
    fn drop(&mut self) {
        if let State::Waiting { id, .. } = self.state {
            // A later settle finds no entry and is dropped.
            let _ = STATE.try_with(|s| s.borrow_mut().promises.remove(&id));
        }
    }
}

/// `gosched_js_settle`: promise `id` settled.
pub(super) fn settle(id: u32, result: Result<JsValue, JsError>) {
    let waker = STATE.with_borrow_mut(|s| {
        let pending = s.promises.get_mut(&id)?;
        pending.result = Some(result);
        pending.waker.take()
    });
    if let Some(waker) = waker {
        waker.wake();
    }
}
