//! TCP and UDP with [`std::net`]'s names and signatures, where a call that
//! waits parks only the calling goroutine. Replacing `use std::net::…` by
//! `use gosched::net::…` ports a blocking-style program.
//!
//! - WASIp3 components (wasm32-wasip2, feature `wasip3`): on
//!   `wasi:sockets@0.3.0`; what that lacks is listed in `wasip3.rs`'s module
//!   docs (no `set_nodelay`, no conversions from std's sockets).

#[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
mod wasip3;
#[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
pub use wasip3::{Incoming, TcpListener, TcpStream, UdpSocket};

pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
    ToSocketAddrs,
};
