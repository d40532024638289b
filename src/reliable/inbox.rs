//! One sender's numbered datagrams as a receiver sees them: delivered in order and once, gaps
//! asked for again, what cannot be had shown as lost, and everything it holds bounded.
//!
//! Two numbers say where an inbox stands: `next`, the next number to deliver, and `received`,
//! the highest number that really arrived. Gaps below `received` block real datagrams: given up
//! on, they are shown as lost and delivery goes on. Gaps above it were only claimed (by a
//! heartbeat's `last`): given up on, they are forgotten, never shown and never skipped, so that
//! a forged heartbeat cannot make a sender's real datagrams look old.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{
    Delivery, NACK_DELAY, NACK_RETRY, NACK_TRIES, PEER_BYTES, Reach, WIDE, backoff, later,
    merge_lost, ranges_of,
};
use crate::protocol::{MAX_NUMBER, MAX_RANGES};

/// The most ranges one of our NACKs carries: 24 ranges of numbers up to 2^53 take under 900
/// bytes, so that a NACK fits a datagram with its header and signature.
pub const NACK_RANGES: usize = 24;

#[derive(Debug)]
enum Slot<T> {
    /// A datagram and its size in bytes.
    Item(T, usize),
    /// Given up on: shown as lost when its turn comes.
    Lost,
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    since: Instant,
    due: Instant,
    tries: u32,
}

/// What a receiver has seen of its senders, for the benchmarks (`player --stats`).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct ReceiveStats {
    /// Datagrams found missing.
    pub gaps: u64,
    /// Of those, repaired.
    pub repaired: u64,
    /// Of those, given up on or expired: shown as lost.
    pub lost: u64,
    /// Datagrams that arrived twice (a repair nobody needed, a duplicate on the wire).
    pub duplicates: u64,
    /// NACKs this receiver sent.
    pub nacks: u64,
    /// NACKs it held back because someone else had just asked for the same.
    pub held_back: u64,
    /// For each repaired datagram, the time from noticing the gap to the repair, in µs (the
    /// first 100,000).
    pub repair_us: Vec<u32>,
}

/// One more in a count (counts cannot reach 2^64).
fn count(counter: &mut u64, by: u64) {
    *counter = counter.saturating_add(by);
}

/// One sender's datagrams as a receiver sees them.
#[derive(Debug)]
pub struct Inbox<T> {
    /// The next number to deliver.
    next: u64,
    /// The highest number known to exist (from a datagram or a heartbeat).
    known: u64,
    /// The highest number that arrived (or `next - 1`).
    received: u64,
    /// Arrived ahead of a gap, or given up on: waiting for `next` to reach them.
    ahead: BTreeMap<u64, Slot<T>>,
    missing: BTreeMap<u64, Missing>,
    /// The bytes of the datagrams in `ahead`.
    bytes: usize,
    reach: Reach,
    /// Where the last NACK stopped: the next one starts after it.
    asked_up_to: u64,
    /// About how many receivers may miss what this one misses: sizes the NACK waits.
    group: usize,
}

impl<T> Inbox<T> {
    /// Starts listening to a sender at number `next`: nothing before it is asked for. Its
    /// reach is [`WIDE`].
    pub fn starting_at(next: u64) -> Inbox<T> {
        Inbox::reaching(next, WIDE)
    }

    /// [`Inbox::starting_at`], with a given reach.
    pub fn reaching(next: u64, reach: Reach) -> Inbox<T> {
        let next = next.clamp(1, MAX_NUMBER);
        let before = next.saturating_sub(1);
        Inbox {
            next,
            known: before,
            received: before,
            ahead: BTreeMap::new(),
            missing: BTreeMap::new(),
            bytes: 0,
            reach,
            asked_up_to: 0,
            group: 1,
        }
    }

    /// About `group` receivers listen to this sender (this one included): the NACK waits
    /// are drawn for a group that size ([`backoff`]). One until told.
    pub fn set_group(&mut self, group: usize) {
        self.group = group.max(1);
    }

