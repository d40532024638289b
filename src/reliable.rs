//! Delivery you can trust over a lossy group: numbered datagrams, gaps noticed and asked for
//! again, repairs, and what cannot be repaired reported as lost, never dropped silently.
//!
//! UDP multicast loses, duplicates and reorders datagrams. Like PGM (RFC 3208) and NORM
//! (RFC 5740), gamecast repairs with negative acknowledgements: a sender numbers what it sends
//! and keeps the recent past in an [`Outbox`]; a receiver keeps one [`Inbox`] per sender,
//! delivers in order and once, and when a number is missing it waits a short random time and
//! multicasts a NACK. Everyone missing the same datagram hears that NACK and holds back, so
//! twenty players missing one datagram send a handful of NACKs, and one repair serves them all.
//! A sender that no longer keeps a datagram says so (`expired`), and the receiver shows the gap.
//! Heartbeats carry the sender's latest number, so that a lost *last* datagram is noticed too.
//!
//! Nothing here does I/O or reads a clock: time comes in as arguments, so that the tests below
//! drive every case by hand. [`Sender`] wraps an [`Outbox`] with the sender's
//! [`Origin`](crate::protocol::Origin) and heartbeat.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::protocol::{Body, Datagram, Invalid, Origin, Payload, Reassembly};

/// A datagram as sent and kept for repair: shared, so that keeping it costs no copy.
pub type Bytes = Arc<[u8]>;

/// The sender always keeps at least this many of its latest datagrams for repair…
pub const WINDOW_MIN: usize = 1024;
/// …and beyond those, the ones younger than this…
pub const WINDOW_AGE: Duration = Duration::from_secs(30);
/// …as long as they fit in this many bytes (a script announcing 100,000 events a second would
/// otherwise keep 30 s of them).
pub const WINDOW_BYTES: usize = 2 << 20;

/// After repairing a datagram, further NACKs for it within this time are served by that
/// repair: they were sent before it arrived.
const REPAIR_HOLDOFF: Duration = Duration::from_millis(5);

/// The most datagrams one NACK makes a sender repeat: a NACK is small, and must not be a
/// way to make a sender flood the group.
const MAX_REPAIRS_PER_NACK: usize = 256;

/// A receiver waits between 0 and this before its first NACK for a gap, so that receivers
/// missing the same datagram do not all ask at once.
pub const NACK_DELAY: Duration = Duration::from_millis(10);

/// Then it asks again this often while the gap stays open…
pub const NACK_RETRY: Duration = Duration::from_millis(50);

/// …this many times at most, before it reports the datagrams as lost.
pub const NACK_TRIES: u32 = 12;

/// A jump in sequence numbers larger than this is not a gap to repair but a sender we lost
/// track of (or a datagram with a forged number): receivers report it lost and go on from there.
pub const MAX_GAP: u64 = 1 << 16;

/// How often an announcer beats when it has nothing to say: a lost last datagram is noticed
/// within about this, and players tell a silent announcer from a quiet one.
pub const ANNOUNCER_HEARTBEAT: Duration = Duration::from_millis(250);

/// How often a player beats when quiet: the announcer's proof that it is still there.
pub const PLAYER_HEARTBEAT: Duration = Duration::from_millis(500);

/// A peer silent for this many of its heartbeats is gone (a player), or unreachable (an
/// announcer).
pub const MISSED_BEATS: u32 = 3;

/// The most datagrams an inbox holds behind its gaps. A receiver that fell this far behind
/// gives up the oldest gaps (shown as lost) rather than grow without bound.
pub const MAX_AHEAD: usize = 4096;

/// Datagrams read in one go before the event loop looks at its other work.
pub const BATCH: usize = 256;

/// Ranges in one NACK: enough for any burst of loss; more wait for the next NACK.
const MAX_NACK_RANGES: usize = 64;

/// What a sender keeps for repair.
#[derive(Debug, Default)]
pub struct Outbox {
    kept: VecDeque<Kept>,
    bytes: usize,
}

#[derive(Debug)]
struct Kept {
    seq: u64,
    bytes: Bytes,
    sent: Instant,
    repaired: Option<Instant>,
}

