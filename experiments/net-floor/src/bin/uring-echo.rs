//! The floor of the io_uring design: one thread, one ring, no runtime. Every loop iteration is
//! one io_uring_enter that submits all the sends and receives queued since the last one and
//! waits for at least one completion.
//!
//!   uring-echo MODE ADDR     MODE: `oneshot` or `multishot`, then optionally `+plain` (a ring
//!                            without SINGLE_ISSUER|DEFER_TASKRUN, which the default has) and
//!                            `+batch` (each wait is for BATCH completions or BATCH_WAIT, which
//!                            comes first: fewer sleeps for some latency)
//!
//! 1. The listener has a multishot accept; each accepted fd gets TCP_NODELAY and a receive.
//! 2. oneshot: each connection owns a 4 KiB buffer and one `recv`. Its completion queues
//!    `send(n bytes, MSG_WAITALL)` linked to the next `recv` into the same buffer: the recv
//!    starts only once the send is done, and a successful send posts no completion
//!    (CQE_SKIP_SUCCESS), so a request costs one completion. A failed send cancels the recv,
//!    whose -ECANCELED closes the fd.
//! 3. multishot: each connection has one multishot `recv` that takes buffers from a provided
//!    buffer ring; each received chunk queues a send from that buffer, whose completion gives
//!    the buffer back. The recv's last completion (EOF or error) closes the fd; a failed send
//!    shuts the socket down, which ends that recv.

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use net_floor::{listen_from_args, set_nodelay};
use std::io;

const ACCEPT: u64 = 1 << 62;
const SEND: u64 = 1 << 61;
const BUF_SIZE: usize = 4096;
const RING_BUFS: u16 = 1024; // multishot: provided buffers, one in use per connection at N2
const GROUP: u16 = 0;
const BATCH: usize = 32;
const BATCH_WAIT: types::Timespec = types::Timespec::new().nsec(50_000);

fn main() -> io::Result<()> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let options: Vec<&str> = mode.split('+').skip(1).collect();
    let multishot = match mode.split('+').next() {
        Some("oneshot") => false,
        Some("multishot") => true,
        _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "usage: uring-echo oneshot|multishot[+plain] ADDR")),
    };
    let mut b = IoUring::builder();
    let batch = options.contains(&"batch");
    if !options.contains(&"plain") {
        b.setup_single_issuer().setup_defer_taskrun();
    }
    let mut ring: IoUring = b.setup_cqsize(8192).build(1024)?;
    let lfd = listen_from_args()?;
    let bufs = if multishot { Some(BufRing::register(&ring)?) } else { None };
    let mut conn_bufs: Vec<Option<Box<[u8; BUF_SIZE]>>> = Vec::new();
    let mut pending: Vec<squeue::Entry> = vec![opcode::AcceptMulti::new(types::Fd(lfd)).build().user_data(ACCEPT)];
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    loop {
        {
            let mut sq = ring.submission();
            for e in pending.drain(..) {
                // SAFETY: every buffer an entry points to is a connection's boxed buffer or a
                // provided buffer; both live until the fd is closed after its last completion.
                while unsafe { sq.push(&e) }.is_err() {
                    sq.sync();
                    drop(sq);
                    ring.submit()?;
                    sq = ring.submission();
                }
            }
        }
        let entered = if batch {
            ring.submitter().submit_with_args(BATCH, &types::SubmitArgs::new().timespec(&BATCH_WAIT))
        } else {
            ring.submit_and_wait(1)
        };
        match entered {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY | libc::ETIME)) => {}
            Err(e) => return Err(e),
        }
        cqes.extend(ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
        for (ud, res, flags) in cqes.drain(..) {
            if ud == ACCEPT {
                if res >= 0 {
                    set_nodelay(res);
                    if multishot {
                        pending.push(opcode::RecvMulti::new(types::Fd(res), GROUP).build().user_data(res as u64));
                    } else {
                        let fd = res as usize;
                        if conn_bufs.len() <= fd {
                            conn_bufs.resize_with(fd + 1, || None);
                        }
                        let buf = conn_bufs[fd].get_or_insert_with(|| Box::new([0; BUF_SIZE]));
                        pending.push(opcode::Recv::new(types::Fd(res), buf.as_mut_ptr(), BUF_SIZE as u32).build().user_data(fd as u64));
                    }
                }
                if !cqueue::more(flags) {
                    pending.push(opcode::AcceptMulti::new(types::Fd(lfd)).build().user_data(ACCEPT));
                }
            } else if ud & SEND != 0 {
                let fd = (ud & 0xffff_ffff) as i32;
                if let Some(ring_bufs) = &bufs {
                    ring_bufs.give_back((ud >> 32) as u16 & 0xffff);
                    if res < 0 {
                        // SAFETY: fd is open: its multishot recv has not ended (it ends next).
                        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
                    }
                } // oneshot: only failed sends complete; the linked recv's -ECANCELED closes
            } else {
                let fd = ud as i32;
                if let Some(ring_bufs) = &bufs {
                    if res > 0 {
                        let bid = cqueue::buffer_select(flags).expect("multishot recv without a buffer");
                        pending.push(
                            opcode::Send::new(types::Fd(fd), ring_bufs.addr(bid), res as u32)
                                .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
                                .build()
                                .user_data(SEND | (bid as u64) << 32 | fd as u64),
                        );
                    }
                    if !cqueue::more(flags) {
                        if res == -libc::ENOBUFS {
                            pending.push(opcode::RecvMulti::new(types::Fd(fd), GROUP).build().user_data(fd as u64));
                        } else if res <= 0 {
                            // SAFETY: the recv has ended; sends still queued on fd fail harmlessly.
                            unsafe { libc::close(fd) };
                        } else {
                            pending.push(opcode::RecvMulti::new(types::Fd(fd), GROUP).build().user_data(fd as u64));
                        }
                    }
                } else if res > 0 {
                    let buf = conn_bufs[fd as usize].as_mut().expect("recv completion on an fd without a buffer");
                    pending.push(
                        opcode::Send::new(types::Fd(fd), buf.as_ptr(), res as u32)
                            .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
                            .build()
                            .flags(squeue::Flags::IO_LINK | squeue::Flags::SKIP_SUCCESS)
                            .user_data(SEND | fd as u64),
                    );
                    pending.push(opcode::Recv::new(types::Fd(fd), buf.as_mut_ptr(), BUF_SIZE as u32).build().user_data(fd as u64));
                } else {
                    // SAFETY: EOF, error or a cancelled recv: nothing is in flight on fd any more.
                    unsafe { libc::close(fd) };
                }
            }
        }
    }
}

