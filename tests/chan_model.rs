//! Model test: random sequences of channel operations issued to several
//! goroutines, checked step by step against a sequential model of Go's
//! channel semantics (with this crate's rules for dropped ends). The model and
//! its harness live in tests/support/chan_model.rs, shared with the fuzz
//! target in fuzz/.
//!
//! The main goroutine is a driver: it hands one operation at a time to an
//! idle worker, then yields until every goroutine the operation could wake
//! has run. A single-threaded scheduler runs each operation atomically, so
//! the model can say exactly which goroutines complete at each step and with
//! what: the operation's own result, and those of blocked operations it
//! completes (FIFO order of waiters, hand-over of values, close waking
//! everyone). Where Go chooses at random (a select with several ready
//! cases) the model accepts any ready case and follows the one taken.

#[path = "support/chan_model.rs"]
mod model;

use model::{check, Case, Op, MAX_CHANS, MAX_WORKERS};
use proptest::prelude::*;

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        (0..MAX_CHANS).prop_map(Case::Recv),
        (0..MAX_CHANS).prop_map(Case::Send),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let c = || 0..MAX_CHANS;
    prop_oneof![
        4 => c().prop_map(Op::Send),
        2 => c().prop_map(Op::TrySend),
        4 => c().prop_map(Op::Recv),
        2 => c().prop_map(Op::TryRecv),
        1 => c().prop_map(Op::Close),
        1 => c().prop_map(Op::DropTx),
        1 => c().prop_map(Op::DropRx),
        1 => c().prop_map(Op::Len),
        3 => (prop::collection::vec(case(), 1..=4), prop::bool::weighted(0.25))
            .prop_map(|(cases, d)| Op::Select(cases, d)),
        2 => (c(), c(), prop::bool::weighted(0.25)).prop_map(|(a, b, d)| Op::Macro(a, b, d)),
        // No Spawn or Sleep (the fuzz target has them): adding them would
        // change what the seeds in chan_model.proptest-regressions generate.
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn channels_follow_the_sequential_model(
        caps in prop::collection::vec(0usize..=3, 1..=MAX_CHANS),
        workers in 2usize..=MAX_WORKERS,
        steps in prop::collection::vec((0..MAX_WORKERS, op()), 1..60),
    ) {
        // Operations on channels that do not exist wrap around.
        let n = caps.len();
        let wrap = |c: usize| c % n;
        let steps = steps
            .into_iter()
            .map(|(g, op)| {
                let op = match op {
                    Op::Send(c) => Op::Send(wrap(c)),
                    Op::TrySend(c) => Op::TrySend(wrap(c)),
                    Op::Recv(c) => Op::Recv(wrap(c)),
                    Op::TryRecv(c) => Op::TryRecv(wrap(c)),
                    Op::Close(c) => Op::Close(wrap(c)),
                    Op::DropTx(c) => Op::DropTx(wrap(c)),
                    Op::DropRx(c) => Op::DropRx(wrap(c)),
                    Op::Len(c) => Op::Len(wrap(c)),
                    Op::Select(cases, d) => Op::Select(
                        cases
                            .into_iter()
                            .map(|case| match case {
                                Case::Recv(c) => Case::Recv(wrap(c)),
                                Case::Send(c) => Case::Send(wrap(c)),
                            })
                            .collect(),
                        d,
                    ),
                    Op::Macro(a, b, d) => Op::Macro(wrap(a), wrap(b), d),
                    Op::Spawn | Op::Sleep(_) => op,
                };
                (g, op)
            })
            .collect();
        check(caps, workers, steps);
    }
}

/// A fixed scenario through the same harness, so that a broken harness shows
/// up even if proptest's generator drifts: FIFO hand-over to blocked
/// receivers, a buffered refill from a blocked sender, close waking a select.
#[test]
fn fixed_scenario_through_the_model() {
    let steps = vec![
        (0, Op::Recv(0)),
        (1, Op::Recv(0)),
        (2, Op::Send(0)), // goes to worker 0, the first waiter
        (2, Op::Send(0)), // to worker 1
        (0, Op::Send(1)),
        (0, Op::Send(1)), // buffer of 1 full: worker 0 blocks
        (1, Op::Recv(1)), // takes the first, pulls worker 0's value in
        (1, Op::Len(1)),
        (2, Op::Select(vec![Case::Recv(0), Case::Send(0)], false)),
        (1, Op::Close(0)), // wakes the select's receive case
        (1, Op::Recv(1)),
    ];
    check(vec![0, 1], 3, steps);
}

/// The operations only the fuzz target generates, through the same harness:
/// a spawned worker holds copies of its parent's ends (so the channel closes
/// only when its copy of the sender is dropped too) and sleeps complete.
#[test]
fn fixed_scenario_with_spawn_and_sleep() {
    let steps = vec![
        (0, Op::Spawn),    // worker 2, with worker 0's ends
        (2, Op::Recv(0)),  // blocks
        (1, Op::Sleep(5)), // completes within its step
        (1, Op::Send(0)),  // hands the value to worker 2
        (0, Op::DropTx(0)),
        (1, Op::DropTx(0)),
        (0, Op::TryRecv(0)), // still open: worker 2 holds a sender
        (2, Op::DropTx(0)),  // the last sender: closed
        (0, Op::Recv(0)),
    ];
    check(vec![0], 2, steps);
}
