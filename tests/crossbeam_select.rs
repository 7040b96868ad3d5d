//! crossbeam-channel's tests/select.rs (crossbeam-rs/crossbeam at 7de845a),
//! ported: the run-time `Select`.
//!
//! Each test body runs inside `gosched::run`; threads are goroutines (see
//! tests/support/crossbeam.rs); every assertion is kept. What differs on
//! purpose, because gosched follows Go (the tests concerned say so):
//! - `Select::send` takes the value when the operation is added (Go's select
//!   evaluates it up front and a parked select must have it for a receiver
//!   to take), and `SelectedOperation::send` only reports the result;
//!   crossbeam passes the value to `SelectedOperation::send`;
//! - so a send operation sends its value once: a `Select` reused for many
//!   sends (`reuse`) or cloned for senders of different values
//!   (`sync_and_clone`, `send_and_clone`) needs the value fixed up front;
//! - `tick(Duration::ZERO)` panics, as Go's `time.NewTicker(0)` does;
//! - upper bounds on elapsed time get `LOAD_SLACK` (shared test machines);
//! - crossbeam's `Disconnected` errors are gosched's `Closed`;
//! - the last six tests check crossbeam's behaviour when a
//!   `SelectedOperation` is dropped or forgotten uncompleted (it hangs the
//!   channel); in gosched the operation is complete when `select` returns.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::mem;
use std::rc::Rc;
use std::time::{Duration, Instant};

use gosched::{after, go, run, sleep, tick, yield_now, Receiver, Select, TryRecvError};

#[path = "support/crossbeam.rs"]
mod crossbeam;
use crossbeam::{bounded, ms, scope, unbounded, LOAD_SLACK};

#[test]
fn smoke1() {
    run(|| {
        let (s1, r1) = unbounded::<usize>();
        let (s2, r2) = unbounded::<usize>();

        s1.send(1).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
            i if i == oper2 => panic!(),
            _ => unreachable!(),
        }

        s2.send(2).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => panic!(),
            i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
            _ => unreachable!(),
        }
    });
}

#[test]
fn smoke2() {
    run(|| {
        let (_s1, r1) = unbounded::<i32>();
        let (_s2, r2) = unbounded::<i32>();
        let (_s3, r3) = unbounded::<i32>();
        let (_s4, r4) = unbounded::<i32>();
        let (s5, r5) = unbounded::<i32>();

        s5.send(5).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper3 = sel.recv(&r3);
        let oper4 = sel.recv(&r4);
        let oper5 = sel.recv(&r5);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => panic!(),
            i if i == oper2 => panic!(),
            i if i == oper3 => panic!(),
            i if i == oper4 => panic!(),
            i if i == oper5 => assert_eq!(oper.recv(&r5), Ok(5)),
            _ => unreachable!(),
        }
    });
}

#[test]
fn disconnected() {
    run(|| {
        let (s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();
        let s2 = Rc::new(s2);

        scope(|scope| {
            let s2 = s2.clone();
            scope.spawn(move |_| {
                drop(s1);
                sleep(ms(500));
                s2.send(5).unwrap();
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select_timeout(ms(1000));
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => assert!(oper.recv(&r1).is_err()),
                    i if i == oper2 => panic!(),
                    _ => unreachable!(),
                },
            }

            r2.recv().unwrap();
        })
        .unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select_timeout(ms(1000));
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.recv(&r1).is_err()),
                i if i == oper2 => panic!(),
                _ => unreachable!(),
            },
        }

        scope(|scope| {
            scope.spawn(move |_| {
                sleep(ms(500));
                drop(s2);
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r2);
            let oper = sel.select_timeout(ms(1000));
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => assert!(oper.recv(&r2).is_err()),
                    _ => unreachable!(),
                },
            }
        })
        .unwrap();
    });
}

#[test]
fn default() {
    run(|| {
        let (s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();

        let mut sel = Select::new();
        let _oper1 = sel.recv(&r1);
        let _oper2 = sel.recv(&r2);
        let oper = sel.try_select();
        match oper {
            Err(_) => {}
            Ok(_) => panic!(),
        }

        drop(s1);

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.try_select();
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.recv(&r1).is_err()),
                i if i == oper2 => panic!(),
                _ => unreachable!(),
            },
        }

        s2.send(2).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r2);
        let oper = sel.try_select();
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert_eq!(oper.recv(&r2), Ok(2)),
                _ => unreachable!(),
            },
        }

        let mut sel = Select::new();
        let _oper1 = sel.recv(&r2);
        let oper = sel.try_select();
        match oper {
            Err(_) => {}
            Ok(_) => panic!(),
        }

        let mut sel = Select::new();
        let oper = sel.try_select();
        match oper {
            Err(_) => {}
            Ok(_) => panic!(),
        }
    });
}