/// What a sender does about a NACK.
#[derive(Debug, Default, PartialEq)]
pub struct Repair {
    /// Datagrams to send again, as they were.
    pub resend: Vec<Bytes>,
    /// Numbers asked for that are no longer kept: to be reported as expired.
    pub expired: Vec<(u64, u64)>,
}

impl Outbox {
    /// Keeps a datagram just sent (numbers come in order, one more each time).
    pub fn keep(&mut self, seq: u64, bytes: Bytes, now: Instant) {
        self.bytes += bytes.len();
        self.kept.push_back(Kept {
            seq,
            bytes,
            sent: now,
            repaired: None,
        });
        while self.kept.len() > WINDOW_MIN {
            let oldest = &self.kept[0];
            if now.duration_since(oldest.sent) < WINDOW_AGE && self.bytes <= WINDOW_BYTES {
                break;
            }
            self.bytes -= oldest.bytes.len();
            self.kept.pop_front();
        }
    }

    /// How many datagrams are kept, and their bytes.
    pub fn size(&self) -> (usize, usize) {
        (self.kept.len(), self.bytes)
    }

    /// Answers a NACK for `ranges` (inclusive): what to send again, and what is gone.
    /// Numbers never sent are ignored: nobody can be missing them.
    pub fn repair(&mut self, ranges: &[(u64, u64)], now: Instant) -> Repair {
        let mut repair = Repair::default();
        let Some(first_kept) = self.kept.front().map(|k| k.seq) else {
            return repair;
        };
        let last_kept = first_kept + self.kept.len() as u64 - 1;
        for &(from, to) in ranges {
            let to = to.min(last_kept);
            if from > to || from == 0 {
                continue;
            }
            if from < first_kept {
                repair.expired.push((from, to.min(first_kept - 1)));
            }
            for seq in from.max(first_kept)..=to {
                if repair.resend.len() >= MAX_REPAIRS_PER_NACK {
                    return repair;
                }
                let kept = &mut self.kept[(seq - first_kept) as usize];
                if kept
                    .repaired
                    .is_some_and(|at| now.duration_since(at) < REPAIR_HOLDOFF)
                {
                    continue;
                }
                kept.repaired = Some(now);
                repair.resend.push(kept.bytes.clone());
            }
        }
        repair
    }
}

/// A sender: its header and numbering, what it keeps for repair, and its heartbeat.
#[derive(Debug)]
pub struct Sender {
    origin: Origin,
    outbox: Outbox,
    /// When this sender last sent a numbered datagram or a heartbeat.
    spoke: Instant,
    every: Duration,
    announcer: bool,
    stats: SendStats,
}

/// What a sender has sent, for the host and the benchmarks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SendStats {
    /// Numbered datagrams (events, and each fragment of a large one).
    pub datagrams: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Heartbeats.
    pub heartbeats: u64,
    /// NACKs received for this sender.
    pub nacks: u64,
    /// Datagrams sent again.
    pub repairs: u64,
    /// Datagrams asked for that were no longer kept.
    pub expired: u64,
}

impl Sender {
    /// A sender stamping with `origin`, beating every `every` when quiet.
    pub fn new(origin: Origin, every: Duration, announcer: bool, now: Instant) -> Sender {
        Sender {
            origin,
            outbox: Outbox::default(),
            spoke: now,
            every,
            announcer,
            stats: SendStats::default(),
        }
    }

    /// The header's name and session.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// What has been sent so far.
    pub fn stats(&self) -> &SendStats {
        &self.stats
    }

    /// The numbered datagrams that carry `payload`, kept for repair.
    pub fn send(&mut self, payload: &Payload, now: Instant) -> Vec<Bytes> {
        self.spoke = now;
        self.origin
            .datagrams(payload)
            .into_iter()
            .map(|(seq, bytes)| {
                let bytes: Bytes = bytes.into();
                self.stats.datagrams += 1;
                self.stats.bytes += bytes.len() as u64;
                self.outbox.keep(seq, bytes.clone(), now);
                bytes
            })
            .collect()
    }

    /// A datagram that is not numbered (a NACK of our own).
    pub fn control(&self, body: &Body) -> Bytes {
        self.origin.control(body).into()
    }

