//! Reconnect pacing: a try every 0.5 s at first — a camera that closed the connection to reboot is often
//! back within a second or two, and each try is one refused connect — then exponential backoff from 1 s
//! to a 30 s cap. Each delay is drawn from the upper half of its step so that many cameras behind one
//! switch do not reconnect in lockstep.

use std::time::Duration;

/// Tries at the fast pace before backing off.
pub const FAST_TRIES: u32 = 4;
pub const FAST: Duration = Duration::from_millis(500);
/// The first backed-off step, doubling up to `CAP`.
pub const INITIAL: Duration = Duration::from_secs(1);
pub const CAP: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Clone)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// Attempts made since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Delay before the next attempt; `jitter` in [0, 1).
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let step = match self.attempt.checked_sub(FAST_TRIES) {
            None => FAST,
            Some(n) => INITIAL.saturating_mul(1u32 << n.min(16)).min(CAP),
        };
        self.attempt = self.attempt.saturating_add(1);
        step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// A jitter value in [0, 1).
pub fn jitter() -> f64 {
    (crate::random::random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap() {
        let mut b = Backoff::default();
        let steps: Vec<u128> = (0..10)
            .map(|_| b.next_delay(0.999_999).as_millis())
            .collect();
        assert_eq!(
            steps,
            vec![499, 499, 499, 499, 999, 1999, 3999, 7999, 15999, 29999]
        );
        assert_eq!(b.attempt(), 10);
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_millis(250));
    }

    #[test]
    fn jitter_spreads() {
        let j: Vec<f64> = (0..50).map(|_| jitter()).collect();
        assert!(j.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(j.iter().any(|&v| (v - j[0]).abs() > 1e-6));
    }
}
