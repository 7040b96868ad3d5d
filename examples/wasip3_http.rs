//! An HTTP service in a WASIp3 component: each request runs a blocking
//! handler on its own goroutine, and all requests share one scheduler.
//!
//! ```text
//! cargo gosched run --target wasm32-wasip2 --features wasip3 --example wasip3_http [-- --addr 127.0.0.1:8080]
//! ```
//!
//! serves it through `wasmtime serve` on 127.0.0.1:8080 (cargo gosched
//! prints the command). Routes:
//!
//! * `GET /` → `hello`
//! * `GET /sleep?ms=N` → sleeps N ms (only this request waits), then `slept N`
//! * `POST /echo` → streams the request body back as it arrives
//! * `GET /count` → asks the counter goroutine, over a channel, for the next
//!   value of the counter it owns, and answers it in decimal
//! * `GET /bytes?n=N` → N bytes known up front (written after the head, while
//!   the client reads)
//! * `GET /stats` → `waitables N`: how many host operations this instance
//!   still waits for ([`gosched::wasip3::registered_waitables`]); 0 when it
//!   is idle, more if one leaks

use std::cell::OnceCell;
use std::io::{self, Write as _};
use std::time::Duration;

use gosched::chan::Sender;
use gosched::wasip3::http::{Body, Error, Method, Request, Response, StatusCode};

gosched::wasip3::http::service!(handle, init = start_counter);

thread_local! {
    /// Where `GET /count` asks: each request sends the channel to answer on.
    /// (Channels are not `Send`: the scheduler and its goroutines live on one
    /// thread.)
    static COUNTER: OnceCell<Sender<Sender<u64>>> = const { OnceCell::new() };
}

/// Runs once, on the first request: the counter goroutine owns the count,
/// so no request needs a lock.
fn start_counter() {
    let (requests, inbox) = gosched::chan::<Sender<u64>>(64);
    gosched::go(move || {
        let mut count = 0;
        for reply in inbox.iter() {
            count += 1;
            let _ = reply.send(count);
        }
    });
    COUNTER.with(|counter| {
        counter
            .set(requests)
            .unwrap_or_else(|_| unreachable!("init runs once"))
    });
}

fn handle(request: Request) -> Result<Response, Error> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => Ok(Response::new("hello".into())),
        (&Method::GET, "/sleep") => {
            let ms: u64 = query(&request, "ms=")?.parse()?;
            gosched::sleep(Duration::from_millis(ms));
            Ok(Response::new(format!("slept {ms}").into()))
        }
        (&Method::POST, "/echo") => {
            let mut body = request.into_body();
            Ok(Response::new(Body::stream(move |out| {
                io::copy(&mut body, out)?;
                out.flush()?;
                Ok(())
            })))
        }
        (&Method::GET, "/count") => {
            let (reply, answer) = gosched::chan(1);
            COUNTER.with(|counter| counter.get().expect("init ran").send(reply))?;
            Ok(Response::new(answer.recv()?.to_string().into()))
        }
        (&Method::GET, "/bytes") => {
            let n: usize = query(&request, "n=")?.parse()?;
            Ok(Response::new(vec![b'x'; n].into()))
        }
        (&Method::GET, "/stats") => {
            let waitables = gosched::wasip3::registered_waitables();
            Ok(Response::new(format!("waitables {waitables}").into()))
        }
        _ => {
            let mut response = Response::new("not found\n".into());
            *response.status_mut() = StatusCode::NOT_FOUND;
            Ok(response)
        }
    }
}

/// The value of a one-parameter query `NAME=value` (`name` is `"NAME="`).
fn query<'r>(request: &'r Request, name: &str) -> Result<&'r str, Error> {
    let value = request.uri().query().and_then(|q| q.strip_prefix(name));
    Ok(value.ok_or_else(|| format!("usage: {}?{name}N", request.uri().path()))?)
}

/// Only `wasmtime run` calls `main`; `wasmtime serve` calls the handler.
fn main() {
    eprintln!(
        "this component is an HTTP service: serve it with \
         `wasmtime serve -S p3 -S cli --addr 127.0.0.1:8080 wasip3_http.component.wasm` \
         (`cargo gosched run --target wasm32-wasip2 --features wasip3 --example wasip3_http` \
         does)"
    );
}
