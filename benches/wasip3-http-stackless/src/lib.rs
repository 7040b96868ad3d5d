//! `GET /`, `GET /sleep?ms=N`, `POST /echo` and `GET /count` as a stackless
//! wit-bindgen async handler: the reference gosched's blocking-style handler
//! (examples/wasip3_http.rs) is measured against.

use std::cell::Cell;

use wasip3::http::types::{ErrorCode, Fields, Method, Request, Response};
use wasip3::{wit_bindgen, wit_future, wit_stream};

wasip3::http::service::export!(Stackless);

struct Stackless;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

impl wasip3::exports::http::handler::Guest for Stackless {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let method = request.get_method();
        let target = request.get_path_with_query().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        match (method, path) {
            (Method::Get, "/") => Ok(text(b"hello".to_vec())),
            (Method::Get, "/sleep") => {
                let ms: u64 = query
                    .strip_prefix("ms=")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                wasip3::clocks::monotonic_clock::wait_for(ms * 1_000_000).await;
                Ok(text(format!("slept {ms}").into_bytes()))
            }
            (Method::Get, "/count") => {
                let n = COUNT.with(|c| {
                    c.set(c.get() + 1);
                    c.get()
                });
                Ok(text(n.to_string().into_bytes()))
            }
            (Method::Post, "/echo") => {
                let (mut body_tx, body_rx) = wit_stream::new();
                let (_, trailers_rx) = wit_future::new(|| Ok(None));
                let (response, _) = Response::new(Fields::new(), Some(body_rx), trailers_rx);
                let (body, trailers) = Request::consume_body(request, wit_future::new(|| Ok(())).1);
                let mut body = body;
                wit_bindgen::spawn_local(async move {
                    loop {
                        let (result, data) = body.read(Vec::with_capacity(64 * 1024)).await;
                        if !data.is_empty() && !body_tx.write_all(data).await.is_empty() {
                            break;
                        }
                        if !matches!(result, wit_bindgen::StreamResult::Complete(_)) {
                            break;
                        }
                    }
                    drop(trailers);
                });
                Ok(response)
            }
            _ => {
                let response = text(b"not found".to_vec());
                let _ = response.set_status_code(404);
                Ok(response)
            }
        }
    }
}

/// A response whose body is `body`, written by a spawned task.
fn text(body: Vec<u8>) -> Response {
    let (mut body_tx, body_rx) = wit_stream::new();
    let (_, trailers_rx) = wit_future::new(|| Ok(None));
    let (response, _) = Response::new(Fields::new(), Some(body_rx), trailers_rx);
    wit_bindgen::spawn_local(async move {
        body_tx.write_all(body).await;
    });
    response
}
