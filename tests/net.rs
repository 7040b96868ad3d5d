//! `gosched::net`: sockets that park only their goroutine. An echo server
//! under 1,000 concurrent clients while a ticker keeps ticking, UDP
//! ping-pong, half-close, timeouts, and the faults: refused, reset, closed
//! peer, broken pipe without SIGPIPE, EMFILE at accept, goroutines parked on
//! sockets at shutdown, a socket used outside a goroutine or by a later
//! runtime. 127.0.0.1 only; every loop is bounded.
//!
//! Natively, and in a WASIp3 component (wasm32-wasip2, feature `wasip3`,
//! on wasi:sockets under wasmtime) except the tests marked
//! `#[cfg(not(target_arch = "wasm32"))]`: those need std threads, child
//! processes, raw fds (`SO_LINGER`, the fd limit), std socket conversions,
//! non-blocking mode or unwinding panics, which a component lacks.
#![cfg(any(
    not(target_arch = "wasm32"),
    all(target_env = "p2", feature = "wasip3")
))]

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
#[cfg(not(target_arch = "wasm32"))]
use std::os::fd::AsRawFd;
#[cfg(not(target_arch = "wasm32"))]
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use gosched::net::{TcpListener, TcpStream, UdpSocket};
use gosched::{go, run};

/// An echo server on a free port: one goroutine per connection.
fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    go(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            go(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A connected pair: (client, server side).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// Sets `SO_LINGER` to zero: closing the socket then resets the connection.
#[cfg(not(target_arch = "wasm32"))]
fn linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd and a correctly sized `linger` for SO_LINGER.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}

#[cfg(not(target_arch = "wasm32"))]
const CHILD_ENV: &str = "GOSCHED_NET_TEST_CHILD";

/// Runs `scenario` in a child process (for process-wide state: the fd limit,
/// SIGPIPE); in the parent, asserts that the child passed.
#[cfg(not(target_arch = "wasm32"))]
fn in_child(test: &str, scenario: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        scenario();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--include-ignored", "--nocapture"])
        .env(CHILD_ENV, test)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child `{test}` failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The same on every target. In a WASIp3 component (under wasmtime a
/// goroutine's turn costs ~10 µs, and the sockets' host side runs on
/// wasmtime's threads) the ticker keeps its ticks because a goroutine that a
/// timer wakes runs before the queue of ready connections (the runtime's
/// runnext for timer wakes); without that, 70-75 % with the CPUs shared.
#[test]
fn echo_1000_clients_100_round_trips_while_a_ticker_ticks() {
    const CLIENTS: usize = 1000;
    const ROUNDS: usize = 100;
    const PERIOD: Duration = Duration::from_millis(10);
    let (ticks, elapsed) = run(|| {
        let addr = echo_server();
        let done = Rc::new(Cell::new(false));
        let ticks = {
            let done = done.clone();
            go(move || {
                let ticker = gosched::tick(PERIOD);
                let mut ticks = 0u32;
                while !done.get() {
                    ticker.recv().unwrap();
                    ticks += 1;
                }
                ticks
            })
        };
        let start = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                go(move || {
                    let mut stream = TcpStream::connect(addr).unwrap();
                    let mut reply = [0u8; 64];
                    for round in 0..ROUNDS {
                        let message: Vec<u8> =
                            (0..64).map(|i| (id * 31 + round * 7 + i) as u8).collect();
                        stream.write_all(&message).unwrap();
                        stream.read_exact(&mut reply).unwrap();
                        assert_eq!(&reply[..], &message[..], "client {id} round {round}");
                    }
                    ROUNDS
                })
            })
            .collect();
        let round_trips: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(round_trips, CLIENTS * ROUNDS);
        let elapsed = start.elapsed();
        done.set(true);
        (ticks.join().unwrap(), elapsed)
    });
    let expected = (elapsed.as_millis() / PERIOD.as_millis()) as u32;
    eprintln!("ticker: {ticks} of {expected} ticks in {elapsed:?}");
    assert!(
        ticks as f64 >= 0.8 * expected as f64,
        "the ticker ticked {ticks} times in {elapsed:?} (expected about {expected})"
    );
}

#[test]
fn udp_ping_pong() {
    run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        let ponger = go(move || {
            let mut buf = [0u8; 8];
            for _ in 0..500 {
                let n = b.recv(&mut buf).unwrap();
                let value = u64::from_le_bytes(buf[..n].try_into().unwrap());
                b.send(&(value + 1).to_le_bytes()).unwrap();
            }
        });
        let mut value = 0u64;
        let mut buf = [0u8; 8];
        for _ in 0..500 {
            a.send(&value.to_le_bytes()).unwrap();
            let n = a.recv(&mut buf).unwrap();
            value = u64::from_le_bytes(buf[..n].try_into().unwrap()) + 1;
        }
        ponger.join().unwrap();
        assert_eq!(value, 1000);
    });
}

