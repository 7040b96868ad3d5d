//! HTTP services: a `wasi:http/handler@0.3.0` export (the `wasi:http/service`
//! world) whose handler is an ordinary blocking function, run on its own
//! goroutine for each request.
//!
//! ```no_run
//! # #[cfg(all(target_env = "p2", feature = "wasip3"))]
//! # mod example {
//! use std::time::Duration;
//! use gosched::wasip3::http::{Error, Method, Request, Response, StatusCode};
//!
//! fn handle(request: Request) -> Result<Response, Error> {
//!     match (request.method(), request.uri().path()) {
//!         (&Method::GET, "/") => Ok(Response::new("hello".into())),
//!         (&Method::GET, "/sleep") => {
//!             gosched::sleep(Duration::from_millis(100)); // parks this request only
//!             Ok(Response::new("slept".into()))
//!         }
//!         _ => {
//!             let mut response = Response::new("not found".into());
//!             *response.status_mut() = StatusCode::NOT_FOUND;
//!             Ok(response)
//!         }
//!     }
//! }
//!
//! gosched::wasip3::http::service!(handle);
//! # }
//! # fn main() {}
//! ```
//!
//! Serve it with `wasmtime serve -S p3 -S cli --addr 127.0.0.1:8080
//! NAME.component.wasm` (`cargo gosched run --target wasm32-wasip2` does).
//!
//! What happens to a request:
//!
//! 1. The host calls the export; the first call starts the scheduler and
//!    runs the `init` function given to [`service!`] once, on a goroutine
//!    (the machinery of [`Exports`](super::Exports)).
//! 2. The request becomes an [`http::Request`] whose body is an
//!    [`IncomingBody`] (`std::io::Read`), and the handler runs on a new
//!    goroutine. Every request shares the one scheduler: its goroutines,
//!    channels and globals.
//! 3. `Ok(response)`: the status and headers go back to the host at once;
//!    then the same goroutine writes the [`Body`] and its trailers (the
//!    request's task lasts until it has).
//!    `Err(e)`: a `500 Internal Server Error` whose body is `e`'s message.
//! 4. A panic in a handler aborts the whole instance (wasm has no unwinding):
//!    the host fails every request in flight on that instance, and
//!    `wasmtime serve` answers them with an error and serves later requests
//!    with a fresh instance (globals start over).
//!
//! Types are those of the [`http`] crate (`http::Request<IncomingBody>`,
//! `http::Response<Body>`), the Rust ecosystem's common vocabulary for HTTP,
//! re-exported here.

mod body;

#[doc(no_inline)]
pub use ::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
pub use body::{Body, BodyWriter, IncomingBody};

use super::bindings::http::types::{self as wasi, Fields, Scheme};
use super::bindings::{wit_future, wit_stream};

/// The [`http`] crate, for its builders (`http::Response::builder()`).
#[doc(no_inline)]
pub use ::http;

/// An incoming request; its body is read with [`std::io::Read`].
pub type Request = ::http::Request<IncomingBody>;

/// A response: status, headers and a [`Body`].
pub type Response = ::http::Response<Body>;

/// What a handler may fail with: any error; its message becomes the body of a
/// `500 Internal Server Error`.
pub type Error = Box<dyn std::error::Error>;

/// A request handler: runs on its own goroutine, may block (sleep, channels,
/// reading the body, WASI imports through [`block_on`](crate::block_on)).
pub type Handler = fn(Request) -> Result<Response, Error>;

/// Exports `handler` as the component's `wasi:http/handler@0.3.0#handle`
/// (the `wasip3` crate's generated `wasi:http/service` export, served by an
/// [`Exports`](super::Exports)): each request runs `handler` on a goroutine
/// of its own while the others go on.
///
/// `service!(handler, init = f)` also runs `f` once, on a goroutine, when the
/// first request arrives, before any handler: the place to
/// start the background goroutines that requests talk to over channels.
///
/// ```no_run
/// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
/// # mod example {
/// use gosched::wasip3::http::{Error, Request, Response};
/// fn handle(_request: Request) -> Result<Response, Error> {
///     Ok(Response::new("hello".into()))
/// }
/// fn init() {
///     gosched::go(|| { /* a background goroutine that outlives requests */ });
/// }
/// gosched::wasip3::http::service!(handle, init = init);
/// # }
/// # fn main() {}
/// ```
#[doc(inline)]
pub use crate::__gosched_wasip3_http_service as service;

#[doc(hidden)]
#[macro_export]
macro_rules! __gosched_wasip3_http_service {
    ($handler:expr) => {
        $crate::__gosched_wasip3_http_service!($handler, init = || {});
    };
    ($handler:expr, init = $init:expr) => {
        const _: () = {
            use $crate::wasip3::bindings as __bindings;
            static SERVICE: $crate::wasip3::Exports = $crate::wasip3::Exports::new().init($init);
            struct GoschedHttpService;
            impl __bindings::exports::http::handler::Guest for GoschedHttpService {
                async fn handle(
                    request: __bindings::http::types::Request,
                ) -> ::core::result::Result<
                    __bindings::http::types::Response,
                    __bindings::http::types::ErrorCode,
                > {
                    ::core::result::Result::Ok(
                        $crate::wasip3::http::__private::serve(&SERVICE, request, $handler).await,
                    )
                }
            }
    __bindings::_export_service!(GoschedHttpService with_types_in $crate::wasip3::bindings);
        };
    };
}

