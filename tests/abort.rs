//! Fatal and misuse cases, each run in a child process: deadlock reports and
//! stack overflows end the process (or its `run`), so the parent re-executes
//! this test binary to run just one scenario and checks how the child ended.
//!
//! Every test here is a pair in one function: in the parent, [`child`] starts
//! `<this binary> --exact <test name>` with [`CHILD_ENV`] set and returns the
//! child's exit status and stderr; in the child, the same call runs the
//! scenario instead.
#![cfg(unix)]

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Set (to the test's name) in a child process: run the scenario.
const CHILD_ENV: &str = "GOSCHED_ABORT_CHILD";
/// What a child writes to stderr before its scenario, followed by the test name.
const STARTED: &str = "abort.rs child scenario: ";
/// A child that takes longer has hung: it is killed and the test fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(20);
/// POSIX gives SIGABRT this number on every Unix gosched supports.
const SIGABRT: i32 = 6;
/// The exit code of a test binary whose test failed (panicked).
const TEST_FAILED: i32 = 101;

/// How a child process ended.
struct Outcome {
    status: ExitStatus,
    stderr: String,
}

impl Outcome {
    fn describe(&self) -> String {
        format!("status {:?}; stderr:\n{}", self.status, self.stderr)
    }

    /// The child panicked (the test harness turned that into exit code 101).
    fn assert_panicked(&self) {
        assert_eq!(self.status.code(), Some(TEST_FAILED), "{}", self.describe());
    }

    /// The child aborted (abort(3) raises SIGABRT).
    fn assert_aborted(&self) {
        assert_eq!(self.status.signal(), Some(SIGABRT), "{}", self.describe());
    }

    /// The child's scenario returned normally.
    fn assert_success(&self) {
        assert!(self.status.success(), "{}", self.describe());
    }

    /// The goroutine dump of a deadlock panic: the lines after the header, in
    /// order. Fails unless the panic message starts with the header.
    fn deadlock_dump(&self) -> Vec<&str> {
        const HEADER: &str = "all goroutines are asleep - deadlock!";
        // std prints `thread '..' panicked at file:line:col:` then the message
        // from the start of the next line.
        let start = self
            .stderr
            .find(&format!("\n{HEADER}\n"))
            .unwrap_or_else(|| panic!("no deadlock report; {}", self.describe()));
        self.stderr[start + HEADER.len() + 2..]
            .lines()
            .skip_while(|l| l.is_empty())
            .take_while(|l| l.starts_with("goroutine "))
            .collect()
    }
}

/// In the parent: runs the calling test (`test`, its exact name) in a child
/// process and returns how it ended. In the child: runs `scenario` and returns
/// `None`, so that the test function ends (and the child passes) when the
/// scenario returns.
fn child(test: &str, scenario: impl FnOnce()) -> Option<Outcome> {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        eprintln!("{STARTED}{test}");
        scenario();
        return None;
    }
    let mut process = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", test, "--include-ignored", "--nocapture"])
        .env(CHILD_ENV, test)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child test process");
    // Read stderr on a thread so that a chatty child cannot block on a full
    // pipe while we wait for it.
    let mut pipe = process.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).map(|_| text)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = process.try_wait().expect("wait for the child") {
            break status;
        }
        if started.elapsed() > CHILD_TIMEOUT {
            let _ = process.kill();
            let _ = process.wait();
            let stderr = reader.join().expect("reader thread").unwrap_or_default();
            panic!("child `{test}` hung for {CHILD_TIMEOUT:?}; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = reader
        .join()
        .expect("reader thread")
        .expect("child stderr is UTF-8");
    // Without this line the filter matched nothing and nothing was tested.
    assert!(
        stderr.contains(&format!("{STARTED}{test}\n")),
        "child `{test}` did not run its scenario; stderr:\n{stderr}"
    );
    Some(Outcome { status, stderr })
}

/// Parks the calling goroutine in `block_on` on a future that never holds on
/// to its waker: nothing can ever wake it.
fn park_forever() {
    gosched::block_on(std::future::pending::<()>());
}

#[test]
fn deadlock_main_joins_goroutine_stuck_on_future() {
    let Some(out) = child("deadlock_main_joins_goroutine_stuck_on_future", || {
        gosched::run(|| gosched::go(park_forever).join().unwrap());
    }) else {
        return;
    };
    out.assert_panicked();
    assert_eq!(
        out.deadlock_dump(),
        [r#"goroutine 1 "main" [join]"#, "goroutine 2 [future]"]
    );
}

#[test]
fn deadlock_dump_lists_every_live_goroutine_by_id_and_name() {
    let Some(out) = child(
        "deadlock_dump_lists_every_live_goroutine_by_id_and_name",
        || {
            gosched::run(|| {
                // Goroutine 2 finishes and must not appear in the dump.
                gosched::go(|| ()).join().unwrap();
                // 3 joins 5 (spawned when 3 first runs, after 4), which parks
                // forever; 4 is named and parked too.
                let chain = gosched::go(|| gosched::go(park_forever).join().unwrap());
                gosched::Builder::new()
                    .name("stuck worker".into())
                    .spawn(park_forever)
                    .unwrap();
                chain.join().unwrap();
            });
        },
    ) else {
        return;
    };
    out.assert_panicked();
    assert_eq!(
        out.deadlock_dump(),
        [
            r#"goroutine 1 "main" [join]"#,
            "goroutine 3 [join]",
            r#"goroutine 4 "stuck worker" [future]"#,
            "goroutine 5 [future]",
        ]
    );
}

#[test]
fn deadlock_of_main_alone() {
    let Some(out) = child("deadlock_of_main_alone", || gosched::run(park_forever)) else {
        return;
    };
    out.assert_panicked();
    assert_eq!(out.deadlock_dump(), [r#"goroutine 1 "main" [future]"#]);
}

#[test]
fn deadlock_is_reported_after_timers_run_out() {
    // A sleeping goroutine keeps the program alive; once it is done, the rest
    // is a deadlock.
    let Some(out) = child("deadlock_is_reported_after_timers_run_out", || {
        gosched::run(|| {
            let sleeper = gosched::go(|| gosched::sleep(Duration::from_millis(20)));
            gosched::go(park_forever);
            sleeper.join().unwrap();
            park_forever();
        });
    }) else {
        return;
    };
    out.assert_panicked();
    assert_eq!(
        out.deadlock_dump(),
        [r#"goroutine 1 "main" [future]"#, "goroutine 3 [future]"]
    );
}

#[test]
fn deadlock_of_two_goroutines_taking_two_mutexes_in_opposite_order() {
    let Some(out) = child(
        "deadlock_of_two_goroutines_taking_two_mutexes_in_opposite_order",
        || {
            use gosched::sync::Mutex;
            use std::rc::Rc;
            gosched::run(|| {
                let (a, b) = (Rc::new(Mutex::new(())), Rc::new(Mutex::new(())));
                let take = |first: Rc<Mutex<()>>, second: Rc<Mutex<()>>, name: &str| {
                    gosched::Builder::new()
                        .name(name.into())
                        .spawn(move || {
                            let _first = first.lock();
                            gosched::yield_now(); // let the other take its first
                            let _second = second.lock();
                        })
                        .unwrap()
                };
                let ab = take(a.clone(), b.clone(), "a then b");
                let ba = take(b, a, "b then a");
                ab.join().unwrap();
                ba.join().unwrap();
            });
        },
    ) else {
        return;
    };
    out.assert_panicked();
    assert_eq!(
        out.deadlock_dump(),
        [
            r#"goroutine 1 "main" [join]"#,
            r#"goroutine 2 "a then b" [mutex]"#,
            r#"goroutine 3 "b then a" [mutex]"#,
        ]
    );
}

#[test]
fn deadlock_of_main_sending_on_a_channel_nobody_receives() {
    // Go's best-known deadlock: `ch := make(chan int); ch <- 1`.
    let Some(out) = child(
        "deadlock_of_main_sending_on_a_channel_nobody_receives",
        || {
            gosched::run(|| {
                let (tx, _rx) = gosched::chan::<i32>(0);
                tx.send(1).unwrap();
            });
        },
    ) else {
        return;
    };
    out.assert_panicked();
    assert_eq!(out.deadlock_dump(), [r#"goroutine 1 "main" [chan send]"#]);
}

#[test]
fn deadlock_of_a_select_and_a_receive_nobody_sends_to() {
    // The worker ranges over a channel that main forgot to close (main still
    // holds its sender) while main waits in a select.
    let Some(out) = child("deadlock_of_a_select_and_a_receive_nobody_sends_to", || {
        gosched::run(|| {
            let (jobs, queue) = gosched::chan::<u32>(4);
            let (_results_tx, results) = gosched::chan::<u32>(0);
            let (_quit_tx, quit) = gosched::chan::<()>(0);
            gosched::Builder::new()
                .name("worker".into())
                .spawn(move || queue.iter().count())
                .unwrap();
            jobs.send(7).unwrap();
            gosched::select! {
                recv(results) -> _ => (),
                recv(quit) -> _ => (),
            }
            drop(jobs);
        });
    }) else {
        return;
    };
    out.assert_panicked();
    assert_eq!(
        out.deadlock_dump(),
        [
            r#"goroutine 1 "main" [select]"#,
            r#"goroutine 2 "worker" [chan receive]"#,
        ]
    );
}

#[test]
fn future_whose_waker_another_thread_holds_is_not_a_deadlock() {
    let Some(out) = child(
        "future_whose_waker_another_thread_holds_is_not_a_deadlock",
        || {
            let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
            let waker_thread = std::thread::spawn(move || {
                let waker = rx.recv().unwrap();
                // Long enough that the scheduler has nothing else to do and
                // goes idle with only this waker outstanding.
                std::thread::sleep(Duration::from_millis(100));
                waker.wake();
            });
            let polls = gosched::run(move || {
                let mut polls = 0;
                gosched::block_on(std::future::poll_fn(|cx| {
                    polls += 1;
                    if polls == 1 {
                        tx.send(cx.waker().clone()).unwrap();
                        return std::task::Poll::Pending;
                    }
                    std::task::Poll::Ready(())
                }));
                polls
            });
            waker_thread.join().unwrap();
            assert_eq!(polls, 2);
        },
    ) else {
        return;
    };
    out.assert_success();
}

#[test]
fn future_whose_waker_is_dropped_unwoken_is_a_deadlock() {
    let Some(out) = child(
        "future_whose_waker_is_dropped_unwoken_is_a_deadlock",
        || {
            let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
            let dropper = std::thread::spawn(move || {
                let waker = rx.recv().unwrap();
                std::thread::sleep(Duration::from_millis(100));
                drop(waker);
            });
            gosched::run(move || {
                let mut sent = false;
                gosched::block_on(std::future::poll_fn(|cx| {
                    if !sent {
                        sent = true;
                        tx.send(cx.waker().clone()).unwrap();
                    }
                    std::task::Poll::<()>::Pending
                }));
            });
            dropper.join().unwrap();
        },
    ) else {
        return;
    };
    out.assert_panicked();
    assert_eq!(out.deadlock_dump(), [r#"goroutine 1 "main" [future]"#]);
}

/// Recurses until the stack runs out. Each frame keeps a small buffer alive
/// across the call (smaller than a guard page, so no frame can skip the guard)
/// and `black_box` stops the compiler from turning this into a loop.
#[allow(unconditional_recursion)] // the point: run out of stack
fn recurse_forever(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    recurse_forever(depth + 1) + std::hint::black_box(frame)[3]
}

/// As [`recurse_forever`], yielding at every level: on slab stacks the
/// stack-pointer check at each switch sees the overflow.
#[allow(unconditional_recursion)]
fn recurse_forever_yielding(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    gosched::yield_now();
    recurse_forever_yielding(depth + 1) + std::hint::black_box(frame)[3]
}

/// Runs `body` on a goroutine named "deep" with 64 KiB of stack on `rt`.
fn overflow_in_named_goroutine(rt: gosched::Runtime, body: fn(u64) -> u64) {
    rt.run(move || {
        let h = gosched::Builder::new()
            .name("deep".into())
            .stack_size(64 * 1024)
            .spawn(move || body(0))
            .unwrap();
        h.join().map(drop).unwrap();
    });
}

/// Runs `scenario` as the child for `test` and expects it to abort with the
/// overflow report of the 64 KiB goroutine "deep".
fn expect_overflow_report(test: &str, scenario: impl FnOnce()) {
    let Some(out) = child(test, scenario) else {
        return;
    };
    out.assert_aborted();
    assert!(
        out.stderr
            .contains("fatal error: stack overflow in goroutine 2 \"deep\" (stack size 64 KiB"),
        "{}",
        out.describe()
    );
}

#[test]
fn stack_overflow_on_guarded_stack_aborts_naming_the_goroutine() {
    expect_overflow_report(
        "stack_overflow_on_guarded_stack_aborts_naming_the_goroutine",
        || overflow_in_named_goroutine(gosched::Runtime::new(), recurse_forever),
    );
}

/// A slab runtime whose goroutines overflow on purpose: the test checks that
/// the runtime catches what the `unsafe` contract forbids.
fn unguarded() -> gosched::Runtime {
    // SAFETY: not upheld on purpose, in a child process that is expected to
    // abort. The overflowing goroutine gets the second stack of a fresh slab
    // chunk (main has the first), so it runs into free stacks of the chunk:
    // a switch finds its stack pointer past the canary, and a recursion that
    // never switches reaches the chunk's guard page.
    unsafe { gosched::Runtime::new().unguarded_stacks() }
}

#[test]
fn stack_overflow_on_unguarded_stack_is_caught_at_a_switch() {
    expect_overflow_report(
        "stack_overflow_on_unguarded_stack_is_caught_at_a_switch",
        || overflow_in_named_goroutine(unguarded(), recurse_forever_yielding),
    );
}

#[test]
fn stack_overflow_on_unguarded_stack_without_switches() {
    expect_overflow_report("stack_overflow_on_unguarded_stack_without_switches", || {
        overflow_in_named_goroutine(unguarded(), recurse_forever)
    });
}

/// As [`overflow_in_named_goroutine`], but "deep" is entered by hand-offs
/// (natively, from a goroutine that parks or yields straight to it): it
/// starts parked in a receive, main's send puts it in `runnext` and main's
/// join hands over to it; a second goroutine yields forever, so that every
/// yield of "deep" hands over to it and back.
fn overflow_in_goroutine_entered_by_hand_off(rt: gosched::Runtime, body: fn(u64) -> u64) {
    rt.run(move || {
        let (tx, rx) = gosched::chan::<u64>(0);
        let h = gosched::Builder::new()
            .name("deep".into())
            .stack_size(64 * 1024)
            .spawn(move || body(rx.recv().unwrap()))
            .unwrap();
        gosched::go(|| loop {
            gosched::yield_now();
        });
        gosched::yield_now(); // "deep" parks in recv
        tx.send(0).unwrap();
        h.join().map(drop).unwrap();
    });
}

#[test]
fn stack_overflow_in_a_goroutine_entered_by_hand_off_names_it() {
    expect_overflow_report(
        "stack_overflow_in_a_goroutine_entered_by_hand_off_names_it",
        || overflow_in_goroutine_entered_by_hand_off(gosched::Runtime::new(), recurse_forever),
    );
}

#[test]
fn stack_overflow_on_unguarded_stack_is_caught_at_a_hand_off() {
    expect_overflow_report(
        "stack_overflow_on_unguarded_stack_is_caught_at_a_hand_off",
        || overflow_in_goroutine_entered_by_hand_off(unguarded(), recurse_forever_yielding),
    );
}

#[test]
fn overflow_of_the_main_goroutine_names_main() {
    let Some(out) = child("overflow_of_the_main_goroutine_names_main", || {
        gosched::Runtime::new()
            .stack_size(64 * 1024)
            .run(|| recurse_forever(0));
    }) else {
        return;
    };
    out.assert_aborted();
    assert!(
        out.stderr
            .contains("fatal error: stack overflow in goroutine 1 \"main\""),
        "{}",
        out.describe()
    );
}

#[test]
fn overflow_of_the_os_thread_stack_is_not_blamed_on_a_goroutine() {
    // gosched's fault handler must pass faults it does not own to std's, which
    // reports the thread's own overflow.
    let Some(out) = child(
        "overflow_of_the_os_thread_stack_is_not_blamed_on_a_goroutine",
        || {
            gosched::run(|| ());
            let t = std::thread::Builder::new()
                .name("plain thread".into())
                .stack_size(256 * 1024)
                .spawn(|| recurse_forever(0))
                .unwrap();
            let _ = t.join();
        },
    ) else {
        return;
    };
    out.assert_aborted();
    // std's report: "thread 'plain thread' (<tid>) has overflowed its stack".
    let report = out
        .stderr
        .lines()
        .find(|l| l.contains("has overflowed its stack"))
        .unwrap_or_else(|| panic!("no report from std; {}", out.describe()));
    assert!(report.starts_with("thread 'plain thread'"), "{report}");
    assert!(
        !out.stderr.contains("stack overflow in goroutine"),
        "{}",
        out.describe()
    );
}

#[test]
fn blocking_in_a_destructor_at_shutdown_aborts_with_a_message() {
    let Some(out) = child(
        "blocking_in_a_destructor_at_shutdown_aborts_with_a_message",
        || {
            struct BlocksOnDrop(gosched::Receiver<()>);
            impl Drop for BlocksOnDrop {
                fn drop(&mut self) {
                    let _ = self.0.recv();
                }
            }
            gosched::run(|| {
                let (_tx, rx) = gosched::chan::<()>(0);
                gosched::go(move || {
                    let _guard = BlocksOnDrop(rx);
                    gosched::sleep(Duration::from_secs(3600));
                });
                gosched::yield_now();
                std::mem::forget(_tx);
            });
        },
    ) else {
        return;
    };
    out.assert_aborted();
    assert!(
        out.stderr
            .contains("would block in a goroutine that is being unwound because main returned"),
        "{}",
        out.describe()
    );
}