    /// When the next heartbeat is due if nothing is sent before.
    pub fn heartbeat_due(&self) -> Instant {
        self.spoke + self.every
    }

    /// A heartbeat, if this sender has been quiet for its interval.
    pub fn heartbeat(&mut self, now: Instant) -> Option<Bytes> {
        if now < self.heartbeat_due() {
            return None;
        }
        Some(self.beat(now))
    }

    /// A heartbeat now, quiet or not (an announcer closing makes sure its last datagram is
    /// known).
    pub fn beat(&mut self, now: Instant) -> Bytes {
        self.spoke = now;
        self.stats.heartbeats += 1;
        self.control(&Body::Heartbeat {
            last: self.origin.last_seq(),
            every_ms: u32::try_from(self.every.as_millis()).unwrap_or(u32::MAX),
            announcer: self.announcer,
        })
    }

    /// Answers a NACK for our datagrams: the repairs, then an `expired` for what is gone.
    pub fn nacked(&mut self, ranges: &[(u64, u64)], now: Instant) -> Vec<Bytes> {
        self.stats.nacks += 1;
        let repair = self.outbox.repair(ranges, now);
        self.stats.repairs += repair.resend.len() as u64;
        let mut out = repair.resend;
        if !repair.expired.is_empty() {
            self.stats.expired += repair
                .expired
                .iter()
                .map(|(from, to)| to - from + 1)
                .sum::<u64>();
            out.push(self.control(&Body::Expired {
                ranges: repair.expired,
            }));
        }
        out
    }
}

/// What an [`Inbox`] hands over, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery<T> {
    /// The next datagram.
    Item(T),
    /// This many datagrams in a row could not be had: show the gap.
    Lost(u64),
}

#[derive(Debug)]
enum Slot<T> {
    Item(T),
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

/// One sender's datagrams as a receiver sees them: delivered in order and once, gaps asked
/// for again.
#[derive(Debug)]
pub struct Inbox<T> {
    /// The next number to deliver.
    next: u64,
    /// The highest number known to exist (from a datagram or a heartbeat).
    known: u64,
    /// Arrived ahead of a gap, or given up on: waiting for `next` to reach them.
    ahead: BTreeMap<u64, Slot<T>>,
    missing: BTreeMap<u64, Missing>,
}

impl<T> Inbox<T> {
    /// Starts listening to a sender at number `next`: nothing before it is asked for.
    pub fn starting_at(next: u64) -> Inbox<T> {
        Inbox {
            next: next.max(1),
            known: next.max(1) - 1,
            ahead: BTreeMap::new(),
            missing: BTreeMap::new(),
        }
    }

    /// The next number to deliver.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Whether some datagrams are awaited.
    pub fn has_gaps(&self) -> bool {
        !self.missing.is_empty()
    }

