//! Soundness guards: gosched's handles belong to the thread whose scheduler
//! runs their goroutines. Each file in tests/compile_fail moves one of them to
//! another OS thread and must fail to compile with the error recorded next to
//! it (`TRYBUILD=overwrite cargo test --test compile_fail` re-records the
//! messages after a compiler upgrade; review the diff).
#![cfg(not(target_arch = "wasm32"))]

use std::task::Waker;

// What may cross threads: the waker `block_on` hands to futures.
static_assertions::assert_impl_all!(Waker: Send, Sync);

// What may not, besides the types whose own modules assert it.
static_assertions::assert_not_impl_any!(gosched::JoinHandle<u8>: Send, Sync);
static_assertions::assert_not_impl_any!(gosched::Program<u8>: Send, Sync);
static_assertions::assert_not_impl_any!(gosched::sync::Mutex<u8>: Send, Sync);
static_assertions::assert_not_impl_any!(gosched::sync::MutexGuard<'static, u8>: Send, Sync);
static_assertions::assert_not_impl_any!(gosched::Sender<u8>: Send, Sync);
static_assertions::assert_not_impl_any!(gosched::Receiver<u8>: Send, Sync);
static_assertions::assert_not_impl_any!(gosched::Select<'static>: Send, Sync);
static_assertions::assert_not_impl_any!(gosched::chan::Iter<'static, u8>: Send, Sync);
static_assertions::assert_not_impl_any!(gosched::chan::IntoIter<u8>: Send, Sync);
// Errors carry the value back and may cross threads like it.
static_assertions::assert_impl_all!(gosched::SendError<u8>: Send, Sync);
static_assertions::assert_impl_all!(gosched::RecvError: Send, Sync);

#[test]
fn handles_do_not_move_to_another_thread() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
