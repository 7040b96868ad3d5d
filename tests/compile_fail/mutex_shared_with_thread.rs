// A goroutine Mutex parks goroutines of one scheduler: it is not Sync, so two
// OS threads cannot share it.
fn main() {
    let mutex = gosched::sync::Mutex::new(0);
    std::thread::scope(|s| {
        s.spawn(|| *mutex.lock() += 1);
    });
}
