//! Standard input that parks only the goroutine that reads it.
//!
//! [`stdin`] has the shape of [`std::io::stdin`]: [`Read`], `read_line`,
//! `lines`, and a [`lock`](Stdin::lock) that is [`BufRead`]. The difference:
//! while no input is there, the reading goroutine parks and the others run
//! on. How a read waits, per target:
//!
//! - wasm32-wasip1 (wasmtime, Node's `node:wasi`): the goroutine awaits the
//!   platform's `readable(0)`, so the idle `poll_oneoff` subscribes `fd_read`
//!   on stdin beside the timer clock (src/platform/wasip1.rs); then one
//!   `fd_read` that finds the data there.
//! - native: the blocking read of [`std::io::stdin`] runs on
//!   `gosched::unblock`'s thread pool while only the goroutine
//!   waits. Not on the netpoller: that would need `O_NONBLOCK` on fd 0, a
//!   flag of the open file that the shell and the other processes sharing
//!   the terminal or pipe would see too.
//!
//! - WASIp3 components: one `wasi:cli/stdin@0.3.0` stream, read in
//!   [`block_on`](crate::block_on).
//!
//! Meanwhile [`goroutine_dump`](crate::goroutine_dump) shows the reader as
//! `[IO wait]`, as Go's dump does.
//!
//! One buffer per thread sits behind a [`sync::Mutex`](crate::sync::Mutex):
//! goroutines that read at once take turns, each read or line whole. Do not
//! mix with [`std::io::stdin`], whose own buffer may take input first.

use std::io::{self, BufRead, BufReader, Read};

use crate::runtime::WaitReason;
use crate::sync::{Mutex, MutexGuard};

/// Bytes the buffer takes per host read (std's default).
const BUFFER_SIZE: usize = 8 * 1024;

/// This thread's handle to the process's standard input; see [`Stdin`].
///
/// ```no_run
/// gosched::run(|| {
///     let ticker = gosched::tick(std::time::Duration::from_millis(100));
///     gosched::go(move || {
///         for _ in ticker.iter() {
///             println!("tick"); // keeps ticking while main waits for input
///         }
///     });
///     for line in gosched::io::stdin().lines() {
///         println!("read: {}", line.unwrap());
///     }
/// });
/// ```
pub fn stdin() -> Stdin {
    thread_local! {
        static STDIN: &'static Mutex<BufReader<RawStdin>> =
            Box::leak(Box::new(Mutex::new(BufReader::with_capacity(BUFFER_SIZE, RawStdin))));
    }
    Stdin {
        buffered: STDIN.with(|stdin| *stdin),
    }
}

/// Standard input, buffered, read by goroutines: a read with no input ready
/// parks only the calling goroutine. Made by [`stdin`].
///
/// Not `Send`: each thread's scheduler has its own handle and buffer.
///
/// # Panics
///
/// Reading outside a goroutine (outside [`run`](crate::run)) panics.
///
/// ```no_run
/// use std::io::Read;
/// gosched::run(|| {
///     let mut all = String::new();
///     gosched::io::stdin().read_to_string(&mut all).unwrap();
///     println!("{} bytes", all.len());
/// });
/// ```
#[derive(Clone, Copy)]
pub struct Stdin {
    buffered: &'static Mutex<BufReader<RawStdin>>,
}

/// Exclusive access to the [`Stdin`] buffer, for [`BufRead`]'s methods; other
/// goroutines that read stdin meanwhile wait. Made by [`Stdin::lock`].
///
/// ```no_run
/// use std::io::BufRead;
/// gosched::run(|| {
///     let mut first = Vec::new();
///     gosched::io::stdin().lock().read_until(b',', &mut first).unwrap();
/// });
/// ```
pub struct StdinLock<'a> {
    guard: MutexGuard<'a, BufReader<RawStdin>>,
}

