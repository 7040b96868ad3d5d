//! What the floor servers share: a non-blocking listening socket on the address given as the
//! last argument (printing `listening on ADDR`, as ../../../shared/anchors/net/run.sh expects),
//! and `check` for system calls. Linux only; `unsafe` is the raw socket calls, each on fds this
//! process owns.

use std::io;
use std::net::SocketAddrV4;
use std::os::fd::RawFd;

/// Turns a -1 return into the errno's `io::Error`.
pub fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Binds a non-blocking IPv4 listener (SO_REUSEADDR, backlog 1024) to the last argument.
pub fn listen_from_args() -> io::Result<RawFd> {
    let arg = std::env::args().next_back().unwrap_or_default();
    let addr: SocketAddrV4 = arg.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("usage: SERVER 127.0.0.1:PORT (got {arg:?})"),
        )
    })?;
    // SAFETY: plain socket calls on a fresh fd; `sa` outlives the bind call.
    unsafe {
        let fd = check(libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let one: libc::c_int = 1;
        check(libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            4,
        ))?;
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*addr.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        check(libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of_val(&sa) as u32,
        ))?;
        check(libc::listen(fd, 1024))?;
        println!("listening on {addr}");
        Ok(fd)
    }
}

/// TCP_NODELAY, as the anchors (Go, tokio, may) and gosched's echo_server set it.
pub fn set_nodelay(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads 4 bytes from `one`, which lives across the call.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
}
