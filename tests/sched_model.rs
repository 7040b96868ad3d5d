//! Property tests of the scheduler: random programs of spawn, yield, join and
//! sleep, run by the real scheduler and checked against a model.
//!
//! Without sleeps the scheduler is deterministic, and a model of ~40 lines
//! (one FIFO run queue: spawn and yield append, join parks until the target is
//! done, main's return ends everything) predicts the exact trace. With sleeps
//! the interleaving depends on the clock, so the checks are the ones that hold
//! for every timing: program order, spawn and join happen-before, sleeps that
//! never return early and that wake in deadline order, and completion.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use proptest::prelude::*;

/// One step of a goroutine's program.
#[derive(Clone, Debug)]
enum Op {
    Yield,
    /// Sleep this many milliseconds (0 returns at once, without switching).
    Sleep(u64),
    /// Start a goroutine running this program.
    Spawn(Vec<Op>),
    /// Join a child of this goroutine: generated as any number, then
    /// [`normalize`]d to the index (in spawn order) of a child not joined yet.
    Join(usize),
}

/// What the trace records, in the order it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    /// Goroutine `.0` is about to run step `.1` of its program.
    Step(u64, usize),
    /// `parent` started goroutine `child` (right after its `Step`).
    Spawned { parent: u64, child: u64 },
    /// Goroutine `.0` returned from the sleep of step `.1`.
    Woke(u64, usize),
    /// Goroutine `.0` ran its whole program.
    Done(u64),
}

/// Makes every `Join` name a child spawned earlier and not joined yet (or drops
/// it if there is none). With `structured`, each goroutine joins its leftover
/// children at the end, so every goroutine finishes before main does.
fn normalize(program: &[Op], structured: bool) -> Vec<Op> {
    let mut out = Vec::new();
    let mut unjoined = Vec::new();
    let mut spawned = 0;
    for op in program {
        match op {
            Op::Spawn(child) => {
                out.push(Op::Spawn(normalize(child, structured)));
                unjoined.push(spawned);
                spawned += 1;
            }
            Op::Join(k) if !unjoined.is_empty() => {
                out.push(Op::Join(unjoined.remove(k % unjoined.len())));
            }
            Op::Join(_) => {}
            other => out.push(other.clone()),
        }
    }
    if structured {
        out.extend(unjoined.into_iter().map(Op::Join));
    }
    out
}

fn count_goroutines(program: &[Op]) -> usize {
    1 + program
        .iter()
        .map(|op| match op {
            Op::Spawn(child) => count_goroutines(child),
            _ => 0,
        })
        .sum::<usize>()
}

/// Programs of up to ~48 ops in all, nested 4 deep; `max_sleep_ms` 0 leaves
/// sleeps out.
fn program(max_sleep_ms: u64) -> impl Strategy<Value = Vec<Op>> {
    let mut leaf = vec![
        Just(Op::Yield).boxed(),
        (0..4usize).prop_map(Op::Join).boxed(),
    ];
    if max_sleep_ms > 0 {
        leaf.push((0..=max_sleep_ms).prop_map(Op::Sleep).boxed());
    }
    let op = proptest::strategy::Union::new(leaf).prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            3 => inner.clone(),
            2 => prop::collection::vec(inner, 0..6).prop_map(Op::Spawn),
        ]
    });
    prop::collection::vec(op, 1..10)
}

/// Runs `program` as the main goroutine of a fresh scheduler and returns the
/// trace.
fn run_traced(program: Vec<Op>) -> Vec<Ev> {
    let trace = Rc::new(RefCell::new(Vec::new()));
    let t = trace.clone();
    gosched::run(move || interpret(program, t));
    let events = trace.borrow().clone();
    events
}

