//! Request and response bodies as blocking `std::io` readers and writers over
//! the `stream<u8>` and trailer `future` of `wasi:http/types@0.3.0`.
//!
//! A body is a byte stream followed by a trailers future that resolves once
//! the stream has ended: `Ok(Some(trailers))`, `Ok(None)`, or an error code
//! when the body did not arrive whole (the client went away mid-body). Each
//! read or write parks only the calling goroutine.

use std::fmt;
use std::future::IntoFuture as _;
use std::io::{self, Read, Write};

use super::super::bindings::http::types::{self as wasi, ErrorCode, Fields};
use super::super::bindings::wit_bindgen::{FutureReader, FutureWriter};
use super::super::bindings::wit_future;
use super::super::stream_io::{ByteReader, ByteWriter};
use super::{fields_to_headers, headers_to_fields, Error, HeaderMap};

/// What the host's trailers future resolves to.
type TrailersResult = Result<Option<Fields>, ErrorCode>;

/// The body of an incoming request: an `io::Read` that parks only the calling
/// goroutine while it waits for the client's bytes.
///
/// A read returns `Ok(0)` at the end of a body that arrived whole, and an
/// error if the client stopped sending before the end (a dropped connection).
///
/// ```no_run
/// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
/// # mod example {
/// use std::io::Read as _;
/// use gosched::wasip3::http::{Error, Request, Response};
///
/// fn handle(mut request: Request) -> Result<Response, Error> {
///     let mut text = String::new();
///     request.body_mut().read_to_string(&mut text)?;
///     Ok(Response::new(format!("{} bytes", text.len()).into()))
/// }
/// gosched::wasip3::http::service!(handle);
/// # }
/// # fn main() {}
/// ```
pub struct IncomingBody {
    /// The host's request until the body is first read: taking its body
    /// costs host calls that a handler which never reads it need not make.
    unread: Option<wasi::Request>,
    bytes: Option<ByteReader>,
    trailers: Option<FutureReader<TrailersResult>>,
    /// The trailers future's value once the stream has ended.
    ended: Option<Result<Option<HeaderMap>, String>>,
}

impl IncomingBody {
    /// The body of `request`, taken from the host at the first read.
    pub(super) fn new(request: wasi::Request) -> IncomingBody {
        IncomingBody {
            unread: Some(request),
            bytes: None,
            trailers: None,
            ended: None,
        }
    }

    /// The body's byte stream; takes it from the request the first time.
    fn bytes(&mut self) -> &mut ByteReader {
        if let Some(request) = self.unread.take() {
            // Our verdict on the request body: nothing to object to.
            let (_, verdict) = wit_future::new(|| Ok(()));
            let (bytes, trailers) = wasi::Request::consume_body(request, verdict);
            self.bytes = Some(ByteReader::new(bytes));
            self.trailers = Some(trailers);
        }
        self.bytes
            .as_mut()
            .expect("the body was taken from the request")
    }

    /// The request's trailers: reads (and discards) what is left of the body,
    /// then returns the trailer fields the client sent after it, if any.
    ///
    /// # Errors
    ///
    /// If the body did not arrive whole.
    pub fn trailers(&mut self) -> io::Result<Option<HeaderMap>> {
        io::copy(self, &mut io::sink())?;
        match self.end() {
            Ok(trailers) => Ok(trailers.clone()),
            Err(message) => Err(incomplete(message)),
        }
    }

    /// Resolves the trailers future once the stream has ended.
    fn end(&mut self) -> &Result<Option<HeaderMap>, String> {
        self.ended.get_or_insert_with(|| {
            // The stream has ended, so the body was taken from the request.
            let trailers = self.trailers.take().expect("trailers read once");
            match crate::block_on(trailers.into_future()) {
                Ok(Some(fields)) => Ok(Some(fields_to_headers(&fields))),
                Ok(None) => Ok(None),
                Err(code) => Err(format!("{code:?}")),
            }
        })
    }
}

fn incomplete(message: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the request body did not arrive whole: {message}"),
    )
}

impl Read for IncomingBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let bytes = self.bytes();
        let n = bytes.read(buf)?;
        if n == 0 && !buf.is_empty() && bytes.at_end() {
            if let Err(message) = self.end() {
                return Err(incomplete(message));
            }
        }
        Ok(n)
    }
}

impl fmt::Debug for IncomingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingBody")
            .field("ended", &self.ended.is_some())
            .finish_non_exhaustive()
    }
}

/// A function that writes a response body; see [`Body::stream`].
type Writer = Box<dyn FnOnce(&mut BodyWriter) -> Result<(), Error>>;

