//! `gosched::net` in a WASIp3 component: std::net's types on
//! `wasi:sockets@0.3.0`, through the `wasip3` crate's bindings and
//! [`block_on`](crate::block_on), so a blocking call parks only its goroutine.
//!
//! How the std calls map onto wasi:sockets:
//!
//! 1. `TcpListener::bind`: `tcp-socket.create`, `bind`, `listen`; the
//!    `stream<tcp-socket>` of accepted connections is read by `accept`.
//! 2. A connection (accepted, or made by `TcpStream::connect`'s async
//!    `connect`) is split at once: `receive` gives the stream of incoming
//!    bytes and a future of the receive side's final result; `send` takes a
//!    stream we write into and gives the send side's final result.
//! 3. `read` is one read of the incoming stream into a buffer of the caller's
//!    size (it completes as soon as some bytes arrived); when the stream ends,
//!    the receive result tells end of input (`Ok(0)`) from a failure.
//! 4. `write` is one write to the outgoing stream (it completes when the host
//!    took some bytes); a stream the host dropped means the send side failed,
//!    and its result tells why (`BrokenPipe` if it does not).
//! 5. `shutdown(Write)` drops the outgoing stream (the host sends FIN after
//!    the data); `shutdown(Read)` drops the incoming one.
//! 6. Dropping the last handle of a connection closes the outgoing stream and,
//!    in a goroutine that may still block, waits until the host has sent
//!    everything (like the kernel's close, which flushes in the background);
//!    then the socket resource is dropped.
//! 7. A goroutine abandoned while it waits on a connection, because `main`
//!    returned (wasm cannot unwind it: its frames and the handles they own
//!    are never dropped), still has its goroutine-locals dropped with its
//!    record. One of them ([`WaitingOn`]'s) names the socket it waited on,
//!    the stream end its operation holds and the waitables it registered
//!    ([`io_wait`] notes them). Its drop cancels and drops that operation
//!    (src/wasip3/abandon.rs), closes the connection's other direction, and
//!    drops the socket if the abandoned frame was its only owner: the peer
//!    reads end of stream, a listener's or UDP socket's port is free again.
//!
//! Timeouts race the operation against `monotonic-clock.wait-for`; when the
//! clock wins, the operation is cancelled, and what it transferred meanwhile
//! is returned (a read gives `WouldBlock`, as std on Unix, only if nothing
//! arrived). The stream stays usable.
//!
//! Each direction of a connection has its own [`Mutex`]: one goroutine may
//! read while another writes the same stream; two readers take turns.
//!
//! What wasi:sockets@0.3.0 does not have, and so neither does this module
//! (each such method is there and answers `Unsupported`): `set_nodelay` and
//! `nodelay` (no Nagle option), `peek` and `peek_from`, non-blocking mode,
//! UDP broadcast; and with no method at all: conversions from or to std's
//! or raw sockets (`From`, `into_std`, `AsRawFd`), multicast. `take_error`
//! is always `Ok(None)`; `ttl` is the hop limit.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use ::wasip3::clocks::monotonic_clock;
use ::wasip3::sockets::ip_name_lookup;
use ::wasip3::sockets::types::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    TcpSocket, UdpSocket as WasiUdpSocket,
};
use ::wasip3::wit_bindgen::{FutureReader, StreamReader, StreamResult, StreamWriter};
use ::wasip3::wit_stream;

use super::addr::{LookupKind, ToSocketAddrs};
use super::{check_timeout, Incoming, Timeouts};
use crate::runtime::WaitReason;
use crate::sync::Mutex;
use crate::wasip3::abandon;

/// The final result of one direction of a connection.
type Outcome = FutureReader<Result<(), ErrorCode>>;