    /// The next number to deliver.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Whether some datagrams are awaited.
    pub fn has_gaps(&self) -> bool {
        !self.missing.is_empty()
    }

    /// What the inbox holds: datagrams waiting behind gaps (and gaps given up on), their bytes,
    /// and the numbers awaited.
    pub fn held(&self) -> (usize, usize, usize) {
        (self.ahead.len(), self.bytes, self.missing.len())
    }

    /// Takes numbered datagram `seq` of `size` bytes; gives back what can now be delivered in
    /// order.
    pub fn accept(
        &mut self,
        seq: u64,
        item: T,
        size: usize,
        now: Instant,
        stats: &mut ReceiveStats,
    ) -> Vec<Delivery<T>> {
        if seq == 0 || seq > MAX_NUMBER {
            return Vec::new(); // the decoder refuses these; nothing to number them by
        }
        if seq == self.next && self.ahead.is_empty() && self.missing.is_empty() {
            // The common case, nothing lost: straight through.
            self.next = seq.saturating_add(1);
            self.known = self.known.max(seq);
            self.received = self.received.max(seq);
            return vec![Delivery::Item(item)];
        }
        if seq < self.next || self.ahead.contains_key(&seq) {
            count(&mut stats.duplicates, 1);
            return Vec::new();
        }
        let mut out = Vec::new();
        // Here seq >= next.
        if seq.abs_diff(self.next) > self.reach.gap {
            out = self.jump_to(seq, stats);
        }
        if let Some(missing) = self.missing.remove(&seq) {
            count(&mut stats.repaired, 1);
            if stats.repair_us.len() < 100_000 {
                let us = now.saturating_duration_since(missing.since).as_micros();
                stats.repair_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
        }
        // seq - next <= the reach's gap: at most that many numbers to mark.
        self.note_known(seq.saturating_sub(1), now, stats);
        self.known = self.known.max(seq);
        self.received = self.received.max(seq);
        self.ahead.insert(seq, Slot::Item(item, size));
        self.bytes = self.bytes.saturating_add(size);
        while self.ahead.len() > self.reach.ahead || self.bytes > PEER_BYTES {
            let Some(delivered) = self.shed(stats) else {
                break;
            };
            out.extend(delivered);
        }
        out.extend(self.drain());
        merge_lost(out)
    }

    /// The sender's latest number is `last` (from its heartbeat): anything up to it that has
    /// not arrived is missing, the reach's gap past what we have at most. A heartbeat never
    /// moves where delivery stands.
    pub fn heard_last(&mut self, last: u64, now: Instant, stats: &mut ReceiveStats) {
        let upto = last.min(self.next.saturating_sub(1).saturating_add(self.reach.gap));
        self.note_known(upto, now, stats);
    }

    /// Someone else asked for `ranges`: hold back our own NACK for those, as if we had sent it.
    pub fn overheard_nack(
        &mut self,
        ranges: &[(u64, u64)],
        now: Instant,
        stats: &mut ReceiveStats,
    ) {
        let soon = later(now, NACK_RETRY);
        // With a random part, or everyone who held back would ask again at the same moment when
        // the repair is lost (it is lost for all of them alike); one for the whole NACK.
        let held_until = later(soon, backoff(NACK_DELAY, self.group));
        for &(from, to) in ranges.iter().take(MAX_RANGES) {
            if from > to {
                continue; // the decoder refuses these; BTreeMap::range would panic
            }
            for (_, missing) in self.missing.range_mut(from..=to) {
                if missing.due <= soon {
                    // Not counted as a try: we have not asked, and must not give up unasked.
                    missing.due = held_until;
                    count(&mut stats.held_back, 1);
                }
            }
        }
    }

    /// The sender no longer has `ranges`: give them up.
    pub fn expired(&mut self, ranges: &[(u64, u64)], stats: &mut ReceiveStats) -> Vec<Delivery<T>> {
        for &(from, to) in ranges.iter().take(MAX_RANGES) {
            if from > to {
                continue;
            }
            let gone: Vec<u64> = self.missing.range(from..=to).map(|(&s, _)| s).collect();
            for seq in gone {
                self.give_up(seq, stats);
            }
        }
        self.drain()
    }

    /// What is due now: the ranges to NACK (empty when none), and what giving up on gaps
    /// that stayed open too long lets through.
    pub fn poll(
        &mut self,
        now: Instant,
        stats: &mut ReceiveStats,
    ) -> (Vec<(u64, u64)>, Vec<Delivery<T>>) {
        if self.missing.is_empty() {
            return (Vec::new(), Vec::new()); // nothing awaited, nothing due: the common case
        }
        let mut due = Vec::new();
        let mut abandon = Vec::new();
        for (&seq, missing) in &self.missing {
            if missing.due > now {
                continue;
            }
            if missing.tries >= NACK_TRIES {
                abandon.push(seq);
            } else {
                due.push(seq);
            }
        }
        for seq in abandon {
            self.give_up(seq, stats);
        }
        // One NACK carries so many ranges. It starts after where the last one stopped, so that
        // numbers left out of one are asked for in the next (without a try counted: they were
        // not asked), and no gap waits behind others for ever.
        let split = due.partition_point(|&seq| seq <= self.asked_up_to);
        let rotated: Vec<u64> = due[split..].iter().chain(&due[..split]).copied().collect();
        let ranges = ranges_of(&rotated, NACK_RANGES);
        let asked = ranges
            .iter()
            .map(|&(first, last)| last.saturating_sub(first).saturating_add(1))
            .fold(0u64, u64::saturating_add);
        let asked = usize::try_from(asked).unwrap_or(usize::MAX);
        if let Some(&(_, last)) = ranges.last() {
            self.asked_up_to = last;
        }
        let retry = later(later(now, NACK_RETRY), backoff(NACK_DELAY, self.group));
        for (i, seq) in rotated.into_iter().enumerate() {
            if let Some(missing) = self.missing.get_mut(&seq) {
                if i < asked {
                    missing.tries = missing.tries.saturating_add(1);
                    missing.due = retry;
                } else {
                    missing.due = later(now, NACK_DELAY);
                }
            }
        }
        if !ranges.is_empty() {
            count(&mut stats.nacks, 1);
        }
        (ranges, self.drain())
    }

    /// When [`Inbox::poll`] has something to do next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.missing.values().map(|m| m.due).min()
    }

