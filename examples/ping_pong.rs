//! Two players hit a ball back and forth over one unbuffered channel (from
//! Sameer Ajmani's "Advanced Go Concurrency Patterns"). Receivers are served
//! in the order they started waiting, so the players take turns.
//!
//! Run with `cargo run --example ping_pong`.

use std::time::Duration;

use gosched::{chan, go, sleep, Receiver, Sender};

struct Ball {
    hits: u32,
    last: &'static str,
}

fn player(name: &'static str, table: (Sender<Ball>, Receiver<Ball>)) {
    let (toss, catch) = table;
    for mut ball in &catch {
        assert_ne!(ball.last, name, "players take turns");
        ball.hits += 1;
        ball.last = name;
        println!("{name} {}", ball.hits);
        sleep(Duration::from_millis(10));
        if toss.send(ball).is_err() {
            return;
        }
    }
}

// `pub`: tests/examples.rs runs this as a test too.
pub fn main() {
    let hits = gosched::run(|| {
        let (toss, catch) = chan(0);
        go({
            let table = (toss.clone(), catch.clone());
            move || player("ping", table)
        });
        go({
            let table = (toss.clone(), catch.clone());
            move || player("pong", table)
        });
        toss.send(Ball { hits: 0, last: "" }).unwrap(); // game on
        sleep(Duration::from_millis(95));
        catch.recv().unwrap().hits // game over: grab the ball
    });
    println!("{hits} hits");
    assert!(hits >= 2, "both players hit the ball");
}
