//! Replays the fuzz seed corpus (and every crash the fuzzers found, kept there) through the fuzz entry
//! points, so CI covers them without a fuzzer.

use std::path::Path;

#[test]
fn corpus_replays_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, target) in gstrustrtsp::fuzzing::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds for {name}");
        for f in files {
            let data = std::fs::read(&f).unwrap();
            target(&data);
            // Every prefix too: truncated input is the most common bad input.
            for cut in (0..data.len()).step_by(7) {
                target(&data[..cut]);
            }
        }
    }
}
