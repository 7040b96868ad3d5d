//! The sequential model of channel semantics and the harness that checks the
//! real channels against it, shared by the proptest in tests/chan_model.rs
//! and the cargo-fuzz target in fuzz/ (both include this file with `#[path]`).
//!
//! The main goroutine is a driver: it hands one operation at a time to an
//! idle worker, then yields until every goroutine the operation could wake
//! has run. A single-threaded scheduler runs each operation atomically, so
//! the model can say exactly which goroutines complete at each step and with
//! what: the operation's own result, and those of blocked operations it
//! completes (FIFO order of waiters, hand-over of values, close waking
//! everyone). Where Go chooses at random (a select with several ready
//! cases) the model accepts any ready case and follows the one taken.
//! Workers may also start workers (which get copies of their ends) and sleep.
#![allow(dead_code)] // each includer uses a part

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use std::time::Duration;

use gosched::{chan, go, run, select, yield_now, Receiver, Select, Sender};

pub const MAX_WORKERS: usize = 4;
pub const MAX_CHANS: usize = 3;
/// Workers that `Op::Spawn` may bring the total to.
pub const MAX_SPAWNED: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    Recv(usize),
    Send(usize),
}

#[derive(Clone, Debug)]
pub enum Op {
    Send(usize),
    TrySend(usize),
    Recv(usize),
    TryRecv(usize),
    Close(usize),
    DropTx(usize),
    DropRx(usize),
    Len(usize),
    /// The dynamic `Select`; cases on distinct (channel, direction) pairs.
    Select(Vec<Case>, bool),
    /// `select!` with a receive on the first channel and a send on the second.
    Macro(usize, usize, bool),
    /// Start a worker holding clones of this worker's ends.
    Spawn,
    /// `gosched::sleep` for this many microseconds.
    Sleep(u8),
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Res {
    Sent,
    SendFailed(u32),
    Full(u32),
    TrySendClosed(u32),
    Got(u32),
    RecvFailed,
    Empty,
    TryRecvClosed,
    Closed(bool),
    Dropped,
    Len(usize),
    Selected(usize, Box<Res>),
    Default,
    Spawned,
    Slept,
}

/// The value the step's send (or select case) sends: unique per step.
fn value(step: usize, case: usize) -> u32 {
    (step * 8 + case) as u32
}

// ---------------------------------------------------------------- the model

/// A blocked goroutine's entry in a channel queue: its case in a select, or
/// `None` for a plain send/receive.
#[derive(Clone, Debug)]
struct Entry {
    g: usize,
    case: Option<usize>,
    value: u32,
}

#[derive(Debug)]
struct MChan {
    cap: usize,
    buf: VecDeque<u32>,
    closed: bool,
    recvq: VecDeque<Entry>,
    sendq: VecDeque<Entry>,
    senders: usize,
    receivers: usize,
}

#[derive(Debug)]
struct Model {
    chans: Vec<MChan>,
    blocked: Vec<bool>,
    has_tx: Vec<Vec<bool>>,
    has_rx: Vec<Vec<bool>>,
    /// Completions of this step: (goroutine, result).
    done: Vec<(usize, Res)>,
}

impl Model {
    fn new(caps: &[usize], workers: usize) -> Model {
        Model {
            chans: caps
                .iter()
                .map(|&cap| MChan {
                    cap,
                    buf: VecDeque::new(),
                    closed: false,
                    recvq: VecDeque::new(),
                    sendq: VecDeque::new(),
                    senders: workers,
                    receivers: workers,
                })
                .collect(),
            blocked: vec![false; workers],
            has_tx: vec![vec![true; caps.len()]; workers],
            has_rx: vec![vec![true; caps.len()]; workers],
            done: Vec::new(),
        }
    }

    /// Completes the blocked operation of the entry's goroutine with `res`
    /// and takes all its entries out of every queue.
    fn fire(&mut self, e: &Entry, res: Res) {
        for c in &mut self.chans {
            c.recvq.retain(|x| x.g != e.g);
            c.sendq.retain(|x| x.g != e.g);
        }
        self.blocked[e.g] = false;
        let res = match e.case {
            Some(i) => Res::Selected(i, Box::new(res)),
            None => res,
        };
        self.done.push((e.g, res));
    }

    fn recv_ready(&self, c: usize) -> bool {
        let ch = &self.chans[c];
        !ch.buf.is_empty() || !ch.sendq.is_empty() || ch.closed
    }

    fn send_ready(&self, c: usize) -> bool {
        let ch = &self.chans[c];
        ch.closed || !ch.recvq.is_empty() || ch.buf.len() < ch.cap
    }

