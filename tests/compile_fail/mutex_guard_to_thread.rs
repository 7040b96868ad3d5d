// A goroutine Mutex's guard unlocks through the scheduler of its own thread.
fn main() {
    let mutex: &'static gosched::sync::Mutex<u32> = Box::leak(Box::new(gosched::sync::Mutex::new(0)));
    let guard = mutex.lock();
    std::thread::spawn(move || *guard + 1).join().unwrap();
}