#[test]
fn timeout() {
    run(|| {
        let (_s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();

        scope(|scope| {
            scope.spawn(move |_| {
                sleep(ms(1500));
                s2.send(2).unwrap();
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select_timeout(ms(1000));
            match oper {
                Err(_) => {}
                Ok(oper) => match oper.index() {
                    i if i == oper1 => panic!(),
                    i if i == oper2 => panic!(),
                    _ => unreachable!(),
                },
            }

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select_timeout(ms(1000));
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => panic!(),
                    i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
                    _ => unreachable!(),
                },
            }
        })
        .unwrap();

        scope(|scope| {
            let (s, r) = unbounded::<i32>();

            scope.spawn(move |_| {
                sleep(ms(500));
                drop(s);
            });

            let mut sel = Select::new();
            let oper = sel.select_timeout(ms(1000));
            match oper {
                Err(_) => {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r);
                    let oper = sel.try_select();
                    match oper {
                        Err(_) => panic!(),
                        Ok(oper) => match oper.index() {
                            i if i == oper1 => assert!(oper.recv(&r).is_err()),
                            _ => unreachable!(),
                        },
                    }
                }
                Ok(_) => unreachable!(),
            }
        })
        .unwrap();
    });
}

#[test]
fn default_when_disconnected() {
    run(|| {
        let (_, r) = unbounded::<i32>();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.try_select();
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.recv(&r).is_err()),
                _ => unreachable!(),
            },
        }

        let (_, r) = unbounded::<i32>();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select_timeout(ms(1000));
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.recv(&r).is_err()),
                _ => unreachable!(),
            },
        }

        let (s, _) = bounded::<i32>(0);

        let mut sel = Select::new();
        let oper1 = sel.send(&s, 0);
        let oper = sel.try_select();
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.send(&s).is_err()),
                _ => unreachable!(),
            },
        }

        let (s, _) = bounded::<i32>(0);

        let mut sel = Select::new();
        let oper1 = sel.send(&s, 0);
        let oper = sel.select_timeout(ms(1000));
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.send(&s).is_err()),
                _ => unreachable!(),
            },
        }
    });
}

#[test]
fn default_only() {
    run(|| {
        let start = Instant::now();

        let mut sel = Select::new();
        let oper = sel.try_select();
        assert!(oper.is_err());
        let now = Instant::now();
        assert!(now - start <= ms(50) + LOAD_SLACK);

        let start = Instant::now();
        let mut sel = Select::new();
        let oper = sel.select_timeout(ms(500));
        assert!(oper.is_err());
        let now = Instant::now();
        assert!(now - start >= ms(450));
        assert!(now - start <= ms(550) + LOAD_SLACK);
    });
}

#[test]
fn unblocks() {
    run(|| {
        let (s1, r1) = bounded::<i32>(0);
        let (s2, r2) = bounded::<i32>(0);
        let s2 = Rc::new(s2);

        scope(|scope| {
            let s2 = s2.clone();
            scope.spawn(move |_| {
                sleep(ms(500));
                s2.send(2).unwrap();
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select_timeout(ms(1000));
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => panic!(),
                    i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
                    _ => unreachable!(),
                },
            }
        })
        .unwrap();

        scope(|scope| {
            scope.spawn(move |_| {
                sleep(ms(500));
                assert_eq!(r1.recv().unwrap(), 1);
            });

            let mut sel = Select::new();
            let oper1 = sel.send(&s1, 1);
            let oper2 = sel.send(&s2, 2);
            let oper = sel.select_timeout(ms(1000));
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => oper.send(&s1).unwrap(),
                    i if i == oper2 => panic!(),
                    _ => unreachable!(),
                },
            }
        })
        .unwrap();
    });
}

#[test]
fn both_ready() {
    run(|| {
        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);

        scope(|scope| {
            scope.spawn(move |_| {
                sleep(ms(500));
                s1.send(1).unwrap();
                assert_eq!(r2.recv().unwrap(), 2);
            });

            for _ in 0..2 {
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.send(&s2, 2);
                let oper = sel.select();
                match oper.index() {
                    i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
                    i if i == oper2 => oper.send(&s2).unwrap(),
                    _ => unreachable!(),
                }
            }
        })
        .unwrap();
    });
}

