//! A test binary that dies on a signal (SIGSEGV in a GStreamer thread, say) prints only "signal: 11"
//! under `cargo test`, and CI keeps no core file. This handler first prints which thread crashed and
//! its backtrace (library frames included, named where their symbols are exported), then lets the
//! signal take its usual course. Not async-signal-safe: the process is dying anyway, and a report that
//! fails to print costs nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGABRT];

/// The handlers that were there before (Rust's stack-overflow detector for SIGSEGV and SIGBUS).
static PREVIOUS: OnceLock<Vec<(libc::c_int, libc::sigaction)>> = OnceLock::new();
static REPORTED: AtomicBool = AtomicBool::new(false);

extern "C" fn report(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    if !REPORTED.swap(true, Ordering::AcqRel) {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() };
        let thread = std::thread::current();
        let text = format!(
            "\n*** signal {signal} (fault address {addr:?}) in thread {:?}\n{}\n",
            thread
                .name()
                .unwrap_or("<unnamed: a GStreamer or GLib thread>"),
            std::backtrace::Backtrace::force_capture()
        );
        // Straight to the descriptor: the test harness captures `eprintln!` of test threads (and
        // of the threads they spawn) and prints it only for a test that returns.
        // SAFETY: writes `text`'s bytes, which live until the call returns.
        unsafe { libc::write(2, text.as_ptr().cast(), text.len()) };
    }
    // Back to what was there: Rust's handler reports a stack overflow, the default ends the process;
    // returning re-runs the faulting instruction (SIGABRT is raised again) under it.
    if let Some(previous) = PREVIOUS.get() {
        for (s, action) in previous.iter().filter(|(s, _)| *s == signal) {
            // SAFETY: restores an action read by sigaction itself.
            unsafe { libc::sigaction(*s, action, std::ptr::null_mut()) };
            if action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN {
                let chained: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    // SAFETY: an SA_SIGINFO handler installed by the runtime, called as the kernel would.
                    unsafe { std::mem::transmute(action.sa_sigaction) };
                chained(signal, info, context);
                return;
            }
        }
    }
    if signal == libc::SIGABRT {
        // SAFETY: raising a signal whose default action is now in place.
        unsafe { libc::raise(signal) };
    }
}

/// Installs the report once per process.
pub fn install() {
    PREVIOUS.get_or_init(|| {
        let mut previous = Vec::new();
        for signal in SIGNALS {
            // SAFETY: a zeroed sigaction is valid; sigaction fills `old` and installs `new`.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    report;
                new.sa_sigaction = handler as usize;
                // On the thread's own stack: symbolizing a backtrace needs far more than the small
                // alternate stack Rust gives its threads (a stack overflow then dies unreported).
                new.sa_flags = libc::SA_SIGINFO;
                libc::sigemptyset(&mut new.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, &new, &mut old) == 0 {
                    previous.push((signal, old));
                }
            }
        }
        previous
    });
}
