//! `std::io::Read` and `Write` over component-model `stream<u8>` ends: each
//! operation parks only the calling goroutine (through
//! [`block_on`](crate::block_on)) until the other end has taken or given
//! bytes.
//!
//! Invariants:
//! * a read or write completes before the call returns: no operation is left
//!   in flight, so dropping either type never cancels half an operation;
//! * once the other end is gone, reads return 0 (end of stream) and writes
//!   return `BrokenPipe`, for good.

use std::io;

use super::bindings::wit_bindgen::{StreamReader, StreamResult, StreamWriter};

/// How many bytes one read asks the stream for at most (a larger `buf`
/// still gets one read of this size, as `std::fs::File` would).
const READ_CHUNK: usize = 64 * 1024;

/// The readable end of a `stream<u8>` as an `io::Read`.
pub(crate) struct ByteReader {
    stream: Option<StreamReader<u8>>,
    /// Bytes the stream gave beyond what the caller's buffer held.
    spare: Vec<u8>,
    spare_at: usize,
}

impl ByteReader {
    pub(crate) fn new(stream: StreamReader<u8>) -> ByteReader {
        ByteReader {
            stream: Some(stream),
            spare: Vec::new(),
            spare_at: 0,
        }
    }

    /// Whether the writer has closed the stream and every byte was read.
    pub(crate) fn at_end(&self) -> bool {
        self.stream.is_none() && self.spare_at == self.spare.len()
    }
}

impl io::Read for ByteReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.spare_at == self.spare.len() {
            let Some(stream) = self.stream.as_mut() else {
                return Ok(0);
            };
            let mut chunk = std::mem::take(&mut self.spare);
            chunk.clear();
            chunk.reserve(buf.len().min(READ_CHUNK));
            let (result, chunk) = crate::block_on(stream.read(chunk));
            self.spare = chunk;
            self.spare_at = 0;
            if !matches!(result, StreamResult::Complete(_)) {
                // Dropped: the writer closed the stream (end of data).
                // Cancelled cannot happen: nothing cancels a read we await.
                self.stream = None;
            }
        }
        let n = buf.len().min(self.spare.len() - self.spare_at);
        buf[..n].copy_from_slice(&self.spare[self.spare_at..self.spare_at + n]);
        self.spare_at += n;
        Ok(n)
    }
}

/// The writable end of a `stream<u8>` as an `io::Write`. A write returns once
/// the reader has taken every byte, so there is nothing to flush; dropping it
/// closes the stream.
pub(crate) struct ByteWriter {
    stream: Option<StreamWriter<u8>>,
}

impl ByteWriter {
    pub(crate) fn new(stream: StreamWriter<u8>) -> ByteWriter {
        ByteWriter {
            stream: Some(stream),
        }
    }

    /// Closes the stream: the reader sees its end.
    pub(crate) fn close(&mut self) {
        self.stream = None;
    }

    pub(crate) fn is_open(&self) -> bool {
        self.stream.is_some()
    }
}

impl io::Write for ByteWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
        if buf.is_empty() {
            return Ok(0);
        }
        let unwritten = crate::block_on(stream.write_all(buf.to_vec()));
        if unwritten.len() == buf.len() {
            // The reader dropped its end: nothing more can be written.
            self.stream = None;
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        Ok(buf.len() - unwritten.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
