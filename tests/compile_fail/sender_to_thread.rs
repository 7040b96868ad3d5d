// A channel parks the goroutines of one scheduler: its ends stay on that thread.
fn main() {
    gosched::run(|| {
        let (tx, rx) = gosched::chan::<u32>(1);
        std::thread::spawn(move || tx.try_send(1)).join().unwrap().unwrap();
        rx.try_recv().unwrap();
    });
}
