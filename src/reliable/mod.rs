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
//! The parts: [`outbox`] (what a sender keeps, its heartbeat, and how much it repairs for whom),
//! [`inbox`] (one sender's datagrams put in order, with its gaps), and [`peers`] (the receive
//! table both roles share: one inbox, reassembly and liveness per sender, and what heartbeats,
//! NACKs and expiries do to them). Nothing here does I/O or reads a clock: time comes in as
//! arguments, so that the tests drive every case by hand.
//!
//! Everything that grows from what arrives is bounded (the numbers are the constants below):
//! datagrams and bytes held per sender and in all, gaps a heartbeat may open, senders tracked,
//! bytes repaired per asker and in all.

// Numbers here come from the network: every sum and difference says what happens at the edge.
#![deny(clippy::arithmetic_side_effects)]

use std::time::Duration;

use crate::protocol::{Datagram, Invalid, Reassembly};

pub mod inbox;
pub mod outbox;
pub mod peers;

pub use inbox::{Inbox, ReceiveStats};
pub use outbox::{Asker, Bytes, Outbox, Repair, SendStats, Sender};
pub use peers::{Peer, Peers, Received};

/// The sender always keeps at least this many of its latest datagrams for repair…
pub const WINDOW_MIN: usize = 1024;
/// …and beyond those, the ones younger than this…
pub const WINDOW_AGE: Duration = Duration::from_secs(30);
/// …as long as they fit in this many bytes (a script announcing 100,000 events a second would
/// otherwise keep 30 s of them).
pub const WINDOW_BYTES: usize = 2 << 20;

/// A receiver waits between 0 and this before its first NACK for a gap, so that receivers
/// missing the same datagram do not all ask at once.
pub const NACK_DELAY: Duration = Duration::from_millis(10);

/// Then it asks again this often while the gap stays open…
pub const NACK_RETRY: Duration = Duration::from_millis(50);

/// …this many times at most, before it reports the datagrams as lost.
pub const NACK_TRIES: u32 = 12;

/// How far one sender's inbox reaches: the widest gap it opens at once (a datagram numbered
/// further ahead is a sender we lost track of: the jump is reported lost; a heartbeat claiming
/// more opens only this many, so that a forged one cannot make a receiver track millions of
/// numbers, nor skip a sender's real datagrams), and the most datagrams it holds behind its
/// gaps (past that it gives up the oldest gap, shown as lost, rather than grow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// The widest gap, in sequence numbers.
    pub gap: u64,
    /// The most datagrams held behind gaps.
    pub ahead: usize,
}

/// The reach of a player's inbox for the announcer it follows: as far back as the announcer
/// keeps (its window holds 2 MiB, some 10,000 small events), so that a player that fell behind
/// a burst still gets it repaired.
pub const WIDE: Reach = Reach {
    gap: 16_384,
    ahead: 16_384,
};

/// The reach of every other inbox (players' lines, at the announcer and at each other player):
/// a player sends tens of lines a second. With at most 256 senders listened to, a receiver
/// tracks at most 16,384 + 255 × 1,024 missing numbers, whatever heartbeats claim.
pub const NARROW: Reach = Reach {
    gap: 1_024,
    ahead: 1_024,
};

/// The widest reach, as a distance between sequence numbers.
pub const MAX_GAP: u64 = WIDE.gap;

/// The widest reach, in datagrams held.
pub const MAX_AHEAD: usize = WIDE.ahead;

/// The most bytes one sender's inbox holds behind its gaps: what its outbox keeps at most
/// ([`WINDOW_BYTES`]); more could not be repaired anyway.
pub const PEER_BYTES: usize = WINDOW_BYTES;

/// The most bytes all inboxes of one receiver hold together: past this, the inbox holding the
/// most gives up its oldest gap. Fake senders each parking datagrams behind a gap cost at most
/// this much together, whatever their number.
pub const TOTAL_BYTES: usize = 8 << 20;

/// How often an announcer beats when it has nothing to say: a lost last datagram is noticed
/// within about this, and players tell a silent announcer from a quiet one.
pub const ANNOUNCER_HEARTBEAT: Duration = Duration::from_millis(250);