#[test]
fn loop_try() {
    run(|| {
        const RUNS: usize = 20;

        for _ in 0..RUNS {
            let (s1, r1) = bounded::<i32>(0);
            let (s2, r2) = bounded::<i32>(0);
            let (s_end, r_end) = bounded::<()>(0);
            let r_end = Rc::new(r_end);

            scope(|scope| {
                let (r_end1, r_end2) = (r_end.clone(), r_end.clone());
                scope.spawn(move |_| {
                    let r_end = r_end1;
                    loop {
                        // Goroutines are not preempted: a busy loop must yield
                        // for the others to run (threads in crossbeam).
                        yield_now();
                        let mut done = false;

                        let mut sel = Select::new();
                        let oper1 = sel.send(&s1, 1);
                        let oper = sel.try_select();
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                i if i == oper1 => {
                                    let _ = oper.send(&s1);
                                    done = true;
                                }
                                _ => unreachable!(),
                            },
                        }
                        if done {
                            break;
                        }

                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r_end);
                        let oper = sel.try_select();
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                i if i == oper1 => {
                                    let _ = oper.recv(&r_end);
                                    done = true;
                                }
                                _ => unreachable!(),
                            },
                        }
                        if done {
                            break;
                        }
                    }
                });

                scope.spawn(move |_| {
                    let r_end = r_end2;
                    loop {
                        yield_now();
                        if let Ok(x) = r2.try_recv() {
                            assert_eq!(x, 2);
                            break;
                        }

                        let mut done = false;
                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r_end);
                        let oper = sel.try_select();
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                i if i == oper1 => {
                                    let _ = oper.recv(&r_end);
                                    done = true;
                                }
                                _ => unreachable!(),
                            },
                        }
                        if done {
                            break;
                        }
                    }
                });

                scope.spawn(move |_| {
                    sleep(ms(500));

                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r1);
                    let oper2 = sel.send(&s2, 2);
                    let oper = sel.select_timeout(ms(1000));
                    match oper {
                        Err(_) => {}
                        Ok(oper) => match oper.index() {
                            i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
                            i if i == oper2 => assert!(oper.send(&s2).is_ok()),
                            _ => unreachable!(),
                        },
                    }

                    drop(s_end);
                });
            })
            .unwrap();
        }
    });
}

#[test]
fn cloning1() {
    run(|| {
        scope(|scope| {
            let (s1, r1) = unbounded::<i32>();
            let (_s2, r2) = unbounded::<i32>();
            let (s3, r3) = unbounded::<()>();

            scope.spawn(move |_| {
                r3.recv().unwrap();
                drop(s1.clone());
                assert!(r3.try_recv().is_err());
                s1.send(1).unwrap();
                r3.recv().unwrap();
            });

            s3.send(()).unwrap();

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select();
            match oper.index() {
                i if i == oper1 => drop(oper.recv(&r1)),
                i if i == oper2 => drop(oper.recv(&r2)),
                _ => unreachable!(),
            }

            s3.send(()).unwrap();
        })
        .unwrap();
    });
}

#[test]
fn cloning2() {
    run(|| {
        let (s1, r1) = unbounded::<()>();
        let (s2, r2) = unbounded::<()>();
        let (_s3, _r3) = unbounded::<()>();

        scope(|scope| {
            scope.spawn(move |_| {
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.recv(&r2);
                let oper = sel.select();
                match oper.index() {
                    i if i == oper1 => panic!(),
                    i if i == oper2 => drop(oper.recv(&r2)),
                    _ => unreachable!(),
                }
            });

            sleep(ms(500));
            drop(s1.clone());
            s2.send(()).unwrap();
        })
        .unwrap();
    });
}

#[test]
fn preflight1() {
    run(|| {
        let (s, r) = unbounded();
        s.send(()).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => drop(oper.recv(&r)),
            _ => unreachable!(),
        }
    });
}

