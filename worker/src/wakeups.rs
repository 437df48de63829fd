//! A budget for wake-ups that turn out to be for nothing. Any role can `NOTIFY sched_ready` or
//! `sched_kill`, so notifications are only hints: each one leads to a claim or a kill check in
//! the database, which decides. A flood of spoofed notifications must not turn that into a
//! busy loop of round trips, so fruitless round trips (a claim that got nothing, a kill check
//! that found nothing) spend from a small bucket that refills at a fixed rate; once it is
//! empty, the next one waits for a refill. Real work is never delayed while wake-ups are
//! honest: they are fruitless only when another worker was quicker, far below the rate.

use std::time::Duration;

use tokio::time::Instant;

/// Fruitless round trips allowed in a burst, and per second after that.
const BURST: f64 = 50.0;
const PER_SECOND: f64 = 50.0;

pub struct Budget {
    tokens: f64,
    updated: Instant,
}

impl Budget {
    pub fn new() -> Budget {
        Budget {
            tokens: BURST,
            updated: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.duration_since(self.updated).as_secs_f64() * PER_SECOND;
        self.tokens = (self.tokens + earned).min(BURST);
        self.updated = now;
    }

    /// Records a round trip that found nothing to do.
    pub fn spend(&mut self) {
        self.refill(Instant::now());
        self.tokens -= 1.0;
    }

    /// When the next wake-up may go to the database: now, unless the bucket is empty.
    pub fn next_allowed(&mut self) -> Instant {
        let now = Instant::now();
        self.refill(now);
        if self.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - self.tokens) / PER_SECOND)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flood_is_held_to_the_refill_rate_and_the_budget_comes_back() {
        let mut budget = Budget::new();
        for _ in 0..BURST as usize {
            assert!(budget.next_allowed() <= Instant::now());
            budget.spend();
        }
        let wait = budget.next_allowed() - Instant::now();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(20),
            "{wait:?}"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(budget.next_allowed() <= Instant::now());
    }
}