/// The body of a response: bytes known up front, or a function that writes
/// them with [`std::io::Write`] after the response head has gone out.
///
/// ```no_run
/// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
/// # mod example {
/// use std::io::Write as _;
/// use gosched::wasip3::http::{Body, Error, Request, Response};
///
/// fn handle(_request: Request) -> Result<Response, Error> {
///     Ok(Response::new(Body::stream(|out| {
///         for i in 0..3 {
///             writeln!(out, "line {i}")?;
///             gosched::sleep(std::time::Duration::from_millis(10));
///         }
///         Ok(())
///     })))
/// }
/// gosched::wasip3::http::service!(handle);
/// # }
/// # fn main() {}
/// ```
pub struct Body(Contents);

enum Contents {
    Bytes(Vec<u8>),
    Stream(Writer),
}

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Body {
        Body(Contents::Bytes(Vec::new()))
    }

    /// A body that `write` produces on the request's goroutine once the
    /// response status and headers have been sent, so it may take as long as it likes
    /// (a stream of events, a large copy). An `Err` from `write` cannot become
    /// a 500 any more: the host aborts the response instead (the client sees
    /// a truncated body).
    pub fn stream(write: impl FnOnce(&mut BodyWriter) -> Result<(), Error> + 'static) -> Body {
        Body(Contents::Stream(Box::new(write)))
    }

    /// Writes the body into `bytes` and settles `trailers`; runs on the
    /// request's goroutine after the response has been returned.
    ///
    /// Bytes known up front are written by a detached future
    /// (`super::super::detach`): the write waits until the host reads, and
    /// the goroutine ends at once instead of parking for it.
    pub(super) fn send(
        self,
        bytes: super::super::bindings::wit_bindgen::StreamWriter<u8>,
        trailers: FutureWriter<TrailersResult>,
    ) {
        let write = match self.0 {
            Contents::Bytes(data) => {
                super::super::detach::detach(async move {
                    let mut bytes = bytes;
                    if !data.is_empty() {
                        // Bytes left unwritten mean the client went away:
                        // nobody to tell.
                        let _ = bytes.write_all(data).await;
                    }
                    drop(bytes);
                    // Its default, `Ok(None)`: no trailers.
                    drop(trailers);
                });
                return;
            }
            Contents::Stream(write) => write,
        };
        let mut out = BodyWriter {
            bytes: ByteWriter::new(bytes),
            trailers: None,
        };
        let outcome = write(&mut out);
        let BodyWriter {
            mut bytes,
            trailers: fields,
        } = out;
        bytes.close();
        let value = match outcome {
            Ok(()) => Ok(fields.map(|h| headers_to_fields(&h)).transpose()),
            Err(error) => Err(error.to_string()),
        };
        let value = match value {
            Ok(Ok(fields)) => Ok(fields),
            Ok(Err(bad)) => Err(ErrorCode::InternalError(Some(bad.to_string()))),
            Err(message) => Err(ErrorCode::InternalError(Some(message))),
        };
        match value {
            // Dropping the writer sends its default, `Ok(None)`, without
            // waiting for the host to take it.
            Ok(None) => drop(trailers),
            // The host may have gone (the client hung up): nothing to report to.
            value => drop(crate::block_on(trailers.write(value))),
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body(Contents::Bytes(bytes))
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Body {
        Body::from(bytes.to_vec())
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::from(text.into_bytes())
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Body {
        Body::from(text.as_bytes())
    }
}

impl From<()> for Body {
    fn from((): ()) -> Body {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Contents::Bytes(bytes) => write!(f, "Body({} bytes)", bytes.len()),
            Contents::Stream(_) => f.write_str("Body(stream)"),
        }
    }
}

/// Where a [`Body::stream`] function writes: an `io::Write` whose writes
/// return once the host has taken the bytes, parking only their goroutine.
/// A write fails with `BrokenPipe` once the client has gone.
pub struct BodyWriter {
    bytes: ByteWriter,
    trailers: Option<HeaderMap>,
}

impl BodyWriter {
    /// Trailer fields to send after the body (HTTP/1.1 chunked trailers, if
    /// the client asked for them with `TE: trailers`; HTTP/2 trailers).
    pub fn set_trailers(&mut self, trailers: HeaderMap) {
        self.trailers = Some(trailers);
    }
}

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.bytes.flush()
    }
}

impl fmt::Debug for BodyWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyWriter")
            .field("open", &self.bytes.is_open())
            .finish_non_exhaustive()
    }
}
