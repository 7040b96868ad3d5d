//! Standard output through `wasi:cli/stdout@0.3.0`: a `stream<u8>` handed to
//! the host, written from goroutines without blocking the others.
//!
//! `println!` keeps working (std writes through the 0.2 interface, a blocking
//! call that holds the whole instance while it writes); [`Stdout`] is for
//! goroutines that should not hold everyone up. The two are separate streams:
//! their lines may interleave in any order.

use std::future::IntoFuture as _;
use std::io;

use super::bindings::cli::stdout::{write_via_stream, ErrorCode};
use super::bindings::wit_bindgen::FutureReader;
use super::bindings::wit_stream;
use super::stream_io::ByteWriter;

/// A p3 standard output stream; see [`stdout`].
pub struct Stdout {
    writer: ByteWriter,
    /// The host's verdict on the whole stream, once the writer is closed.
    done: Option<FutureReader<Result<(), ErrorCode>>>,
}

/// Opens a new stream to standard output. Each write parks only the calling
/// goroutine until the host has taken the bytes; dropping the handle closes
/// the stream ([`Stdout::close`] also reports the host's result).
///
/// # Panics
///
/// Writing outside a goroutine.
///
/// ```
/// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
/// # {
/// use std::io::Write as _;
/// gosched::run(|| {
///     let mut out = gosched::wasip3::stdout();
///     writeln!(out, "hello from a goroutine over wasi:cli/stdout@0.3.0").unwrap();
///     out.close().unwrap();
/// });
/// # }
/// ```
pub fn stdout() -> Stdout {
    let (writer, reader) = wit_stream::new::<u8>();
    Stdout {
        writer: ByteWriter::new(writer),
        done: Some(write_via_stream(reader)),
    }
}

impl Stdout {
    /// Closes the stream and waits for the host's result: an error if the
    /// host stopped reading (a closed pipe) or could not write.
    ///
    /// # Panics
    ///
    /// Outside a goroutine.
    pub fn close(mut self) -> io::Result<()> {
        self.writer.close();
        match self
            .done
            .take()
            .map(|done| crate::block_on(done.into_future()))
        {
            Some(Err(code)) => Err(io::Error::other(format!("wasi:cli/stdout: {code:?}"))),
            _ => Ok(()),
        }
    }
}

impl io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    /// Writes complete when the host has taken the bytes: nothing to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for Stdout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stdout")
            .field("open", &self.writer.is_open())
            .finish()
    }
}