    /// Gives up the oldest gap that holds datagrams back, and hands over what that lets
    /// through: how a receiver short of room makes some. `None` when nothing is held back.
    pub fn shed(&mut self, stats: &mut ReceiveStats) -> Option<Vec<Delivery<T>>> {
        let oldest = *self
            .missing
            .keys()
            .next()
            .filter(|&&seq| seq < self.received)?;
        self.give_up(oldest, stats);
        Some(self.drain())
    }

    /// Marks every number from what we have up to `upto` that has not arrived as missing.
    fn note_known(&mut self, upto: u64, now: Instant, stats: &mut ReceiveStats) {
        let from = self
            .known
            .max(self.next.saturating_sub(1))
            .saturating_add(1);
        if upto < from {
            return;
        }
        // One random wait for all the numbers found missing together: they go in one NACK
        // (a wait each would make one NACK a millisecond, each for a few of them).
        let due = later(now, backoff(NACK_DELAY, self.group));
        for seq in from..=upto {
            if !self.ahead.contains_key(&seq) {
                count(&mut stats.gaps, 1);
                self.missing.insert(
                    seq,
                    Missing {
                        since: now,
                        due,
                        tries: 0,
                    },
                );
            }
        }
        self.known = self.known.max(upto);
    }

    /// Stops waiting for `seq`. Below the highest number that arrived, it holds real datagrams
    /// back: it becomes a gap shown in its place. Above, it was only claimed: forgotten, and
    /// `known` comes back down to what is still awaited or arrived.
    fn give_up(&mut self, seq: u64, stats: &mut ReceiveStats) {
        if self.missing.remove(&seq).is_none() {
            return;
        }
        if seq < self.received {
            count(&mut stats.lost, 1);
            self.ahead.insert(seq, Slot::Lost);
        } else {
            self.forget_claims();
        }
    }

