//! wasm32-wasip1 platform: the WASI monotonic clock, and one `poll_oneoff`
//! per idle that waits for the next timer and for the fds goroutines read.
//!
//! wasip1 has no threads: only a timer or an fd becoming readable can make a
//! goroutine runnable. A goroutine that wants to read an fd without blocking
//! the module awaits [`readable`] (in `block_on`), which registers the fd and
//! the goroutine's `Waker` in this thread's table of fd waiters; the platform
//! never calls up into the runtime, it only wakes those Wakers. As Go's
//! runtime/netpoll_wasip1.go does, the idle wait is:
//!
//! 1. One `fd_read` subscription per registered waiter (userdata: the
//!    waiter's token) and, if a timer is pending, one relative clock
//!    subscription (userdata [`CLOCK_USERDATA`]) for the earliest deadline.
//! 2. No subscription at all (zero would be `EINVAL`): nothing can ever wake
//!    a goroutine, so the answer is [`Idle::NothingToWaitFor`] and the
//!    scheduler reports the deadlock.
//! 3. `poll_oneoff` blocks the module until one subscription fires; `EINTR`
//!    is retried, any other failure wakes every fd waiter (its read then
//!    reports the real error instead of hanging).
//! 4. Each fd event, matched back by userdata, removes its waiter from the
//!    table and wakes its Waker; an event with an error (an fd the host
//!    cannot poll, such as a regular file under Node) wakes it too, since a
//!    read then tells what is wrong or simply succeeds.
//!
//! Invariants: a waiter is in the table from its future's first pending poll
//! until its event is delivered or the future is dropped; each event is
//! delivered at most once; no `RefCell` borrow is held while a Waker runs.
//!
//! Any other blocking WASI call (`std::io::stdin().read`,
//! `std::thread::sleep`) still blocks every goroutine until it returns.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::{Idle, Platform, Unparker, Waiter};

/// The platform `gosched::run` uses on wasm32-wasip1.
///
/// ```
/// use std::time::Duration;
/// # #[cfg(all(target_os = "wasi", target_env = "p1"))]
/// # {
/// let slept = gosched::Runtime::new()
///     .platform(gosched::platform::Wasip1Platform::new())
///     .run(|| {
///         let start = gosched::now();
///         gosched::sleep(Duration::from_millis(5));
///         gosched::now() - start
///     });
/// assert!(slept >= Duration::from_millis(5));
/// # }
/// ```
#[derive(Debug)]
pub struct Wasip1Platform {
    /// `CLOCK_MONOTONIC` reading at creation, in nanoseconds.
    epoch: u64,
}

impl Wasip1Platform {
    /// A platform whose clock starts now.
    pub fn new() -> Wasip1Platform {
        Wasip1Platform {
            epoch: monotonic_ns(),
        }
    }
}

impl Default for Wasip1Platform {
    fn default() -> Self {
        Wasip1Platform::new()
    }
}

impl Platform for Wasip1Platform {
    fn now(&self) -> Duration {
        Duration::from_nanos(monotonic_ns().saturating_sub(self.epoch))
    }

    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        let timeout = deadline.map(|deadline| {
            // Whole milliseconds, rounded up: Node's WASI (libuv timers)
            // truncates to milliseconds, so it would wake up to 1 ms early
            // and then treat the sub-millisecond rest as 0, a busy loop.
            let ms = deadline
                .saturating_sub(self.now())
                .as_nanos()
                .div_ceil(1_000_000);
            u64::try_from(ms * 1_000_000).unwrap_or(u64::MAX)
        });
        if timeout == Some(0) {
            // A timer is due; `poll_ready` looks at the fds next.
            return Idle::Resume;
        }
        if timeout.is_none() && !has_fd_waiters() {
            // Nothing outside the module can wake a goroutine (a `block_on`
            // future whose Waker is held but never woken, say, is stuck).
            return Idle::NothingToWaitFor;
        }
        poll_fds(timeout);
        Idle::Resume
    }

    fn has_event_sources(&self) -> bool {
        has_fd_waiters()
    }

    /// While goroutines keep the run queue busy: wakes the fd waiters whose
    /// fd is ready now (their Wakers unpark them; `wake` is not needed).
    fn poll_ready(&mut self, _wake: &mut dyn FnMut(Waiter)) {
        if has_fd_waiters() {
            poll_fds(Some(0));
        }
    }

    fn unparker(&self) -> Unparker {
        // No other thread exists to call it.
        Unparker::noop()
    }
}

// ---- the fd waiters ----------------------------------------------------------

/// One goroutine waiting for an fd to become readable.
struct FdWaiter {
    token: u64,
    fd: u32,
    waker: Waker,
    ready: Rc<Cell<bool>>,
}

#[derive(Default)]
struct FdWaiters {
    waiters: Vec<FdWaiter>,
    next_token: u64,
}

thread_local! {
    static FD_WAITERS: RefCell<FdWaiters> = RefCell::new(FdWaiters::default());
}