#[test]
fn udp_send_to_and_recv_from_name_the_peer() {
    run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b_addr = b.local_addr().unwrap();
        let echo = go(move || {
            let mut buf = [0u8; 32];
            let (n, from) = b.recv_from(&mut buf).unwrap();
            b.send_to(&buf[..n], from).unwrap();
            from
        });
        a.send_to(b"hello", b_addr).unwrap();
        let mut buf = [0u8; 32];
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], b_addr));
        assert_eq!(echo.join().unwrap(), a.local_addr().unwrap());
    });
}

#[test]
fn half_close_then_reply() {
    run(|| {
        let (mut client, mut server) = pair();
        let server = go(move || {
            let mut request = Vec::new();
            server.read_to_end(&mut request).unwrap();
            server.write_all(&request.repeat(2)).unwrap();
        });
        client.write_all(b"abc").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, b"abcabc");
        server.join().unwrap();
    });
}

#[test]
fn one_goroutine_reads_while_another_writes_the_same_stream() {
    run(|| {
        let addr = echo_server();
        let stream = Rc::new(TcpStream::connect(addr).unwrap());
        let reader = {
            let stream = stream.clone();
            go(move || {
                let mut got = vec![0u8; 100_000];
                (&*stream).read_exact(&mut got).unwrap();
                got
            })
        };
        let sent: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        // Bigger than the socket buffers: the writer parks on writability
        // while the reader parks on readability of the same fd.
        (&*stream).write_all(&sent).unwrap();
        assert_eq!(reader.join().unwrap(), sent);
    });
}

#[test]
fn try_clone_shares_the_connection() {
    run(|| {
        let addr = echo_server();
        let mut writer = TcpStream::connect(addr).unwrap();
        let mut reader = writer.try_clone().unwrap();
        let read = go(move || {
            let mut buf = [0u8; 5];
            reader.read_exact(&mut buf).unwrap();
            buf
        });
        writer.write_all(b"clone").unwrap();
        assert_eq!(&read.join().unwrap(), b"clone");
    });
}

#[test]
fn read_timeout_gives_std_error_kind_and_the_stream_stays_usable() {
    run(|| {
        let (mut client, mut server) = pair();
        client
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let start = Instant::now();
        let err = client.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(start.elapsed() >= Duration::from_millis(30));
        server.write_all(b"late").unwrap();
        let mut buf = [0u8; 4];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"late");
    });
}

