//! The one way the streaming thread waits: an epoll set (with a timerfd for precise deadlines) and a
//! wake-up that `unlock` uses to interrupt it without a thread hop on the data path. `wait_one` serves
//! the short waits outside the receive loop (connect, TEARDOWN's reply, the reconnect backoff).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// How `wait_one` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Ready,
    Woken,
    TimedOut,
}

const TOKEN_ONE: u8 = 1;
const TOKEN_WAKER: u8 = 0;

/// Waits until `fd` is readable (writable with `write`), `waker` fires or `timeout` passes.
pub fn wait_one(
    fd: Option<RawFd>,
    write: bool,
    waker: Option<&Waker>,
    timeout: Option<Duration>,
) -> io::Result<Waited> {
    let mut p = Poller::new()?;
    if let Some(w) = waker {
        p.add(w.fd(), TOKEN_WAKER)?;
    }
    if let Some(fd) = fd {
        p.watch(fd, TOKEN_ONE, write)?;
    }
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let ready = p.wait(left)?;
        if ready & (1 << TOKEN_WAKER) != 0 {
            return Ok(Waited::Woken);
        }
        if ready & (1 << TOKEN_ONE) != 0 {
            return Ok(Waited::Ready);
        }
        // Interrupted by a signal (0 ready) before the deadline: wait again.
        if left.is_some_and(|l| l.is_zero()) {
            return Ok(Waited::TimedOut);
        }
    }
}

/// A persistent epoll set for the receive loop: registering the sockets once keeps each wait free of
/// per-descriptor work, which is most of what a poll(2) per video frame costs.
#[derive(Debug)]
pub struct Poller {
    epfd: std::os::fd::OwnedFd,
    /// For deadlines that must not be late by the millisecond epoll_wait rounds to (the reorder
    /// window): armed only while such a deadline exists.
    timer: std::os::fd::OwnedFd,
    /// The deadline the timer is armed for: the loop asks every round, the kernel hears only of
    /// changes (under loss a deadline stands for many rounds).
    timer_due: Option<Instant>,
}

/// Token reported when the precise timer fires.
pub const TOKEN_TIMER: u8 = 63;

