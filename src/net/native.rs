//! `gosched::net` natively: std's sockets in non-blocking mode, parked on the
//! platform's [`Netpoller`] when a call would block.
//!
//! One call, e.g. a read (the platform's side is in src/platform/native.rs):
//!
//! 1. Try the system call. Anything but "would block" is the result (an
//!    `EINTR` is retried; a socket the user set non-blocking returns "would
//!    block" as std does).
//! 2. With a timeout, the deadline is fixed at the first "would block"; once
//!    it has passed, the call fails with std's error kind.
//! 3. On first need, the fd is registered with the netpoller of the running
//!    scheduler (once for its life; again only if it moves to another
//!    runtime of the same thread).
//! 4. The goroutine adds itself as a waiter for the direction and parks
//!    (with the deadline as its timer); a guard removes the waiter however
//!    the park ends: readiness, timeout, or an unwind at shutdown.
//! 5. Back to 1.
//!
//! Dropping a socket deregisters its fd before closing it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use super::addr::{LookupKind, ToSocketAddrs};
use super::{check_timeout, Incoming, Timeouts};
use crate::platform::{Direction, Netpoller, Waiter};
use crate::runtime::{self, Scheduler, WaitReason};

/// Timeouts and mode, shared by a socket and its `try_clone`s (in std they
/// are properties of the one underlying socket).
#[derive(Default)]
struct Settings {
    timeouts: Timeouts,
    /// The user asked for non-blocking calls: "would block" is returned.
    nonblocking: Cell<bool>,
}

/// An fd registered with a netpoller; deregisters on drop.
struct Registration {
    poller: Rc<Netpoller>,
    key: usize,
    fd: RawFd,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.poller.deregister(self.fd, self.key);
    }
}

/// Removes a goroutine's waiter when its park ends, however it ends.
struct WaiterGuard<'a> {
    poller: &'a Netpoller,
    key: usize,
    direction: Direction,
    waiter: Waiter,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.poller
            .remove_waiter(self.key, self.direction, self.waiter);
    }
}

/// A non-blocking std socket that parks goroutines on the netpoller.
struct Pollable<S: AsRawFd> {
    // Before `sock`: deregistered before the fd closes.
    registration: RefCell<Option<Registration>>,
    sock: S,
    settings: Rc<Settings>,
}

fn would_block_timeout() -> io::Error {
    // What std's SO_RCVTIMEO/SO_SNDTIMEO expiry gives on Unix.
    io::Error::from_raw_os_error(libc::EAGAIN)
}

fn connect_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection timed out")
}

impl<S: AsRawFd> Pollable<S> {
    fn new(sock: S, settings: Rc<Settings>) -> Pollable<S> {
        Pollable {
            registration: RefCell::new(None),
            sock,
            settings,
        }
    }