    /// A send of `v` that can complete now; its result.
    fn send_now(&mut self, c: usize, v: u32) -> Res {
        if self.chans[c].closed {
            return Res::SendFailed(v);
        }
        if let Some(e) = self.chans[c].recvq.front().cloned() {
            self.fire(&e, Res::Got(v));
        } else {
            self.chans[c].buf.push_back(v);
        }
        Res::Sent
    }

    /// A receive that can complete now; its result.
    fn recv_now(&mut self, c: usize) -> Res {
        if let Some(v) = self.chans[c].buf.pop_front() {
            if let Some(e) = self.chans[c].sendq.front().cloned() {
                self.chans[c].buf.push_back(e.value);
                self.fire(&e, Res::Sent);
            }
            return Res::Got(v);
        }
        if let Some(e) = self.chans[c].sendq.front().cloned() {
            self.fire(&e, Res::Sent);
            return Res::Got(e.value);
        }
        Res::RecvFailed
    }

    fn close(&mut self, c: usize) -> bool {
        if self.chans[c].closed {
            return false;
        }
        self.chans[c].closed = true;
        while let Some(e) = self.chans[c].recvq.front().cloned() {
            self.fire(&e, Res::RecvFailed);
        }
        while let Some(e) = self.chans[c].sendq.front().cloned() {
            self.fire(&e, Res::SendFailed(e.value));
        }
        true
    }

    /// The select cases that can complete now.
    fn ready_cases(&self, cases: &[Case]) -> Vec<usize> {
        (0..cases.len())
            .filter(|&i| match cases[i] {
                Case::Recv(c) => self.recv_ready(c),
                Case::Send(c) => self.send_ready(c),
            })
            .collect()
    }

    /// Applies goroutine `g`'s operation at `step`. For a select with ready
    /// cases, `choice` is the case the real select took.
    fn apply(&mut self, g: usize, step: usize, op: &Op, choice: Option<usize>) {
        let res = match *op {
            Op::Send(c) => {
                let v = value(step, 0);
                if self.send_ready(c) {
                    Some(self.send_now(c, v))
                } else {
                    self.block(g, c, None, Some(v));
                    None
                }
            }
            Op::TrySend(c) => {
                let v = value(step, 0);
                Some(if self.chans[c].closed {
                    Res::TrySendClosed(v)
                } else if self.send_ready(c) {
                    self.send_now(c, v)
                } else {
                    Res::Full(v)
                })
            }
            Op::Recv(c) => {
                if self.recv_ready(c) {
                    Some(self.recv_now(c))
                } else {
                    self.block(g, c, None, None);
                    None
                }
            }
            Op::TryRecv(c) => Some(if !self.recv_ready(c) {
                Res::Empty
            } else {
                match self.recv_now(c) {
                    Res::RecvFailed => Res::TryRecvClosed,
                    r => r,
                }
            }),
            Op::Close(c) => Some(Res::Closed(self.close(c))),
            Op::DropTx(c) => {
                self.has_tx[g][c] = false;
                self.chans[c].senders -= 1;
                if self.chans[c].senders == 0 {
                    self.close(c);
                }
                Some(Res::Dropped)
            }
            Op::DropRx(c) => {
                self.has_rx[g][c] = false;
                self.chans[c].receivers -= 1;
                if self.chans[c].receivers == 0 {
                    self.close(c);
                    self.chans[c].buf.clear();
                }
                Some(Res::Dropped)
            }
            Op::Len(c) => Some(Res::Len(self.chans[c].buf.len())),
            Op::Select(ref cases, default) => self.select(g, step, cases, default, choice),
            Op::Macro(a, b, default) => {
                let cases = [Case::Recv(a), Case::Send(b)];
                self.select(g, step, &cases, default, choice)
            }
            Op::Spawn => {
                let (tx, rx) = (self.has_tx[g].clone(), self.has_rx[g].clone());
                for (c, ch) in self.chans.iter_mut().enumerate() {
                    ch.senders += usize::from(tx[c]);
                    ch.receivers += usize::from(rx[c]);
                }
                self.has_tx.push(tx);
                self.has_rx.push(rx);
                self.blocked.push(false);
                Some(Res::Spawned)
            }
            Op::Sleep(_) => Some(Res::Slept),
        };
        if let Some(res) = res {
            self.done.push((g, res));
        }
    }

    fn select(
        &mut self,
        g: usize,
        step: usize,
        cases: &[Case],
        default: bool,
        choice: Option<usize>,
    ) -> Option<Res> {
        let ready = self.ready_cases(cases);
        if let Some(&first) = ready.first() {
            let i = choice.filter(|i| ready.contains(i)).unwrap_or(first);
            let res = match cases[i] {
                Case::Recv(c) => self.recv_now(c),
                Case::Send(c) => self.send_now(c, value(step, i)),
            };
            return Some(Res::Selected(i, Box::new(res)));
        }
        if default {
            return Some(Res::Default);
        }
        for (i, case) in cases.iter().enumerate() {
            match *case {
                Case::Recv(c) => self.block(g, c, Some(i), None),
                Case::Send(c) => self.block(g, c, Some(i), Some(value(step, i))),
            }
        }
        self.blocked[g] = true;
        None
    }