fn timerfd() -> io::Result<std::os::fd::OwnedFd> {
    // SAFETY: plain syscall; the result is checked before use.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new, valid descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Arms `timer` to fire once after `after`; zero disarms it.
fn arm(timer: &std::os::fd::OwnedFd, after: Duration) -> io::Result<()> {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let spec = libc::itimerspec {
        it_interval: zero,
        it_value: libc::timespec {
            tv_sec: after.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(after.subsec_nanos() as i32),
        },
    };
    // SAFETY: spec is valid; the old value is not asked for.
    let rc = unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Poller {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new, valid descriptor that nothing else owns.
        let epfd: std::os::fd::OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
        let p = Poller {
            epfd,
            timer: timerfd()?,
            timer_due: None,
        };
        // Edge-triggered: each expiry is reported once, and arming it again resets its count, so its
        // expirations never need reading.
        p.watch_with(
            p.timer.as_raw_fd(),
            TOKEN_TIMER,
            libc::EPOLLIN | libc::EPOLLET,
        )?;
        Ok(p)
    }

    /// Sets (or with `None` clears) a wake-up at `due`, with nanosecond precision.
    pub fn set_precise(&mut self, due: Option<Instant>, now: Instant) -> io::Result<()> {
        if due == self.timer_due {
            return Ok(());
        }
        // Zero disarms; keep a due deadline armed with the smallest delay.
        let after = due
            .map(|d| {
                d.saturating_duration_since(now)
                    .max(Duration::from_nanos(1))
            })
            .unwrap_or_default();
        arm(&self.timer, after)?;
        self.timer_due = due;
        Ok(())
    }

    /// Watches `fd` for input; `token` (below 64) is what `wait` reports.
    pub fn add(&self, fd: RawFd, token: u8) -> io::Result<()> {
        self.watch(fd, token, false)
    }

    /// Watches `fd` for input, or for output with `write`.
    fn watch(&self, fd: RawFd, token: u8, write: bool) -> io::Result<()> {
        self.watch_with(
            fd,
            token,
            if write { libc::EPOLLOUT } else { libc::EPOLLIN },
        )
    }

    fn watch_with(&self, fd: RawFd, token: u8, events: libc::c_int) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: u64::from(token),
        };
        // SAFETY: ev is a valid epoll_event; the descriptors are open.
        let rc =
            unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `fd`.
    pub fn remove(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: ev is a valid epoll_event (ignored for DEL but must be non-null on old kernels).
        let rc =
            unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for input or `timeout`; returns a bit set of the ready tokens.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<u64> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
        let ms = timeout.map_or(-1, |t| {
            i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
        });
        // SAFETY: events is a valid array of 8 epoll_event for the duration of the call.
        let n = unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), events.as_mut_ptr(), 8, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        let ready = events[..n as usize].iter().fold(0, |acc, e| {
            acc | 1u64.checked_shl(e.u64 as u32).unwrap_or(0)
        });
        if ready & (1 << TOKEN_TIMER) != 0 {
            self.timer_due = None;
        }
        Ok(ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poller_reports_tokens() {
        let mut p = Poller::new().unwrap();
        let w = Waker::new().unwrap();
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        p.add(w.fd(), 0).unwrap();
        p.add(u.as_raw_fd(), 2).unwrap();
        assert_eq!(p.wait(Some(Duration::from_millis(1))).unwrap(), 0);
        u.send_to(b"x", u.local_addr().unwrap()).unwrap();
        assert_eq!(p.wait(None).unwrap(), 0b100);
        w.wake();
        assert_eq!(p.wait(None).unwrap(), 0b101);
        p.remove(u.as_raw_fd()).unwrap();
        assert_eq!(p.wait(Some(Duration::from_millis(1))).unwrap(), 0b1);
    }

    #[test]
    fn precise_timer_fires_on_time() {
        let mut p = Poller::new().unwrap();
        let start = Instant::now();
        p.set_precise(Some(start + Duration::from_micros(2500)), start)
            .unwrap();
        let ready = p.wait(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(ready, 1 << TOKEN_TIMER);
        assert!(start.elapsed() >= Duration::from_micros(2500));
        assert_eq!(
            p.wait(Some(Duration::from_millis(5))).unwrap(),
            0,
            "an expiry is reported once"
        );
        // Fires again when armed again, unread expirations or not.
        let now = Instant::now();
        p.set_precise(Some(now + Duration::from_micros(500)), now)
            .unwrap();
        assert_eq!(
            p.wait(Some(Duration::from_secs(1))).unwrap(),
            1 << TOKEN_TIMER
        );
        let now = Instant::now();
        p.set_precise(Some(now + Duration::from_millis(1)), now)
            .unwrap();
        p.set_precise(None, now).unwrap();
        assert_eq!(p.wait(Some(Duration::from_millis(5))).unwrap(), 0);
    }

    #[test]
    fn wake_interrupts_and_reset_clears() {
        let w = Waker::new().unwrap();
        let short = Some(Duration::from_millis(1));
        assert_eq!(
            wait_one(None, false, Some(&w), short).unwrap(),
            Waited::TimedOut
        );
        w.clone().wake();
        assert_eq!(
            wait_one(None, false, Some(&w), None).unwrap(),
            Waited::Woken
        );
        w.reset();
        assert_eq!(
            wait_one(None, false, Some(&w), Some(Duration::ZERO)).unwrap(),
            Waited::TimedOut
        );
    }

    #[test]
    fn waits_for_one_socket() {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let short = Some(Duration::from_millis(1));
        assert_eq!(
            wait_one(Some(u.as_raw_fd()), false, None, short).unwrap(),
            Waited::TimedOut
        );
        assert_eq!(
            wait_one(Some(u.as_raw_fd()), true, None, short).unwrap(),
            Waited::Ready
        );
        u.send_to(b"x", u.local_addr().unwrap()).unwrap();
        assert_eq!(
            wait_one(Some(u.as_raw_fd()), false, None, None).unwrap(),
            Waited::Ready
        );
    }
}