    /// Takes numbered datagram `seq`; gives back what can now be delivered in order.
    pub fn accept(
        &mut self,
        seq: u64,
        item: T,
        now: Instant,
        stats: &mut ReceiveStats,
    ) -> Vec<Delivery<T>> {
        if seq == self.next && self.ahead.is_empty() && self.missing.is_empty() {
            // The common case, nothing lost: straight through.
            self.next += 1;
            self.known = self.known.max(seq);
            return vec![Delivery::Item(item)];
        }
        if seq < self.next || self.ahead.contains_key(&seq) {
            stats.duplicates += 1;
            return Vec::new();
        }
        let mut out = Vec::new();
        if seq - self.next > MAX_GAP {
            out = self.jump_to(seq, stats);
        }
        if let Some(missing) = self.missing.remove(&seq) {
            stats.repaired += 1;
            if stats.repair_us.len() < 100_000 {
                let us = now.duration_since(missing.since).as_micros();
                stats.repair_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
        }
        self.note_known(seq - 1, now, stats);
        self.known = self.known.max(seq);
        self.ahead.insert(seq, Slot::Item(item));
        while self.ahead.len() > MAX_AHEAD {
            let Some(&oldest) = self.missing.keys().next() else {
                break;
            };
            self.give_up(oldest, stats);
            out.extend(self.drain());
        }
        out.extend(self.drain());
        merge_lost(out)
    }

    /// The sender's latest number is `last` (from its heartbeat): anything up to it that has
    /// not arrived is missing.
    pub fn heard_last(
        &mut self,
        last: u64,
        now: Instant,
        stats: &mut ReceiveStats,
    ) -> Vec<Delivery<T>> {
        let mut out = Vec::new();
        if last >= self.next && last - self.next >= MAX_GAP {
            out = self.jump_to(last + 1, stats);
        }
        self.note_known(last, now, stats);
        out
    }

    /// Someone else asked for `ranges`: hold back our own NACK for those, as if we had sent it.
    pub fn overheard_nack(
        &mut self,
        ranges: &[(u64, u64)],
        now: Instant,
        stats: &mut ReceiveStats,
    ) {
        for &(from, to) in ranges {
            for (_, missing) in self.missing.range_mut(from..=to) {
                if missing.due <= now + NACK_RETRY {
                    // With a random part, or everyone who held back would ask again at the
                    // same moment when the repair is lost (it is lost for all of them alike).
                    // Not counted as a try: we have not asked, and must not give up unasked.
                    missing.due = now + NACK_RETRY + jitter(NACK_DELAY);
                    stats.held_back += 1;
                }
            }
        }
    }

    /// The sender no longer has `ranges`: give them up.
    pub fn expired(&mut self, ranges: &[(u64, u64)], stats: &mut ReceiveStats) -> Vec<Delivery<T>> {
        for &(from, to) in ranges {
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
        let mut ask = Vec::new();
        let mut abandon = Vec::new();
        for (&seq, missing) in self.missing.iter_mut() {
            if missing.due > now {
                continue;
            }
            if missing.tries >= NACK_TRIES {
                abandon.push(seq);
                continue;
            }
            missing.tries += 1;
            missing.due = now + NACK_RETRY + jitter(NACK_DELAY);
            ask.push(seq);
        }
        for seq in abandon {
            self.give_up(seq, stats);
        }
        let ranges = ranges_of(&ask, MAX_NACK_RANGES);
        if !ranges.is_empty() {
            stats.nacks += 1;
        }
        (ranges, self.drain())
    }

    /// When [`Inbox::poll`] has something to do next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.missing.values().map(|m| m.due).min()
    }

    /// Marks every number from what we have up to `upto` that has not arrived as missing.
    fn note_known(&mut self, upto: u64, now: Instant, stats: &mut ReceiveStats) {
        let from = self.known.max(self.next - 1) + 1;
        for seq in from..=upto {
            if !self.ahead.contains_key(&seq) {
                stats.gaps += 1;
                self.missing.insert(
                    seq,
                    Missing {
                        since: now,
                        due: now + jitter(NACK_DELAY),
                        tries: 0,
                    },
                );
            }
        }
        self.known = self.known.max(upto);
    }

    fn give_up(&mut self, seq: u64, stats: &mut ReceiveStats) {
        if self.missing.remove(&seq).is_some() {
            stats.lost += 1;
            self.ahead.insert(seq, Slot::Lost);
        }
    }

    /// Gives up on everything before `seq` (a jump too large to repair) and delivers what
    /// was waiting, with the whole jump counted as lost.
    fn jump_to(&mut self, seq: u64, stats: &mut ReceiveStats) -> Vec<Delivery<T>> {
        let mut out = Vec::new();
        let mut expected = self.next;
        for (number, slot) in std::mem::take(&mut self.ahead) {
            if number > expected {
                out.push(Delivery::Lost(number - expected));
            }
            match slot {
                Slot::Item(item) => out.push(Delivery::Item(item)),
                Slot::Lost => out.push(Delivery::Lost(1)),
            }
            expected = number + 1;
        }
        if seq > expected {
            out.push(Delivery::Lost(seq - expected));
            stats.lost += seq - expected;
        }
        self.missing.clear();
        self.next = seq;
        self.known = seq - 1;
        merge_lost(out)
    }

    /// Hands over everything that is now in order.
    fn drain(&mut self) -> Vec<Delivery<T>> {
        let mut out = Vec::new();
        while let Some(slot) = self.ahead.remove(&self.next) {
            out.push(match slot {
                Slot::Item(item) => Delivery::Item(item),
                Slot::Lost => Delivery::Lost(1),
            });
            self.next += 1;
        }
        merge_lost(out)
    }
}

/// One sender's datagram as it arrives, in order, with events split in pieces put back
/// together.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrived {
    /// A whole datagram.
    Whole(Datagram),
    /// This many datagrams in a row could not be had.
    Lost(u64),
    /// An event put back together that cannot be read.
    Unreadable(Invalid),
}

/// What a sender's inbox let through, its pieces put back together with that sender's
/// `reassembly`, in the order it came. A loss drops the event it cut.
pub fn reassemble(
    reassembly: &mut Reassembly,
    deliveries: Vec<Delivery<Datagram>>,
) -> Vec<Arrived> {
    let mut arrived = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match delivery {
            Delivery::Item(datagram) => match reassembly.add(datagram) {
                Ok(Some(whole)) => arrived.push(Arrived::Whole(whole)),
                Ok(None) => {}
                Err(why) => arrived.push(Arrived::Unreadable(why)),
            },
            Delivery::Lost(count) => {
                reassembly.reset();
                arrived.push(Arrived::Lost(count));
            }
        }
    }
    arrived
}