fn interpret(program: Vec<Op>, trace: Rc<RefCell<Vec<Ev>>>) {
    let me = gosched::current_id();
    let log = |ev| trace.borrow_mut().push(ev);
    let mut children = Vec::new();
    for (step, op) in program.into_iter().enumerate() {
        log(Ev::Step(me, step));
        match op {
            Op::Yield => gosched::yield_now(),
            Op::Sleep(ms) => {
                let start = gosched::now();
                gosched::sleep(Duration::from_millis(ms));
                let slept = gosched::now() - start;
                assert!(
                    slept >= Duration::from_millis(ms),
                    "sleep({ms} ms) returned after {slept:?}"
                );
                log(Ev::Woke(me, step));
            }
            Op::Spawn(child) => {
                let t = trace.clone();
                let h = gosched::go(move || interpret(child, t));
                log(Ev::Spawned {
                    parent: me,
                    child: h.id(),
                });
                children.push(Some(h));
            }
            Op::Join(k) => {
                let h = children[k].take().expect("normalize joins each child once");
                h.join().expect("goroutines of the model do not panic");
            }
        }
    }
    log(Ev::Done(me));
}

/// The model of a sleep-free run: the trace the scheduler must produce.
fn model(program: &[Op]) -> Vec<Ev> {
    struct G<'p> {
        program: &'p [Op],
        pc: usize,
        children: Vec<u64>,
        done: bool,
        joiner: Option<u64>,
    }
    let new_g = |program| G {
        program,
        pc: 0,
        children: Vec::new(),
        done: false,
        joiner: None,
    };
    let mut gs: HashMap<u64, G> = HashMap::from([(1, new_g(program))]);
    let mut runq = VecDeque::from([1u64]);
    let mut next_id = 2;
    let mut trace = Vec::new();
    while !gs[&1].done {
        let id = runq.pop_front().expect("model programs cannot deadlock");
        loop {
            let g = gs.get_mut(&id).expect("queued goroutines exist");
            let Some(op) = g.program.get(g.pc) else {
                g.done = true;
                trace.push(Ev::Done(id));
                runq.extend(g.joiner);
                break;
            };
            trace.push(Ev::Step(id, g.pc));
            g.pc += 1;
            match op {
                Op::Yield => {
                    runq.push_back(id);
                    break;
                }
                Op::Spawn(child) => {
                    let child_id = next_id;
                    next_id += 1;
                    g.children.push(child_id);
                    trace.push(Ev::Spawned {
                        parent: id,
                        child: child_id,
                    });
                    gs.insert(child_id, new_g(child));
                    runq.push_back(child_id);
                }
                Op::Join(k) => {
                    let target = g.children[*k];
                    let target = gs.get_mut(&target).expect("spawned");
                    if !target.done {
                        target.joiner = Some(id);
                        break;
                    }
                }
                Op::Sleep(_) => unreachable!("the exact model has no clock"),
            }
        }
    }
    trace
}

/// The checks that hold for every timing (see the module docs).
fn check_timing_independent(program: &[Op], trace: &[Ev]) -> Result<(), TestCaseError> {
    let at = |ev: Ev| trace.iter().position(|&e| e == ev);
    // Walk the program tree alongside the trace, from main (id 1).
    let mut pending = vec![(1u64, program)];
    let mut seen = 1;
    while let Some((id, prog)) = pending.pop() {
        let mine: Vec<Ev> = trace
            .iter()
            .copied()
            .filter(|e| match *e {
                Ev::Step(g, _) | Ev::Woke(g, _) | Ev::Done(g) => g == id,
                Ev::Spawned { parent, .. } => parent == id,
            })
            .collect();
        let mut expected = Vec::new();
        let mut children = Vec::new();
        for (step, op) in prog.iter().enumerate() {
            expected.push(Ev::Step(id, step));
            match op {
                Op::Sleep(_) => expected.push(Ev::Woke(id, step)),
                Op::Spawn(child) => {
                    let Some(Ev::Spawned {
                        child: child_id, ..
                    }) = mine.get(expected.len())
                    else {
                        return Err(TestCaseError::fail(format!(
                            "goroutine {id} step {step}: no spawn in {mine:?}"
                        )));
                    };
                    expected.push(Ev::Spawned {
                        parent: id,
                        child: *child_id,
                    });
                    children.push(*child_id);
                    pending.push((*child_id, child.as_slice()));
                    seen += 1;
                }
                Op::Join(_) | Op::Yield => {}
            }
        }
        expected.push(Ev::Done(id));
        // Program order, and completion of every goroutine.
        prop_assert_eq!(&mine, &expected, "goroutine {}", id);
        let mut spawns = children.iter();
        for (step, op) in prog.iter().enumerate() {
            let this = at(Ev::Step(id, step)).expect("checked above");
            match op {
                // A child starts after it was spawned.
                Op::Spawn(_) => {
                    let child = *spawns.next().expect("one child per spawn");
                    let first = at(Ev::Step(child, 0)).or_else(|| at(Ev::Done(child)));
                    prop_assert!(
                        first > Some(this),
                        "goroutine {} ran before its spawn",
                        child
                    );
                }
                // A join returns after the child is done.
                Op::Join(k) => {
                    let done = at(Ev::Done(children[*k])).expect("all goroutines finish");
                    let next = mine
                        .iter()
                        .position(|&e| e == Ev::Step(id, step))
                        .map(|i| mine[i + 1])
                        .expect("a join is followed by a step or Done");
                    prop_assert!(
                        done < at(next).expect("in trace"),
                        "join {} returned early",
                        id
                    );
                }
                _ => {}
            }
        }
    }
    prop_assert_eq!(seen, count_goroutines(program));
    check_sleep_order(program, trace)
}

