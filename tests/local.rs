//! Goroutine-local storage (`gosched::goroutine_local!`), natively and on wasm.

use std::cell::{Cell, RefCell};

gosched::goroutine_local! {
    static COUNTER: Cell<u64> = Cell::new(0);
    static LOG: RefCell<Vec<u64>> = RefCell::new(Vec::new());
    static INITS: Cell<u32> = Cell::new(0);
}

thread_local! {
    /// Counts initializer runs of `LAZY` on this test's thread.
    static LAZY_INITS: Cell<u32> = const { Cell::new(0) };
    /// Records drops of `Noisy` values, in order.
    static DROPS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

gosched::goroutine_local! {
    static LAZY: u64 = {
        LAZY_INITS.set(LAZY_INITS.get() + 1);
        gosched::current_id() * 10
    };
}

#[test]
fn each_goroutine_has_its_own_value_across_switches() {
    let sums = gosched::run(|| {
        let hs: Vec<_> = (1..=100u64)
            .map(|i| {
                gosched::go(move || {
                    for _ in 0..5 {
                        COUNTER.set(COUNTER.get() + i);
                        LOG.with_borrow_mut(|log| log.push(i));
                        gosched::yield_now();
                    }
                    (COUNTER.get(), LOG.with_borrow(|log| log.clone()))
                })
            })
            .collect();
        COUNTER.set(7);
        let sums: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(COUNTER.get(), 7, "main's value is its own");
        assert!(LOG.with_borrow(|log| log.is_empty()));
        sums
    });
    for (i, (sum, log)) in (1..=100u64).zip(sums) {
        assert_eq!(sum, 5 * i);
        assert_eq!(log, vec![i; 5]);
    }
}

#[test]
fn initializer_runs_once_per_goroutine_on_first_use() {
    LAZY_INITS.set(0);
    let seen = gosched::run(|| {
        let untouched = gosched::go(gosched::yield_now);
        let a = gosched::go(|| (LAZY.with(|v| *v), LAZY.with(|v| *v)));
        untouched.join().unwrap();
        a.join().unwrap()
    });
    assert_eq!(seen, (30, 30), "goroutine 3 saw its own value twice");
    assert_eq!(LAZY_INITS.get(), 1, "only the goroutine that used the key");
}

struct Noisy(String);

impl Drop for Noisy {
    fn drop(&mut self) {
        DROPS.with_borrow_mut(|d| d.push(self.0.clone()));
    }
}

gosched::goroutine_local! {
    static NOISY: RefCell<Option<Noisy>> = RefCell::new(None);
}

#[test]
fn values_drop_when_their_goroutine_ends_before_join_returns() {
    DROPS.with_borrow_mut(Vec::clear);
    gosched::run(|| {
        let h = gosched::go(|| {
            NOISY.with_borrow_mut(|n| *n = Some(Noisy("child".into())));
            gosched::yield_now();
        });
        NOISY.with_borrow_mut(|n| *n = Some(Noisy("main".into())));
        h.join().unwrap();
        assert_eq!(DROPS.with_borrow(Vec::clone), ["child"]);
    });
    assert_eq!(DROPS.with_borrow(Vec::clone), ["child", "main"]);
}

#[test]
fn values_of_goroutines_still_parked_when_main_returns_drop_before_run_returns() {
    DROPS.with_borrow_mut(Vec::clear);
    gosched::run(|| {
        // Parked for good: unwound natively, abandoned on wasm.
        gosched::go(|| {
            NOISY.with_borrow_mut(|n| *n = Some(Noisy("parked".into())));
            gosched::block_on(std::future::pending::<()>());
        });
        gosched::yield_now();
        assert!(DROPS.with_borrow(Vec::is_empty));
    });
    assert_eq!(DROPS.with_borrow(Vec::clone), ["parked"]);
}

#[test]
fn a_destructor_may_use_other_keys() {
    struct UsesNoisy;
    impl Drop for UsesNoisy {
        fn drop(&mut self) {
            NOISY.with_borrow_mut(|n| *n = Some(Noisy("from a destructor".into())));
        }
    }
    gosched::goroutine_local!(static USES: RefCell<Option<UsesNoisy>> = RefCell::new(None));
    DROPS.with_borrow_mut(Vec::clear);
    gosched::run(|| {
        gosched::go(|| USES.with_borrow_mut(|u| *u = Some(UsesNoisy)))
            .join()
            .unwrap();
    });
    assert_eq!(DROPS.with_borrow(Vec::clone), ["from a destructor"]);
}

#[test]
fn access_outside_a_goroutine_is_an_error() {
    assert_eq!(INITS.try_with(Cell::get), Err(gosched::local::AccessError));
    assert_eq!(gosched::run(|| INITS.try_with(Cell::get)), Ok(0));
}

#[test]
#[should_panic(expected = "must be called inside a goroutine")]
fn with_outside_a_goroutine_panics() {
    COUNTER.get();
}

#[test]
fn thread_local_is_shared_by_goroutines_but_goroutine_local_is_not() {
    thread_local!(static SHARED: Cell<u32> = const { Cell::new(0) });
    gosched::goroutine_local!(static OWN: Cell<u32> = Cell::new(0));
    let (shared, own) = gosched::run(|| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                gosched::go(|| {
                    SHARED.set(SHARED.get() + 1);
                    OWN.set(OWN.get() + 1);
                    gosched::yield_now();
                    (SHARED.get(), OWN.get())
                })
            })
            .collect();
        let seen: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        (
            seen.iter().map(|s| s.0).collect::<Vec<_>>(),
            seen.iter().map(|s| s.1).collect::<Vec<_>>(),
        )
    });
    assert_eq!(shared, [3, 3, 3]);
    assert_eq!(own, [1, 1, 1]);
}
