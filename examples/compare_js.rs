//! The anchor micro-benchmarks in a JS host (wasm32-unknown-unknown, a cdylib
//! for js/gosched.mjs): the same bodies as examples/compare.rs, printing the
//! same `RESULT` lines through the loader. benches/compare_js.mjs runs one
//! module instance per benchmark (as the anchors run one process each);
//! `tools/js-bench [BENCH|all] [REPS]` builds and runs it all. Natively this
//! example is empty.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[allow(dead_code)] // compare.rs's native harness is not used here
#[path = "compare.rs"]
mod compare;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod js_bench {
    use std::time::Duration;

    use super::compare::*;
    use gosched::js::{self, JsValue};
    use gosched::Runtime;

    /// A benchmark: name, metric, operations per run, body (runs in a goroutine).
    type Bench = (&'static str, &'static str, usize, fn() -> Duration);

    /// compare.rs's benchmarks but B1s, whose 100k live 64 KiB stacks do not
    /// fit in wasm32's 4 GiB.
    const BENCHES: &[Bench] = &[
        ("B1", "ns_per_task", N_SPAWN, || b1(1, || ())),
        ("B1b", "ns_per_task", N_SPAWN, || b1(10, || ())),
        ("B2", "ns_per_roundtrip", N_PINGPONG, b2),
        ("B3", "ns_per_item", N_BUF_ITEMS as usize, b3),
        ("B4", "ns_per_select", N_SELECT_ITEMS, || b4(0)),
        ("B4b", "ns_per_select", N_SELECT_ITEMS, || b4(BUF_CAP)),
        ("B5", "ns_per_yield", 2 * N_YIELD, b5),
        ("B6", "wall_ms", 0, b6),
        ("B7", "ns_per_hop", RING_LAPS * (RING_SIZE + 1), b7),
    ];

    fn setting(name: &str) -> JsValue {
        js::get(name).unwrap_or_else(|e| panic!("compare_js: no {name:?} given: {e}"))
    }

    fn emit(system: &str, bench: &str, metric: &str, value: f64, unit: &str) {
        js::log(format_args!(
            "RESULT\t{system}\t{bench}\t{metric}\t{value:.3}\t{unit}"
        ));
    }

    /// The loader's `functions` option names the benchmark (`bench`), the
    /// timed repetitions (`reps`) and the system label (`system`); `bench`
    /// may also be `list`, which returns the names.
    #[no_mangle]
    pub extern "C" fn compare_main() {
        let bench = String::try_from(setting("bench")).expect("bench is a string");
        if bench == "list" {
            let names: Vec<&str> = BENCHES.iter().map(|b| b.0).collect();
            return js::start(move || names.join(" "));
        }
        let &(name, metric, ops, body) = BENCHES
            .iter()
            .find(|b| b.0 == bench)
            .unwrap_or_else(|| panic!("compare_js: unknown benchmark {bench:?}"));
        let reps = usize::try_from(setting("reps")).expect("reps is a count");
        let system = String::try_from(setting("system")).expect("system is a string");
        // B1's goroutines all live at once: compare.rs gives them 64 KiB stacks.
        let runtime = if name.starts_with("B1") {
            slab_runtime()
        } else {
            Runtime::new()
        };
        js::start_with(runtime, move || {
            let report = |d: Duration, metric: &str| {
                if ops == 0 {
                    emit(&system, name, metric, d.as_secs_f64() * 1e3, "ms");
                } else {
                    emit(
                        &system,
                        name,
                        metric,
                        d.as_nanos() as f64 / ops as f64,
                        "ns",
                    );
                }
            };
            // One untimed warm-up (B6 reports it as its cold run), then reps.
            let cold = body();
            if name == "B6" {
                report(cold, "cold_wall_ms");
            }
            for _ in 0..reps {
                // Back to the event loop between runs, as a JS program often
                // is: V8 cannot swap in optimised code for a running wasm
                // function (no OSR), only for the next call of the scheduler.
                gosched::sleep(Duration::from_millis(1));
                report(body(), metric);
            }
        });
    }
}