#[test]
fn preflight2() {
    run(|| {
        let (s, r) = unbounded();
        drop(s.clone());
        s.send(()).unwrap();
        drop(s);

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => assert_eq!(oper.recv(&r), Ok(())),
            _ => unreachable!(),
        }

        assert_eq!(r.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn preflight3() {
    run(|| {
        let (s, r) = unbounded();
        drop(s.clone());
        s.send(()).unwrap();
        drop(s);
        r.recv().unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => assert!(oper.recv(&r).is_err()),
            _ => unreachable!(),
        }
    });
}

#[test]
fn duplicate_operations() {
    run(|| {
        let (s, r) = unbounded::<i32>();
        let hit = vec![Cell::new(false); 4];

        while hit.iter().map(|h| h.get()).any(|hit| !hit) {
            let mut sel = Select::new();
            let oper0 = sel.recv(&r);
            let oper1 = sel.recv(&r);
            let oper2 = sel.send(&s, 0);
            let oper3 = sel.send(&s, 0);
            let oper = sel.select();
            match oper.index() {
                i if i == oper0 => {
                    assert!(oper.recv(&r).is_ok());
                    hit[0].set(true);
                }
                i if i == oper1 => {
                    assert!(oper.recv(&r).is_ok());
                    hit[1].set(true);
                }
                i if i == oper2 => {
                    assert!(oper.send(&s).is_ok());
                    hit[2].set(true);
                }
                i if i == oper3 => {
                    assert!(oper.send(&s).is_ok());
                    hit[3].set(true);
                }
                _ => unreachable!(),
            }
        }
    });
}

#[test]
fn nesting() {
    run(|| {
        let (s, r) = unbounded::<i32>();

        let mut sel = Select::new();
        let oper1 = sel.send(&s, 0);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => {
                assert!(oper.send(&s).is_ok());

                let mut sel = Select::new();
                let oper1 = sel.recv(&r);
                let oper = sel.select();
                match oper.index() {
                    i if i == oper1 => {
                        assert_eq!(oper.recv(&r), Ok(0));

                        let mut sel = Select::new();
                        let oper1 = sel.send(&s, 1);
                        let oper = sel.select();
                        match oper.index() {
                            i if i == oper1 => {
                                assert!(oper.send(&s).is_ok());

                                let mut sel = Select::new();
                                let oper1 = sel.recv(&r);
                                let oper = sel.select();
                                match oper.index() {
                                    i if i == oper1 => {
                                        assert_eq!(oper.recv(&r), Ok(1));
                                    }
                                    _ => unreachable!(),
                                }
                            }
                            _ => unreachable!(),
                        }
                    }
                    _ => unreachable!(),
                }
            }
            _ => unreachable!(),
        }
    });
}

#[test]
fn stress_recv() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 50 } else { 10_000 };

        let (s1, r1) = unbounded();
        let (s2, r2) = bounded(5);
        let (s3, r3) = bounded(100);

        scope(|scope| {
            scope.spawn(move |_| {
                for i in 0..COUNT {
                    s1.send(i).unwrap();
                    r3.recv().unwrap();

                    s2.send(i).unwrap();
                    r3.recv().unwrap();
                }
            });

            for i in 0..COUNT {
                for _ in 0..2 {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r1);
                    let oper2 = sel.recv(&r2);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                        ix if ix == oper2 => assert_eq!(oper.recv(&r2), Ok(i)),
                        _ => unreachable!(),
                    }

                    s3.send(()).unwrap();
                }
            }
        })
        .unwrap();
    });
}

#[test]
fn stress_send() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 50 } else { 10_000 };

        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let (s3, r3) = bounded(100);

        scope(|scope| {
            scope.spawn(move |_| {
                for i in 0..COUNT {
                    assert_eq!(r1.recv().unwrap(), i);
                    assert_eq!(r2.recv().unwrap(), i);
                    r3.recv().unwrap();
                }
            });

            for i in 0..COUNT {
                for _ in 0..2 {
                    let mut sel = Select::new();
                    let oper1 = sel.send(&s1, i);
                    let oper2 = sel.send(&s2, i);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert!(oper.send(&s1).is_ok()),
                        ix if ix == oper2 => assert!(oper.send(&s2).is_ok()),
                        _ => unreachable!(),
                    }
                }
                s3.send(()).unwrap();
            }
        })
        .unwrap();
    });
}

#[test]
fn stress_mixed() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 100 } else { 10_000 };

        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let (s3, r3) = bounded(100);

        scope(|scope| {
            scope.spawn(move |_| {
                for i in 0..COUNT {
                    s1.send(i).unwrap();
                    assert_eq!(r2.recv().unwrap(), i);
                    r3.recv().unwrap();
                }
            });

            for i in 0..COUNT {
                for _ in 0..2 {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r1);
                    let oper2 = sel.send(&s2, i);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(&s2).is_ok()),
                        _ => unreachable!(),
                    }
                }
                s3.send(()).unwrap();
            }
        })
        .unwrap();
    });
}

#[test]
fn stress_timeout_two_threads() {
    run(|| {
        const COUNT: usize = 20;

        let (s, r) = bounded(2);

        scope(|scope| {
            scope.spawn(move |_| {
                for i in 0..COUNT {
                    if i % 2 == 0 {
                        sleep(ms(500));
                    }

                    loop {
                        let mut sel = Select::new();
                        let oper1 = sel.send(&s, i);
                        let oper = sel.select_timeout(ms(100));
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                ix if ix == oper1 => {
                                    assert!(oper.send(&s).is_ok());
                                    break;
                                }
                                _ => unreachable!(),
                            },
                        }
                    }
                }
            });

            scope.spawn(move |_| {
                for i in 0..COUNT {
                    if i % 2 == 0 {
                        sleep(ms(500));
                    }

                    loop {
                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r);
                        let oper = sel.select_timeout(ms(100));
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                ix if ix == oper1 => {
                                    assert_eq!(oper.recv(&r), Ok(i));
                                    break;
                                }
                                _ => unreachable!(),
                            },
                        }
                    }
                }
            });
        })
        .unwrap();
    });
}

