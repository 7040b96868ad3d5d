//! Random programs of spawn / send / recv / select / close / drop / sleep,
//! run on real goroutines and channels and checked step by step against the
//! sequential model in tests/support/chan_model.rs (shared with the proptest
//! in tests/chan_model.rs). Any difference, panic or memory error is a crash.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/chan_model.rs"]
mod model;

use model::{check, Case, Op, MAX_CHANS, MAX_SPAWNED, MAX_WORKERS};

/// Steps per program; long enough for buffers to fill and waiters to pile up.
const MAX_STEPS: usize = 64;

/// Channel capacities, initial worker count and steps, decoded from the input.
type Program = (Vec<usize>, usize, Vec<(usize, Op)>);

fn program(u: &mut Unstructured) -> Result<Program> {
    let caps = (0..u.int_in_range(1..=MAX_CHANS)?)
        .map(|_| u.int_in_range(0..=3))
        .collect::<Result<Vec<usize>>>()?;
    let workers = u.int_in_range(2..=MAX_WORKERS)?;
    let mut steps = Vec::new();
    while steps.len() < MAX_STEPS && !u.is_empty() {
        let g = u.int_in_range(0..=MAX_SPAWNED - 1)?;
        steps.push((g, op(u, caps.len())?));
    }
    Ok((caps, workers, steps))
}

fn op(u: &mut Unstructured, chans: usize) -> Result<Op> {
    let c = |u: &mut Unstructured| u.choose_index(chans);
    Ok(match u.int_in_range(0..=11)? {
        0 => Op::Send(c(u)?),
        1 => Op::TrySend(c(u)?),
        2 => Op::Recv(c(u)?),
        3 => Op::TryRecv(c(u)?),
        4 => Op::Close(c(u)?),
        5 => Op::DropTx(c(u)?),
        6 => Op::DropRx(c(u)?),
        7 => Op::Len(c(u)?),
        8 => {
            let cases = (0..u.int_in_range(1..=4)?)
                .map(|_| {
                    Ok(if u.arbitrary()? {
                        Case::Recv(c(u)?)
                    } else {
                        Case::Send(c(u)?)
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Op::Select(cases, u.ratio(1, 4)?)
        }
        9 => Op::Macro(c(u)?, c(u)?, u.ratio(1, 4)?),
        10 => Op::Spawn,
        _ => Op::Sleep(u.int_in_range(0..=20)?),
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok((caps, workers, steps)) = program(&mut Unstructured::new(data)) {
        check(caps, workers, steps);
    }
});