/// The methods every socket type has with one meaning, written once with
/// their docs and examples, as std writes its integer types' methods
/// (`int_impl!`): `$make` makes a socket `s` in each example, and
/// `$get_hop`/`$set_hop` are its wasi:sockets hop limit accessors.
macro_rules! socket_methods {
    ($ty:ident, $make:literal, $get_hop:ident, $set_hop:ident) => {
        impl $ty {
            /// The local address.
            ///
            #[doc = example!($make, "assert!(s.local_addr().unwrap().ip().is_loopback());")]
            pub fn local_addr(&self) -> io::Result<SocketAddr> {
                let socket = &self.inner.socket;
                socket.get_local_address().map(from_wasi).map_err(error)
            }

            /// Another handle to the same socket (timeouts included), for
            /// example to read on one goroutine and write on another.
            ///
            #[doc = example!(
                                $make,
                                "let t = s.try_clone().unwrap();",
                                "assert_eq!(s.local_addr().unwrap(), t.local_addr().unwrap());"
                            )]
            pub fn try_clone(&self) -> io::Result<$ty> {
                Ok($ty {
                    inner: self.inner.clone(),
                })
            }

            /// Sets the hop limit (TTL) of the socket's packets (for a
            /// listener: of its connections').
            ///
            #[doc = example!($make, "s.set_ttl(60).unwrap();", "assert_eq!(s.ttl().unwrap(), 60);")]
            pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
                set_hop_limit(ttl, |ttl| self.inner.socket.$set_hop(ttl))
            }

            /// The hop limit (TTL).
            ///
            #[doc = example!($make, "assert!(s.ttl().unwrap() > 0);")]
            pub fn ttl(&self) -> io::Result<u32> {
                let socket = &self.inner.socket;
                socket.$get_hop().map(u32::from).map_err(error)
            }

            /// Always `Ok(None)`: wasi:sockets reports errors by the calls
            /// that meet them.
            ///
            #[doc = example!($make, "assert!(s.take_error().unwrap().is_none());")]
            pub fn take_error(&self) -> io::Result<Option<io::Error>> {
                Ok(None)
            }

            /// `false` is what every gosched socket is already (a call that
            /// waits parks its goroutine); `true` is `Unsupported` here.
            ///
            #[doc = example!(
                                $make,
                                "s.set_nonblocking(false).unwrap();",
                                "let err = s.set_nonblocking(true).unwrap_err();",
                                "assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);"
                            )]
            pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
                if nonblocking {
                    return Err(unsupported("non-blocking mode"));
                }
                Ok(())
            }
        }
    };
}

/// The methods [`TcpStream`] and [`UdpSocket`] share beyond
/// [`socket_methods!`]'s; `$wait` is a call on `s` that waits for input.
macro_rules! data_socket_methods {
    ($ty:ident, $make:literal, $wait:literal, $get_hop:ident, $set_hop:ident) => {
        socket_methods!($ty, $make, $get_hop, $set_hop);
        timeout_methods!($ty, $make, $wait, inner.timeouts);

        impl $ty {
            /// Always `Unsupported`: wasi:sockets@0.3.0 cannot peek.
            ///
            #[doc = example!(
                                        $make,
                                        "let err = s.peek(&mut [0; 8]).unwrap_err();",
                                        "assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);"
                                    )]
            pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
                let _ = buf;
                Err(unsupported("peeking"))
            }
        }
    };
}

/// A TCP server socket; [`std::net::TcpListener`]'s API on wasi:sockets.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use gosched::net::TcpListener;
///
/// gosched::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:7878").unwrap();
///     for stream in listener.incoming() {
///         let mut stream = stream.unwrap();
///         gosched::go(move || {
///             let mut buf = [0; 1024];
///             while let Ok(n @ 1..) = stream.read(&mut buf) {
///                 stream.write_all(&buf[..n]).unwrap();
///             }
///         });
///     }
/// });
/// ```
pub struct TcpListener {
    inner: Rc<Listener>,
}

struct Listener {
    /// Declared first: dropped before the socket it comes from.
    incoming: Mutex<StreamReader<TcpSocket>>,
    socket: TcpSocket,
}