    /// One blocking-style call: steps 1-5 of the module docs. `drained`
    /// says whether a successful result shows the direction drained (a short
    /// read or write).
    fn io<R>(
        &self,
        direction: Direction,
        timeout: Option<Duration>,
        timed_out: fn() -> io::Error,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        let mut deadline = None;
        loop {
            // Non-blocking mode always asks the OS: its caller may spin
            // without ever letting the scheduler take events.
            if self.settings.nonblocking.get() || self.may_be_ready(direction) {
                match op(&self.sock) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.drained(direction),
                    Ok(value) => {
                        if drained(&value) {
                            self.drained(direction);
                        }
                        return Ok(value);
                    }
                    Err(e) => return Err(e),
                }
            }
            if self.settings.nonblocking.get() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let s = runtime::scheduler(match direction {
                Direction::Read => "a gosched::net read or accept",
                Direction::Write => "a gosched::net write or connect",
            });
            if let Some(timeout) = timeout {
                let deadline = *deadline.get_or_insert_with(|| s.now() + timeout);
                if s.now() >= deadline {
                    return Err(timed_out());
                }
            }
            self.park(s, direction, deadline)?;
        }
    }

    /// One call with the socket's timeout for `direction`, whose success
    /// never shows the direction drained: a datagram moves whole, a peek
    /// takes nothing.
    fn whole<R>(&self, direction: Direction, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        let timeout = match direction {
            Direction::Read => self.settings.timeouts.read.get(),
            Direction::Write => self.settings.timeouts.write.get(),
        };
        self.io(direction, timeout, would_block_timeout, op, |_| false)
    }

    /// Whether a system call in `direction` may succeed (step 5 of
    /// src/platform/native.rs): unknown until registered.
    fn may_be_ready(&self, direction: Direction) -> bool {
        match &*self.registration.borrow() {
            Some(r) => r.poller.may_be_ready(r.key, direction),
            None => true,
        }
    }

    fn drained(&self, direction: Direction) {
        if let Some(r) = &*self.registration.borrow() {
            r.poller.drained(r.key, direction);
        }
    }

    /// Steps 3 and 4.
    fn park(
        &self,
        s: &Scheduler,
        direction: Direction,
        deadline: Option<Duration>,
    ) -> io::Result<()> {
        let poller = s.netpoller().unwrap_or_else(|| {
            panic!(
                "gosched::net: this runtime's platform has no netpoller (Platform::netpoller); \
                 a platform that wraps NativePlatform must forward it"
            )
        });
        let key = {
            let mut registration = self.registration.borrow_mut();
            match &*registration {
                Some(r) if Rc::ptr_eq(&r.poller, poller) => r.key,
                _ => {
                    *registration = None;
                    let fd = self.sock.as_raw_fd();
                    let key = poller.register(fd)?;
                    *registration = Some(Registration {
                        poller: poller.clone(),
                        key,
                        fd,
                    });
                    key
                }
            }
        };
        let waiter = s.current_waiter();
        poller.add_waiter(key, direction, waiter);
        let _guard = WaiterGuard {
            poller,
            key,
            direction,
            waiter,
        };
        s.park(WaitReason::IoWait, deadline);
        Ok(())
    }

    /// The std socket, deregistered and in blocking mode again.
    fn into_std(self) -> io::Result<S>
    where
        S: Blocking,
    {
        drop(self.registration);
        self.sock.set_blocking()?;
        Ok(self.sock)
    }
}

/// std sockets' `set_nonblocking`.
trait Blocking: Sized {
    fn set_nonblocking(&self, on: bool) -> io::Result<()>;
    fn set_blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)
    }
}

macro_rules! blocking {
    ($($t:ty),*) => {$(
        impl Blocking for $t {
            fn set_nonblocking(&self, on: bool) -> io::Result<()> {
                <$t>::set_nonblocking(self, on)
            }
        }
    )*};
}
blocking!(
    std::net::TcpStream,
    std::net::TcpListener,
    std::net::UdpSocket
);

/// A std socket made non-blocking for the netpoller.
fn adopt<S: AsRawFd + Blocking>(sock: S) -> Pollable<S> {
    sock.set_nonblocking(true).unwrap_or_else(|e| {
        panic!("gosched::net: cannot put a std socket in non-blocking mode: {e}")
    });
    Pollable::new(sock, Rc::default())
}

/// Resolves `addr`: names on `unblock`'s pool inside a goroutine, here outside.
fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let lookup = addr.to_lookup()?;
    match lookup.0 {
        LookupKind::Addrs(addrs) => Ok(addrs),
        _ if runtime::in_goroutine() => crate::unblock::offload(
            WaitReason::IoWait,
            "a gosched::net name lookup",
            move || lookup.resolve_here(),
        ),
        _ => lookup.resolve_here(),
    }
}