/// How often a player beats when quiet: the announcer's proof that it is still there.
pub const PLAYER_HEARTBEAT: Duration = Duration::from_millis(500);

/// A peer silent for this many of its heartbeats is gone (a player), or unreachable (an
/// announcer).
pub const MISSED_BEATS: u32 = 3;

/// Datagrams read in one go before the event loop looks at its other work.
pub const BATCH: usize = 256;

/// What an [`Inbox`] hands over, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery<T> {
    /// The next datagram.
    Item(T),
    /// This many datagrams in a row could not be had: show the gap.
    Lost(u64),
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
            (Some(Delivery::Lost(count)), Delivery::Lost(more)) => {
                *count = count.saturating_add(more);
            }
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
            && to.checked_add(1) == Some(seq)
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

/// A receiver's random wait before it NACKs, between zero and `max`, for a group of about
/// `group` receivers: NORM's exponentially distributed backoff (RFC 5740, section 5.5.1, after
/// RFC 5401's feedback suppression). Its density grows as e^(λt/max) with λ = ln(group) + 1,
/// so that in a big group the few who draw early are very few: they ask, everyone else hears
/// their NACK before their own time comes, and holds back. With a uniform wait, N receivers
/// sharing a loss send about 1 + N·d/max NACKs (d: how long a NACK takes to be heard); with
/// this one about 1 + ln(N)·d/max, so a thousand players cost a few NACKs a gap, not dozens.
/// With one receiver (λ = 1) it is close to uniform.
fn backoff(max: Duration, group: usize) -> Duration {
    // usize to f64 loses nothing below 2^53; ln of at least 1 is at least 0.
    let lambda = (group.max(1) as f64).ln() + 1.0;
    // The inverse of the distribution's CDF, (e^(λt/max) - 1) / (e^λ - 1), at a uniform draw.
    let share = (fastrand::f64() * lambda.exp_m1()).ln_1p() / lambda;
    max.mul_f64(share.clamp(0.0, 1.0))
}

/// `at + by`. The durations added here are at most hours (heartbeat intervals of at most a
/// minute, times at most a thousand missed beats), far from the end of `Instant`; should one
/// ever get there, the deadline becomes a day away rather than a panic.
fn later(at: std::time::Instant, by: Duration) -> std::time::Instant {
    at.checked_add(by)
        .or_else(|| at.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_stays_within_its_bound_and_leans_late_in_big_groups() {
        let max = Duration::from_millis(10);
        for group in [0, 1, 2, 16, 1000, usize::MAX] {
            for _ in 0..1000 {
                assert!(backoff(max, group) <= max, "group {group}");
            }
        }
        assert_eq!(backoff(Duration::ZERO, 1000), Duration::ZERO);
        // The share of draws in the first tenth of the wait: about a tenth alone, and far
        // fewer among a thousand (the few who ask for everyone).
        let early = |group: usize| {
            (0..20_000)
                .filter(|_| backoff(max, group) < max / 10)
                .count() as f64
                / 20_000.0
        };
        fastrand::seed(7);
        let (alone, crowd) = (early(1), early(1000));
        assert!((0.04..0.12).contains(&alone), "alone: {alone}");
        assert!(crowd < 0.01, "a thousand: {crowd}");
    }

    #[test]
    fn ranges_are_compact_and_bounded() {
        assert_eq!(
            ranges_of(&[1, 2, 3, 7, 9, 10], 10),
            vec![(1, 3), (7, 7), (9, 10)]
        );
        assert_eq!(ranges_of(&[1, 3, 5], 2), vec![(1, 1), (3, 3)]);
        assert_eq!(
            ranges_of(&[u64::MAX - 1, u64::MAX], 2),
            vec![(u64::MAX - 1, u64::MAX)]
        );
    }

    #[test]
    fn losses_in_a_row_are_one_gap() {
        let merged = merge_lost(vec![
            Delivery::Lost(2),
            Delivery::Lost(u64::MAX),
            Delivery::Item(1),
            Delivery::Lost(1),
        ]);
        assert_eq!(
            merged,
            vec![
                Delivery::Lost(u64::MAX),
                Delivery::Item(1),
                Delivery::Lost(1)
            ]
        );
    }
}
