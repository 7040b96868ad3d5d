//! The floor of the epoll design: one thread, edge-triggered epoll, recv/send on raw fds, no
//! runtime. Per request: one recv, one send, and a share of one epoll_wait. Like tokio (and
//! gosched) it stops reading at a short read instead of reading on to EAGAIN: an edge-triggered
//! fd reports every new arrival, so the next request still wakes it.

use net_floor::{check, listen_from_args, set_nodelay};
use std::io;

fn main() -> io::Result<()> {
    let lfd = listen_from_args()?;
    // SAFETY: epoll and socket calls on fds this process owns; `events` and `buf` outlive each
    // call that writes into them.
    unsafe {
        let ep = check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?;
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: lfd as u64,
        };
        check(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, lfd, &mut ev))?;
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut buf = [0u8; 4096];
        loop {
            let n = libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1);
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in &events[..n as usize] {
                let fd = ev.u64 as i32;
                if fd == lfd {
                    loop {
                        let c = libc::accept4(
                            lfd,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                        );
                        if c < 0 {
                            break; // EAGAIN (drained) or a transient error: the listener stays registered
                        }
                        set_nodelay(c);
                        let mut cev = libc::epoll_event {
                            events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                            u64: c as u64,
                        };
                        check(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, c, &mut cev))?;
                    }
                    continue;
                }
                loop {
                    let r = libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0);
                    if r > 0 {
                        if !send_all(fd, &buf[..r as usize]) {
                            libc::close(fd);
                            break;
                        }
                        if (r as usize) < buf.len() {
                            break; // short read: drained (see the header)
                        }
                    } else if r < 0
                        && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
                    {
                        break;
                    } else {
                        libc::close(fd); // EOF or reset: closing also leaves the epoll set
                        break;
                    }
                }
            }
        }
    }
}

/// Sends all of `data`; a full socket buffer (never at this load) is waited out with poll.
fn send_all(fd: i32, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        // SAFETY: send reads `data`, which lives across the call.
        let r = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        if r > 0 {
            data = &data[r as usize..];
        } else if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: poll writes `p`'s revents only.
            unsafe { libc::poll(&mut p, 1, -1) };
        } else {
            return false;
        }
    }
    true
}