impl Stdin {
    /// Locks the buffer for this goroutine (parking while another holds it).
    ///
    /// ```no_run
    /// use std::io::BufRead;
    /// gosched::run(|| {
    ///     let stdin = gosched::io::stdin();
    ///     let words = stdin.lock().split(b' ').count();
    ///     println!("{words} words");
    /// });
    /// ```
    pub fn lock(&self) -> StdinLock<'static> {
        StdinLock {
            guard: self.buffered.lock(),
        }
    }

    /// Reads one line, with its `\n`, onto the end of `buf`; `Ok(0)` at end
    /// of input. As [`std::io::Stdin::read_line`], but parks only this
    /// goroutine while it waits.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let mut name = String::new();
    ///     gosched::io::stdin().read_line(&mut name).unwrap();
    ///     println!("hello, {}", name.trim_end());
    /// });
    /// ```
    pub fn read_line(&self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_line(buf)
    }

    /// The lines of the input, without their line endings; as
    /// [`std::io::Stdin::lines`]. The iterator holds the lock: another
    /// goroutine's read waits until it is dropped.
    ///
    /// ```no_run
    /// gosched::run(|| {
    ///     let total: u64 = gosched::io::stdin()
    ///         .lines()
    ///         .map(|line| line.unwrap().trim().parse::<u64>().unwrap_or(0))
    ///         .sum();
    ///     println!("{total}");
    /// });
    /// ```
    pub fn lines(self) -> io::Lines<StdinLock<'static>> {
        self.lock().lines()
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
}

impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
}

impl Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.guard.read(buf)
    }
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.guard.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.guard.consume(amount)
    }
}

impl std::fmt::Debug for Stdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stdin")
    }
}

impl std::fmt::Debug for StdinLock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StdinLock")
    }
}

/// File descriptor 0, read without blocking the other goroutines.
struct RawStdin;

/// Standard input's file descriptor.
#[cfg(all(target_os = "wasi", target_env = "p1"))]
const STDIN_FD: u32 = 0;

/// What the panic outside a goroutine says.
const READING: &str = "reading gosched::io::stdin()";

impl Read for RawStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _ = crate::runtime::scheduler(READING);
        read_stdin(buf)
    }
}

/// [`block_on`](crate::block_on) for a read: the goroutine dump shows the
/// goroutine as `[IO wait]`, as Go's does.
#[cfg(target_arch = "wasm32")]
fn io_wait<F: std::future::Future>(read: F) -> F::Output {
    crate::block_on::block_on_as(WaitReason::IoWait, READING, read)
}

#[cfg(not(target_arch = "wasm32"))]
fn read_stdin(buf: &mut [u8]) -> io::Result<usize> {
    let len = buf.len();
    let (data, result) = crate::unblock::offload(WaitReason::IoWait, READING, move || {
        let mut data = vec![0; len];
        let result = io::stdin().read(&mut data);
        (data, result)
    });
    let n = result?;
    buf[..n].copy_from_slice(&data[..n]);
    Ok(n)
}

/// WASIp3: `wasi:cli/stdin@0.3.0#read-via-stream`, opened at the first read;
/// each read is one stream read, which parks only this goroutine.
#[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
fn read_stdin(buf: &mut [u8]) -> io::Result<usize> {
    use ::wasip3::cli::stdin;
    use ::wasip3::wit_bindgen::{FutureReader, StreamReader, StreamResult};
    use std::cell::RefCell;
    use std::future::IntoFuture;

    type Stream = (StreamReader<u8>, FutureReader<Result<(), stdin::ErrorCode>>);
    thread_local! {
        /// `None` before the first read; `Some(None)` after the end.
        static STREAM: RefCell<Option<Option<Stream>>> = const { RefCell::new(None) };
    }
    // Taken out while the read parks (the buffer's Mutex keeps other
    // readers out), put back after.
    let taken = STREAM.with_borrow_mut(|s| s.take());
    let Some((mut bytes, result)) = taken.unwrap_or_else(|| Some(stdin::read_via_stream())) else {
        STREAM.with_borrow_mut(|s| *s = Some(None));
        return Ok(0);
    };
    let (status, data) = io_wait(bytes.read(Vec::with_capacity(buf.len())));
    if !data.is_empty() || status != StreamResult::Dropped {
        buf[..data.len()].copy_from_slice(&data);
        STREAM.with_borrow_mut(|s| *s = Some(Some((bytes, result))));
        return Ok(data.len());
    }
    // The end of input, or a failure.
    STREAM.with_borrow_mut(|s| *s = Some(None));
    drop(bytes);
    match io_wait(result.into_future()) {
        Ok(()) => Ok(0),
        Err(code) => Err(io::Error::other(format!("wasi:cli/stdin: {code:?}"))),
    }
}

#[cfg(all(target_os = "wasi", target_env = "p1"))]
fn read_stdin(buf: &mut [u8]) -> io::Result<usize> {
    loop {
        io_wait(crate::platform::readable(STDIN_FD));
        match crate::platform::read_fd(STDIN_FD, buf) {
            // Another reader of the fd was first (Node's pipes are
            // non-blocking): wait for the next data.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}