    fn block(&mut self, g: usize, c: usize, case: Option<usize>, send: Option<u32>) {
        let entry = Entry {
            g,
            case,
            value: send.unwrap_or(0),
        };
        match send {
            Some(_) => self.chans[c].sendq.push_back(entry),
            None => self.chans[c].recvq.push_back(entry),
        }
        self.blocked[g] = true;
    }

    /// The operation as `g` can run it (cases on ends it dropped removed), or
    /// `None` if it cannot run it at all.
    fn runnable(&self, g: usize, op: &Op) -> Option<Op> {
        let tx = |c: usize| self.has_tx[g][c];
        let rx = |c: usize| self.has_rx[g][c];
        let ok = match *op {
            Op::Send(c) | Op::TrySend(c) | Op::Close(c) | Op::DropTx(c) => tx(c),
            Op::Recv(c) | Op::TryRecv(c) | Op::DropRx(c) => rx(c),
            Op::Len(c) => tx(c) || rx(c),
            Op::Macro(a, b, _) => rx(a) && tx(b),
            Op::Spawn => self.blocked.len() < MAX_SPAWNED,
            Op::Sleep(_) => true,
            Op::Select(ref cases, default) => {
                let mut seen = Vec::new();
                let kept: Vec<Case> = cases
                    .iter()
                    .copied()
                    .filter(|&case| match case {
                        Case::Recv(c) => rx(c),
                        Case::Send(c) => tx(c),
                    })
                    .filter(|case| {
                        let new = !seen.contains(case);
                        seen.push(*case);
                        new
                    })
                    .collect();
                if kept.is_empty() && !default {
                    return None; // would block forever on nothing
                }
                return Some(Op::Select(kept, default));
            }
        };
        ok.then(|| op.clone())
    }
}

// ----------------------------------------------------------- the real thing

/// A worker's ends of every channel, and the crew it can add workers to.
struct Worker {
    tx: Vec<Option<Sender<u32>>>,
    rx: Vec<Option<Receiver<u32>>>,
    crew: Rc<Crew>,
}

/// Every worker's mailbox and log, in the model's worker order.
#[derive(Default)]
struct Crew {
    mailboxes: RefCell<Vec<Rc<RefCell<Option<Cmd>>>>>,
    logs: RefCell<Vec<Rc<RefCell<Vec<Res>>>>>,
}

impl Crew {
    /// Starts `w` as the next worker: it runs the commands of its mailbox.
    fn start(&self, mut w: Worker) {
        let mailbox: Rc<RefCell<Option<Cmd>>> = Rc::new(RefCell::new(None));
        let log: Rc<RefCell<Vec<Res>>> = Rc::new(RefCell::new(Vec::new()));
        self.mailboxes.borrow_mut().push(mailbox.clone());
        self.logs.borrow_mut().push(log.clone());
        go(move || loop {
            let cmd = mailbox.borrow_mut().take();
            match cmd {
                Some(Cmd::Run(step, op)) => {
                    let res = w.run(step, &op);
                    log.borrow_mut().push(res);
                }
                Some(Cmd::Stop) => return,
                None => yield_now(),
            }
        });
    }
}

enum Cmd {
    Run(usize, Op),
    Stop,
}

fn tx(w: &Worker, c: usize) -> &Sender<u32> {
    w.tx[c].as_ref().expect("driver checked the end")
}

fn rx(w: &Worker, c: usize) -> &Receiver<u32> {
    w.rx[c].as_ref().expect("driver checked the end")
}

impl Worker {
    fn run(&mut self, step: usize, op: &Op) -> Res {
        match *op {
            Op::Send(c) => match tx(self, c).send(value(step, 0)) {
                Ok(()) => Res::Sent,
                Err(e) => Res::SendFailed(e.0),
            },
            Op::TrySend(c) => match tx(self, c).try_send(value(step, 0)) {
                Ok(()) => Res::Sent,
                Err(gosched::TrySendError::Full(v)) => Res::Full(v),
                Err(gosched::TrySendError::Closed(v)) => Res::TrySendClosed(v),
            },
            Op::Recv(c) => recv_res(rx(self, c).recv()),
            Op::TryRecv(c) => match rx(self, c).try_recv() {
                Ok(v) => Res::Got(v),
                Err(gosched::TryRecvError::Empty) => Res::Empty,
                Err(gosched::TryRecvError::Closed) => Res::TryRecvClosed,
            },
            Op::Close(c) => Res::Closed(tx(self, c).close()),
            Op::DropTx(c) => {
                self.tx[c] = None;
                Res::Dropped
            }
            Op::DropRx(c) => {
                self.rx[c] = None;
                Res::Dropped
            }
            Op::Len(c) => Res::Len(match (&self.tx[c], &self.rx[c]) {
                (Some(t), _) => t.len(),
                (_, Some(r)) => r.len(),
                _ => unreachable!("driver checked the end"),
            }),
            Op::Select(ref cases, default) => {
                let mut sel = Select::new();
                for (i, case) in cases.iter().enumerate() {
                    match *case {
                        Case::Recv(c) => sel.recv(rx(self, c)),
                        Case::Send(c) => sel.send(tx(self, c), value(step, i)),
                    };
                }
                let op = if default {
                    match sel.try_select() {
                        Ok(op) => op,
                        Err(_) => return Res::Default,
                    }
                } else {
                    sel.select()
                };
                let i = op.index();
                let res = match cases[i] {
                    Case::Recv(c) => recv_res(op.recv(rx(self, c))),
                    Case::Send(c) => send_res(op.send(tx(self, c))),
                };
                Res::Selected(i, Box::new(res))
            }
            Op::Spawn => {
                self.crew.start(Worker {
                    tx: self.tx.clone(),
                    rx: self.rx.clone(),
                    crew: self.crew.clone(),
                });
                Res::Spawned
            }
            Op::Sleep(us) => {
                gosched::sleep(Duration::from_micros(us.into()));
                Res::Slept
            }
            Op::Macro(a, b, default) => {
                let (r, t, v) = (rx(self, a), tx(self, b), value(step, 1));
                if default {
                    select! {
                        recv(r) -> x => Res::Selected(0, Box::new(recv_res(x))),
                        send(t, v) -> x => Res::Selected(1, Box::new(send_res(x))),
                        default => Res::Default,
                    }
                } else {
                    select! {
                        recv(r) -> x => Res::Selected(0, Box::new(recv_res(x))),
                        send(t, v) -> x => Res::Selected(1, Box::new(send_res(x))),
                    }
                }
            }
        }
    }
}

fn recv_res(r: Result<u32, gosched::RecvError>) -> Res {
    r.map_or(Res::RecvFailed, Res::Got)
}

fn send_res(r: Result<(), gosched::SendError<u32>>) -> Res {
    r.map_or_else(|e| Res::SendFailed(e.0), |()| Res::Sent)
}

/// Runs `steps` for real and against the model; panics at the first
/// difference. A step's worker index wraps around the workers there are.
pub fn check(caps: Vec<usize>, workers: usize, steps: Vec<(usize, Op)>) {
    run(move || {
        let mut model = Model::new(&caps, workers);
        let ends: Vec<_> = caps.iter().map(|&c| chan::<u32>(c)).collect();
        let crew = Rc::new(Crew::default());
        for _ in 0..workers {
            crew.start(Worker {
                tx: ends.iter().map(|(t, _)| Some(t.clone())).collect(),
                rx: ends.iter().map(|(_, r)| Some(r.clone())).collect(),
                crew: crew.clone(),
            });
        }
        drop(ends); // the workers hold every end
        for (step, (g, op)) in steps.into_iter().enumerate() {
            let workers = model.blocked.len();
            let g = g % workers;
            if model.blocked[g] {
                continue;
            }
            let Some(op) = model.runnable(g, &op) else {
                continue;
            };
            let mailbox = crew.mailboxes.borrow()[g].clone();
            *mailbox.borrow_mut() = Some(Cmd::Run(step, op.clone()));
            if let Op::Sleep(us) = op {
                // Wait for the sleeper: its timer fires only when the
                // scheduler next polls its timers, not within a few yields.
                while crew.logs.borrow()[g].borrow().is_empty() {
                    gosched::sleep(Duration::from_micros(u64::from(us) + 1));
                }
            }
            // Enough turns for the worker and everyone it wakes to report.
            for _ in 0..2 * (workers + 2) {
                yield_now();
            }
            let mut real: Vec<(usize, Res)> = Vec::new();
            for (w, log) in crew.logs.borrow().iter().enumerate() {
                real.extend(log.borrow_mut().drain(..).map(|r| (w, r)));
            }
            let choice = real.iter().find_map(|(w, r)| match r {
                Res::Selected(i, _) if *w == g => Some(*i),
                _ => None,
            });
            model.done.clear();
            model.apply(g, step, &op, choice);
            let mut want = std::mem::take(&mut model.done);
            want.sort();
            real.sort();
            assert_eq!(
                real, want,
                "step {step}: goroutine {g} ran {op:?}; model before the step \
                 completed these; state now: {model:?}"
            );
        }
        for m in crew.mailboxes.borrow().iter() {
            *m.borrow_mut() = Some(Cmd::Stop);
        }
        // Blocked workers stay blocked; run unwinds them when main returns.
    });
}