#[test]
fn send_recv_same_channel() {
    run(|| {
        let (s, r) = bounded::<i32>(0);
        let mut sel = Select::new();
        let oper1 = sel.send(&s, 0);
        let oper2 = sel.recv(&r);
        let oper = sel.select_timeout(ms(100));
        match oper {
            Err(_) => {}
            Ok(oper) => match oper.index() {
                ix if ix == oper1 => panic!(),
                ix if ix == oper2 => panic!(),
                _ => unreachable!(),
            },
        }

        let (s, r) = unbounded::<i32>();
        let mut sel = Select::new();
        let oper1 = sel.send(&s, 0);
        let oper2 = sel.recv(&r);
        let oper = sel.select_timeout(ms(100));
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                ix if ix == oper1 => assert!(oper.send(&s).is_ok()),
                ix if ix == oper2 => panic!(),
                _ => unreachable!(),
            },
        }
    });
}

#[test]
fn matching() {
    run(|| {
        const THREADS: usize = 44;

        let (s, r) = bounded::<usize>(0);
        let (s, r) = (Rc::new(s), Rc::new(r));

        scope(|scope| {
            for i in 0..THREADS {
                let (s, r) = (s.clone(), r.clone());
                scope.spawn(move |_| {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r);
                    let oper2 = sel.send(&s, i);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_ne!(oper.recv(&r), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(&s).is_ok()),
                        _ => unreachable!(),
                    }
                });
            }
        })
        .unwrap();

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn matching_with_leftover() {
    run(|| {
        const THREADS: usize = 55;

        let (s, r) = bounded::<usize>(0);
        let (s, r) = (Rc::new(s), Rc::new(r));

        scope(|scope| {
            for i in 0..THREADS {
                let (s, r) = (s.clone(), r.clone());
                scope.spawn(move |_| {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r);
                    let oper2 = sel.send(&s, i);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_ne!(oper.recv(&r), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(&s).is_ok()),
                        _ => unreachable!(),
                    }
                });
            }
            s.send(!0).unwrap();
        })
        .unwrap();

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn channel_through_channel() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 50 } else { 1000 };

        // crossbeam: `Box<dyn Any + Send>`; `Select::send` needs `Clone`.
        type T = Rc<dyn Any>;

        for cap in 0..3 {
            let (s, r) = bounded::<T>(cap);

            scope(|scope| {
                scope.spawn(move |_| {
                    let mut s = s;

                    for _ in 0..COUNT {
                        let (new_s, new_r) = bounded(cap);
                        let new_r: T = Rc::new(RefCell::new(Some(new_r)));

                        {
                            let mut sel = Select::new();
                            let oper1 = sel.send(&s, new_r);
                            let oper = sel.select();
                            match oper.index() {
                                ix if ix == oper1 => assert!(oper.send(&s).is_ok()),
                                _ => unreachable!(),
                            }
                        }

                        s = new_s;
                    }
                });

                scope.spawn(move |_| {
                    let mut r = r;

                    for _ in 0..COUNT {
                        let new = {
                            let mut sel = Select::new();
                            let oper1 = sel.recv(&r);
                            let oper = sel.select();
                            match oper.index() {
                                ix if ix == oper1 => oper
                                    .recv(&r)
                                    .unwrap()
                                    .downcast_ref::<RefCell<Option<Receiver<T>>>>()
                                    .unwrap()
                                    .take()
                                    .unwrap(),
                                _ => unreachable!(),
                            }
                        };
                        r = new;
                    }
                });
            })
            .unwrap();
        }
    });
}

#[test]
fn linearizable_try() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 50 } else { 100_000 };

        for step in 0..2 {
            let (start_s, start_r) = bounded::<()>(0);
            let (end_s, end_r) = bounded::<()>(0);

            let ((s1, r1), (s2, r2)) = if step == 0 {
                (bounded::<i32>(1), bounded::<i32>(1))
            } else {
                (unbounded::<i32>(), unbounded::<i32>())
            };
            let (r1, r2) = (Rc::new(r1), Rc::new(r2));

            scope(|scope| {
                let shared = (r1.clone(), r2.clone());
                scope.spawn(move |_| {
                    let (r1, r2) = shared;
                    for _ in 0..COUNT {
                        start_s.send(()).unwrap();

                        s1.send(1).unwrap();

                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r1);
                        let oper2 = sel.recv(&r2);
                        let oper = sel.try_select();
                        match oper {
                            Err(_) => unreachable!(),
                            Ok(oper) => match oper.index() {
                                ix if ix == oper1 => assert!(oper.recv(&r1).is_ok()),
                                ix if ix == oper2 => assert!(oper.recv(&r2).is_ok()),
                                _ => unreachable!(),
                            },
                        }

                        end_s.send(()).unwrap();
                        let _ = r2.try_recv();
                    }
                });

                for _ in 0..COUNT {
                    start_r.recv().unwrap();

                    s2.send(1).unwrap();
                    let _ = r1.try_recv();

                    end_r.recv().unwrap();
                }
            })
            .unwrap();
        }
    });
}

