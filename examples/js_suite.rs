//! The JS subset of gosched's integration suite, as a cdylib for
//! wasm32-unknown-unknown: each test is an exported entry that the loader
//! starts on a fresh instance; tests/js/suite.test.mjs (`node --test`) checks
//! what it returns, or the error it rejects with. Build and run it all with
//! `tools/js-test`. Natively this example is empty.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod suite {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use gosched::js::{self, JsValue, Promise};
    use gosched::{chan, go, js_main, select, sleep, RecvTimeoutError};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    // spawn/join: results come back through join, in any order of finishing.
    js_main!(test_spawn_join, || {
        let handles: Vec<_> = (1..=10u64)
            .map(|i| {
                go(move || {
                    sleep(ms(11 - i));
                    i * i
                })
            })
            .collect();
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(gosched::num_goroutines(), 1);
        sum
    });

    // Channels: rendezvous ping-pong, a buffered pipeline, close semantics.
    js_main!(test_channels, || {
        let (ping, ping_rx) = chan::<u32>(0);
        let (pong, pong_rx) = chan::<u32>(0);
        go(move || {
            for v in &ping_rx {
                pong.send(v + 1).unwrap();
            }
        });
        let mut v = 0;
        for _ in 0..1000 {
            ping.send(v).unwrap();
            v = pong_rx.recv().unwrap();
        }
        drop(ping);
        assert!(
            pong_rx.recv().is_err(),
            "closed when the echo goroutine ends"
        );

        let (tx, rx) = chan::<u32>(4);
        let (sq_tx, sq_rx) = chan::<u32>(4);
        go(move || (1..=5).for_each(|i| tx.send(i).unwrap()));
        go(move || rx.iter().for_each(|i| sq_tx.send(i * i).unwrap()));
        let squares: Vec<u32> = sq_rx.iter().collect();

        let (tx, rx) = chan::<&str>(2);
        tx.send("buffered").unwrap();
        tx.close();
        assert!(tx.send("late").is_err());
        let drained = rx.recv().unwrap();
        assert!(rx.recv().is_err());
        format!("{v} {squares:?} {drained}")
    });

    // select! with timeouts: the timeout fires when nothing is ready, a value
    // that arrives first wins, recv_timeout times out.
    js_main!(test_select_timeouts, || {
        let (_keep, never) = chan::<u32>(0);
        let start = gosched::now();
        let first = select! {
            recv(never) -> _ => "value",
            default(ms(20)) => "timeout",
        };
        let waited = gosched::now() - start;
        assert!(waited >= ms(20), "timed out after {waited:?}");

        let (tx, rx) = chan::<u32>(0);
        go(move || {
            sleep(ms(5));
            tx.send(7).unwrap();
        });
        let second = select! {
            recv(rx) -> v => format!("value {}", v.unwrap()),
            default(ms(2000)) => "timeout".to_owned(),
        };
        let third = match never.recv_timeout(ms(10)) {
            Err(RecvTimeoutError::Timeout) => "recv_timeout",
            other => panic!("{other:?}"),
        };
        let after = gosched::after(ms(5));
        select! { recv(after) -> _ => {} }
        format!("{first}, {second}, {third}")
    });

    // Timer, Ticker, after_func (Go 1.23 semantics) and a context deadline on
    // the JS event loop; an expired timer is ready to try_recv at once; the
    // wall clock works where std's SystemTime::now panics. Returns the wall
    // clock in ms since the epoch, which the test compares with Date.now().
    js_main!(test_timers_and_wall_clock, || {
        let timer = gosched::Timer::new(ms(5));
        assert!(timer.stop());
        assert!(timer.receiver().try_recv().is_err(), "no value after stop");
        assert!(!timer.reset(ms(1)));
        let start = gosched::now();
        while gosched::now() - start < ms(3) {}
        assert!(
            timer.receiver().try_recv().is_ok(),
            "expired: ready at once"
        );

        let ticker = gosched::Ticker::new(ms(2));
        let a = ticker.receiver().recv().unwrap();
        let b = ticker.receiver().recv().unwrap();
        assert!(b > a);
        ticker.stop();

        let (tx, rx) = chan(1);
        gosched::after_func(ms(1), move || tx.send("after_func").unwrap());
        assert_eq!(rx.recv().unwrap(), "after_func");

        use gosched::context::{self, ContextError};
        let (ctx, _cancel) = context::with_timeout(&context::background(), ms(2));
        let (_keep, never) = chan::<u32>(0);
        assert_eq!(
            never.recv_ctx(&ctx),
            Err(context::RecvCtxError::Done(ContextError::DeadlineExceeded))
        );

        let wall = gosched::system_time()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        wall.as_millis().to_string()
    });

    // Sleeps wake in deadline order, whatever the order they started in.
    js_main!(test_sleep_ordering, || {
        let order = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = [30u64, 10, 50, 20, 40]
            .into_iter()
            .map(|d| {
                let order = order.clone();
                go(move || {
                    sleep(ms(d));
                    order.borrow_mut().push(d);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let order = order.borrow();
        order
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });

    // Awaiting a promise parks only its goroutine: a ticker keeps running.
    js_main!(test_promise_resolves, || {
        let ticks = Rc::new(RefCell::new(0));
        let t = ticks.clone();
        let (stop_tx, stop_rx) = chan::<()>(0);
        let ticker = go(move || loop {
            select! {
                recv(stop_rx) -> _ => return,
                default(ms(2)) => *t.borrow_mut() += 1,
            }
        });
        let p = js::call("delay", &[30.into(), "resolved value".into()]).unwrap();
        let value = Promise::from(p).wait().unwrap();
        stop_tx.send(()).unwrap();
        ticker.join().unwrap();
        let ticks = *ticks.borrow();
        assert!(ticks >= 1, "the ticker did not run while main waited");
        // Non-promise values resolve at once; objects come back as handles.
        assert_eq!(Promise::resolve(5).wait().unwrap(), JsValue::Number(5.0));
        let obj = js::call("delay", &[1.into(), JsValue::Null]).unwrap();
        assert!(obj.as_object().is_some());
        value
    });

    // A rejected promise is an Err, and so is anything JS throws.
    js_main!(test_promise_rejects, || {
        let p = js::call("failLater", &[5.into(), "no luck".into()]).unwrap();
        let err = Promise::from(p).wait().unwrap_err();
        let thrown = js::call("JSON.parse", &["{".into()]).unwrap_err();
        assert!(thrown.message().starts_with("SyntaxError"), "{thrown}");
        let missing = js::call("no.such.function", &[]).unwrap_err();
        assert!(missing.message().starts_with("TypeError"), "{missing}");
        let plain = Promise::from(js::call("Promise.reject", &["plain".into()]).unwrap());
        assert_eq!(plain.wait().unwrap_err().message(), "plain");
        err.message().to_owned()
    });

    // Values round-trip through JS with their types.
    js_main!(test_values, || {
        let echo = |v: JsValue| js::call("echo", &[v]).unwrap();
        assert_eq!(echo(JsValue::Undefined), JsValue::Undefined);
        assert_eq!(echo(JsValue::Null), JsValue::Null);
        assert_eq!(echo(true.into()), JsValue::Bool(true));
        assert_eq!(echo(1.5.into()), JsValue::Number(1.5));
        assert_eq!(echo("héllo ✓".into()), JsValue::from("héllo ✓"));
        let obj = js::call("new Map", &[]).unwrap();
        let map = obj.as_object().unwrap();
        map.call("set", &["k".into(), 9.into()]).unwrap();
        assert_eq!(map.get("size").unwrap(), JsValue::Number(1.0));
        assert_eq!(
            map.call("get", &["k".into()]).unwrap(),
            JsValue::Number(9.0)
        );
        let again = map.clone();
        again.set("tag", "x").unwrap();
        assert_eq!(map.get("tag").unwrap().as_str(), Some("x"));
        assert_eq!(
            js::get("Math.PI").unwrap().as_f64(),
            Some(std::f64::consts::PI)
        );
        assert_eq!(u32::try_from(JsValue::Number(3.0)).unwrap(), 3);
        assert!(u32::try_from(JsValue::Number(-1.0)).is_err());
        obj // main's value: the loader resolves with the Map itself
    });

    // A channel fed by JS callbacks: JS sends from timers while main receives.
    js_main!(test_callback_channel, || {
        let events = js::callback_channel::<u32>("events", 16);
        js::call("sendEvents", &["events".into(), 5.into()]).unwrap();
        let got: Vec<u32> = events.iter().take(5).collect();
        // Later deliveries into a full channel are dropped, not blocked.
        let small = js::callback_channel::<JsValue>("small", 1);
        let delivered = js::call("sendNow", &["small".into(), 3.into()]).unwrap();
        assert_eq!(small.try_recv().unwrap(), JsValue::Number(0.0));
        drop(small);
        let after_drop = js::call("sendNow", &["small".into(), 1.into()]).unwrap();
        format!("{got:?} {delivered:?} {after_drop:?}")
    });

    // Goroutines blocked only on a JS callback are waiting, not deadlocked;
    // a goroutine started from a callback's value runs too.
    js_main!(test_idle_until_js_event, || {
        let wake = js::callback_channel::<String>("wake", 1);
        js::call("sendLater", &["wake".into(), 40.into(), "woken".into()]).unwrap();
        let start = gosched::now();
        let msg = wake.recv().unwrap();
        let waited = gosched::now() - start;
        assert!(waited >= ms(30), "woke after {waited:?}");
        msg
    });

    // Nothing can ever wake main: the runtime's deadlock report.
    js_main!(test_deadlock, || {
        let (_tx, rx) = chan::<u32>(0);
        go(move || sleep(ms(5)));
        rx.recv().unwrap()
    });

    // A panic rejects the loader's promise with its message.
    js_main!(test_panic, || {
        go(|| panic!("boom in a goroutine"));
        sleep(ms(10));
    });

    // 10k goroutines sleeping at once, on 16 KiB stacks.
    js_main!(test_many_sleepers, || {
        let hs: Vec<_> = (0..10_000u64)
            .map(|i| {
                gosched::Builder::new()
                    .stack_size(16 * 1024)
                    .spawn(move || {
                        sleep(ms(10));
                        i
                    })
                    .unwrap()
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });

    // Console output goes through the loader.
    js_main!(test_log, || {
        js::log("to the log");
        js::error(format_args!("to the error log: {}", 42));
    });

    // A goroutine that overflows its stack ends the instance: the check at a
    // switch aborts (wasm cannot unwind), and the loader rejects with the trap.
    js_main!(test_stack_overflow, || {
        #[allow(unconditional_recursion)]
        fn recurse(depth: u64) -> u64 {
            let frame = std::hint::black_box([depth; 16]);
            gosched::yield_now();
            recurse(depth + 1) + std::hint::black_box(frame)[3]
        }
        let deep = gosched::Builder::new().stack_size(64 * 1024);
        deep.spawn(|| recurse(0)).unwrap().join().unwrap()
    });
}
