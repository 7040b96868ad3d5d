//! Dropping several user values in a row without aborting the process.
//!
//! Dropping a collection whose elements' destructors panic aborts on the
//! second panic ("panic in a destructor during cleanup"): the first panic
//! unwinds through the collection's drop glue, which drops the rest while
//! unwinding. crossbeam-channel leaks the remaining values once one panicked;
//! [`run_all`] does better:
//!
//! 1. each step (one value's drop) runs on its own under `catch_unwind`;
//! 2. a panic is kept (the first one) or discarded (later ones: the panic
//!    hook has reported them already), and the next step runs;
//! 3. after the last step the first panic resumes, unless the thread is
//!    unwinding already (then it is dropped: a second unwind would abort).
//!
//! So every value is dropped and at most one panic leaves. With
//! `panic = "abort"` (the wasm targets) the first panic ends the process, as
//! any panic does there.

use std::panic::{self, AssertUnwindSafe};
use std::thread;

/// Runs every step, even after one panicked; then resumes the first panic.
pub(crate) fn run_all<F: FnOnce()>(steps: impl IntoIterator<Item = F>) {
    let mut first_panic = None;
    for step in steps {
        // Unwind safety: a step that panicked is not looked at again.
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(step)) {
            first_panic.get_or_insert(payload);
        }
    }
    if let Some(payload) = first_panic {
        if !thread::panicking() {
            panic::resume_unwind(payload);
        }
    }
}

/// Drops every value; see [`run_all`].
pub(crate) fn drop_all<T>(values: impl IntoIterator<Item = T>) {
    run_all(values.into_iter().map(|v| move || drop(v)));
}