/// Sleeps that park (non-zero) wake in deadline order: of two such sleeps,
/// the one that started first and is no longer wakes first.
fn check_sleep_order(program: &[Op], trace: &[Ev]) -> Result<(), TestCaseError> {
    // (start index, wake index, ms) of every parking sleep.
    let mut sleeps = Vec::new();
    let mut programs: HashMap<u64, &[Op]> = HashMap::from([(1, program)]);
    let mut spawn_counts: HashMap<u64, usize> = HashMap::new();
    for (i, ev) in trace.iter().enumerate() {
        match *ev {
            Ev::Spawned { parent, child } => {
                let n = spawn_counts.entry(parent).or_default();
                let child_prog = programs[&parent]
                    .iter()
                    .filter_map(|op| match op {
                        Op::Spawn(p) => Some(p.as_slice()),
                        _ => None,
                    })
                    .nth(*n)
                    .expect("spawns match the program");
                *n += 1;
                programs.insert(child, child_prog);
            }
            Ev::Step(g, step) => {
                if let Op::Sleep(ms @ 1..) = programs[&g][step] {
                    let woke = trace[i..]
                        .iter()
                        .position(|&e| e == Ev::Woke(g, step))
                        .expect("every sleep wakes")
                        + i;
                    sleeps.push((i, woke, ms));
                }
            }
            _ => {}
        }
    }
    for a in &sleeps {
        for b in &sleeps {
            if a.0 < b.0 && a.2 <= b.2 {
                prop_assert!(a.1 < b.1, "sleep at {:?} woke after the later {:?}", a, b);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Without sleeps, the run is exactly the model's.
    #[test]
    fn run_order_matches_fifo_model(raw in program(0), structured: bool) {
        let program = normalize(&raw, structured);
        let expected = model(&program);
        let trace = run_traced(program.clone());
        prop_assert_eq!(&trace, &expected);
        if structured {
            check_timing_independent(&program, &trace)?;
        }
    }

    /// With sleeps of 0-3 ms, every goroutine completes and the ordering
    /// guarantees hold.
    #[test]
    fn sleeps_keep_order_guarantees(raw in program(3)) {
        let program = normalize(&raw, true);
        let trace = run_traced(program.clone());
        check_timing_independent(&program, &trace)?;
    }
}

#[test]
fn model_predicts_a_known_interleaving() {
    // main spawns 2 and 3; 2 yields once; main joins 2. Hand-checked trace.
    let program = normalize(
        &[Op::Spawn(vec![Op::Yield]), Op::Spawn(vec![]), Op::Join(0)],
        false,
    );
    let expected = [
        Ev::Step(1, 0),
        Ev::Spawned {
            parent: 1,
            child: 2,
        },
        Ev::Step(1, 1),
        Ev::Spawned {
            parent: 1,
            child: 3,
        },
        Ev::Step(1, 2),
        Ev::Step(2, 0),
        Ev::Done(3),
        Ev::Done(2),
        Ev::Done(1),
    ];
    assert_eq!(model(&program), expected);
    assert_eq!(run_traced(program), expected);
}