impl TcpListener {
    /// Creates a socket bound to the first address of `addr` that binds, and
    /// listens on it.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     println!("listening on {}", listener.local_addr().unwrap());
    /// });
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |addr| {
            let socket = TcpSocket::create(family(addr)).map_err(error)?;
            socket.bind(to_wasi(addr)).map_err(error)?;
            let incoming = socket.listen().map_err(error)?;
            Ok(TcpListener {
                inner: Rc::new(Listener {
                    incoming: Mutex::new(incoming),
                    socket,
                }),
            })
        })
    }

    /// Waits (parking only this goroutine) for the next connection.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:7878").unwrap();
    ///     let (stream, peer) = listener.accept().unwrap();
    ///     println!("{peer} connected");
    ///     drop(stream);
    /// });
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let socket = {
            let mut incoming = self.inner.incoming.lock();
            let held = Held::Listener(Rc::downgrade(&self.inner), incoming.handle());
            let _waiting = WaitingOn::enter(held);
            io_wait(incoming.next())
        };
        let socket = socket.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                "the host stopped accepting connections",
            )
        })?;
        let peer = socket.get_remote_address().map(from_wasi).map_err(error)?;
        Ok((TcpStream::from_socket(socket), peer))
    }

    /// The connections as they arrive: [`accept`](Self::accept) in a loop.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let listener = gosched::net::TcpListener::bind("127.0.0.1:7878").unwrap();
    ///     for stream in listener.incoming().take(3) {
    ///         println!("{:?}", stream.unwrap().peer_addr());
    ///     }
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

socket_methods!(
    TcpListener,
    "let s = gosched::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();",
    get_hop_limit,
    set_hop_limit
);

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

/// A TCP connection; [`std::net::TcpStream`]'s API on wasi:sockets.
/// Reading and writing park only the calling goroutine. Clones made by
/// [`try_clone`](Self::try_clone) share the connection, which closes when
/// the last one is dropped.
///
/// Not `Send`: it belongs to the thread (the component instance) whose
/// goroutines use it.
///
/// ```no_run
/// use std::io::{Read, Write};
/// gosched::run(|| {
///     let mut stream = gosched::net::TcpStream::connect("127.0.0.1:7878").unwrap();
///     stream.write_all(b"ping").unwrap();
///     let mut reply = [0; 4];
///     stream.read_exact(&mut reply).unwrap();
/// });
/// ```
pub struct TcpStream {
    inner: Rc<Connection>,
}

struct Connection {
    /// Declared first: both directions are closed before the socket drops.
    receiving: Mutex<Receiving>,
    sending: Mutex<Sending>,
    socket: TcpSocket,
    timeouts: Timeouts,
}

/// The receive direction; `None`s once shut down or ended.
struct Receiving {
    bytes: Option<StreamReader<u8>>,
    outcome: Option<Outcome>,
    /// The error that ended the stream, reported by every later read.
    failed: Option<(io::ErrorKind, String)>,
}

/// The send direction; `None` once shut down.
struct Sending {
    bytes: Option<StreamWriter<u8>>,
    outcome: Option<Outcome>,
}

