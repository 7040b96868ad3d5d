//! Networking that parks only the calling goroutine: a drop-in for
//! [`std::net`].
//!
//! `TcpListener`, `TcpStream` and `UdpSocket` have std's method names,
//! signatures and semantics; replacing `use std::net::…` by
//! `use gosched::net::…` is the whole port. A call that would block (accept,
//! connect, read, write, recv) parks its goroutine until the socket is ready
//! while the other goroutines run; one goroutine may read a stream while
//! another writes it. Names given to `connect` and `bind` are resolved
//! without blocking the scheduler: natively on `gosched::unblock`'s thread
//! pool.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use gosched::net::{TcpListener, TcpStream};
//!
//! let reply = gosched::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     gosched::go(move || {
//!         for conn in listener.incoming() {
//!             let conn = conn.unwrap();
//!             gosched::go(move || {
//!                 let mut lines = BufReader::new(&conn);
//!                 let mut line = String::new();
//!                 while lines.read_line(&mut line).unwrap() > 0 {
//!                     (&conn).write_all(line.to_uppercase().as_bytes()).unwrap();
//!                     line.clear();
//!                 }
//!             });
//!         }
//!     });
//!     let mut client = TcpStream::connect(addr).unwrap();
//!     client.write_all(b"hello\n").unwrap();
//!     let mut reply = String::new();
//!     BufReader::new(client).read_line(&mut reply).unwrap();
//!     reply
//! });
//! assert_eq!(reply, "HELLO\n");
//! ```
//!
//! # Threads
//!
//! Sockets belong to the scheduler of the thread that made them and are not
//! `Send` (a compile error, not a runtime surprise). To hand one to another
//! thread, convert it with `into_std`, send the `std::net` socket, and wrap it
//! there with `From`.
//!
//! Natively the sockets wait on the platform's netpoller (epoll or kqueue,
//! in `before_idle`: docs/net.md). In a WASIp3 component (wasm32-wasip2,
//! feature `wasip3`) they are `wasi:sockets@0.3.0` resources whose async
//! operations wait on the scheduler's waitable-set; names are looked up with
//! `wasi:sockets/ip-name-lookup`. What wasi:sockets lacks (`set_nodelay`,
//! conversions from std's sockets) is listed in src/net/wasip3.rs.

/// A doc example for the backends' shared methods: `$make` makes a socket
/// `s`, then `$body` runs, in a goroutine.
macro_rules! example {
    ($make:expr, $($body:expr),*) => {
        concat!(fence!(), "\ngosched::run(|| {\n    ", $make, $("\n    ", $body,)* "\n});\n```")
    };
}

/// WASIp3 examples are compiled, not run: each would cost CI an Asyncify
/// pass of its own.
#[cfg(not(target_arch = "wasm32"))]
macro_rules! fence {
    () => {
        "```"
    };
}
#[cfg(target_arch = "wasm32")]
macro_rules! fence {
    () => {
        "```no_run"
    };
}

/// The timeout methods [`TcpStream`] and [`UdpSocket`] have on every
/// backend, written once with their docs and examples: `$make` makes a
/// socket `s`, `$wait` is a call on it that waits for input, and
/// `$($timeouts).+` is the path from `self` to the socket's [`Timeouts`].
macro_rules! timeout_methods {
    ($ty:ident, $make:expr, $wait:expr, $($timeouts:ident).+) => {
        impl $ty {
            /// Fails a read or receive that waits longer than `timeout` with
            /// [`io::ErrorKind::WouldBlock`] (what std gives on Unix); the
            /// socket stays usable. `None` waits forever.
            ///
            /// # Errors
            ///
            /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
            ///
            #[doc = example!(
                $make,
                "s.set_read_timeout(Some(std::time::Duration::from_millis(5))).unwrap();",
                "let err = ", $wait, ".unwrap_err();",
                "assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);"
            )]
            pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                super::check_timeout(timeout)?;
                self.$($timeouts).+.read.set(timeout);
                Ok(())
            }

            /// As [`set_read_timeout`](Self::set_read_timeout), for writes
            /// and sends (the peer or the host takes no more bytes).
            ///
            #[doc = example!(
                $make,
                "let second = Some(std::time::Duration::from_secs(1));",
                "s.set_write_timeout(second).unwrap();",
                "assert_eq!(s.write_timeout().unwrap(), second);",
                "assert!(s.set_write_timeout(Some(std::time::Duration::ZERO)).is_err());"
            )]
            pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                super::check_timeout(timeout)?;
                self.$($timeouts).+.write.set(timeout);
                Ok(())
            }

            /// The read timeout.
            ///
            #[doc = example!($make, "assert_eq!(s.read_timeout().unwrap(), None);")]
            pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
                Ok(self.$($timeouts).+.read.get())
            }

            /// The write timeout.
            ///
            #[doc = example!($make, "assert_eq!(s.write_timeout().unwrap(), None);")]
            pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
                Ok(self.$($timeouts).+.write.get())
            }
        }
    };
}

/// A socket's read and write timeouts, shared by its `try_clone`s (in std
/// they are properties of the one underlying socket).
#[derive(Default)]
struct Timeouts {
    read: std::cell::Cell<Option<std::time::Duration>>,
    write: std::cell::Cell<Option<std::time::Duration>>,
}

/// A zero timeout is an error, as in std.
fn check_timeout(timeout: Option<std::time::Duration>) -> std::io::Result<()> {
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}

mod addr;
#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
mod wasip3;

pub use addr::ToSocketAddrs;
#[cfg(not(target_arch = "wasm32"))]
pub use native::{TcpListener, TcpStream, UdpSocket};
pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
};
#[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
pub use wasip3::{TcpListener, TcpStream, UdpSocket};

/// The iterator of [`TcpListener::incoming`]: never ends, each item is one
/// `accept`.
///
/// ```
/// gosched::run(|| {
///     let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     gosched::go(move || drop(gosched::net::TcpStream::connect(addr).unwrap()));
///     for conn in listener.incoming().take(1) {
///         assert!(conn.is_ok());
///     }
/// });
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    // Set by the backends' `TcpListener::incoming`.
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = std::io::Result<TcpStream>;

    fn next(&mut self) -> Option<std::io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}