#[test]
fn write_timeout_expires_when_the_peer_does_not_read() {
    run(|| {
        let (client, _server) = pair();
        client
            .set_write_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let chunk = vec![7u8; 1 << 16];
        let mut written = 0usize;
        let err = loop {
            match (&client).write(&chunk) {
                Ok(n) => written += n,
                Err(e) => break e,
            }
            assert!(written < 1 << 30, "the peer's buffers never filled up");
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    });
}

#[test]
fn zero_timeouts_are_rejected_as_in_std() {
    run(|| {
        let (client, _server) = pair();
        let err = client.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let addr = client.peer_addr().unwrap();
        let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    run(|| {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = TcpStream::connect(port).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        let err = TcpStream::connect_timeout(&port, Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn connect_resolves_names_off_the_scheduler_thread() {
    run(|| {
        let addr = echo_server();
        let mut stream = TcpStream::connect(("localhost", addr.port()))
            .or_else(|_| TcpStream::connect(format!("127.0.0.1:{}", addr.port())))
            .unwrap();
        stream.write_all(b"x").unwrap();
        let mut b = [0u8];
        stream.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
        let err = TcpStream::connect("no-such-host.invalid:80").unwrap_err();
        assert_ne!(err.kind(), ErrorKind::WouldBlock);
    });
}

#[test]
fn peer_close_reads_zero() {
    run(|| {
        let (mut client, server) = pair();
        drop(server);
        assert_eq!(client.read(&mut [0u8; 8]).unwrap(), 0);
    });
}

/// The portable half of `write_to_a_closed_peer_is_broken_pipe_not_sigpipe`
/// (a component has no signals to check).
#[cfg(target_arch = "wasm32")]
#[test]
fn write_to_a_closed_peer_is_broken_pipe() {
    run(|| {
        let (mut client, server) = pair();
        drop(server);
        let mut errors = Vec::new();
        for _ in 0..100 {
            match client.write_all(b"data") {
                Ok(()) => gosched::sleep(Duration::from_millis(1)),
                Err(e) => {
                    errors.push(e.kind());
                    break;
                }
            }
        }
        assert_eq!(errors.last(), Some(&ErrorKind::BrokenPipe), "{errors:?}");
    });
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn peer_reset_mid_read_fails_that_goroutine_only() {
    run(|| {
        let addr = echo_server();
        let (mut victim, server) = pair();
        let bystander = go(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            for i in 0..50u8 {
                stream.write_all(&[i]).unwrap();
                let mut b = [0u8];
                stream.read_exact(&mut b).unwrap();
                assert_eq!(b[0], i);
                gosched::sleep(Duration::from_millis(1));
            }
        });
        let reader = go(move || victim.read(&mut [0u8; 8]));
        gosched::sleep(Duration::from_millis(10));
        linger_zero(&server);
        drop(server);
        let err = reader.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        bystander.join().unwrap();
    });
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn write_to_a_closed_peer_is_broken_pipe_not_sigpipe() {
    in_child("write_to_a_closed_peer_is_broken_pipe_not_sigpipe", || {
        // The default action of SIGPIPE kills the process; Rust's own
        // `main` ignores it, a C host embedding gosched may not.
        // SAFETY: setting a signal's disposition to its default.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        run(|| {
            let (mut client, server) = pair();
            drop(server);
            let mut kinds = Vec::new();
            for _ in 0..100 {
                match client.write(b"data") {
                    Ok(n) => {
                        assert!(n > 0);
                        gosched::sleep(Duration::from_millis(1));
                    }
                    Err(e) => {
                        kinds.push(e.kind());
                        if e.kind() == ErrorKind::BrokenPipe {
                            break;
                        }
                    }
                }
            }
            assert_eq!(kinds.last(), Some(&ErrorKind::BrokenPipe), "{kinds:?}");
        });
    });
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn accept_at_the_fd_limit_fails_then_serves_again() {
    in_child("accept_at_the_fd_limit_fails_then_serves_again", || {
        run(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            // A low limit, then every fd below it taken.
            let limit = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            // SAFETY: a valid rlimit for RLIMIT_NOFILE.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
            let mut fillers = Vec::new();
            loop {
                match std::fs::File::open("/dev/null") {
                    Ok(f) => fillers.push(f),
                    Err(e) => {
                        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                        break;
                    }
                }
            }
            // One fd for the client; the connection completes in the
            // kernel's backlog, but accepting it needs another fd.
            fillers.pop();
            let client = TcpStream::connect(addr).unwrap();
            let err = listener.accept().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
            fillers.truncate(fillers.len() - 4);
            let (mut conn, _) = listener.accept().unwrap();
            (&client).write_all(b"ok").unwrap();
            let mut buf = [0u8; 2];
            conn.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ok");
        });
    });
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn goroutine_parked_on_a_socket_at_shutdown_is_unwound_and_its_fd_closed() {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let unwound = Rc::new(Cell::new(false));
    let flag = unwound.clone();
    let mut client = run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        go(move || {
            let _flag = Flag(flag);
            let (mut conn, _) = listener.accept().unwrap();
            let _ = conn.read(&mut [0u8; 8]);
            unreachable!("the client never writes");
        });
        gosched::sleep(Duration::from_millis(20));
        client
    });
    assert!(unwound.get(), "the parked goroutine was not unwound");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        client.read(&mut [0u8; 8]).unwrap(),
        0,
        "the server side was not closed"
    );
}

/// Runs a runtime that accepts one connection, parks a goroutine in `op`
/// on the server side of it, and returns after `settle_ms` without waiting
/// for that goroutine: its client end and the listener outlive the runtime.
fn server_conn_abandoned_in(
    op: impl FnOnce(TcpStream) + 'static,
    settle_ms: u64,
) -> (TcpStream, TcpListener) {
    run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (conn, _) = listener.accept().unwrap();
        go(move || op(conn));
        gosched::sleep(Duration::from_millis(settle_ms));
        (client, listener)
    })
}

#[test]
fn a_connection_parked_on_at_shutdown_is_closed_and_the_peer_reads_eof() {
    let (client, listener) = server_conn_abandoned_in(
        |mut conn| {
            let _ = conn.read(&mut [0u8; 8]);
            unreachable!("the client never writes");
        },
        20,
    );
    // A later runtime of the same thread (wasm: the same instance).
    run(move || {
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let read = (&client).read(&mut [0u8; 8]);
        assert_eq!(
            read.map_err(|e| e.kind()),
            Ok(0),
            "the abandoned goroutine's connection was not closed"
        );
        drop(listener);
    });
}

#[test]
fn a_connection_parked_on_a_write_at_shutdown_is_closed_and_the_peer_reads_eof() {
    const SENT: usize = 32 << 20; // more than loopback's buffers take
    let (client, listener) = server_conn_abandoned_in(
        |mut conn| {
            let _ = conn.write_all(&vec![7u8; SENT]);
            unreachable!("the client never reads");
        },
        50,
    );
    // A later runtime of the same thread (wasm: the same instance).
    run(move || {
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut received = 0;
        let mut buf = vec![0u8; 1 << 16];
        let end = loop {
            match (&client).read(&mut buf) {
                Ok(0) => break Ok(0),
                Ok(n) => received += n,
                Err(e) => break Err(e.kind()),
            }
        };
        assert_eq!(
            end,
            Ok(0),
            "the write-blocked connection was not closed ({received} bytes arrived)"
        );
        assert!(
            received < SENT,
            "the write was not blocked: {received} bytes"
        );
        drop(listener);
    });
}

#[test]
fn a_connection_parked_on_a_read_at_shutdown_is_closed_whole_and_the_peer_cannot_write() {
    let (client, listener) = server_conn_abandoned_in(
        |mut conn| {
            let _ = conn.read(&mut [0u8; 8]);
            unreachable!("the client never writes");
        },
        20,
    );
    run(move || {
        // A socket closed whole answers data with a reset: a later write
        // fails. A pending read still open would take every byte.
        let refused = (0..100).find_map(|_| {
            let written = (&client).write(b"x");
            gosched::sleep(Duration::from_millis(10));
            written.err()
        });
        let kind = refused.map(|e| e.kind());
        assert!(
            matches!(
                kind,
                Some(ErrorKind::BrokenPipe | ErrorKind::ConnectionReset)
            ),
            "the peer could still write: {kind:?}"
        );
        drop(listener);
    });
}

#[test]
fn a_listener_parked_in_accept_at_shutdown_is_closed_and_its_port_binds_again() {
    let addr = run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        go(move || {
            let _ = listener.accept();
            unreachable!("nobody connects");
        });
        gosched::sleep(Duration::from_millis(20));
        addr
    });
    run(move || {
        let again = TcpListener::bind(addr);
        assert!(again.is_ok(), "{addr} still taken: {again:?}");
    });
}

