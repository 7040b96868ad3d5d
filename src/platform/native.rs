//! Native platform: the netpoller. While idle, the scheduler's thread waits
//! in the OS poller (epoll on Linux, kqueue on the BSDs and macOS, through
//! `mio`) for socket readiness, the next timer or a wake-up from another
//! thread, all in one system call.
//!
//! Why `mio` 1 and not `polling` 3: mio registers each fd once,
//! edge-triggered, as Go's netpoller does, so a socket costs one `epoll_ctl`
//! in its whole life; `polling`'s oneshot interest needs a `modify` system
//! call before every wait. mio's `Waker` (an eventfd on Linux) interrupts the
//! same `epoll_wait`.
//!
//! The protocol (docs/net.md walks it with the socket side):
//!
//! 1. A socket registers its fd once with the [`Netpoller`] (read and write
//!    interest, edge-triggered) and gets a key: its slot in `sources`.
//! 2. A goroutine whose system call said "would block" adds its [`Waiter`]
//!    to the slot's readers or writers, then parks. Nothing runs between the
//!    failed call and the park, so an edge that arrives in between stays
//!    queued in the kernel until the next wait: no readiness is lost.
//! 3. [`before_idle`](NativePlatform::before_idle) waits in the poller with
//!    the timeout to the deadline. For each event it moves the waiters of
//!    that slot and direction to `ready`. The waker's event only ends the
//!    wait: the remote queue it stands for is the runtime's.
//! 4. [`poll_ready`](NativePlatform::poll_ready) hands `ready` to the
//!    runtime, which unparks exactly those goroutines. When `ready` is empty
//!    and goroutines wait on sockets, it polls the OS without blocking, at
//!    most every [`BUSY_POLL_INTERVAL`].
//! 5. A woken goroutine retries its system call; a spurious wake-up (an edge
//!    for data it already read) costs one more "would block" and park. A
//!    call that found its direction drained ("would block", or a short read
//!    or write) clears the source's readiness flag, which the next event
//!    sets: until then calls park without a system call (tokio does the
//!    same), which saves the failed read per request that Go pays.
//! 6. A wake-up from another thread writes the eventfd; if it comes before
//!    the wait, the eventfd stays readable and the wait returns at once, so
//!    no wake-up is lost (docs/porting.md's rule).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};

use super::{Idle, Platform, Unparker, Waiter};

/// Longest time a busy run queue goes without looking at socket readiness.
const BUSY_POLL_INTERVAL: Duration = Duration::from_micros(200);

/// The token of the cross-thread waker; socket keys are slots below it.
const WAKE_TOKEN: Token = Token(usize::MAX);

/// The token of the sub-millisecond timer (Linux).
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// Waits in the OS poller while idle; other threads wake it through its
/// [`Unparker`], sockets register with its [`Netpoller`].
///
/// ```
/// let v = gosched::Runtime::new().platform(gosched::platform::NativePlatform::new()).run(|| 7);
/// assert_eq!(v, 7);
/// ```
#[derive(Debug)]
pub struct NativePlatform {
    epoch: Instant,
    poll: Poll,
    events: Events,
    waker: Arc<mio::Waker>,
    netpoller: Rc<Netpoller>,
    last_poll: Instant,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sub_ms_timer: Option<SubMsTimer>,
}

impl NativePlatform {
    /// A platform whose clock starts now.
    ///
    /// # Panics
    ///
    /// If the OS refuses an epoll (or kqueue) instance, e.g. at the process's
    /// file descriptor limit.
    pub fn new() -> NativePlatform {
        let fail = |e: io::Error| -> ! {
            panic!("gosched: cannot create the OS poller (epoll/kqueue) for the scheduler: {e}")
        };
        let poll = Poll::new().unwrap_or_else(|e| fail(e));
        let waker = mio::Waker::new(poll.registry(), WAKE_TOKEN).unwrap_or_else(|e| fail(e));
        let registry = poll.registry().try_clone().unwrap_or_else(|e| fail(e));
        let now = Instant::now();
        NativePlatform {
            epoch: now,
            events: Events::with_capacity(1024),
            waker: Arc::new(waker),
            netpoller: Rc::new(Netpoller {
                registry,
                sources: RefCell::new(Sources::default()),
                ready: RefCell::new(Vec::new()),
                waiting: Cell::new(0),
            }),
            last_poll: now,
            // Without one, waits round up to whole milliseconds.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            sub_ms_timer: SubMsTimer::new(poll.registry()).ok(),
            poll,
        }
    }

