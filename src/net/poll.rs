//! Waiting on several sockets at once (poll(2)), with a wake-up that `unlock` uses to interrupt the
//! streaming thread without a thread hop on the data path.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

/// Interrupts a `poll` from another thread. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Waker {
    tx: Arc<UnixStream>,
    rx: Arc<UnixStream>,
}

impl Waker {
    pub fn new() -> io::Result<Self> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(Waker {
            tx: Arc::new(tx),
            rx: Arc::new(rx),
        })
    }

    pub fn wake(&self) {
        // A full pipe already means "woken".
        let _ = (&*self.tx).write(&[1]);
    }

    /// Clears pending wake-ups.
    pub fn reset(&self) {
        let mut buf = [0u8; 64];
        while matches!((&*self.rx).read(&mut buf), Ok(n) if n > 0) {}
    }

    pub fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }
}

/// Waits until one of `fds` is readable or `timeout` passes; returns which are readable.
pub fn wait_readable(
    fds: &[RawFd],
    timeout: Option<Duration>,
    ready: &mut [bool],
) -> io::Result<()> {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 8];
    let n = fds.len().min(pfds.len());
    for (p, &fd) in pfds.iter_mut().zip(&fds[..n]) {
        p.fd = fd;
        p.events = libc::POLLIN;
    }
    let ms = timeout.map_or(-1, |t| {
        // Round up so a deadline 0.3 ms away does not spin.
        i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    // SAFETY: pfds is a valid array of at least n pollfd structs for the duration of the call.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            ready.iter_mut().for_each(|r| *r = false);
            return Ok(());
        }
        return Err(e);
    }
    for (r, p) in ready.iter_mut().zip(&pfds[..n]) {
        *r = p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_interrupts_and_reset_clears() {
        let w = Waker::new().unwrap();
        let mut ready = [false];
        wait_readable(&[w.fd()], Some(Duration::from_millis(1)), &mut ready).unwrap();
        assert!(!ready[0]);
        w.clone().wake();
        wait_readable(&[w.fd()], None, &mut ready).unwrap();
        assert!(ready[0]);
        w.reset();
        wait_readable(&[w.fd()], Some(Duration::ZERO), &mut ready).unwrap();
        assert!(!ready[0]);
    }
}
