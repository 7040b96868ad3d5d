//! The floor of the io_uring design: one thread, one ring, no runtime. Every loop iteration is
//! one io_uring_enter that submits all the sends and receives queued since the last one and
//! waits for at least one completion.
//!
//!   uring-echo MODE ADDR     MODE: `oneshot` or `multishot`, then optionally `+plain` (a ring
//!                            without SINGLE_ISSUER|DEFER_TASKRUN, which the default has) and
//!                            `+batch` (each wait is for BATCH completions or BATCH_WAIT, which
//!                            comes first: fewer sleeps for some latency) and, for oneshot,
//!                            `+pollfirst` (IORING_RECVSEND_POLL_FIRST: a recv waits for data
//!                            before its first try, which after the echo's send always fails)
//!                            and, for multishot, `+fixed` (direct descriptors: accepted
//!                            sockets live only in the ring's file table, no fd lookups; they
//!                            inherit TCP_NODELAY from the listener)
//!
//! 1. The listener has a multishot accept; each accepted fd gets TCP_NODELAY and a receive.
//! 2. oneshot: each connection owns a 4 KiB buffer and one `recv`. Its completion queues
//!    `send(n bytes, MSG_WAITALL)` linked to the next `recv` into the same buffer: the recv
//!    starts only once the send is done, and a successful send posts no completion
//!    (CQE_SKIP_SUCCESS), so a request costs one completion. A failed send cancels the recv,
//!    whose -ECANCELED closes the fd.
//! 3. multishot: each connection has one multishot `recv` that takes buffers from a provided
//!    buffer ring. A connection has at most one send in flight (two sends on one socket may
//!    complete out of order when the first waits for room): received chunks queue behind it,
//!    and each send's completion gives its buffer back and starts the next. A recv that found
//!    no free buffer is re-armed when one comes back. The recv's last completion (EOF or an
//!    error) closes the fd once its queued sends are done; a failed send shuts the socket
//!    down, which ends the recv.

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use net_floor::{listen_from_args, set_nodelay};
use std::collections::VecDeque;
use std::io;

const ACCEPT: u64 = 1 << 62;
const SEND: u64 = 1 << 61;
const BUF_SIZE: usize = 4096;
const RING_BUFS: u16 = 1024; // multishot: provided buffers, one in use per connection at N2
const GROUP: u16 = 0;
const BATCH: usize = 32;
const BATCH_WAIT: types::Timespec = types::Timespec::new().nsec(50_000);
const CLOSE: u64 = 1 << 60;
const FIXED_FILES: u32 = 4096;
const RECVSEND_POLL_FIRST: u16 = 1; // linux/io_uring.h, in the SQE's ioprio field

fn main() -> io::Result<()> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut words = mode.split('+');
    let multishot = match words.next() {
        Some("oneshot") => false,
        Some("multishot") => true,
        _ => {
            let usage =
                "usage: uring-echo oneshot[+pollfirst]|multishot[+fixed][+plain][+batch] ADDR";
            return Err(io::Error::new(io::ErrorKind::InvalidInput, usage));
        }
    };
    let options: Vec<&str> = words.collect();
    let batch = options.contains(&"batch");
    let mut builder = IoUring::builder();
    if !options.contains(&"plain") {
        builder.setup_single_issuer().setup_defer_taskrun();
    }
    let mut ring: IoUring = builder.setup_cqsize(8192).build(1024)?;
    let lfd = listen_from_args()?;
    let fixed = multishot && options.contains(&"fixed");
    if fixed {
        ring.submitter().register_files_sparse(FIXED_FILES)?;
        set_nodelay(lfd); // accepted sockets inherit it: a direct descriptor has no setsockopt
    }
    let mut server = Server {
        bufs: if multishot {
            Some(BufRing::register(&ring)?)
        } else {
            None
        },
        conns: Vec::new(),
        starved: Vec::new(),
        pending: vec![accept(lfd, fixed)],
        fixed,
        recv_ioprio: if options.contains(&"pollfirst") {
            RECVSEND_POLL_FIRST
        } else {
            0
        },
    };
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    loop {
        {
            let mut sq = ring.submission();
            for e in server.pending.drain(..) {
                // SAFETY: every buffer an entry points to is a connection's boxed buffer or a
                // provided buffer; both live until the fd is closed after its last completion.
                while unsafe { sq.push(&e) }.is_err() {
                    drop(sq);
                    ring.submit()?;
                    sq = ring.submission();
                }
            }
        }
        let entered = if batch {
            let args = types::SubmitArgs::new().timespec(&BATCH_WAIT);
            ring.submitter().submit_with_args(BATCH, &args)
        } else {
            ring.submit_and_wait(1)
        };
        match entered {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EBUSY | libc::ETIME)
                ) => {}
            Err(e) => return Err(e),
        }
        cqes.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for (ud, res, flags) in cqes.drain(..) {
            if ud == ACCEPT {
                if res >= 0 {
                    if !fixed {
                        set_nodelay(res);
                    }
                    server.accepted(res);
                }
                if !cqueue::more(flags) {
                    server.pending.push(accept(lfd, fixed));
                }
            } else if ud == CLOSE {
                // a direct descriptor's close: nothing to do
            } else if ud & SEND != 0 {
                server.sent((ud & 0xffff_ffff) as i32, res);
            } else {
                server.received(ud as i32, res, flags);
            }
        }
    }
}