/// Std's `each_addr`: the first address that works, else the last error.
fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in resolve(addr)? {
        match f(&addr) {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// The methods (and fd and `Debug` impls) every socket type has with one
/// meaning, written once with
/// their docs and examples, as std writes its integer types' methods
/// (`int_impl!`): `$make` makes a socket `s` in each example, `$wait` is a
/// call on it that waits for input.
macro_rules! socket_methods {
    ($ty:ident, $make:literal, $wait:literal) => {
        impl $ty {
            /// The local address.
            ///
            #[doc = example!($make, "assert!(s.local_addr().unwrap().ip().is_loopback());")]
            pub fn local_addr(&self) -> io::Result<SocketAddr> {
                self.io.sock.local_addr()
            }

            /// Sets the IP time-to-live (for a listener: of the connections
            /// it accepts).
            ///
            #[doc = example!($make, "s.set_ttl(60).unwrap();", "assert_eq!(s.ttl().unwrap(), 60);")]
            pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
                self.io.sock.set_ttl(ttl)
            }

            /// The IP time-to-live.
            ///
            #[doc = example!($make, "assert!(s.ttl().unwrap() > 0);")]
            pub fn ttl(&self) -> io::Result<u32> {
                self.io.sock.ttl()
            }

            /// Takes the socket's pending error (`SO_ERROR`).
            ///
            #[doc = example!($make, "assert!(s.take_error().unwrap().is_none());")]
            pub fn take_error(&self) -> io::Result<Option<io::Error>> {
                self.io.sock.take_error()
            }

            /// With `true`, calls that would block return
            /// [`io::ErrorKind::WouldBlock`] instead of parking the
            /// goroutine, as in std. Shared with the socket's `try_clone`s.
            ///
            #[doc = example!(
                                        $make,
                                        "s.set_nonblocking(true).unwrap();",
                                        "let err = ", $wait, ".unwrap_err();",
                                        "assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);"
                                    )]
            pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
                self.io.settings.nonblocking.set(nonblocking);
                Ok(())
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.io.sock.as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.sock.as_fd()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&self.io.sock).finish()
            }
        }
    };
}

/// The methods [`TcpStream`] and [`UdpSocket`] share beyond
/// [`socket_methods!`]'s; `$std` is the std type.
macro_rules! data_socket_methods {
    ($ty:ident, $std:ty, $make:literal, $wait:literal) => {
        socket_methods!($ty, $make, $wait);
        timeout_methods!($ty, $make, $wait, io.settings.timeouts);

        impl $ty {
            /// A second handle to the same socket (a `dup`ed fd): one
            /// goroutine may read through one while another writes through
            /// the other. Timeouts and non-blocking mode are shared, as in
            /// std.
            ///
            #[doc = example!(
                $make,
                "let t = s.try_clone().unwrap();",
                "assert_eq!(s.local_addr().unwrap(), t.local_addr().unwrap());"
            )]
            pub fn try_clone(&self) -> io::Result<$ty> {
                Ok($ty {
                    io: Pollable::new(self.io.sock.try_clone()?, self.io.settings.clone()),
                })
            }

            /// The std socket, in blocking mode, for use outside gosched (on
            /// another thread, or with a library that wants std's type);
            /// `From` converts back.
            ///
            #[doc = example!(
                $make,
                "let local = s.local_addr().unwrap();",
                concat!("let std_socket: ", stringify!($std), " = s.into_std().unwrap();"),
                concat!("let back = gosched::net::", stringify!($ty), "::from(std_socket);"),
                "assert_eq!(back.local_addr().unwrap(), local);"
            )]
            pub fn into_std(self) -> io::Result<$std> {
                self.io.into_std()
            }
        }
    };
}

