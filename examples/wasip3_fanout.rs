//! Fan-out/fan-in over WASIp3 I/O: one goroutine per file of a directory
//! reads it through `wasi:filesystem@0.3.0` streams, the counts come back over
//! a channel, and the table goes out through `wasi:cli/stdout@0.3.0`.
//!
//! ```text
//! cargo gosched run --target wasm32-wasip2 --features wasip3 --example wasip3_fanout -- [DIR]
//! ```
//!
//! DIR (default `src/chan`) is relative to the current directory, which
//! cargo gosched preopens as `.`.

use std::future::IntoFuture as _;
use std::io::Write as _;
use std::rc::Rc;

use gosched::wasip3;
use gosched::wasip3::bindings::filesystem::preopens;
use gosched::wasip3::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, OpenFlags, PathFlags,
};
use gosched::wasip3::bindings::wit_bindgen::StreamResult;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "src/chan".into());
    gosched::run(move || {
        let dir = Rc::new(open_dir(&dir));
        let names = regular_files(&dir);

        // Fan out: one goroutine per file, each parked in its own reads.
        let (results_tx, results_rx) = gosched::chan(0);
        for name in names {
            let (dir, results_tx) = (dir.clone(), results_tx.clone());
            gosched::go(move || {
                let counts = count(&dir, &name);
                results_tx.send((name, counts)).unwrap();
            });
        }
        drop(results_tx);

        // Fan in, in whatever order the reads finish; print sorted.
        let mut results: Vec<(String, (usize, usize))> = results_rx.iter().collect();
        results.sort();
        let mut out = wasip3::stdout();
        let (mut lines, mut bytes) = (0, 0);
        for (name, (l, b)) in &results {
            writeln!(out, "{name:<20} {l:>6} lines {b:>8} bytes").unwrap();
            lines += l;
            bytes += b;
        }
        writeln!(
            out,
            "{} files, {lines} lines, {bytes} bytes, read by {} goroutines at once",
            results.len(),
            results.len()
        )
        .unwrap();
        out.close().unwrap();
    });
}

/// Opens `path` under the preopened current directory.
fn open_dir(path: &str) -> Descriptor {
    let (root, _) = preopens::get_directories()
        .into_iter()
        .find(|(_, name)| name == ".")
        .expect("no preopened '.' (run through cargo gosched)");
    gosched::block_on(root.open_at(
        PathFlags::empty(),
        path.to_owned(),
        OpenFlags::DIRECTORY,
        DescriptorFlags::READ,
    ))
    .unwrap_or_else(|e| panic!("open {path}: {e:?}"))
}

fn regular_files(dir: &Descriptor) -> Vec<String> {
    let (entries, done) = dir.read_directory();
    let entries = gosched::block_on(entries.collect());
    gosched::block_on(done.into_future()).expect("read_directory");
    entries
        .into_iter()
        .filter(|e| matches!(e.type_, DescriptorType::RegularFile))
        .map(|e| e.name)
        .collect()
}

/// Lines and bytes of `dir/name`, read through a stream in 4 KiB chunks.
fn count(dir: &Descriptor, name: &str) -> (usize, usize) {
    let file = gosched::block_on(dir.open_at(
        PathFlags::empty(),
        name.to_owned(),
        OpenFlags::empty(),
        DescriptorFlags::READ,
    ))
    .unwrap_or_else(|e| panic!("open {name}: {e:?}"));
    let (mut data, done) = file.read_via_stream(0);
    let (mut lines, mut bytes) = (0, 0);
    loop {
        let (result, chunk) = gosched::block_on(data.read(Vec::with_capacity(4096)));
        lines += chunk.iter().filter(|&&b| b == b'\n').count();
        bytes += chunk.len();
        if matches!(result, StreamResult::Dropped | StreamResult::Cancelled) {
            break; // end of file
        }
    }
    drop(data);
    gosched::block_on(done.into_future()).unwrap_or_else(|e| panic!("read {name}: {e:?}"));
    (lines, bytes)
}