fn accept(lfd: i32, fixed: bool) -> squeue::Entry {
    opcode::AcceptMulti::new(types::Fd(lfd))
        .allocate_file_index(fixed)
        .build()
        .user_data(ACCEPT)
}

/// One connection's state, indexed by its fd.
#[derive(Default)]
struct Conn {
    /// oneshot: the buffer its recv fills and its send reads.
    buf: Option<Box<[u8; BUF_SIZE]>>,
    /// multishot: a send is in flight; `queued` (buffer id, length) waits behind it.
    sending: bool,
    queued: VecDeque<(u16, u32)>,
    /// multishot: the recv has ended; close once the queued sends are done.
    closing: bool,
}

struct Server {
    bufs: Option<BufRing>,
    conns: Vec<Conn>,
    /// multishot: fds whose recv ended for want of a free buffer.
    starved: Vec<i32>,
    pending: Vec<squeue::Entry>,
    /// oneshot: the recv's ioprio (`+pollfirst`).
    recv_ioprio: u16,
    /// multishot: connections are direct descriptors (`+fixed`), not fds.
    fixed: bool,
}

impl Server {
    fn conn(&mut self, fd: i32) -> &mut Conn {
        let i = fd as usize;
        if self.conns.len() <= i {
            self.conns.resize_with(i + 1, Conn::default);
        }
        &mut self.conns[i]
    }

    fn accepted(&mut self, fd: i32) {
        if self.bufs.is_some() {
            *self.conn(fd) = Conn::default();
            self.pending.push(self.recv_multi(fd));
        } else {
            let buf = self
                .conn(fd)
                .buf
                .get_or_insert_with(|| Box::new([0; BUF_SIZE]));
            let recv = opcode::Recv::new(types::Fd(fd), buf.as_mut_ptr(), BUF_SIZE as u32);
            self.pending.push(recv.build().user_data(fd as u64));
        }
    }

    fn received(&mut self, fd: i32, res: i32, flags: u32) {
        if self.bufs.is_none() {
            return self.received_oneshot(fd, res);
        }
        if res > 0 {
            let bid = cqueue::buffer_select(flags).expect("multishot recv without a buffer");
            let conn = self.conn(fd);
            if conn.sending {
                conn.queued.push_back((bid, res as u32));
            } else {
                conn.sending = true;
                self.send(fd, bid, res as u32);
            }
        }
        if cqueue::more(flags) {
            return;
        }
        if res == -libc::ENOBUFS {
            self.starved.push(fd);
        } else if res > 0 {
            self.pending.push(self.recv_multi(fd));
        } else {
            let conn = self.conn(fd);
            conn.closing = true;
            if !conn.sending {
                self.close(fd); // nothing is in flight on fd any more
            }
        }
    }

    fn received_oneshot(&mut self, fd: i32, res: i32) {
        if res <= 0 {
            self.close(fd); // EOF, an error or a cancelled recv: nothing is in flight on fd
            return;
        }
        let buf = self
            .conn(fd)
            .buf
            .as_mut()
            .expect("recv completion on an fd without a buffer");
        let (ptr, mut_ptr) = (buf.as_ptr(), buf.as_mut_ptr());
        let send = opcode::Send::new(types::Fd(fd), ptr, res as u32)
            .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
            .build()
            .flags(squeue::Flags::IO_LINK | squeue::Flags::SKIP_SUCCESS)
            .user_data(SEND | fd as u64);
        let recv =
            opcode::Recv::new(types::Fd(fd), mut_ptr, BUF_SIZE as u32).ioprio(self.recv_ioprio);
        self.pending
            .extend([send, recv.build().user_data(fd as u64)]);
    }