impl TcpStream {
    /// Connects to the first address of `addr` that accepts, parking only
    /// this goroutine meanwhile.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     match gosched::net::TcpStream::connect("127.0.0.1:1") {
    ///         Ok(_) => println!("connected"),
    ///         Err(e) => println!("{e}"), // ConnectionRefused
    ///     }
    /// });
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |addr| connect(addr, None))
    }

    /// Connects to `addr`, giving up with `TimedOut` after `timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero timeout, as std.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let addr = "127.0.0.1:7878".parse().unwrap();
    ///     let _ = gosched::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    /// });
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        check_timeout(Some(timeout))?;
        connect(*addr, Some(timeout))
    }

    fn from_socket(socket: TcpSocket) -> TcpStream {
        let (incoming, received) = socket.receive();
        let (outgoing, to_host) = wit_stream::new::<u8>();
        let sent = socket.send(to_host);
        TcpStream {
            inner: Rc::new(Connection {
                receiving: Mutex::new(Receiving {
                    bytes: Some(incoming),
                    outcome: Some(received),
                    failed: None,
                }),
                sending: Mutex::new(Sending {
                    bytes: Some(outgoing),
                    outcome: Some(sent),
                }),
                socket,
                timeouts: Timeouts::default(),
            }),
        }
    }

    /// The remote address.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let stream = gosched::net::TcpStream::connect("127.0.0.1:7878").unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap().port(), 7878);
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let socket = &self.inner.socket;
        socket.get_remote_address().map(from_wasi).map_err(error)
    }

    /// Shuts down the read side, the write side (the peer reads end of
    /// input once the data sent before has arrived) or both. Later reads
    /// return `Ok(0)`, later writes fail with `BrokenPipe`.
    ///
    /// ```no_run
    /// use std::io::{Read, Write};
    /// gosched::run(|| {
    ///     let mut stream = gosched::net::TcpStream::connect("127.0.0.1:7878").unwrap();
    ///     stream.write_all(b"request").unwrap();
    ///     stream.shutdown(std::net::Shutdown::Write).unwrap();
    ///     let mut reply = String::new();
    ///     stream.read_to_string(&mut reply).unwrap();
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.inner.sending.lock().bytes = None;
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.inner.receiving.lock().bytes = None;
        }
        Ok(())
    }

    /// Always `Unsupported`: wasi:sockets@0.3.0 has no `TCP_NODELAY` option
    /// (the host decides).
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let stream = gosched::net::TcpStream::connect("127.0.0.1:7878").unwrap();
    ///     let _ = stream.set_nodelay(true); // Err(Unsupported) on WASIp3
    /// });
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let _ = nodelay;
        Err(unsupported("TCP_NODELAY"))
    }

    /// Always `Unsupported`; see [`set_nodelay`](Self::set_nodelay).
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let stream = gosched::net::TcpStream::connect("127.0.0.1:7878").unwrap();
    ///     assert!(stream.nodelay().is_err());
    /// });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        Err(unsupported("TCP_NODELAY"))
    }
}

data_socket_methods!(
    TcpStream,
    "let l = gosched::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\n    \
     let s = gosched::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();",
    "std::io::Read::read(&mut &s, &mut [0; 8])",
    get_hop_limit,
    set_hop_limit
);

impl Connection {
    /// Step 3 of the module docs.
    fn read(self: &Rc<Self>, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut receiving = self.receiving.lock();
        if let Some((kind, message)) = &receiving.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        let Some(bytes) = receiving.bytes.as_mut() else {
            return Ok(0);
        };
        let (result, data) = {
            let held = Held::Connection(Rc::downgrade(self), Direction::Receive, bytes.handle());
            let _waiting = WaitingOn::enter(held);
            let mut read = pin!(bytes.read(Vec::with_capacity(buf.len())));
            match race(read.as_mut(), self.timeouts.read.get()) {
                Some(done) => done,
                None => match read.as_mut().cancel() {
                    (_, data) if !data.is_empty() => (StreamResult::Complete(data.len()), data),
                    _ => return Err(timed_out("read")),
                },
            }
        };
        if !data.is_empty() {
            buf[..data.len()].copy_from_slice(&data);
            return Ok(data.len());
        }
        match result {
            StreamResult::Complete(_) | StreamResult::Cancelled => Ok(0),
            StreamResult::Dropped => {
                // The host ended the stream: end of input, or a failure.
                receiving.bytes = None;
                let outcome = receiving.outcome.take().map(|o| io_wait(o.into_future()));
                match outcome {
                    Some(Err(code)) => {
                        let e = error(code);
                        receiving.failed = Some((e.kind(), e.to_string()));
                        Err(e)
                    }
                    _ => Ok(0),
                }
            }
        }
    }