#[test]
fn linearizable_timeout() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 50 } else { 100_000 };

        for step in 0..2 {
            let (start_s, start_r) = bounded::<()>(0);
            let (end_s, end_r) = bounded::<()>(0);

            let ((s1, r1), (s2, r2)) = if step == 0 {
                (bounded::<i32>(1), bounded::<i32>(1))
            } else {
                (unbounded::<i32>(), unbounded::<i32>())
            };
            let (r1, r2) = (Rc::new(r1), Rc::new(r2));

            scope(|scope| {
                let shared = (r1.clone(), r2.clone());
                scope.spawn(move |_| {
                    let (r1, r2) = shared;
                    for _ in 0..COUNT {
                        start_s.send(()).unwrap();

                        s1.send(1).unwrap();

                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r1);
                        let oper2 = sel.recv(&r2);
                        let oper = sel.select_timeout(ms(0));
                        match oper {
                            Err(_) => unreachable!(),
                            Ok(oper) => match oper.index() {
                                ix if ix == oper1 => assert!(oper.recv(&r1).is_ok()),
                                ix if ix == oper2 => assert!(oper.recv(&r2).is_ok()),
                                _ => unreachable!(),
                            },
                        }

                        end_s.send(()).unwrap();
                        let _ = r2.try_recv();
                    }
                });

                for _ in 0..COUNT {
                    start_r.recv().unwrap();

                    s2.send(1).unwrap();
                    let _ = r1.try_recv();

                    end_r.recv().unwrap();
                }
            })
            .unwrap();
        }
    });
}

/// Inverted: gosched follows Go, whose `time.NewTicker` panics on a zero
/// period, where crossbeam's `tick(0)` ticks all the time.
#[test]
#[should_panic(expected = "period must not be zero")]
fn fairness1() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 50 } else { 10_000 };

        let (s1, r1) = bounded::<()>(COUNT);
        let (s2, r2) = unbounded::<()>();

        for _ in 0..COUNT {
            s1.send(()).unwrap();
            s2.send(()).unwrap();
        }

        let hits = vec![Cell::new(0usize); 4];
        for _ in 0..COUNT {
            let after = after(ms(0));
            let tick = tick(ms(0));

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper3 = sel.recv(&after);
            let oper4 = sel.recv(&tick);
            let oper = sel.select();
            match oper.index() {
                i if i == oper1 => {
                    oper.recv(&r1).unwrap();
                    hits[0].set(hits[0].get() + 1);
                }
                i if i == oper2 => {
                    oper.recv(&r2).unwrap();
                    hits[1].set(hits[1].get() + 1);
                }
                i if i == oper3 => {
                    oper.recv(&after).unwrap();
                    hits[2].set(hits[2].get() + 1);
                }
                i if i == oper4 => {
                    oper.recv(&tick).unwrap();
                    hits[3].set(hits[3].get() + 1);
                }
                _ => unreachable!(),
            }
        }
        assert!(hits.iter().all(|x| x.get() >= COUNT / hits.len() / 2));
    });
}

#[test]
fn fairness2() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 50 } else { 10_000 };

        let (s1, r1) = unbounded::<()>();
        let (s2, r2) = bounded::<()>(1);
        let (s3, r3) = bounded::<()>(0);

        scope(|scope| {
            scope.spawn(move |_| {
                for _ in 0..COUNT {
                    let mut sel = Select::new();
                    let mut oper1 = None;
                    let mut oper2 = None;
                    if s1.is_empty() {
                        oper1 = Some(sel.send(&s1, ()));
                    }
                    if s2.is_empty() {
                        oper2 = Some(sel.send(&s2, ()));
                    }
                    let oper3 = sel.send(&s3, ());
                    let oper = sel.select();
                    match oper.index() {
                        i if Some(i) == oper1 => assert!(oper.send(&s1).is_ok()),
                        i if Some(i) == oper2 => assert!(oper.send(&s2).is_ok()),
                        i if i == oper3 => assert!(oper.send(&s3).is_ok()),
                        _ => unreachable!(),
                    }
                }
            });

            let hits = vec![Cell::new(0usize); 3];
            for _ in 0..COUNT {
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.recv(&r2);
                let oper3 = sel.recv(&r3);
                let oper = sel.select();
                match oper.index() {
                    i if i == oper1 => {
                        oper.recv(&r1).unwrap();
                        hits[0].set(hits[0].get() + 1);
                    }
                    i if i == oper2 => {
                        oper.recv(&r2).unwrap();
                        hits[1].set(hits[1].get() + 1);
                    }
                    i if i == oper3 => {
                        oper.recv(&r3).unwrap();
                        hits[2].set(hits[2].get() + 1);
                    }
                    _ => unreachable!(),
                }
            }
            assert!(hits.iter().all(|x| x.get() >= COUNT / hits.len() / 50));
        })
        .unwrap();
    });
}

