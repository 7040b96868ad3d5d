// A channel parks the goroutines of one scheduler: its ends stay on that thread.
fn main() {
    gosched::run(|| {
        let (tx, rx) = gosched::chan::<u32>(1);
        tx.send(1).unwrap();
        std::thread::spawn(move || rx.try_recv()).join().unwrap().unwrap();
    });
}
