//! The examples that check their own results, run as tests. (scripts/test-all
//! also checks that the docs show hello's and custom_platform's real output.)
#![cfg(not(target_arch = "wasm32"))]

macro_rules! run_examples {
    ($($name:ident = $path:literal),* $(,)?) => {$(
        #[path = $path]
        mod $name;

        #[test]
        fn $name() {
            $name::main();
        }
    )*};
}

run_examples!(
    custom_platform = "../examples/custom_platform.rs",
    ping_pong = "../examples/ping_pong.rs",
    worker_pool = "../examples/worker_pool.rs",
    pipeline = "../examples/pipeline.rs",
);