    /// multishot: a send finished; oneshot: a send failed (the linked recv closes the fd).
    fn sent(&mut self, fd: i32, res: i32) {
        let Some(bufs) = &self.bufs else { return };
        let (bid, _) = bufs.in_flight[fd as usize];
        bufs.give_back(bid);
        for starved in std::mem::take(&mut self.starved) {
            self.pending.push(self.recv_multi(starved));
        }
        let conn = &mut self.conns[fd as usize]; // disjoint from self.bufs
        if res < 0 {
            for (bid, _) in conn.queued.drain(..) {
                bufs.give_back(bid);
            }
            self.shut_down(fd); // open until its recv has ended and its sends are done
        }
        let conn = self.conn(fd);
        if let Some((bid, len)) = conn.queued.pop_front() {
            self.send(fd, bid, len);
        } else {
            conn.sending = false;
            if conn.closing {
                self.close(fd); // the recv has ended and the last send is done
            }
        }
    }

    fn send(&mut self, fd: i32, bid: u16, len: u32) {
        let bufs = self.bufs.as_mut().unwrap();
        if bufs.in_flight.len() <= fd as usize {
            bufs.in_flight.resize(fd as usize + 1, (0, 0));
        }
        bufs.in_flight[fd as usize] = (bid, len);
        let send = if self.fixed {
            opcode::Send::new(types::Fixed(fd as u32), bufs.addr(bid), len)
        } else {
            opcode::Send::new(types::Fd(fd), bufs.addr(bid), len)
        };
        let send = send
            .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
            .build()
            .user_data(SEND | fd as u64);
        self.pending.push(send);
    }
}

impl Server {
    /// `fd` is a direct descriptor's index under `+fixed`.
    fn recv_multi(&self, fd: i32) -> squeue::Entry {
        let recv = if self.fixed {
            opcode::RecvMulti::new(types::Fixed(fd as u32), GROUP)
        } else {
            opcode::RecvMulti::new(types::Fd(fd), GROUP)
        };
        recv.build().user_data(fd as u64)
    }

    fn close(&mut self, fd: i32) {
        if self.fixed {
            let close = opcode::Close::new(types::Fixed(fd as u32));
            self.pending.push(close.build().user_data(CLOSE));
        } else {
            // SAFETY: the callers close an fd only once nothing is in flight on it.
            unsafe { libc::close(fd) };
        }
    }

    fn shut_down(&mut self, fd: i32) {
        if self.fixed {
            let shutdown = opcode::Shutdown::new(types::Fixed(fd as u32), libc::SHUT_RDWR);
            self.pending.push(shutdown.build().user_data(CLOSE));
        } else {
            // SAFETY: shutdown on an fd this server has not closed yet.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }
}

/// A provided-buffer ring (IORING_REGISTER_PBUF_RING): RING_BUFS buffers of BUF_SIZE bytes that
/// the kernel picks from for multishot receives; `give_back` returns one after its send.
struct BufRing {
    entries: *mut types::BufRingEntry,
    data: Vec<u8>,
    tail: std::cell::Cell<u16>,
    /// The buffer each fd's send in flight reads, by fd.
    in_flight: Vec<(u16, u32)>,
}

impl BufRing {
    fn register(ring: &IoUring) -> io::Result<BufRing> {
        let bytes = RING_BUFS as usize * std::mem::size_of::<types::BufRingEntry>();
        let (prot, map) = (
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        );
        // SAFETY: a fresh anonymous page-aligned mapping, as the kernel requires for the ring.
        let entries = unsafe { libc::mmap(std::ptr::null_mut(), bytes, prot, map, -1, 0) };
        if entries == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let br = BufRing {
            entries: entries.cast(),
            data: vec![0; RING_BUFS as usize * BUF_SIZE],
            tail: 0.into(),
            in_flight: Vec::new(),
        };
        // SAFETY: the mapping holds RING_BUFS entries and lives as long as the process.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, RING_BUFS, GROUP, 0)?
        };
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
            let tail =
                types::BufRingEntry::tail(self.entries) as *const std::sync::atomic::AtomicU16;
            (*tail).store(t.wrapping_add(1), std::sync::atomic::Ordering::Release);
        }
        self.tail.set(t.wrapping_add(1));
    }
}
