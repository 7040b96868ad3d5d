//! The browser demo (examples/browser/index.html): goroutines at work in a
//! web page. Four workers fill progress bars at their own pace (sleeping
//! between steps); each click of the page's button arrives on a channel fed
//! by a JS callback and starts a short-lived sprinter goroutine with a bar of
//! its own; a ticker reports how many goroutines exist. The main goroutine
//! selects over all of it and is the only one that touches the page.
//!
//! Run with `tools/browser-demo` (builds this cdylib for
//! wasm32-unknown-unknown, then serves the page on localhost). Natively this
//! example is empty.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod demo {
    use std::time::Duration;

    use gosched::js::{self, JsValue};
    use gosched::{chan, go, select, sleep, tick, Sender};

    /// A bar's new state: its id and percentage (100: done).
    type Progress = (u32, u32);

    /// Calls one of the page's functions (index.html's `functions`).
    fn page(function: &str, args: &[JsValue]) {
        if let Err(e) = js::call(function, args) {
            js::error(format_args!("{function}: {e}"));
        }
    }

    /// Fills bar `id` forever, a step every `step_ms`, then starts over.
    fn worker(id: u32, step_ms: u64, progress: Sender<Progress>) {
        loop {
            for pct in (0..=100).step_by(2) {
                if progress.send((id, pct)).is_err() {
                    return;
                }
                sleep(Duration::from_millis(step_ms));
            }
        }
    }

    /// Fills bar `id` once, fast, and ends.
    fn sprinter(id: u32, progress: Sender<Progress>) {
        for pct in (0..=100).step_by(5) {
            let _ = progress.send((id, pct));
            sleep(Duration::from_millis(40));
        }
    }

    gosched::js_main!(run);

    /// The main goroutine: the only one that updates the page.
    fn run() {
        let clicks = js::callback_channel::<JsValue>("click", 16);
        let (progress, updates) = chan::<Progress>(0);
        for (id, step_ms) in [(1, 30), (2, 45), (3, 70), (4, 110)] {
            page("addBar", &[id.into(), format!("worker {id}").into()]);
            let progress = progress.clone();
            go(move || worker(id, step_ms, progress));
        }
        let census = tick(Duration::from_millis(100));
        let mut clicked = 0u32;
        loop {
            select! {
                recv(updates) -> update => {
                    let (id, pct) = update.expect("main holds a sender");
                    page("setProgress", &[id.into(), pct.into()]);
                }
                recv(clicks) -> _ => {
                    clicked += 1;
                    let id = 100 + clicked;
                    page("setClicks", &[clicked.into()]);
                    page("addBar", &[id.into(), format!("click {clicked}").into()]);
                    let progress = progress.clone();
                    go(move || sprinter(id, progress));
                }
                recv(census) -> _ => {
                    page("setGoroutines", &[gosched::num_goroutines().into()]);
                }
            }
        }
    }
}