    /// The timeout to give `epoll_wait` for `timeout`. epoll counts whole
    /// milliseconds (mio rounds up), so a wait of 1.5 ms would end 0.5 ms
    /// late: longer waits are cut to whole milliseconds, and the rest (under
    /// 1 ms) is timed by a timerfd in the same epoll set, as `polling` does.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn epoll_timeout(&mut self, timeout: Duration) -> Duration {
        const MS: Duration = Duration::from_millis(1);
        if timeout >= MS {
            return Duration::from_millis(timeout.as_millis() as u64);
        }
        if let Some(timer) = &self.sub_ms_timer {
            if !timeout.is_zero() {
                timer.arm(timeout);
            }
        }
        timeout
    }

    /// kqueue takes nanoseconds.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn epoll_timeout(&mut self, timeout: Duration) -> Duration {
        timeout
    }

    /// One wait in the OS poller (step 3); `None` waits until an event.
    fn wait(&mut self, timeout: Option<Duration>) {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            // A signal: the scheduler looks again and calls back.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return,
            Err(e) => panic!("gosched: waiting in the OS poller failed: {e}"),
        }
        self.last_poll = Instant::now();
        for event in self.events.iter() {
            if event.token() == WAKE_TOKEN || event.token() == TIMER_TOKEN {
                continue;
            }
            let read_closed = event.is_error() || event.is_read_closed();
            let write_closed = event.is_error() || event.is_write_closed();
            self.netpoller.ready_up(
                event.token().0,
                Readiness {
                    readable: event.is_readable() || read_closed || write_closed,
                    writable: event.is_writable() || read_closed || write_closed,
                    read_closed,
                    write_closed,
                },
            );
        }
    }
}

impl Default for NativePlatform {
    fn default() -> Self {
        NativePlatform::new()
    }
}

impl Platform for NativePlatform {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        let timeout =
            deadline.map(|deadline| self.epoll_timeout(deadline.saturating_sub(self.now())));
        self.wait(timeout);
        Idle::Resume
    }

    fn poll_ready(&mut self, wake: &mut dyn FnMut(Waiter)) {
        if self.netpoller.ready.borrow().is_empty()
            && self.netpoller.waiting.get() > 0
            && self.last_poll.elapsed() >= BUSY_POLL_INTERVAL
        {
            self.wait(Some(Duration::ZERO));
        }
        let ready = std::mem::take(&mut *self.netpoller.ready.borrow_mut());
        for waiter in &ready {
            wake(*waiter);
        }
        // Keep the buffer's capacity for the next round.
        let mut slot = self.netpoller.ready.borrow_mut();
        if slot.is_empty() {
            *slot = ready;
            slot.clear();
        }
    }

    fn has_event_sources(&self) -> bool {
        self.netpoller.waiting.get() > 0 || !self.netpoller.ready.borrow().is_empty()
    }

    fn netpoller(&self) -> Option<Rc<Netpoller>> {
        Some(self.netpoller.clone())
    }

    fn unparker(&self) -> Unparker {
        let waker = self.waker.clone();
        // An error means the eventfd's counter is full: a wake is pending anyway.
        Unparker::new(move || drop(waker.wake()))
    }
}

/// A timerfd in the poller's set: ends a wait shorter than epoll's
/// millisecond. Each expiry is a new edge, so it is never read.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
struct SubMsTimer(std::os::fd::OwnedFd);

