//! A TCP echo server on `gosched::net`: one goroutine per connection, plus a
//! ticker goroutine that keeps ticking while connections come and go (a
//! blocking `std::net` accept would stop it).
//!
//!     cargo run --release --example echo_server -- 127.0.0.1:7411
//!
//! The listen address is the last argument (default 127.0.0.1:7411); the
//! server prints `listening on ADDR`, then one line per second. Try it with
//! `nc 127.0.0.1 7411`. The same source runs as a WASIp3 component
//! (`examples/wasip3_echo.rs`).

#[cfg(any(
    not(target_arch = "wasm32"),
    all(target_env = "p2", feature = "wasip3")
))]
mod server {
    use std::cell::Cell;
    use std::io::{Read, Write};
    use std::rc::Rc;
    use std::time::Duration;

    use gosched::net::{TcpListener, TcpStream};

    fn serve(mut conn: TcpStream, served: Rc<Cell<u64>>) {
        // Small writes go out at once, as Go's net package does by default.
        let _ = conn.set_nodelay(true);
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                    served.set(served.get() + n as u64);
                }
            }
        }
    }

    pub fn main() {
        let addr = std::env::args()
            .skip(1)
            .last()
            .unwrap_or_else(|| "127.0.0.1:7411".to_owned());
        gosched::run(move || {
            let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
                eprintln!("echo_server: cannot listen on {addr}: {e}");
                std::process::exit(1)
            });
            println!("listening on {}", listener.local_addr().unwrap());
            let connections = Rc::new(Cell::new(0u64));
            let echoed = Rc::new(Cell::new(0u64));
            let (c, e) = (connections.clone(), echoed.clone());
            gosched::go(move || {
                let ticker = gosched::tick(Duration::from_secs(1));
                for n in 1.. {
                    ticker.recv().unwrap();
                    println!(
                        "tick {n}: {} connections, {} bytes echoed",
                        c.get(),
                        e.get()
                    );
                }
            });
            for conn in listener.incoming() {
                match conn {
                    Ok(conn) => {
                        connections.set(connections.get() + 1);
                        let echoed = echoed.clone();
                        gosched::go(move || serve(conn, echoed));
                    }
                    // Out of fds, or the client gave up before the accept: the
                    // listener keeps serving.
                    Err(e) => eprintln!("echo_server: accept: {e}"),
                }
            }
        });
    }
}

#[cfg(any(
    not(target_arch = "wasm32"),
    all(target_env = "p2", feature = "wasip3")
))]
fn main() {
    server::main();
}

#[cfg(all(
    target_arch = "wasm32",
    not(all(target_env = "p2", feature = "wasip3"))
))]
fn main() {
    eprintln!("echo_server: gosched::net needs a native target or a WASIp3 component");
    std::process::exit(1);
}