#[test]
fn a_udp_socket_parked_in_recv_at_shutdown_is_closed_and_its_port_binds_again() {
    let addr = run(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        go(move || {
            let _ = socket.recv_from(&mut [0u8; 8]);
            unreachable!("nobody sends");
        });
        gosched::sleep(Duration::from_millis(20));
        addr
    });
    run(move || {
        let again = UdpSocket::bind(addr);
        assert!(again.is_ok(), "{addr} still taken: {again:?}");
    });
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_socket_parked_on_is_not_a_deadlock() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        conn.write_all(b"late").unwrap();
    });
    let got = run(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).unwrap();
        buf
    });
    assert_eq!(&got, b"late");
    writer.join().unwrap();
}

#[test]
fn the_goroutine_dump_shows_socket_waits_as_io_wait() {
    run(|| {
        let (client, server) = pair();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let reader = gosched::Builder::new()
            .name("reader".into())
            .spawn(move || (&server).read(&mut [0u8; 8]).unwrap())
            .unwrap();
        let acceptor = gosched::Builder::new()
            .name("acceptor".into())
            .spawn(move || drop(listener.accept()))
            .unwrap();
        // Both start and park; nothing has arrived.
        gosched::sleep(Duration::from_millis(20));
        let dump = gosched::goroutine_dump();
        assert_eq!(
            dump.lines().collect::<Vec<_>>(),
            [
                r#"goroutine 1 "main" [running]"#,
                r#"goroutine 2 "reader" [IO wait]"#,
                r#"goroutine 3 "acceptor" [IO wait]"#,
            ],
            "{dump}"
        );
        (&client).write_all(b"x").unwrap();
        assert_eq!(reader.join().unwrap(), 1);
        drop(acceptor); // still parked: unwound at the end of `run`
    });
}