    /// Step 4 of the module docs.
    fn write(self: &Rc<Self>, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut sending = self.sending.lock();
        let Some(bytes) = sending.bytes.as_mut() else {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the stream was shut down for writing",
            ));
        };
        let result = {
            let held = Held::Connection(Rc::downgrade(self), Direction::Send, bytes.handle());
            let _waiting = WaitingOn::enter(held);
            let mut write = pin!(bytes.write(buf.to_vec()));
            match race(write.as_mut(), self.timeouts.write.get()) {
                Some((result, _)) => result,
                None => match write.as_mut().cancel() {
                    (StreamResult::Complete(n), _) if n > 0 => StreamResult::Complete(n),
                    _ => return Err(timed_out("write")),
                },
            }
        };
        match result {
            StreamResult::Complete(n) if n > 0 => Ok(n),
            StreamResult::Complete(_) | StreamResult::Cancelled => Ok(0),
            StreamResult::Dropped => {
                sending.bytes = None;
                let outcome = sending.outcome.take().map(|o| io_wait(o.into_future()));
                Err(match outcome {
                    Some(Err(code)) => error(code),
                    _ => io::Error::new(io::ErrorKind::BrokenPipe, "the peer stopped receiving"),
                })
            }
        }
    }

    /// Step 7 of the module docs: closes each direction that no abandoned
    /// goroutine holds (its pending operation borrows that stream).
    fn close_abandoned(&self) {
        if let Some(mut sending) = self.sending.try_lock() {
            sending.bytes = None;
            sending.outcome = None;
        }
        if let Some(mut receiving) = self.receiving.try_lock() {
            receiving.bytes = None;
            receiving.outcome = None;
        }
    }
}

crate::goroutine_local! {
    /// The socket this goroutine is waiting on (step 7).
    static WAITING_ON: std::cell::RefCell<Option<Abandoned>> = std::cell::RefCell::new(None);
}

/// A goroutine's wait on a socket, from before its operation starts until it
/// ends; ending it disarms its [`Abandoned`].
struct WaitingOn;

impl WaitingOn {
    fn enter(socket: Held) -> WaitingOn {
        WAITING_ON.with_borrow_mut(|w| {
            *w = Some(Abandoned {
                socket,
                waitables: Vec::new(),
            })
        });
        WaitingOn
    }
}

impl Drop for WaitingOn {
    fn drop(&mut self) {
        if let Some(mut armed) = WAITING_ON.with_borrow_mut(Option::take) {
            armed.socket = Held::Nothing;
        }
    }
}

/// The socket a goroutine waits on, and the stream end its operation holds.
enum Held {
    /// A read (`Receive`, the readable end) or write (the writable end).
    Connection(std::rc::Weak<Connection>, Direction, u32),
    /// An accept: the readable end of the listener's connections.
    Listener(std::rc::Weak<Listener>, u32),
    /// A receive or send (import subtasks).
    Udp(std::rc::Weak<Udp>),
    /// Disarmed: the operation ended.
    Nothing,
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Receive,
    Send,
}

/// Dropped armed only with the goroutine-locals of a goroutine abandoned
/// while it waited (src/wasip3/abandon.rs): then it ends the pending
/// operation and, if no one else holds the socket, closes it.
struct Abandoned {
    socket: Held,
    /// What the operation registered (a stream end, subtasks, a clock).
    waitables: Vec<u32>,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let held_stream = match &self.socket {
            Held::Connection(_, _, stream) | Held::Listener(_, stream) => Some(*stream),
            Held::Udp(_) => None,
            Held::Nothing => return,
        };
        // Only the abandoned frame holds the socket: nothing can use or drop
        // its handles again (that frame never runs), so they may be closed
        // by number.
        let alone = match &self.socket {
            Held::Connection(c, ..) => c.strong_count() == 1,
            Held::Listener(l, _) => l.strong_count() == 1,
            Held::Udp(u) => u.strong_count() == 1,
            Held::Nothing => false,
        };
        for &waitable in &self.waitables {
            if Some(waitable) != held_stream {
                // Import subtasks: a UDP call, a connect, a timeout's clock.
                abandon::cancel_subtask(waitable);
            }
        }
        match &self.socket {
            Held::Connection(connection, direction, stream) => {
                let Some(connection) = connection.upgrade() else {
                    return;
                };
                if alone {
                    // SAFETY: the end the abandoned operation holds; its
                    // `StreamReader`/`StreamWriter` is never dropped (the
                    // connection's only owner is the abandoned frame).
                    unsafe {
                        match direction {
                            Direction::Receive => abandon::drop_readable::<u8>(*stream),
                            Direction::Send => abandon::drop_writable::<u8>(*stream),
                        }
                    }
                }
                connection.close_abandoned();
                if alone {
                    close_tcp_socket(&connection.socket);
                }
            }
            Held::Listener(listener, stream) => {
                if let (true, Some(listener)) = (alone, listener.upgrade()) {
                    // SAFETY: as for a connection's stream.
                    unsafe { abandon::drop_readable::<TcpSocket>(*stream) };
                    close_tcp_socket(&listener.socket);
                }
            }
            Held::Udp(udp) => {
                if let (true, Some(udp)) = (alone, udp.upgrade()) {
                    close_udp_socket(&udp.socket);
                }
            }
            Held::Nothing => {}
        }
    }
}