/// A TCP connection, as [`std::net::TcpStream`]; reads, writes and connects
/// park only the calling goroutine.
///
/// ```
/// use std::io::{Read, Write};
/// use gosched::net::{TcpListener, TcpStream};
///
/// gosched::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let server = gosched::go(move || {
///         let (mut conn, _) = listener.accept().unwrap();
///         let mut buf = String::new();
///         conn.read_to_string(&mut buf).unwrap();
///         buf
///     });
///     let mut stream = TcpStream::connect(addr).unwrap();
///     stream.write_all(b"ping").unwrap();
///     stream.shutdown(std::net::Shutdown::Write).unwrap();
///     assert_eq!(server.join().unwrap(), "ping");
/// });
/// ```
pub struct TcpStream {
    io: Pollable<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn; parks the
    /// goroutine while the handshake runs.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let stream = gosched::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// });
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |addr| TcpStream::connect_addr(addr, None))
    }

    /// Connects to `addr`, failing with [`io::ErrorKind::TimedOut`] if the
    /// handshake takes longer than `timeout` (a zero timeout is an error).
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let stream = gosched::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5));
    ///     assert!(stream.is_ok());
    /// });
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        check_timeout(Some(timeout))?;
        TcpStream::connect_addr(addr, Some(timeout))
    }

    fn connect_addr(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        // mio's connect is non-blocking: it returns while the handshake runs.
        let sock = std::net::TcpStream::from(mio::net::TcpStream::connect(*addr)?);
        let stream = TcpStream {
            io: Pollable::new(sock, Rc::default()),
        };
        stream.io.io(
            Direction::Write,
            timeout,
            connect_timed_out,
            |sock| {
                if let Some(e) = sock.take_error()? {
                    return Err(e);
                }
                match sock.peer_addr() {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(e) => Err(e),
                }
            },
            |_| false,
        )?;
        Ok(stream)
    }

    /// The remote address.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let l = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let s = gosched::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    ///     assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock.peer_addr()
    }

    /// Shuts down the read half, the write half or both; the peer reads 0
    /// after a write shutdown.
    ///
    /// ```
    /// use std::io::Read;
    /// gosched::run(|| {
    ///     let l = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let s = gosched::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    ///     let (mut peer, _) = l.accept().unwrap();
    ///     s.shutdown(std::net::Shutdown::Write).unwrap();
    ///     assert_eq!(peer.read(&mut [0; 8]).unwrap(), 0);
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.sock.shutdown(how)
    }

    /// Reads without removing the data from the socket's queue.
    ///
    /// ```
    /// use std::io::Write;
    /// gosched::run(|| {
    ///     let l = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let mut s = gosched::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    ///     let (peer, _) = l.accept().unwrap();
    ///     s.write_all(b"hi").unwrap();
    ///     let mut buf = [0; 2];
    ///     assert_eq!(peer.peek(&mut buf).unwrap(), 2);
    ///     assert_eq!(&buf, b"hi");
    /// });
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.whole(Direction::Read, |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    ///
    /// ```
    /// gosched::run(|| {
    ///     let l = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let s = gosched::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    ///     s.set_nodelay(true).unwrap();
    ///     assert!(s.nodelay().unwrap());
    /// });
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.sock.set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let l = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let s = gosched::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    ///     assert!(!s.nodelay().unwrap());
    /// });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.sock.nodelay()
    }

    fn read_timeout_now(&self) -> Option<Duration> {
        self.io.settings.timeouts.read.get()
    }

    fn write_timeout_now(&self) -> Option<Duration> {
        self.io.settings.timeouts.write.get()
    }
}