fn has_fd_waiters() -> bool {
    FD_WAITERS.with_borrow(|w| !w.waiters.is_empty())
}

/// Resolves once `fd` has data to read, is at end of file, or is in a state
/// where reading reports an error; awaited in `block_on`, it parks only the
/// calling goroutine. Reading right after it resolves does not block the
/// module (unless another reader took the data first: read again after
/// another `readable`).
pub(crate) fn readable(fd: u32) -> Readable {
    Readable {
        fd,
        token: None,
        ready: Rc::new(Cell::new(false)),
    }
}

/// The future of [`readable`]: registers on its first pending poll, withdraws
/// if dropped before its event.
pub(crate) struct Readable {
    fd: u32,
    token: Option<u64>,
    ready: Rc<Cell<bool>>,
}

impl Future for Readable {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.ready.get() {
            self.token = None;
            return Poll::Ready(());
        }
        let Some(token) = self.token else {
            // First poll: data that is there already needs no idle round.
            if fd_is_readable_now(self.fd) {
                return Poll::Ready(());
            }
            let token = FD_WAITERS.with_borrow_mut(|w| {
                w.next_token += 1;
                w.waiters.push(FdWaiter {
                    token: w.next_token,
                    fd: self.fd,
                    waker: cx.waker().clone(),
                    ready: self.ready.clone(),
                });
                w.next_token
            });
            self.token = Some(token);
            return Poll::Pending;
        };
        FD_WAITERS.with_borrow_mut(|w| {
            if let Some(waiter) = w.waiters.iter_mut().find(|x| x.token == token) {
                waiter.waker.clone_from(cx.waker());
            }
        });
        Poll::Pending
    }
}

impl Drop for Readable {
    fn drop(&mut self) {
        if let Some(token) = self.token {
            FD_WAITERS.with_borrow_mut(|w| w.waiters.retain(|x| x.token != token));
        }
    }
}

/// Whether `fd` is readable at this instant (a `poll_oneoff` that does not
/// wait: the fd's subscription beside a clock that has already expired).
fn fd_is_readable_now(fd: u32) -> bool {
    let subscriptions = [
        fd_read_subscription(0, fd),
        clock_subscription(CLOCK_USERDATA, 0),
    ];
    let mut events = [EMPTY_EVENT; 2];
    poll(&subscriptions, &mut events).is_none_or(|n| events[..n].iter().any(|e| e.userdata == 0))
}

/// Step 1-4 of the module docs: one `poll_oneoff` for every fd waiter and,
/// with `timeout` (ns), the clock; wakes the waiters whose fd fired.
fn poll_fds(timeout: Option<u64>) {
    let mut subscriptions: Vec<Subscription> = FD_WAITERS.with_borrow(|w| {
        w.waiters
            .iter()
            .map(|x| fd_read_subscription(x.token, x.fd))
            .collect()
    });
    subscriptions.extend(timeout.map(|ns| clock_subscription(CLOCK_USERDATA, ns)));
    if subscriptions.is_empty() {
        return;
    }
    let mut events: Vec<Event> = subscriptions.iter().map(|_| EMPTY_EVENT).collect();
    let fired: Vec<u64> = match poll(&subscriptions, &mut events) {
        Some(n) => events[..n].iter().map(|e| e.userdata).collect(),
        // The wait failed: every reader looks for itself.
        None => subscriptions.iter().map(|s| s.userdata).collect(),
    };
    let woken: Vec<FdWaiter> = FD_WAITERS.with_borrow_mut(|w| {
        let (woken, waiting) = std::mem::take(&mut w.waiters)
            .into_iter()
            .partition(|x| fired.contains(&x.token));
        w.waiters = waiting;
        woken
    });
    // Woken outside the borrow: a Waker may run arbitrary code.
    for waiter in woken {
        waiter.ready.set(true);
        waiter.waker.wake();
    }
}

// ---- the WASI ABI -------------------------------------------------------------

/// WASI `clockid` of the monotonic clock.
const CLOCK_MONOTONIC: u32 = 1;
/// WASI `eventtype`s.
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
/// WASI `errno` `intr`: the call was interrupted; try again.
const ERRNO_INTR: i32 = 27;
/// The clock subscription's userdata; fd waiters' tokens start at 1.
const CLOCK_USERDATA: u64 = u64::MAX;

/// WASI `subscription` (48 bytes): userdata, then the tagged union.
#[repr(C)]
struct Subscription {
    userdata: u64,
    tag: u8,
    u: SubscriptionU,
}