/// A provided-buffer ring (IORING_REGISTER_PBUF_RING): RING_BUFS buffers of BUF_SIZE bytes that
/// the kernel picks from for multishot receives; `give_back` returns one after its send.
struct BufRing {
    entries: *mut types::BufRingEntry,
    data: Vec<u8>,
    tail: std::cell::Cell<u16>,
}

impl BufRing {
    fn register(ring: &IoUring) -> io::Result<BufRing> {
        let bytes = RING_BUFS as usize * std::mem::size_of::<types::BufRingEntry>();
        // SAFETY: a fresh anonymous page-aligned mapping, as the kernel requires for the ring.
        let entries = unsafe {
            libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if entries == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let br = BufRing { entries: entries.cast(), data: vec![0; RING_BUFS as usize * BUF_SIZE], tail: 0.into() };
        // SAFETY: the mapping holds RING_BUFS entries and lives as long as the process.
        unsafe { ring.submitter().register_buf_ring_with_flags(entries as u64, RING_BUFS, GROUP, 0)? };
        for bid in 0..RING_BUFS {
            br.give_back(bid);
        }
        Ok(br)
    }

    fn addr(&self, bid: u16) -> *const u8 {
        self.data[bid as usize * BUF_SIZE..].as_ptr()
    }

    /// Puts buffer `bid` at the tail and publishes the new tail with a release store.
    fn give_back(&self, bid: u16) {
        let t = self.tail.get();
        // SAFETY: the slot at the tail is the application's until the tail passes it; the tail
        // field is the u16 the kernel reads with an acquire load.
        unsafe {
            let e = &mut *self.entries.add((t & (RING_BUFS - 1)) as usize);
            e.set_addr(self.addr(bid) as u64);
            e.set_len(BUF_SIZE as u32);
            e.set_bid(bid);
            let tail = types::BufRingEntry::tail(self.entries) as *const std::sync::atomic::AtomicU16;
            (*tail).store(t.wrapping_add(1), std::sync::atomic::Ordering::Release);
        }
        self.tail.set(t.wrapping_add(1));
    }
}