    /// Forgets every number awaited above the highest that arrived: they were only claimed.
    /// `known` comes back down with them, so that a datagram arriving later above them marks
    /// them missing again (a number must never be neither awaited, held nor delivered: the
    /// inbox would wait for it forever).
    fn forget_claims(&mut self) {
        let received = self.received;
        self.missing.retain(|&seq, _| seq < received);
        self.known = self.received.max(self.next.saturating_sub(1));
    }

    /// Gives up on everything before `seq` (a jump too large to repair) and delivers what
    /// was waiting, with the whole jump counted as lost.
    fn jump_to(&mut self, seq: u64, stats: &mut ReceiveStats) -> Vec<Delivery<T>> {
        let mut out = Vec::new();
        let mut expected = self.next;
        for (number, slot) in std::mem::take(&mut self.ahead) {
            if number > expected {
                out.push(Delivery::Lost(number.abs_diff(expected)));
            }
            match slot {
                Slot::Item(item, _) => out.push(Delivery::Item(item)),
                Slot::Lost => out.push(Delivery::Lost(1)),
            }
            expected = number.saturating_add(1);
        }
        if seq > expected {
            let skipped = seq.abs_diff(expected);
            out.push(Delivery::Lost(skipped));
            count(&mut stats.lost, skipped);
        }
        self.missing.clear();
        self.bytes = 0;
        self.next = seq;
        self.known = seq.saturating_sub(1);
        self.received = self.received.max(self.known);
        merge_lost(out)
    }

    /// Hands over everything that is now in order.
    fn drain(&mut self) -> Vec<Delivery<T>> {
        let mut out = Vec::new();
        while let Some(slot) = self.ahead.remove(&self.next) {
            out.push(match slot {
                Slot::Item(item, size) => {
                    self.bytes = self.bytes.saturating_sub(size);
                    Delivery::Item(item)
                }
                Slot::Lost => Delivery::Lost(1),
            });
            self.next = self.next.saturating_add(1);
        }
        merge_lost(out)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
pub(crate) mod tests {
    use super::*;
    use crate::reliable::{MAX_AHEAD, MAX_GAP};
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn items(deliveries: Vec<Delivery<u64>>) -> Vec<String> {
        deliveries
            .into_iter()
            .map(|d| match d {
                Delivery::Item(n) => n.to_string(),
                Delivery::Lost(n) => format!("lost {n}"),
            })
            .collect()
    }

    fn take(
        inbox: &mut Inbox<u64>,
        seq: u64,
        now: Instant,
        stats: &mut ReceiveStats,
    ) -> Vec<String> {
        items(inbox.accept(seq, seq, 10, now, stats))
    }

    /// Polls until every gap was asked for and given up on.
    fn give_up_all(
        inbox: &mut Inbox<u64>,
        mut now: Instant,
        stats: &mut ReceiveStats,
    ) -> Vec<String> {
        let mut delivered = Vec::new();
        for _ in 0..=NACK_TRIES {
            now += NACK_RETRY + NACK_DELAY;
            delivered.extend(items(inbox.poll(now, stats).1));
        }
        delivered
    }

    #[test]
    fn in_order_once_with_gaps_asked_for_and_repaired() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        assert_eq!(take(&mut inbox, 1, t0, &mut stats), ["1"]);
        // 2 and 3 lost, 4 arrives: held back, 2..3 asked for after the random delay.
        assert!(take(&mut inbox, 4, t0, &mut stats).is_empty());
        assert!(inbox.next_deadline().unwrap() <= t0 + NACK_DELAY);
        assert_eq!(inbox.poll(t0 + NACK_DELAY, &mut stats).0, vec![(2, 3)]);
        // Nothing more asked before the retry time.
        assert!(inbox.poll(t0 + ms(11), &mut stats).0.is_empty());
        assert!(take(&mut inbox, 3, t0 + ms(12), &mut stats).is_empty());
        assert_eq!(
            take(&mut inbox, 2, t0 + ms(13), &mut stats),
            ["2", "3", "4"]
        );
        // A duplicate (a repair someone else asked for) is not delivered twice.
        assert!(take(&mut inbox, 3, t0 + ms(14), &mut stats).is_empty());
        assert_eq!(
            (stats.gaps, stats.repaired, stats.duplicates, stats.nacks),
            (2, 2, 1, 1)
        );
        assert_eq!(stats.repair_us, vec![12_000, 13_000]);
        assert!(!inbox.has_gaps());
        assert_eq!(inbox.held(), (0, 0, 0));
    }

    #[test]
    fn a_lost_last_datagram_is_noticed_from_the_heartbeat() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(5);
        assert_eq!(take(&mut inbox, 5, t0, &mut stats), ["5"]);
        inbox.heard_last(6, t0, &mut stats);
        assert_eq!(inbox.poll(t0 + NACK_DELAY, &mut stats).0, vec![(6, 6)]);
        // Heartbeats that say nothing new add nothing.
        inbox.heard_last(5, t0, &mut stats);
        assert_eq!(stats.gaps, 1);
        assert_eq!(take(&mut inbox, 6, t0 + ms(20), &mut stats), ["6"]);
    }

