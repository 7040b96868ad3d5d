// A Program owns a scheduler whose goroutines run on the thread that started it.
fn main() {
    let mut program = gosched::Runtime::new().start(|| 1);
    std::thread::spawn(move || program.poll()).join().unwrap();
}