#[repr(C)]
union SubscriptionU {
    clock: SubscriptionClock,
    fd_read: SubscriptionFdReadwrite,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SubscriptionClock {
    id: u32,
    timeout: u64,
    precision: u64,
    /// 0: `timeout` is relative to now.
    flags: u16,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SubscriptionFdReadwrite {
    file_descriptor: u32,
}

/// WASI `event` (32 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
struct Event {
    userdata: u64,
    error: u16,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

const EMPTY_EVENT: Event = Event {
    userdata: 0,
    error: 0,
    kind: 0,
    nbytes: 0,
    flags: 0,
};

/// WASI `iovec`: a buffer to read into.
#[repr(C)]
struct Iovec {
    buf: *mut u8,
    len: usize,
}

const _: () = assert!(std::mem::size_of::<Subscription>() == 48);
const _: () = assert!(std::mem::size_of::<Event>() == 32);

fn clock_subscription(userdata: u64, timeout_ns: u64) -> Subscription {
    Subscription {
        userdata,
        tag: EVENTTYPE_CLOCK,
        u: SubscriptionU {
            clock: SubscriptionClock {
                id: CLOCK_MONOTONIC,
                timeout: timeout_ns,
                precision: 0,
                flags: 0,
            },
        },
    }
}

fn fd_read_subscription(userdata: u64, fd: u32) -> Subscription {
    Subscription {
        userdata,
        tag: EVENTTYPE_FD_READ,
        u: SubscriptionU {
            fd_read: SubscriptionFdReadwrite {
                file_descriptor: fd,
            },
        },
    }
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn clock_time_get(id: u32, precision: u64, time: *mut u64) -> i32;
    fn fd_read(fd: u32, iovs: *const Iovec, iovs_len: usize, nread: *mut usize) -> i32;
    fn poll_oneoff(
        subscriptions: *const Subscription,
        events: *mut Event,
        count: usize,
        written: *mut usize,
    ) -> i32;
}

fn monotonic_ns() -> u64 {
    let mut time = 0u64;
    // SAFETY: `time` is a valid, writable u64 for the call's duration.
    let errno = unsafe { clock_time_get(CLOCK_MONOTONIC, 1, &mut time) };
    assert_eq!(errno, 0, "wasi clock_time_get(monotonic) failed");
    time
}

/// One `fd_read` into `buf`: the bytes read (0 at end of file), or the WASI
/// error (`WouldBlock` on an fd the host made non-blocking, as Node does
/// with pipes). Blocks the module if `fd` has nothing to read and blocks:
/// await [`readable`] first.
pub(crate) fn read_fd(fd: u32, buf: &mut [u8]) -> std::io::Result<usize> {
    let iovec = Iovec {
        buf: buf.as_mut_ptr(),
        len: buf.len(),
    };
    let mut nread = 0usize;
    // SAFETY: one iovec describing `buf`, writable for its whole length, and
    // `nread` valid for writes, all live for the call's duration.
    let errno = unsafe { fd_read(fd, &iovec, 1, &mut nread) };
    match errno {
        0 => Ok(nread.min(buf.len())),
        // wasi-libc's errno values are WASI's, which std decodes.
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

/// `poll_oneoff`, retried on `EINTR`: how many events it wrote, or `None` if
/// it failed.
fn poll(subscriptions: &[Subscription], events: &mut [Event]) -> Option<usize> {
    assert!(events.len() >= subscriptions.len() && !subscriptions.is_empty());
    loop {
        let mut written = 0usize;
        // SAFETY: `subscriptions` are initialised and `events` has room for
        // one event per subscription, `written` is valid for writes, all live
        // for the call's duration; the structs have the wasip1 ABI layout
        // (sizes asserted above).
        let errno = unsafe {
            poll_oneoff(
                subscriptions.as_ptr(),
                events.as_mut_ptr(),
                subscriptions.len(),
                &mut written,
            )
        };
        match errno {
            0 => return Some(written.min(events.len())),
            ERRNO_INTR => continue,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Counts the scheduler's calls into the wasip1 platform's idle wait.
    struct Counting(Wasip1Platform, Rc<Cell<u32>>);

    impl Platform for Counting {
        fn now(&self) -> Duration {
            self.0.now()
        }
        fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
            self.1.set(self.1.get() + 1);
            self.0.before_idle(deadline)
        }
        fn unparker(&self) -> Unparker {
            self.0.unparker()
        }
    }

    #[test]
    fn idle_sleeps_in_poll_oneoff_instead_of_spinning() {
        let calls = Rc::new(Cell::new(0));
        let platform = Counting(Wasip1Platform::new(), calls.clone());
        let slept = crate::Runtime::new().platform(platform).run(|| {
            let start = crate::now();
            crate::sleep(Duration::from_millis(30));
            crate::now() - start
        });
        assert!(slept >= Duration::from_millis(30));
        // One wait covers the sleep; a poll_oneoff that returned at once
        // would have the scheduler ask thousands of times.
        assert!(calls.get() <= 3, "before_idle ran {} times", calls.get());
    }

    #[test]
    fn the_clock_is_monotonic_and_starts_near_zero() {
        let p = Wasip1Platform::new();
        let a = p.now();
        poll_fds(Some(1_000_000));
        let b = p.now();
        assert!(a < Duration::from_secs(1));
        assert!(b >= a + Duration::from_millis(1));
    }
}