#[cfg(any(target_os = "linux", target_os = "android"))]
impl SubMsTimer {
    fn new(registry: &Registry) -> io::Result<SubMsTimer> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: timerfd_create takes no pointers; a valid clock and flags.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        registry.register(
            &mut SourceFd(&fd.as_raw_fd()),
            TIMER_TOKEN,
            Interest::READABLE,
        )?;
        Ok(SubMsTimer(fd))
    }

    /// Expires once, `after` from now (replacing any earlier arming).
    fn arm(&self, after: Duration) {
        use std::os::fd::AsRawFd;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd, a valid itimerspec, and a null old value
        // (allowed). A failure leaves epoll's rounded-up timeout in charge.
        unsafe { libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    }
}

/// Which readiness a goroutine waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// One registered fd: who waits on it, and whether it may be ready.
struct Source {
    readers: Vec<Waiter>,
    writers: Vec<Waiter>,
    /// Cleared when a call found the direction drained, set by its next
    /// event: while clear, a call parks without trying the system call.
    readable: bool,
    writable: bool,
    /// The peer closed or the socket failed: a condition that no later
    /// event repeats, so it keeps the direction ready for good (a short read
    /// may leave the end of stream behind it).
    read_closed: bool,
    write_closed: bool,
}

/// What one event says about a registered fd.
struct Readiness {
    readable: bool,
    writable: bool,
    read_closed: bool,
    write_closed: bool,
}

/// Registered fds by key, with a free list so keys stay small.
#[derive(Default)]
struct Sources {
    slots: Vec<Option<Source>>,
    free: Vec<usize>,
}

/// The readiness registry of one [`NativePlatform`]: `gosched::net`
/// registers its sockets here and parks goroutines on them; the platform's
/// wait wakes them. Not `Send`: it belongs to the scheduler's thread.
///
/// A platform that wraps `NativePlatform` hands it on from
/// [`Platform::netpoller`]:
///
/// ```
/// use std::{rc::Rc, time::Duration};
/// use gosched::platform::{Idle, NativePlatform, Netpoller, Platform, Unparker, Waiter};
///
/// struct Wrapped(NativePlatform);
///
/// impl Platform for Wrapped {
///     fn now(&self) -> Duration { self.0.now() }
///     fn before_idle(&mut self, deadline: Option<Duration>) -> Idle { self.0.before_idle(deadline) }
///     fn poll_ready(&mut self, wake: &mut dyn FnMut(Waiter)) { self.0.poll_ready(wake) }
///     fn has_event_sources(&self) -> bool { self.0.has_event_sources() }
///     fn netpoller(&self) -> Option<Rc<Netpoller>> { self.0.netpoller() }
///     fn unparker(&self) -> Unparker { self.0.unparker() }
/// }
///
/// let echoed = gosched::Runtime::new().platform(Wrapped(NativePlatform::new())).run(|| {
///     use std::io::{Read, Write};
///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     gosched::go(move || {
///         let (mut conn, _) = listener.accept().unwrap();
///         let mut byte = [0];
///         conn.read_exact(&mut byte).unwrap();
///         conn.write_all(&byte).unwrap();
///     });
///     let mut client = gosched::net::TcpStream::connect(addr).unwrap();
///     client.write_all(b"x").unwrap();
///     let mut byte = [0];
///     client.read_exact(&mut byte).unwrap();
///     byte[0]
/// });
/// assert_eq!(echoed, b'x');
/// ```
pub struct Netpoller {
    registry: Registry,
    sources: RefCell<Sources>,
    /// Waiters whose event arrived, until `poll_ready` hands them up.
    ready: RefCell<Vec<Waiter>>,
    /// How many waiters `sources` holds: goroutines parked on sockets.
    waiting: Cell<usize>,
}

impl std::fmt::Debug for Netpoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netpoller")
            .field("waiting", &self.waiting.get())
            .finish_non_exhaustive()
    }
}

