//! How much one sender may make us do: a token bucket per sender, in a bounded table, so that
//! a flood from a rogue process (or a stuck bot) costs a count, not the game.
//!
//! Each sender may send `rate` messages a second on average, with bursts of `burst`; what goes
//! over is dropped before any Lua handler runs (announcer) or anything is drawn (player).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

/// Messages a second one sender may have handled, on average.
pub const RATE: f64 = 20.0;
/// Messages one sender may have handled at once.
pub const BURST: f64 = 40.0;
/// Senders tracked at most: beyond, the table is cleared of the idle ones, and a sender that
/// still finds no room is refused (a flood of made-up senders must not grow memory).
pub const MAX_SENDERS: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Over budget since the last message allowed.
    dropping: bool,
}

/// Per-sender budgets.
#[derive(Debug)]
pub struct Budgets<K> {
    rate: f64,
    burst: f64,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Clone> Default for Budgets<K> {
    fn default() -> Self {
        Budgets::new(RATE, BURST)
    }
}

/// What a budget says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within budget.
    Allow,
    /// Over budget: the first one dropped since the sender was last within it.
    FirstDrop,
    /// Over budget, dropped quietly.
    Drop,
}

impl<K: Hash + Eq + Clone> Budgets<K> {
    /// Budgets of `rate` messages a second with bursts of `burst`; a rate of 0 is no limit.
    pub fn new(rate: f64, burst: f64) -> Budgets<K> {
        Budgets {
            rate,
            burst,
            buckets: HashMap::new(),
        }
    }

    /// Messages a second, on average (0: no limit).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Messages at once.
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// Takes one message from `sender`'s budget at `now`.
    pub fn take(&mut self, sender: &K, now: Instant) -> Verdict {
        self.take_many(sender, 1.0, now)
    }

    /// Takes `cost` (bytes, say) from `sender`'s budget at `now`: allowed while the bucket holds
    /// at least that much.
    pub fn take_many(&mut self, sender: &K, cost: f64, now: Instant) -> Verdict {
        if self.rate == 0.0 {
            return Verdict::Allow;
        }
        if !self.buckets.contains_key(sender) && self.buckets.len() >= MAX_SENDERS {
            // Forget the senders whose buckets are full again: they cost nothing to forget.
            let (rate, burst) = (self.rate, self.burst);
            self.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
            if self.buckets.len() >= MAX_SENDERS {
                return Verdict::Drop;
            }
        }
        let bucket = self.buckets.entry(sender.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            dropping: false,
        });
        // A clock that went backwards (a caller's mistake) refills nothing rather than panic.
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = bucket.at.max(now);
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            bucket.dropping = false;
            Verdict::Allow
        } else if bucket.dropping {
            Verdict::Drop
        } else {
            bucket.dropping = true;
            Verdict::FirstDrop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_the_rate() {
        let t0 = Instant::now();
        let mut budgets = Budgets::new(20.0, 40.0);
        let verdicts: Vec<Verdict> = (0..45).map(|_| budgets.take(&1u64, t0)).collect();
        assert!(verdicts[..40].iter().all(|v| *v == Verdict::Allow));
        assert_eq!(verdicts[40], Verdict::FirstDrop);
        assert!(verdicts[41..].iter().all(|v| *v == Verdict::Drop));
        // Another sender is not affected.
        assert_eq!(budgets.take(&2u64, t0), Verdict::Allow);
        // After a second, 20 more.
        let t1 = t0 + Duration::from_secs(1);
        let allowed = (0..25)
            .filter(|_| budgets.take(&1u64, t1) == Verdict::Allow)
            .count();
        assert_eq!(allowed, 20);
    }

    #[test]
    fn the_table_is_bounded() {
        let t0 = Instant::now();
        let mut budgets = Budgets::new(20.0, 40.0);
        for sender in 0..MAX_SENDERS as u64 {
            assert_eq!(budgets.take(&sender, t0), Verdict::Allow);
        }
        assert_eq!(budgets.take(&u64::MAX, t0), Verdict::Drop);
        // Once the others' buckets are full again, they are forgotten to make room.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(budgets.take(&u64::MAX, later), Verdict::Allow);
        assert!(budgets.buckets.len() <= 2);
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let t0 = Instant::now();
        let mut budgets = Budgets::new(0.0, 0.0);
        assert!((0..10_000).all(|i| budgets.take(&(i % 3), t0) == Verdict::Allow));
        assert!(budgets.buckets.is_empty());
    }
}