data_socket_methods!(
    TcpStream,
    std::net::TcpStream,
    "let l = gosched::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\n    \
     let s = gosched::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();",
    "std::io::Read::read(&mut &s, &mut [0; 8])"
);

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (timeout, len) = (self.read_timeout_now(), buf.len());
        self.io.io(
            Direction::Read,
            timeout,
            would_block_timeout,
            |mut s| s.read(buf),
            |&n| short(n, len),
        )
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let timeout = self.read_timeout_now();
        let len = bufs.iter().map(|b| b.len()).sum();
        self.io.io(
            Direction::Read,
            timeout,
            would_block_timeout,
            |mut s| s.read_vectored(bufs),
            |&n| short(n, len),
        )
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let timeout = self.write_timeout_now();
        self.io.io(
            Direction::Write,
            timeout,
            would_block_timeout,
            |mut s| s.write(buf),
            |&n| short(n, buf.len()),
        )
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let timeout = self.write_timeout_now();
        let len = bufs.iter().map(|b| b.len()).sum();
        self.io.io(
            Direction::Write,
            timeout,
            would_block_timeout,
            |mut s| s.write_vectored(bufs),
            |&n| short(n, len),
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A transfer of `n` of `len` bytes that shows the socket drained: some but
/// not all (nothing at all is end of stream, or an empty buffer).
fn short(n: usize, len: usize) -> bool {
    n > 0 && n < len
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl From<std::net::TcpStream> for TcpStream {
    /// Puts the std stream in non-blocking mode; its goroutines park instead.
    ///
    /// # Panics
    ///
    /// If the OS refuses non-blocking mode for the socket.
    fn from(stream: std::net::TcpStream) -> TcpStream {
        TcpStream { io: adopt(stream) }
    }
}

/// A TCP listening socket, as [`std::net::TcpListener`]; `accept` parks only
/// the calling goroutine.
///
/// ```
/// gosched::run(|| {
///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     gosched::go(move || drop(gosched::net::TcpStream::connect(addr).unwrap()));
///     let (_conn, peer) = listener.accept().unwrap();
///     assert!(peer.ip().is_loopback());
/// });
/// ```
pub struct TcpListener {
    io: Pollable<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (port 0 picks a free port), trying each resolved
    /// address in turn.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     assert_ne!(listener.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |addr| {
            let listener = std::net::TcpListener::bind(addr)?;
            listener.set_nonblocking(true)?;
            Ok(TcpListener::from_nonblocking(listener))
        })
    }

    fn from_nonblocking(listener: std::net::TcpListener) -> TcpListener {
        // mio's accept makes the new socket non-blocking in the same call.
        TcpListener {
            io: Pollable::new(mio::net::TcpListener::from_std(listener), Rc::default()),
        }
    }

    /// Waits for a connection, parking only this goroutine. At the process's
    /// fd limit it returns the error (EMFILE) and the pending connection
    /// stays queued: a later `accept` takes it once fds are free.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = gosched::go(move || gosched::net::TcpStream::connect(addr).unwrap());
    ///     let (conn, _) = listener.accept().unwrap();
    ///     assert_eq!(conn.peer_addr().unwrap(), client.join().unwrap().local_addr().unwrap());
    /// });
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.io.io(
            Direction::Read,
            None,
            would_block_timeout,
            |l| l.accept(),
            |_| false,
        )?;
        let stream = TcpStream {
            io: Pollable::new(std::net::TcpStream::from(stream), Rc::default()),
        };
        Ok((stream, addr))
    }

    /// An endless iterator of [`accept`](Self::accept)ed connections.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     gosched::go(move || drop(gosched::net::TcpStream::connect(addr).unwrap()));
    ///     let first = listener.incoming().next().unwrap();
    ///     assert!(first.is_ok());
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// A second handle to the same listening socket.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let other = listener.try_clone().unwrap();
    ///     assert_eq!(listener.local_addr().unwrap(), other.local_addr().unwrap());
    /// });
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let fd = self.io.sock.as_fd().try_clone_to_owned()?;
        Ok(TcpListener {
            io: Pollable::new(
                mio::net::TcpListener::from_std(std::net::TcpListener::from(fd)),
                self.io.settings.clone(),
            ),
        })
    }

    /// The std listener, in blocking mode.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let std_listener = listener.into_std().unwrap();
    ///     assert!(std_listener.local_addr().is_ok());
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        drop(self.io.registration);
        let listener = std::net::TcpListener::from(self.io.sock);
        listener.set_nonblocking(false)?;
        Ok(listener)
    }
}

socket_methods!(
    TcpListener,
    "let s = gosched::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();",
    "s.accept()"
);

impl From<std::net::TcpListener> for TcpListener {
    /// Puts the std listener in non-blocking mode; `accept` parks instead.
    ///
    /// # Panics
    ///
    /// If the OS refuses non-blocking mode for the socket.
    fn from(listener: std::net::TcpListener) -> TcpListener {
        listener.set_nonblocking(true).unwrap_or_else(|e| {
            panic!("gosched::net: cannot put a std socket in non-blocking mode: {e}")
        });
        TcpListener::from_nonblocking(listener)
    }
}