#[test]
fn a_busy_run_queue_still_serves_sockets() {
    run(|| {
        let addr = echo_server();
        let done = Rc::new(Cell::new(false));
        let spinner = {
            let done = done.clone();
            // Never lets the run queue run dry, so the scheduler never idles.
            go(move || {
                let start = Instant::now();
                while !done.get() && start.elapsed() < Duration::from_secs(10) {
                    gosched::yield_now();
                }
                done.get()
            })
        };
        let mut stream = TcpStream::connect(addr).unwrap();
        for i in 0..20u8 {
            stream.write_all(&[i]).unwrap();
            let mut b = [0u8];
            stream.read_exact(&mut b).unwrap();
            assert_eq!(b[0], i);
        }
        done.set(true);
        assert!(
            spinner.join().unwrap(),
            "round trips waited for the spinner"
        );
    });
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_socket_outlives_its_runtime_and_works_in_the_next() {
    let (listener, addr) = run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Registered with this runtime's netpoller by a parked accept.
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err());
        listener.set_nonblocking(false).unwrap();
        let probe = go({
            let listener = listener.try_clone().unwrap();
            move || listener.accept().map(|_| ())
        });
        gosched::yield_now();
        drop(probe);
        (listener, addr)
    });
    run(move || {
        go(move || drop(TcpStream::connect(addr).unwrap()));
        let (_conn, peer) = listener.accept().unwrap();
        assert!(peer.ip().is_loopback());
    });
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn std_sockets_convert_both_ways() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let back = run(move || {
        let listener = TcpListener::from(std_listener);
        go(move || drop(TcpStream::connect(addr).unwrap()));
        let (conn, _) = listener.accept().unwrap();
        let std_conn = conn.into_std().unwrap();
        let conn = TcpStream::from(std_conn);
        conn.into_std().unwrap()
    });
    // Blocking again: a read returns the peer's close, not WouldBlock.
    let mut back = back;
    assert_eq!(back.read(&mut [0u8; 4]).unwrap(), 0);
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
#[should_panic(expected = "must be called inside a goroutine")]
fn blocking_outside_a_goroutine_panics() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _ = listener.accept();
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn unblock_parks_only_its_goroutine() {
    let (value, ticks) = run(|| {
        let ticker = go(|| {
            // Main is in `unblock` when this first runs: Go's `[syscall]`.
            let dump = gosched::goroutine_dump();
            let mut ticks = 0;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(40) {
                gosched::sleep(Duration::from_millis(2));
                ticks += 1;
            }
            (ticks, dump)
        });
        let value = gosched::unblock(|| {
            std::thread::sleep(Duration::from_millis(60));
            7
        });
        (value, ticker.join().unwrap())
    });
    let (ticks, dump) = ticks;
    assert_eq!(value, 7);
    assert!(ticks >= 5, "the ticker ran {ticks} times during unblock");
    assert_eq!(
        dump,
        "goroutine 1 \"main\" [syscall]\ngoroutine 2 [running]"
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn unblock_resumes_the_closure_panic_in_the_caller() {
    let caught = run(|| {
        std::panic::catch_unwind(|| {
            gosched::unblock(|| -> u8 { std::panic::resume_unwind(Box::new("pool boom")) })
        })
    });
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"pool boom"));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_nonblocking_read_asks_the_os_even_without_yielding() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        conn.write_all(b"x").unwrap();
        // Keep the connection open until the reader is done.
        let _ = conn.read(&mut [0u8; 1]);
    });
    run(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        // A timed-out read registers the socket and leaves it "drained".
        stream
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        assert!(stream.read(&mut [0u8; 1]).is_err());
        stream.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let mut byte = [0u8; 1];
        // Spins without letting the scheduler take events, as std code may.
        loop {
            match stream.read(&mut byte) {
                Ok(1) => break,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => panic!("unexpected {other:?}"),
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the data never showed"
            );
        }
        assert_eq!(&byte, b"x");
        drop(stream);
    });
    writer.join().unwrap();
}
