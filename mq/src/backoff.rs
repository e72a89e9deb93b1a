//! Exponential backoff with jitter, for reconnects and session restarts.

use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            current: initial,
        }
    }

    /// Broker reconnects: quick first retries (a restart takes seconds), capped at 5 s.
    pub(crate) fn reconnect() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// The next delay: the current one with up to 25 % jitter (so replicas do not reconnect in
    /// lock step), then doubled up to the cap.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let jitter = rand::random::<f64>() * 0.25;
        let delay = self.current.mul_f64(1.0 + jitter).min(self.max);
        self.current = (self.current * 2).min(self.max);
        delay
    }

    pub(crate) fn reset(&mut self) {
        self.current = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let d: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert!((100..=125).contains(&d[0]), "{d:?}");
        assert!((200..=250).contains(&d[1]), "{d:?}");
        assert_eq!(d[2], 350);
        assert_eq!(d[3], 350);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(125));
    }
}
