// A gosched::net socket waits on its thread's scheduler: it cannot move to
// another thread (convert it with into_std instead).
fn main() {
    gosched::run(|| {
        let listener = gosched::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = gosched::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        std::thread::spawn(move || drop(stream)).join().unwrap();
    });
}
