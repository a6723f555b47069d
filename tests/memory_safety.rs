//! The unit tests of the code with `unsafe` blocks (anonymous mappings, the recvmmsg batch, the BPF
//! steering program, epoll and timerfd, the multicast interface lookup, the UDP port pair) run under
//! valgrind's memcheck: every byte handed to the kernel initialised, no read or write outside what was
//! allocated or mapped. (Miri cannot follow these system calls, and the sanitizers need a nightly
//! compiler.)

use std::path::PathBuf;
use std::process::Command;

/// The library's unit-test executable, as `cargo test --lib` builds it.
fn lib_test_binary() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["test", "--lib", "--no-run", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo test --no-run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\"") && l.contains("\"test\":true"))
        .find_map(|l| {
            let at = l.find("\"executable\":\"")? + "\"executable\":\"".len();
            let end = l[at..].find('"')?;
            Some(PathBuf::from(&l[at..at + end]))
        })
        .expect("the library's test executable in cargo's output")
}

#[test]
fn unsafe_code_is_clean_under_valgrind() {
    let binary = lib_test_binary();
    let modules = [
        "mapping",
        "held_bytes",
        "au_bytes",
        "batch",
        "steering",
        "epoll",
        "multicast",
        "udp",
    ];
    let out = Command::new("valgrind")
        .args(["--error-exitcode=9", "--leak-check=no", "-q"])
        .arg(&binary)
        .args(modules)
        .arg("--test-threads=1")
        .output()
        .expect("valgrind is missing: install valgrind (scripts/setup.sh does)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "valgrind: {stderr}\n{stdout}");
    let passed: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= 30,
        "only {passed} tests ran under valgrind:\n{stdout}"
    );
}