/// Joins consecutive losses into one, so that a gap of three shows as "3 messages lost".
fn merge_lost<T>(deliveries: Vec<Delivery<T>>) -> Vec<Delivery<T>> {
    let mut out: Vec<Delivery<T>> = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match (out.last_mut(), delivery) {
            (Some(Delivery::Lost(count)), Delivery::Lost(more)) => *count += more,
            (_, delivery) => out.push(delivery),
        }
    }
    out
}

/// Sorted numbers as inclusive ranges, at most `limit` of them.
fn ranges_of(sorted: &[u64], limit: usize) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for &seq in sorted {
        if let Some((_, to)) = ranges.last_mut()
            && *to + 1 == seq
        {
            *to = seq;
        } else if ranges.len() == limit {
            break;
        } else {
            ranges.push((seq, seq));
        }
    }
    ranges
}

/// A random duration between zero and `max`.
fn jitter(max: Duration) -> Duration {
    max.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn in_order_once_with_gaps_asked_for_and_repaired() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        assert_eq!(items(inbox.accept(1, 1, t0, &mut stats)), ["1"]);
        // 2 and 3 lost, 4 arrives: held back, 2..3 asked for after the random delay.
        assert!(inbox.accept(4, 4, t0, &mut stats).is_empty());
        assert!(inbox.next_deadline().unwrap() <= t0 + NACK_DELAY);
        assert_eq!(inbox.poll(t0 + NACK_DELAY, &mut stats).0, vec![(2, 3)]);
        // Nothing more asked before the retry time.
        assert!(inbox.poll(t0 + ms(11), &mut stats).0.is_empty());
        assert_eq!(
            items(inbox.accept(3, 3, t0 + ms(12), &mut stats)),
            Vec::<String>::new()
        );
        assert_eq!(
            items(inbox.accept(2, 2, t0 + ms(13), &mut stats)),
            ["2", "3", "4"]
        );
        // A duplicate (a repair someone else asked for) is not delivered twice.
        assert!(inbox.accept(3, 3, t0 + ms(14), &mut stats).is_empty());
        assert_eq!(
            (stats.gaps, stats.repaired, stats.duplicates, stats.nacks),
            (2, 2, 1, 1)
        );
        assert_eq!(stats.repair_us, vec![12_000, 13_000]);
        assert!(!inbox.has_gaps());
    }

    #[test]
    fn a_lost_last_datagram_is_noticed_from_the_heartbeat() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(5);
        assert_eq!(items(inbox.accept(5, 5, t0, &mut stats)), ["5"]);
        assert!(inbox.heard_last(6, t0, &mut stats).is_empty());
        assert_eq!(inbox.poll(t0 + NACK_DELAY, &mut stats).0, vec![(6, 6)]);
        // Heartbeats that say nothing new add nothing.
        assert!(inbox.heard_last(5, t0, &mut stats).is_empty());
        assert_eq!(stats.gaps, 1);
    }

    #[test]
    fn unrepaired_gaps_are_shown_as_lost_in_their_place() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox = Inbox::starting_at(1);
        inbox.accept(4, 4, t0, &mut stats);
        let mut now = t0;
        let mut delivered = Vec::new();
        for _ in 0..=NACK_TRIES {
            now += NACK_RETRY + NACK_DELAY;
            delivered.extend(inbox.poll(now, &mut stats).1);
        }
        assert_eq!(items(delivered), ["lost 3", "4"]);
        assert_eq!(stats.lost, 3);
        // Expired: the sender says it no longer has them.
        inbox.accept(7, 7, now, &mut stats);
        assert_eq!(items(inbox.expired(&[(5, 6)], &mut stats)), ["lost 2", "7"]);
    }

    #[test]
    fn overhearing_a_nack_holds_ours_back() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::default();
        let mut inbox: Inbox<u64> = Inbox::starting_at(1);
        inbox.accept(3, 3, t0, &mut stats);
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
        inbox.accept(1, 1, t0, &mut stats);
        let far = 1 + MAX_GAP * 10;
        assert_eq!(
            items(inbox.accept(far, far, t0, &mut stats)),
            [format!("lost {}", far - 2), far.to_string()]
        );
        assert!(!inbox.has_gaps());
        let out = inbox.heard_last(u64::MAX - 1, t0, &mut stats);
        assert_eq!(out.len(), 1);
        assert!(!inbox.has_gaps());
    }

    #[test]
    fn the_outbox_repairs_what_it_keeps_and_says_what_expired() {
        let t0 = Instant::now();
        let mut outbox = Outbox::default();
        let total = WINDOW_MIN as u64 + 10;
        // All but the last sent longer ago than the window's age: the minimum stays.
        let old = t0 - WINDOW_AGE - ms(1);
        for seq in 1..total {
            outbox.keep(seq, vec![seq as u8].into(), old);
        }
        outbox.keep(total, vec![0].into(), t0);
        assert_eq!(outbox.size().0, WINDOW_MIN);
        let repair = outbox.repair(&[(5, 12), (total, total + 5)], t0);
        assert_eq!(repair.expired, vec![(5, 10)]);
        assert_eq!(repair.resend.len(), 3);
        // Asked again at once (other receivers' NACKs sent before the repair arrived): served.
        assert!(outbox.repair(&[(11, 12)], t0 + ms(1)).resend.is_empty());
        assert_eq!(outbox.repair(&[(11, 12)], t0 + ms(10)).resend.len(), 2);
        // Young datagrams are kept beyond the minimum.
        let mut young = Outbox::default();
        for seq in 1..=total {
            young.keep(seq, vec![0; 100].into(), t0);
        }
        assert_eq!(young.size().0, total as usize);
    }

    #[test]
    fn ranges_are_compact_and_bounded() {
        assert_eq!(
            ranges_of(&[1, 2, 3, 7, 9, 10], 10),
            vec![(1, 3), (7, 7), (9, 10)]
        );
        assert_eq!(ranges_of(&[1, 3, 5], 2), vec![(1, 1), (3, 3)]);
    }

    #[test]
    fn the_sender_beats_only_when_quiet() {
        let t0 = Instant::now();
        let mut sender = Sender::new(Origin::new("announcer"), ms(250), true, t0);
        assert!(sender.heartbeat(t0 + ms(100)).is_none());
        let payload = Payload::new(&Body::Chat { text: "x".into() }).unwrap();
        sender.send(&payload, t0 + ms(200));
        assert!(sender.heartbeat(t0 + ms(300)).is_none());
        let beat = sender.heartbeat(t0 + ms(450)).unwrap();
        let text = String::from_utf8_lossy(&beat);
        assert!(text.contains("\"last\":1"), "{text}");
        assert!(text.contains("\"seq\":0"), "{text}");
        assert_eq!(sender.nacked(&[(1, 1)], t0 + ms(500)).len(), 1);
        assert_eq!(sender.stats().repairs, 1);
    }
}