#[doc(hidden)]
pub mod __private {
    use super::super::bindings::http::types as wasi;
    use super::super::Exports;
    use super::{respond, Handler};

    /// The body of the generated `handle`: runs `handler` on a goroutine of
    /// `service`, and the body writer on another that outlives the call (the
    /// task lives on until the operations it registered are done).
    pub async fn serve(
        service: &'static Exports,
        request: wasi::Request,
        handler: Handler,
    ) -> wasi::Response {
        service
            .call(move || {
                let (response, send_body) = respond(request, handler);
                crate::go(send_body);
                response
            })
            .await
    }
}

/// Runs `handler` for the request behind `request`; returns the response
/// resource to hand to the host (what `task.return` sends) and the function
/// that then writes its body.
fn respond(request: wasi::Request, handler: Handler) -> (wasi::Response, impl FnOnce()) {
    let response = match incoming(request) {
        Ok(request) => handler(request).unwrap_or_else(|error| failure(&*error)),
        Err(error) => failure(&*error),
    };
    outgoing(response)
}

/// A `500 Internal Server Error` whose body is the error's message.
fn failure(error: &dyn std::error::Error) -> Response {
    let mut response = Response::new(format!("{error}\n").into());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The host's request as an `http::Request` with a blocking body.
fn incoming(request: wasi::Request) -> Result<Request, Error> {
    let method = match request.get_method() {
        wasi::Method::Get => Method::GET,
        wasi::Method::Head => Method::HEAD,
        wasi::Method::Post => Method::POST,
        wasi::Method::Put => Method::PUT,
        wasi::Method::Delete => Method::DELETE,
        wasi::Method::Connect => Method::CONNECT,
        wasi::Method::Options => Method::OPTIONS,
        wasi::Method::Trace => Method::TRACE,
        wasi::Method::Patch => Method::PATCH,
        wasi::Method::Other(name) => Method::from_bytes(name.as_bytes())?,
    };
    let mut uri = Uri::builder();
    if let Some(authority) = request.get_authority() {
        let scheme = match request.get_scheme() {
            Some(Scheme::Https) => "https".to_owned(),
            Some(Scheme::Other(other)) => other,
            Some(Scheme::Http) | None => "http".to_owned(),
        };
        uri = uri.scheme(scheme.as_str()).authority(authority);
    }
    let uri = uri
        .path_and_query(request.get_path_with_query().unwrap_or_else(|| "/".into()))
        .build()?;
    let headers = fields_to_headers(&request.get_headers());
    // Our verdict on the request body: nothing to object to.
    let (_, verdict) = wit_future::new(|| Ok(()));
    let (bytes, trailers) = wasi::Request::consume_body(request, verdict);
    let mut incoming = ::http::Request::new(IncomingBody::new(bytes, trailers));
    *incoming.method_mut() = method;
    *incoming.uri_mut() = uri;
    *incoming.headers_mut() = headers;
    Ok(incoming)
}

/// `response` as the host's resource, and the function that writes its body
/// (it blocks until the host reads, so it runs after `task.return`).
fn outgoing(response: Response) -> (wasi::Response, impl FnOnce()) {
    let (parts, body) = response.into_parts();
    let (status, headers, body) = match headers_to_fields(&parts.headers) {
        Ok(headers) => (parts.status, headers, body),
        Err(error) => {
            let failed = failure(&error);
            let headers = headers_to_fields(failed.headers()).expect("a valid content-type");
            (failed.status(), headers, failed.into_body())
        }
    };
    let (bytes_tx, bytes_rx) = wit_stream::new::<u8>();
    let (trailers_tx, trailers_rx) = wit_future::new(|| Ok(None));
    let (response, _sent) = wasi::Response::new(headers, Some(bytes_rx), trailers_rx);
    // A valid `StatusCode` is always in 100..=999, which the host accepts.
    let _ = response.set_status_code(status.as_u16());
    (response, move || body.send(bytes_tx, trailers_tx))
}

fn fields_to_headers(fields: &Fields) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in fields.copy_all() {
        // The host only hands out valid field names and values.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// A header the host refused (a forbidden or malformed field).
#[derive(Debug)]
struct BadHeader(String);

impl std::fmt::Display for BadHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadHeader {}

fn headers_to_fields(headers: &HeaderMap) -> Result<Fields, BadHeader> {
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    Fields::from_list(&list)
        .map_err(|error| BadHeader(format!("the host refused the response headers: {error:?}")))
}
