//! Offload: blocking calls on a pool of OS threads, parking only the caller.

use crate::runtime::WaitReason;

/// Runs the blocking closure `f` (a DNS lookup, file I/O, a C call) on a
/// pool of OS threads and parks only the calling goroutine until it returns
/// its value; the other goroutines keep running. Go's extra Ms, tokio's
/// `spawn_blocking`. Meanwhile [`goroutine_dump`](crate::goroutine_dump)
/// shows the caller as `[syscall]`, as Go shows a blocking system call.
///
/// The pool is the [`blocking`](https://crates.io/crates/blocking) crate's
/// (chosen over a hand-written pool: it is smol's well-kept pool, grows on
/// demand up to 500 threads, `BLOCKING_MAX_THREADS` to change, and retires
/// idle ones). A panic in `f` resumes in the caller. A goroutine unwound at
/// shutdown while `f` runs leaves `f` to finish on its thread; the value is
/// dropped there.
///
/// # Panics
///
/// Outside a goroutine; with `f`'s panic.
///
/// ```
/// use std::time::Duration;
///
/// let (value, ticks) = gosched::run(|| {
///     let ticker = gosched::go(|| {
///         let mut ticks = 0;
///         for _ in 0..5 {
///             gosched::sleep(Duration::from_millis(2));
///             ticks += 1;
///         }
///         ticks
///     });
///     // Blocks a pool thread, not the scheduler: the ticker keeps ticking.
///     let value = gosched::unblock(|| {
///         std::thread::sleep(Duration::from_millis(30));
///         42
///     });
///     (value, ticker.join().unwrap())
/// });
/// assert_eq!((value, ticks), (42, 5));
/// ```
pub fn unblock<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    offload(WaitReason::Syscall, "gosched::unblock", f)
}

/// [`unblock`], with the goroutine dump's `reason` for the wait and `what`
/// for the panic outside a goroutine.
pub(crate) fn offload<T: Send + 'static>(
    reason: WaitReason,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    crate::runtime::scheduler(what);
    #[cfg(not(loom))]
    return crate::block_on::block_on_as(reason, what, blocking::unblock(f));
    // The loom build checks the cross-thread wake path only, without the pool
    // (Cargo.toml): here `f` runs on the caller.
    #[cfg(loom)]
    {
        let _ = reason;
        f()
    }
}