/// Drops the socket resource an abandoned frame owns: its owner keeps no
/// handle (`take_handle`), a new owner drops it.
fn close_tcp_socket(socket: &TcpSocket) {
    // SAFETY: the handle was just taken from its only owner.
    drop(unsafe { TcpSocket::from_handle(socket.take_handle()) });
}

/// As [`close_tcp_socket`], for UDP.
fn close_udp_socket(socket: &WasiUdpSocket) {
    // SAFETY: as in `close_tcp_socket`.
    drop(unsafe { WasiUdpSocket::from_handle(socket.take_handle()) });
}

impl Drop for Connection {
    /// Step 6 of the module docs.
    fn drop(&mut self) {
        let sending = self.sending.get_mut();
        sending.bytes = None;
        if let Some(sent) = sending.outcome.take() {
            if crate::runtime::in_goroutine() && !std::thread::panicking() {
                let _ = io_wait(sent.into_future());
            }
        }
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("addr", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

/// A UDP socket; [`std::net::UdpSocket`]'s API on wasi:sockets. Sending and
/// receiving park only the calling goroutine; several goroutines may use one
/// socket at once.
///
/// ```no_run
/// gosched::run(|| {
///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     socket.send_to(b"ping", "127.0.0.1:9000").unwrap();
///     let mut buf = [0; 1500];
///     let (n, from) = socket.recv_from(&mut buf).unwrap();
///     println!("{n} bytes from {from}");
/// });
/// ```
pub struct UdpSocket {
    inner: Rc<Udp>,
}

struct Udp {
    socket: WasiUdpSocket,
    timeouts: Timeouts,
}

impl UdpSocket {
    /// Creates a socket bound to the first address of `addr` that binds.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     println!("{}", socket.local_addr().unwrap());
    /// });
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| {
            let socket = WasiUdpSocket::create(family(addr)).map_err(error)?;
            socket.bind(to_wasi(addr)).map_err(error)?;
            Ok(UdpSocket {
                inner: Rc::new(Udp {
                    socket,
                    timeouts: Timeouts::default(),
                }),
            })
        })
    }

    /// The address given to [`connect`](Self::connect).
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     socket.connect("127.0.0.1:9000").unwrap();
    ///     assert_eq!(socket.peer_addr().unwrap().port(), 9000);
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner
            .socket
            .get_remote_address()
            .map(from_wasi)
            .map_err(error)
    }