#[test]
fn sync_and_clone() {
    run(|| {
        const THREADS: usize = 20;

        // Leaked: a `Select` that goroutines take along borrows for `'static`.
        let (s, r) = &*Box::leak(Box::new(bounded::<usize>(0)));

        let mut sel = Select::new();
        let oper1 = sel.recv(r);
        // crossbeam sends each thread's `i` (given to `SelectedOperation::send`);
        // here the value is part of the operation, the same in every clone, and
        // no thread's `i`.
        let oper2 = sel.send(s, usize::MAX);
        let sel = Rc::new(sel);

        scope(|scope| {
            for i in 0..THREADS {
                let sel = sel.clone();
                scope.spawn(move |_| {
                    let mut sel = (*sel).clone();
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(s).is_ok()),
                        _ => unreachable!(),
                    }
                });
            }
        })
        .unwrap();

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn send_and_clone() {
    run(|| {
        const THREADS: usize = 20;

        // Leaked: a `Select` that goroutines take along borrows for `'static`.
        let (s, r) = &*Box::leak(Box::new(bounded::<usize>(0)));

        let mut sel = Select::new();
        let oper1 = sel.recv(r);
        // crossbeam sends each thread's `i` (given to `SelectedOperation::send`);
        // here the value is part of the operation, the same in every clone, and
        // no thread's `i`.
        let oper2 = sel.send(s, usize::MAX);

        scope(|scope| {
            for i in 0..THREADS {
                let mut sel = sel.clone();
                scope.spawn(move |_| {
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(s).is_ok()),
                        _ => unreachable!(),
                    }
                });
            }
        })
        .unwrap();

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

/// Ignored: a gosched send operation holds its value and sends it once (it
/// is switched off after that); crossbeam's takes a new value at every
/// completion, so one `Select` sends `0..COUNT`.
#[test]
#[ignore = "Select::send takes its value up front (Go's select) and sends it once"]
fn reuse() {
    run(|| {
        const COUNT: usize = if cfg!(miri) { 50 } else { 10_000 };

        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let (s3, r3) = bounded(100);

        scope(|scope| {
            scope.spawn(move |_| {
                for i in 0..COUNT {
                    s1.send(i).unwrap();
                    assert_eq!(r2.recv().unwrap(), i);
                    r3.recv().unwrap();
                }
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.send(&s2, 0);

            for i in 0..COUNT {
                for _ in 0..2 {
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(&s2).is_ok()),
                        _ => unreachable!(),
                    }
                }
                s3.send(()).unwrap();
            }
        })
        .unwrap();
    });
}

// https://github.com/crossbeam-rs/crossbeam/issues/1096
#[test]
fn issue_1096() {
    run(|| {
        // unbounded recv
        let (tx, rx) = unbounded::<u32>();
        tx.send(123).unwrap();
        let mut select = Select::new();
        select.recv(&rx);
        let operation = select.select();
        assert_eq!(operation.recv(&rx.clone()).unwrap(), 123);

        // unbounded send
        let (tx, rx) = unbounded::<u32>();
        let mut select = Select::new();
        select.send(&tx, 124);
        let operation = select.select();
        operation.send(&tx.clone()).unwrap();
        assert_eq!(rx.recv().unwrap(), 124);

        // bounded(2) recv
        let (tx, rx) = bounded::<u32>(2);
        tx.send(123).unwrap();
        let mut select = Select::new();
        select.recv(&rx);
        let operation = select.select();
        assert_eq!(operation.recv(&rx.clone()).unwrap(), 123);

        // bounded(2) send
        let (tx, rx) = bounded::<u32>(2);
        let mut select = Select::new();
        select.send(&tx, 124);
        let operation = select.select();
        operation.send(&tx.clone()).unwrap();
        assert_eq!(rx.recv().unwrap(), 124);

        // zero recv
        let (tx, rx) = bounded::<u32>(0);
        scope(|scope| {
            scope.spawn(move |_| tx.send(123).unwrap());
            let mut select = Select::new();
            select.recv(&rx);
            let operation = select.select();
            assert_eq!(operation.recv(&rx.clone()).unwrap(), 123);
        })
        .unwrap();

        // zero send
        let (tx, rx) = bounded::<u32>(0);
        scope(|scope| {
            scope.spawn(move |_| assert_eq!(rx.recv().unwrap(), 124));
            let mut select = Select::new();
            select.send(&tx, 124);
            let operation = select.select();
            operation.send(&tx.clone()).unwrap();
        })
        .unwrap();
    });
}

/// The panic message of a `SelectedOperation` dropped without its result
/// taken (crossbeam: "dropped `SelectedOperation` without completing the
/// operation").
#[cfg(panic = "unwind")]
const UNTAKEN: &str = "SelectedOperation 0 dropped without taking its result (recv or send)";

/// The message of a goroutine's panic, as `join` returns it.
#[cfg(panic = "unwind")]
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("")
}

/// crossbeam hangs the thread here (its TODO: "should panic instead of
/// hang"); in gosched the send completed in `try_select`, and dropping the
/// untaken result panics. Crossbeam's assertion (`ready` never set) holds;
/// the goroutine is joined instead of waited for 5 s.
#[test]
#[cfg(panic = "unwind")]
fn uncompleted_select_unbounded() {
    run(|| {
        for i in 0..=1 {
            let ready = Rc::new(Cell::new(false));
            let ready2 = ready.clone();
            let h = go(move || {
                let (s, _r) = unbounded::<Box<u8>>();
                for i in 0..i {
                    s.send(Box::new(i)).unwrap();
                }
                let mut sel = Select::new();
                sel.send(&s, Box::new(0));
                let op = sel.try_select().unwrap();
                drop(op);
                ready2.set(true);
            });
            let panic = h.join().unwrap_err();
            assert_eq!(panic_message(&*panic), UNTAKEN);
            assert!(!ready.get());
        }
    });
}

/// See `uncompleted_select_unbounded`; for `i == 2` the buffer is full and
/// the goroutine panics as crossbeam's thread does.
#[test]
#[cfg(panic = "unwind")]
fn uncompleted_select_bounded() {
    run(|| {
        for i in 0..=2 {
            let ready = Rc::new(Cell::new(false));
            let ready2 = ready.clone();
            let h = go(move || {
                let (s, _r) = bounded::<Box<u8>>(2);
                for i in 0..i {
                    s.send(Box::new(i)).unwrap();
                }
                let mut sel = Select::new();
                if i == 2 {
                    sel.send(&s, Box::new(0));
                    std::panic::resume_unwind(Box::new("full"));
                }
                sel.send(&s, Box::new(0));
                let op = sel.try_select().unwrap();
                drop(op);
                ready2.set(true);
            });
            let panic = h.join().unwrap_err();
            if i < 2 {
                assert_eq!(panic_message(&*panic), UNTAKEN);
            }
            assert!(!ready.get());
        }
    });
}

/// crossbeam: the receiver hangs (its TODO: "should error instead hang").
/// Inverted: in gosched `try_select` handed the value to the waiting
/// receiver, which goes on (`ready` is set); dropping the result still
/// panics (with gosched's message).
#[test]
#[cfg(panic = "unwind")]
fn uncompleted_select_zero() {
    run(|| {
        let ready = Rc::new(Cell::new(false));
        let ready2 = ready.clone();
        let (s, r) = bounded::<Box<u8>>(0);
        let h = go(move || {
            r.recv().unwrap();
            ready2.set(true);
        });
        sleep(ms(50)); // wait for register of receiver.
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let mut sel = Select::new();
            sel.send(&s, Box::new(0));
            drop(sel.try_select().unwrap());
        }));
        assert_eq!(panic_message(&*res.unwrap_err()), UNTAKEN);
        h.join().unwrap();
        assert!(ready.get());
    });
}

