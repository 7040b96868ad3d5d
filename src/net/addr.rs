//! Socket addresses given as std accepts them, resolved without blocking the
//! scheduler: names go to a lookup the host does off the scheduler's thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What [`std::net::ToSocketAddrs`] accepts, for `gosched::net`: socket
/// addresses, `(ip, port)` pairs, `"host:port"` strings, `(host, port)` pairs
/// and slices of addresses. Unlike std's trait, a host name is not looked up
/// by the calling thread (which would stop every goroutine) but, natively,
/// on `gosched::unblock`'s thread pool, and in a WASIp3 component with
/// `wasi:sockets/ip-name-lookup`.
///
/// Implemented for the same types as std's trait; it cannot be implemented
/// outside gosched.
///
/// ```
/// use gosched::net::{TcpListener, ToSocketAddrs};
///
/// fn listen(addr: impl ToSocketAddrs) -> std::io::Result<TcpListener> {
///     TcpListener::bind(addr)
/// }
///
/// gosched::run(|| {
///     assert!(listen("127.0.0.1:0").is_ok());
///     assert!(listen(("127.0.0.1", 0)).is_ok());
///     assert!(listen(("localhost", 0)).is_ok());
/// });
/// ```
pub trait ToSocketAddrs {
    /// The addresses, or the name to look up.
    #[doc(hidden)]
    fn to_lookup(&self) -> io::Result<Lookup>;
}

/// Addresses known already, or a name that needs a lookup.
#[doc(hidden)]
#[derive(Debug)]
pub struct Lookup(pub(crate) LookupKind);

#[derive(Debug)]
pub(crate) enum LookupKind {
    Addrs(Vec<SocketAddr>),
    /// `"host:port"`.
    HostPort(String),
    /// A host name and a port.
    Host(String, u16),
}

impl Lookup {
    /// Resolves a name with std on the calling thread: for a host's
    /// off-thread lookup, or outside any goroutine (where blocking the thread
    /// stops no goroutine).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn resolve_here(self) -> io::Result<Vec<SocketAddr>> {
        use std::net::ToSocketAddrs as _;
        match self.0 {
            LookupKind::Addrs(addrs) => Ok(addrs),
            LookupKind::HostPort(name) => Ok(name.to_socket_addrs()?.collect()),
            LookupKind::Host(host, port) => Ok((host.as_str(), port).to_socket_addrs()?.collect()),
        }
    }
}

fn ready(addrs: impl IntoIterator<Item = SocketAddr>) -> io::Result<Lookup> {
    Ok(Lookup(LookupKind::Addrs(addrs.into_iter().collect())))
}

macro_rules! addrs_as_std {
    ($($t:ty),* $(,)?) => {$(
        impl ToSocketAddrs for $t {
            fn to_lookup(&self) -> io::Result<Lookup> {
                ready(std::net::ToSocketAddrs::to_socket_addrs(self)?)
            }
        }
    )*};
}

// These never look a name up: std's conversion is immediate.
addrs_as_std!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
);

impl ToSocketAddrs for str {
    fn to_lookup(&self) -> io::Result<Lookup> {
        match self.parse::<SocketAddr>() {
            Ok(addr) => ready([addr]),
            Err(_) => Ok(Lookup(LookupKind::HostPort(self.to_owned()))),
        }
    }
}

impl ToSocketAddrs for String {
    fn to_lookup(&self) -> io::Result<Lookup> {
        self.as_str().to_lookup()
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_lookup(&self) -> io::Result<Lookup> {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => ready([SocketAddr::new(ip, port)]),
            Err(_) => Ok(Lookup(LookupKind::Host(host.to_owned(), port))),
        }
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_lookup(&self) -> io::Result<Lookup> {
        (self.0.as_str(), self.1).to_lookup()
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_lookup(&self) -> io::Result<Lookup> {
        ready(self.iter().copied())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_lookup(&self) -> io::Result<Lookup> {
        (**self).to_lookup()
    }
}