    /// Sends one datagram to the first address of `addr`; returns its length.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert_eq!(socket.send_to(b"hi", "127.0.0.1:9000").unwrap(), 2);
    /// });
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let addr = resolve(addr)?.into_iter().next().ok_or_else(no_address)?;
        self.send_datagram(buf, Some(addr))
    }

    /// Waits for one datagram, copies it into `buf` (the rest of a longer
    /// one is lost, as std) and returns its length and sender.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:9000").unwrap();
    ///     let mut buf = [0; 1500];
    ///     let (n, from) = socket.recv_from(&mut buf).unwrap();
    ///     socket.send_to(&buf[..n], from).unwrap();
    /// });
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let _waiting = WaitingOn::enter(Held::Udp(Rc::downgrade(&self.inner)));
        let receive = pin!(self.inner.socket.receive());
        // A datagram that arrives as the timeout cancels the receive is lost
        // (UDP may lose datagrams anyway).
        let (data, from) = race(receive, self.inner.timeouts.read.get())
            .ok_or_else(|| timed_out("receive"))?
            .map_err(error)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, from_wasi(from)))
    }

    /// Sets the default destination for [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     socket.connect("127.0.0.1:9000").unwrap();
    ///     socket.send(b"hi").unwrap();
    /// });
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |addr| {
            self.inner.socket.connect(to_wasi(addr)).map_err(error)
        })
    }

    /// Sends one datagram to the connected address.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     socket.connect("127.0.0.1:9000").unwrap();
    ///     assert_eq!(socket.send(b"hi").unwrap(), 2);
    /// });
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_datagram(buf, None)
    }

    /// Waits for one datagram from the connected address.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     socket.connect("127.0.0.1:9000").unwrap();
    ///     let mut buf = [0; 1500];
    ///     let n = socket.recv(&mut buf).unwrap();
    ///     println!("{:?}", &buf[..n]);
    /// });
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    fn send_datagram(&self, buf: &[u8], to: Option<SocketAddr>) -> io::Result<usize> {
        let _waiting = WaitingOn::enter(Held::Udp(Rc::downgrade(&self.inner)));
        let send = pin!(self.inner.socket.send(buf.to_vec(), to.map(to_wasi)));
        race(send, self.inner.timeouts.write.get())
            .ok_or_else(|| timed_out("send"))?
            .map_err(error)?;
        Ok(buf.len())
    }

    /// Always `Unsupported`: wasi:sockets@0.3.0 has no broadcast.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(socket.set_broadcast(true).is_err());
    /// });
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        let _ = broadcast;
        Err(unsupported("SO_BROADCAST"))
    }

    /// Always `Unsupported`; see [`set_broadcast`](Self::set_broadcast).
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(socket.broadcast().is_err());
    /// });
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        Err(unsupported("SO_BROADCAST"))
    }

    /// Always `Unsupported`: wasi:sockets@0.3.0 cannot peek.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let socket = gosched::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(socket.peek_from(&mut [0; 8]).is_err());
    /// });
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let _ = buf;
        Err(unsupported("peeking"))
    }
}

data_socket_methods!(
    UdpSocket,
    "let s = gosched::net::UdpSocket::bind(\"127.0.0.1:0\").unwrap();",
    "s.recv_from(&mut [0; 8])",
    get_unicast_hop_limit,
    set_unicast_hop_limit
);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

// ---- helpers -------------------------------------------------------------------

fn connect(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let socket = TcpSocket::create(family(addr)).map_err(error)?;
    {
        let connecting = pin!(socket.connect(to_wasi(addr)));
        race(connecting, timeout)
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
            .map_err(error)?;
    }
    Ok(TcpStream::from_socket(socket))
}

/// [`block_on`](crate::block_on) for a socket operation: the goroutine dump
/// shows the goroutine as `[IO wait]`, as Go's does.
///
/// The waitables each poll registers are noted in the goroutine's
/// [`WaitingOn`], if any: what to close if the goroutine is abandoned.
fn io_wait<F: Future>(operation: F) -> F::Output {
    let mut operation = pin!(operation);
    let noting = std::future::poll_fn(|cx| {
        let (poll, registered) = abandon::noting_registrations(|| operation.as_mut().poll(cx));
        if !registered.is_empty() {
            WAITING_ON.with_borrow_mut(|w| {
                if let Some(armed) = w {
                    armed.waitables.extend(registered);
                }
            });
        }
        poll
    });
    crate::block_on::block_on_as(WaitReason::IoWait, "a gosched::net call", noting)
}

/// Drives `operation` in [`io_wait`] until it completes
/// (`Some`) or `timeout` passes (`None`; the caller cancels or drops it).
fn race<F: Future>(mut operation: Pin<&mut F>, timeout: Option<Duration>) -> Option<F::Output> {
    let Some(timeout) = timeout else {
        return Some(io_wait(operation));
    };
    let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let mut clock = pin!(monotonic_clock::wait_for(ns));
    io_wait(std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = operation.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        clock.as_mut().poll(cx).map(|()| None)
    }))
}