#[test]
fn forget_select_unbounded() {
    run(|| {
        for i in 0..=1 {
            let (s, r) = unbounded::<Box<u8>>();
            for i in 0..i {
                s.send(Box::new(i)).unwrap();
            }
            let s2 = s.clone();
            let th = go(move || {
                let mut sel = Select::new();
                sel.send(&s2, Box::new(0));
                let oper = sel.select();
                mem::forget(oper);
            });
            sleep(Duration::from_millis(50));
            drop(s);
            drop(r);
            th.join().unwrap();
        }
    });
}

/// crossbeam: dropping the ends hangs after a forgotten operation (its
/// TODO: "should not hang"). Inverted: in gosched `ready` is set.
#[test]
fn forget_select_bounded() {
    run(|| {
        for i in 0..=2 {
            let (s, r) = bounded::<Box<u8>>(2);
            for i in 0..i {
                s.send(Box::new(i)).unwrap();
            }
            let s2 = s.clone();
            let th = go(move || {
                let mut sel = Select::new();
                sel.send(&s2, Box::new(0));
                let oper = sel.select();
                mem::forget(oper);
            });
            if i == 2 {
                sleep(Duration::from_millis(50));
                drop(s);
                drop(r);
            } else {
                let ready = Rc::new(Cell::new(false));
                let ready2 = ready.clone();
                let dropper = go(move || {
                    sleep(Duration::from_millis(50));
                    drop(s);
                    drop(r);
                    ready2.set(true);
                });
                th.join().unwrap();
                dropper.join().unwrap();
                assert!(ready.get());
                continue;
            }
            th.join().unwrap();
        }
    });
}

#[test]
fn forget_select_zero() {
    run(|| {
        let (s, r) = bounded::<Box<u8>>(0);
        let s2 = s.clone();
        let th = go(move || {
            let mut sel = Select::new();
            sel.send(&s2, Box::new(0));
            let oper = sel.select();
            mem::forget(oper);
        });
        sleep(Duration::from_millis(50));
        drop(s);
        drop(r);
        th.join().unwrap();
    });
}