/// A UDP socket, as [`std::net::UdpSocket`]; receives (and full sends) park
/// only the calling goroutine.
///
/// ```
/// use gosched::net::UdpSocket;
///
/// gosched::run(|| {
///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b_addr = b.local_addr().unwrap();
///     let echo = gosched::go(move || {
///         let mut buf = [0; 16];
///         let (n, from) = b.recv_from(&mut buf).unwrap();
///         b.send_to(&buf[..n], from).unwrap();
///     });
///     a.send_to(b"ping", b_addr).unwrap();
///     let mut buf = [0; 16];
///     let (n, _) = a.recv_from(&mut buf).unwrap();
///     assert_eq!(&buf[..n], b"ping");
///     echo.join().unwrap();
/// });
/// ```
pub struct UdpSocket {
    io: Pollable<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, trying each resolved address in turn.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert_ne!(socket.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| {
            Ok(UdpSocket {
                io: adopt(std::net::UdpSocket::bind(addr)?),
            })
        })
    }

    /// Sends `buf` to `addr` (the first address it resolves to).
    ///
    /// ```
    /// gosched::run(|| {
    ///     let a = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert_eq!(a.send_to(b"hi", b.local_addr().unwrap()).unwrap(), 2);
    /// });
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let Some(addr) = resolve(addr)?.into_iter().next() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no addresses to send data to",
            ));
        };
        self.io.whole(Direction::Write, |s| s.send_to(buf, addr))
    }

    /// Receives one datagram; returns its length and sender.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let a = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
    ///     let mut buf = [0; 8];
    ///     let (n, from) = b.recv_from(&mut buf).unwrap();
    ///     assert_eq!((n, from), (2, a.local_addr().unwrap()));
    /// });
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.whole(Direction::Read, |s| s.recv_from(buf))
    }

    /// As [`recv_from`](Self::recv_from), leaving the datagram queued.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let a = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.peek_from(&mut buf).unwrap().0, 2);
    ///     assert_eq!(b.recv_from(&mut buf).unwrap().0, 2);
    /// });
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.whole(Direction::Read, |s| s.peek_from(buf))
    }

    /// Sets the default peer for [`send`](Self::send) and
    /// [`recv`](Self::recv) (and filters what `recv` receives).
    ///
    /// ```
    /// gosched::run(|| {
    ///     let a = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).unwrap();
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// });
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |addr| self.io.sock.connect(addr))
    }

    /// Sends `buf` to the connected peer.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let a = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).unwrap();
    ///     b.connect(a.local_addr().unwrap()).unwrap();
    ///     a.send(b"hi").unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf).unwrap(), 2);
    /// });
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.whole(Direction::Write, |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let a = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     b.connect(a.local_addr().unwrap()).unwrap();
    ///     a.send_to(b"hey", b.local_addr().unwrap()).unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf).unwrap(), 3);
    /// });
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.whole(Direction::Read, |s| s.recv(buf))
    }

    /// As [`recv`](Self::recv), leaving the datagram queued.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let a = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     b.connect(a.local_addr().unwrap()).unwrap();
    ///     a.send_to(b"hey", b.local_addr().unwrap()).unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.peek(&mut buf).unwrap(), 3);
    /// });
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.whole(Direction::Read, |s| s.peek(buf))
    }

    /// The connected peer's address.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let s = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(s.peer_addr().is_err());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock.peer_addr()
    }

    /// Allows sending to broadcast addresses.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let s = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     s.set_broadcast(true).unwrap();
    ///     assert!(s.broadcast().unwrap());
    /// });
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.io.sock.set_broadcast(broadcast)
    }

    /// Whether broadcast is allowed.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let s = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(!s.broadcast().unwrap());
    /// });
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.sock.broadcast()
    }
}

data_socket_methods!(
    UdpSocket,
    std::net::UdpSocket,
    "let s = gosched::net::UdpSocket::bind(\"127.0.0.1:0\").unwrap();",
    "s.recv_from(&mut [0; 8])"
);

impl From<std::net::UdpSocket> for UdpSocket {
    /// Puts the std socket in non-blocking mode; its goroutines park instead.
    ///
    /// # Panics
    ///
    /// If the OS refuses non-blocking mode for the socket.
    fn from(socket: std::net::UdpSocket) -> UdpSocket {
        UdpSocket { io: adopt(socket) }
    }
}

// Sockets belong to the scheduler of their thread (module docs, "Threads").
static_assertions::assert_not_impl_any!(TcpStream: Send, Sync);
static_assertions::assert_not_impl_any!(TcpListener: Send, Sync);
static_assertions::assert_not_impl_any!(UdpSocket: Send, Sync);