impl Netpoller {
    /// Step 1: registers `fd` for both directions, edge-triggered; returns its key.
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<usize> {
        let mut sources = self.sources.borrow_mut();
        let key = match sources.free.pop() {
            Some(key) => key,
            None => {
                sources.slots.push(None);
                sources.slots.len() - 1
            }
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self
            .registry
            .register(&mut SourceFd(&fd), Token(key), interest)
        {
            Ok(()) => {
                sources.slots[key] = Some(Source {
                    readers: Vec::new(),
                    writers: Vec::new(),
                    readable: true,
                    writable: true,
                    read_closed: false,
                    write_closed: false,
                });
                Ok(key)
            }
            Err(e) => {
                sources.free.push(key);
                Err(e)
            }
        }
    }

    /// Forgets `fd` (before it is closed); its waiters, if any, are dropped.
    pub(crate) fn deregister(&self, fd: RawFd, key: usize) {
        // Closing the fd would remove it from the epoll set too; deregistering
        // first keeps an fd shared through `dup` from reporting to a dead key.
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        let mut sources = self.sources.borrow_mut();
        if let Some(source) = sources.slots.get_mut(key).and_then(Option::take) {
            let dropped = source.readers.len() + source.writers.len();
            self.waiting.set(self.waiting.get() - dropped);
            sources.free.push(key);
        }
    }

    /// Whether `direction` of the fd with `key` may be ready: no call has
    /// found it drained since its last event.
    pub(crate) fn may_be_ready(&self, key: usize, direction: Direction) -> bool {
        let sources = self.sources.borrow();
        let Some(source) = sources.slots.get(key).and_then(Option::as_ref) else {
            return true;
        };
        match direction {
            Direction::Read => source.readable || source.read_closed,
            Direction::Write => source.writable || source.write_closed,
        }
    }

    /// A call found `direction` drained (it would block, or a read or write
    /// came back short): the next call waits for an event first. No event
    /// can slip in between the system call and this: events are taken only
    /// while the scheduler, not a goroutine, runs.
    pub(crate) fn drained(&self, key: usize, direction: Direction) {
        let mut sources = self.sources.borrow_mut();
        if let Some(source) = sources.slots.get_mut(key).and_then(Option::as_mut) {
            match direction {
                Direction::Read => source.readable = false,
                Direction::Write => source.writable = false,
            }
        }
    }

    /// Step 2: `waiter` waits for `direction` on the fd with `key`.
    pub(crate) fn add_waiter(&self, key: usize, direction: Direction, waiter: Waiter) {
        let mut sources = self.sources.borrow_mut();
        let source = sources.slots[key]
            .as_mut()
            .expect("gosched: waiting on a deregistered socket");
        match direction {
            Direction::Read => source.readers.push(waiter),
            Direction::Write => source.writers.push(waiter),
        }
        self.waiting.set(self.waiting.get() + 1);
    }

    /// Removes `waiter` if it still waits (its park ended by a timeout, an
    /// unwind, or a wake-up that was not this fd's).
    pub(crate) fn remove_waiter(&self, key: usize, direction: Direction, waiter: Waiter) {
        let mut sources = self.sources.borrow_mut();
        let Some(source) = sources.slots.get_mut(key).and_then(Option::as_mut) else {
            return;
        };
        let list = match direction {
            Direction::Read => &mut source.readers,
            Direction::Write => &mut source.writers,
        };
        if let Some(at) = list.iter().position(|w| *w == waiter) {
            list.swap_remove(at);
            self.waiting.set(self.waiting.get() - 1);
        }
    }

    /// Step 3: an event for the fd with `key`.
    fn ready_up(&self, key: usize, event: Readiness) {
        let mut sources = self.sources.borrow_mut();
        let Some(source) = sources.slots.get_mut(key).and_then(Option::as_mut) else {
            return;
        };
        let mut ready = self.ready.borrow_mut();
        let before = ready.len();
        source.read_closed |= event.read_closed;
        source.write_closed |= event.write_closed;
        if event.readable {
            source.readable = true;
            ready.append(&mut source.readers);
        }
        if event.writable {
            source.writable = true;
            ready.append(&mut source.writers);
        }
        self.waiting
            .set(self.waiting.get() - (ready.len() - before));
    }
}