    #[test]
    fn unrepaired_gaps_are_shown_as_lost_in_their_place() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        take(&mut inbox, 4, t0, &mut stats);
        assert_eq!(give_up_all(&mut inbox, t0, &mut stats), ["lost 3", "4"]);
        assert_eq!(stats.lost, 3);
        // Expired: the sender says it no longer has them.
        take(&mut inbox, 7, t0, &mut stats);
        assert_eq!(items(inbox.expired(&[(5, 6)], &mut stats)), ["lost 2", "7"]);
    }

    #[test]
    fn overhearing_a_nack_holds_ours_back() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox: Inbox<u64> = Inbox::starting_at(1);
        take(&mut inbox, 3, t0, &mut stats);
        inbox.overheard_nack(&[(1, 2)], t0 + ms(1), &mut stats);
        assert!(inbox.poll(t0 + NACK_DELAY, &mut stats).0.is_empty());
        assert_eq!(stats.held_back, 2);
        assert_eq!(
            inbox
                .poll(t0 + ms(1) + NACK_RETRY + NACK_DELAY, &mut stats)
                .0,
            vec![(1, 2)]
        );
    }

    #[test]
    fn a_huge_jump_is_a_loss_not_a_million_nacks() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        take(&mut inbox, 1, t0, &mut stats);
        let far = 1 + MAX_GAP * 10;
        assert_eq!(
            take(&mut inbox, far, t0, &mut stats),
            [format!("lost {}", far - 2), far.to_string()]
        );
        assert!(!inbox.has_gaps());
    }

    #[test]
    fn a_heartbeat_from_the_end_of_time_opens_a_bounded_gap_and_moves_nothing() {
        // Row 1: `last` = 2^64 - 1 once wrapped `last + 1` and looped over every number.
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        take(&mut inbox, 1, t0, &mut stats);
        for last in [u64::MAX, u64::MAX - 1, MAX_NUMBER, MAX_NUMBER + 1] {
            inbox.heard_last(last, t0, &mut stats);
            assert!(inbox.held().2 as u64 <= MAX_GAP, "{:?}", inbox.held());
        }
        // Row 11: the claimed numbers are asked for, given up on, and forgotten: the sender's
        // real next datagram is delivered, not taken for an old one.
        assert!(give_up_all(&mut inbox, t0, &mut stats).is_empty());
        assert!(!inbox.has_gaps());
        assert_eq!(take(&mut inbox, 2, t0 + ms(900), &mut stats), ["2"]);
        assert_eq!(stats.lost, 0);
    }

    #[test]
    fn a_forged_expiry_of_claimed_numbers_skips_nothing() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        take(&mut inbox, 1, t0, &mut stats);
        inbox.heard_last(1 + 60_000, t0, &mut stats);
        assert!(items(inbox.expired(&[(1, MAX_NUMBER)], &mut stats)).is_empty());
        assert_eq!(take(&mut inbox, 2, t0, &mut stats), ["2"]);
    }

    #[test]
    fn claims_given_up_on_never_leave_a_number_unawaited() {
        // A review found this: numbers claimed by a heartbeat, then said expired, were
        // forgotten while `known` stayed up; the next real datagrams above them left them
        // neither awaited nor held, and delivery stopped for good.
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        for seq in 1..=4 {
            take(&mut inbox, seq, t0, &mut stats);
        }
        inbox.heard_last(10, t0, &mut stats);
        assert!(items(inbox.expired(&[(5, 7)], &mut stats)).is_empty());
        for seq in 8..=10 {
            assert!(take(&mut inbox, seq, t0, &mut stats).is_empty());
        }
        // 5 to 7 are awaited again, asked for, and shown lost once the sender says so again.
        assert_eq!(inbox.poll(t0 + NACK_DELAY, &mut stats).0, vec![(5, 7)]);
        assert_eq!(
            items(inbox.expired(&[(5, 7)], &mut stats)),
            ["lost 3", "8", "9", "10"]
        );
    }

    #[test]
    fn numbers_left_out_of_a_full_nack_are_asked_for_next_without_a_try() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        // 40 separate gaps: 2, 4, 6… then 81 arrives.
        for seq in (1..=81).step_by(2) {
            take(&mut inbox, seq, t0, &mut stats);
        }
        let first = inbox.poll(t0 + NACK_DELAY, &mut stats).0;
        assert_eq!(first.len(), NACK_RANGES);
        let second = inbox.poll(t0 + NACK_DELAY * 2, &mut stats).0;
        assert_eq!(
            second.first(),
            Some(&(2 * NACK_RANGES as u64 + 2, 2 * NACK_RANGES as u64 + 2))
        );
        // Every gap is asked for its tries (half the polls each, here) before it is given up.
        let mut delivered = Vec::new();
        let mut now = t0;
        for _ in 0..=3 * NACK_TRIES {
            now += NACK_RETRY + NACK_DELAY;
            delivered.extend(items(inbox.poll(now, &mut stats).1));
        }
        assert_eq!(stats.lost, 40);
        assert!(delivered.contains(&"81".to_string()));
    }

    #[test]
    fn reversed_and_empty_ranges_are_ignored() {
        // Row 2: a reversed range once panicked in BTreeMap::range.
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        take(&mut inbox, 5, t0, &mut stats);
        inbox.overheard_nack(&[(5, 3), (u64::MAX, 0), (0, 0)], t0, &mut stats);
        assert!(
            inbox
                .expired(&[(5, 3), (u64::MAX, 1)], &mut stats)
                .is_empty()
        );
        assert!(inbox.has_gaps());
    }

    #[test]
    fn what_waits_behind_a_gap_is_bounded_in_count_and_bytes() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        // Many small datagrams behind a gap: at most MAX_AHEAD are held.
        let mut inbox = Inbox::starting_at(1);
        let mut delivered = 0;
        for seq in 2..=(MAX_GAP + 1) {
            for delivery in inbox.accept(seq, seq, 10, t0, &mut stats) {
                if let Delivery::Item(_) = delivery {
                    delivered += 1;
                }
            }
            assert!(inbox.held().0 <= MAX_AHEAD);
        }
        assert_eq!(inbox.held().0, MAX_AHEAD);
        // Large ones: bytes are bounded too, the oldest gap given up to make room.
        let mut inbox = Inbox::starting_at(1);
        for seq in 2..=2000u64 {
            for delivery in inbox.accept(seq, seq, 1400, t0, &mut stats) {
                if let Delivery::Item(_) = delivery {
                    delivered += 1;
                }
            }
            assert!(inbox.held().1 <= PEER_BYTES, "{:?}", inbox.held());
        }
        assert!(delivered > 0);
    }

    pub(crate) mod properties {
        //! Hostile input against one inbox: arbitrary datagrams, heartbeats, NACKs, expiries
        //! and ticks, with numbers at the edges. No panic, and every bound holds after every
        //! step; what is delivered never goes back in number.
        use super::*;
        use proptest::prelude::*;

        /// Numbers that find edges: 0, 1, near the window, near 2^53, near 2^64.
        pub fn edgy() -> impl Strategy<Value = u64> + Clone {
            prop_oneof![
                Just(0u64),
                Just(1),
                Just(2),
                1u64..64,
                Just(MAX_GAP),
                Just(MAX_GAP + 1),
                Just(MAX_NUMBER - 1),
                Just(MAX_NUMBER),
                Just(MAX_NUMBER + 1),
                Just(u64::MAX - 1),
                Just(u64::MAX),
                any::<u64>(),
            ]
        }

        #[derive(Debug, Clone)]
        enum Step {
            Accept(u64, usize),
            Heartbeat(u64),
            Nack(Vec<(u64, u64)>),
            Expired(Vec<(u64, u64)>),
            Tick(u64),
            Shed,
        }

        fn step() -> impl Strategy<Value = Step> {
            let ranges = prop::collection::vec((edgy(), edgy()), 0..4);
            prop_oneof![
                4 => (edgy(), 0usize..2000).prop_map(|(s, n)| Step::Accept(s, n)),
                2 => edgy().prop_map(Step::Heartbeat),
                1 => ranges.clone().prop_map(Step::Nack),
                1 => ranges.prop_map(Step::Expired),
                2 => (0u64..2000).prop_map(Step::Tick),
                1 => Just(Step::Shed),
            ]
        }

        proptest! {
            #![proptest_config(crate::reliable::peers::tests::config())]

            #[test]
            fn no_panic_and_every_bound_holds(
                start in edgy(),
                wide in prop::bool::weighted(0.25),
                steps in prop::collection::vec(step(), 1..40),
            ) {
                let mut now = Instant::now();
                let mut stats = ReceiveStats::default();
                let reach = if wide { crate::reliable::WIDE } else { crate::reliable::NARROW };
                let mut inbox: Inbox<u64> = Inbox::reaching(start, reach);
                let mut last_delivered = 0u64;
                for step in steps {
                    let delivered = match step {
                        Step::Accept(seq, size) => inbox.accept(seq, seq, size, now, &mut stats),
                        Step::Heartbeat(last) => {
                            inbox.heard_last(last, now, &mut stats);
                            Vec::new()
                        }
                        Step::Nack(ranges) => {
                            inbox.overheard_nack(&ranges, now, &mut stats);
                            Vec::new()
                        }
                        Step::Expired(ranges) => inbox.expired(&ranges, &mut stats),
                        Step::Tick(ms) => {
                            now += Duration::from_millis(ms);
                            inbox.poll(now, &mut stats).1
                        }
                        Step::Shed => inbox.shed(&mut stats).unwrap_or_default(),
                    };
                    for delivery in delivered {
                        if let Delivery::Item(seq) = delivery {
                            prop_assert!(seq > last_delivered, "{} after {}", seq, last_delivered);
                            last_delivered = seq;
                        }
                    }
                    let (ahead, bytes, missing) = inbox.held();
                    prop_assert!(ahead <= reach.ahead);
                    prop_assert!(bytes <= PEER_BYTES);
                    prop_assert!(missing as u64 <= reach.gap);
                    prop_assert!(inbox.next() <= MAX_NUMBER + 1);
                }
            }
        }
    }
}
