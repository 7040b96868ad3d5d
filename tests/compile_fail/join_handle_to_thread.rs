// A JoinHandle names a goroutine of this thread's scheduler: it must not move
// to another OS thread.
fn main() {
    gosched::run(|| {
        let handle = gosched::go(|| 1);
        std::thread::spawn(move || handle.is_finished()).join().unwrap();
    });
}