/// Resolves `addr`; a name with `wasi:sockets/ip-name-lookup`, parking only
/// the calling goroutine.
fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = match addr.to_lookup()?.0 {
        LookupKind::Addrs(addrs) => return Ok(addrs),
        LookupKind::Host(host, port) => (host, port),
        LookupKind::HostPort(name) => {
            let (host, port) = name
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address")
                })?;
            (host, port)
        }
    };
    let ips = io_wait(ip_name_lookup::resolve_addresses(host.clone())).map_err(|code| {
        // wasmtime fails every lookup unless it runs with
        // `-S allow-ip-name-lookup=y` (cargo gosched passes it).
        io::Error::other(format!(
            "failed to look up {host:?}: wasi:sockets/ip-name-lookup: {code:?} \
             (the host may not allow lookups: wasmtime -S allow-ip-name-lookup=y)"
        ))
    })?;
    Ok(ips
        .into_iter()
        .map(|ip| {
            let ip: IpAddr = match ip {
                IpAddress::Ipv4((a, b, c, d)) => Ipv4Addr::new(a, b, c, d).into(),
                IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
                    Ipv6Addr::new(a, b, c, d, e, f, g, h).into()
                }
            };
            SocketAddr::new(ip, port)
        })
        .collect())
}

/// Tries `f` on each address of `addr` until one succeeds; the last error
/// otherwise.
fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in resolve(addr)? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_address))
}

fn family(addr: SocketAddr) -> IpAddressFamily {
    match addr {
        SocketAddr::V4(_) => IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => IpAddressFamily::Ipv6,
    }
}

fn to_wasi(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(v4) => {
            let [a, b, c, d] = v4.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: v4.port(),
                address: (a, b, c, d),
            })
        }
        SocketAddr::V6(v6) => {
            let [a, b, c, d, e, f, g, h] = v6.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: v6.port(),
                flow_info: v6.flowinfo(),
                address: (a, b, c, d, e, f, g, h),
                scope_id: v6.scope_id(),
            })
        }
    }
}

fn from_wasi(addr: IpSocketAddress) -> SocketAddr {
    match addr {
        IpSocketAddress::Ipv4(v4) => {
            let (a, b, c, d) = v4.address;
            SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), v4.port).into()
        }
        IpSocketAddress::Ipv6(v6) => {
            let (a, b, c, d, e, f, g, h) = v6.address;
            let ip = Ipv6Addr::new(a, b, c, d, e, f, g, h);
            SocketAddrV6::new(ip, v6.port, v6.flow_info, v6.scope_id).into()
        }
    }
}

/// The std error for a wasi:sockets error code.
fn error(code: ErrorCode) -> io::Error {
    use io::ErrorKind as K;
    let kind = match &code {
        ErrorCode::AccessDenied => K::PermissionDenied,
        ErrorCode::NotSupported => K::Unsupported,
        ErrorCode::InvalidArgument => K::InvalidInput,
        ErrorCode::OutOfMemory => K::OutOfMemory,
        ErrorCode::Timeout => K::TimedOut,
        ErrorCode::InvalidState => K::InvalidInput,
        ErrorCode::AddressNotBindable => K::AddrNotAvailable,
        ErrorCode::AddressInUse => K::AddrInUse,
        ErrorCode::RemoteUnreachable => K::HostUnreachable,
        ErrorCode::ConnectionRefused => K::ConnectionRefused,
        ErrorCode::ConnectionBroken => K::BrokenPipe,
        ErrorCode::ConnectionReset => K::ConnectionReset,
        ErrorCode::ConnectionAborted => K::ConnectionAborted,
        ErrorCode::DatagramTooLarge => K::InvalidInput,
        ErrorCode::Other(_) => K::Other,
    };
    io::Error::new(kind, format!("wasi:sockets: {code:?}"))
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::WouldBlock, format!("{what} timed out"))
}

fn no_address() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}

fn set_hop_limit(ttl: u32, set: impl FnOnce(u8) -> Result<(), ErrorCode>) -> io::Result<()> {
    let ttl = u8::try_from(ttl)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a TTL is at most 255"))?;
    set(ttl).map_err(error)
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what} is not available in wasi:sockets@0.3.0"),
    )
}
