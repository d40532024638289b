//! The sending side: what a sender keeps for repair ([`Outbox`]), and the sender itself
//! ([`Sender`]): its header and numbering, its heartbeat, and how much it repairs for whom.
//!
//! A NACK is small and a repair can be large: without a limit, anyone could make a sender
//! flood the group by asking for its whole window. Repairs are paid from two budgets of bytes:
//! one per asking address ([`REPAIR_PER_ASKER`]), and one for everyone together, which earns
//! [`REPAIR_BASE`] a second plus a byte for each byte the sender sends: a busy game can repair
//! as much as it sends (a player that fell behind a burst catches up), a quiet one little, and
//! nobody can make a sender send more than twice its own traffic plus that base. What a budget
//! cannot pay is left for the next NACK.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{WINDOW_AGE, WINDOW_BYTES, WINDOW_MIN, later};
use crate::budget::{Budgets, Verdict};
use crate::protocol::{Body, Origin, Payload, SessionId};

/// A datagram as sent and kept for repair: shared, so that keeping it costs no copy.
pub type Bytes = Arc<[u8]>;

/// Who asks for a repair: the address its NACK came from and the session it names. The
/// address alone would not do: every player on a host sends from the group's port, one address.
pub type Asker = (SocketAddr, SessionId);

/// After repairing a datagram, further NACKs for it within this time are served by that
/// repair: they were sent before it arrived.
const REPAIR_HOLDOFF: Duration = Duration::from_millis(5);

/// The most datagrams one NACK makes a sender repeat.
const MAX_REPAIRS_PER_NACK: usize = 256;

/// Bytes of repairs one asking address may have, a second, and at once: 2 MiB/s, bursts of the
/// whole window (what one player that fell behind a busy game needs to catch up).
pub const REPAIR_PER_ASKER: (f64, f64) = (2.0 * 1048576.0, WINDOW_BYTES as f64);

/// Bytes of repairs everyone together may have a second, besides what the sender sends.
pub const REPAIR_BASE: f64 = 1048576.0;

/// The most repair bytes saved up for everyone together: twice the window.
const REPAIR_SAVED: f64 = 2.0 * WINDOW_BYTES as f64;

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
        self.bytes = self.bytes.saturating_add(bytes.len());
        self.kept.push_back(Kept {
            seq,
            bytes,
            sent: now,
            repaired: None,
        });
        while self.kept.len() > WINDOW_MIN {
            let Some(oldest) = self.kept.front() else {
                break;
            };
            if now.saturating_duration_since(oldest.sent) < WINDOW_AGE && self.bytes <= WINDOW_BYTES
            {
                break;
            }
            self.bytes = self.bytes.saturating_sub(oldest.bytes.len());
            self.kept.pop_front();
        }
    }

    /// How many datagrams are kept, and their bytes.
    pub fn size(&self) -> (usize, usize) {
        (self.kept.len(), self.bytes)
    }

    /// Answers a NACK for `ranges` (inclusive): what to send again, and what is gone, with
    /// `pay` asked for each datagram's bytes (it says no when a budget is spent). Numbers never
    /// sent are ignored (nobody can be missing them), and so are reversed ranges.
    pub fn repair(
        &mut self,
        ranges: &[(u64, u64)],
        now: Instant,
        mut pay: impl FnMut(usize) -> bool,
    ) -> Repair {
        let mut repair = Repair::default();
        let (Some(first_kept), Some(last_kept)) = (
            self.kept.front().map(|k| k.seq),
            self.kept.back().map(|k| k.seq),
        ) else {
            return repair;
        };
        for &(from, to) in ranges {
            let to = to.min(last_kept);
            if from > to || from == 0 {
                continue;
            }
            // An `expired` must fit a datagram too: past that many ranges, the rest is said at
            // the next NACK.
            if from < first_kept && repair.expired.len() < super::inbox::NACK_RANGES {
                repair
                    .expired
                    .push((from, to.min(first_kept.saturating_sub(1))));
            }
            for seq in from.max(first_kept)..=to {
                if repair.resend.len() >= MAX_REPAIRS_PER_NACK {
                    return repair;
                }
                // Kept numbers are consecutive: the index is the distance from the first.
                let index = usize::try_from(seq.saturating_sub(first_kept)).unwrap_or(usize::MAX);
                let Some(kept) = self.kept.get_mut(index) else {
                    break;
                };
                if kept
                    .repaired
                    .is_some_and(|at| now.saturating_duration_since(at) < REPAIR_HOLDOFF)
                {
                    continue;
                }
                if !pay(kept.bytes.len()) {
                    return repair;
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
    /// The sender closed: its heartbeats say so.
    closing: bool,
    /// Repair bytes per asking address, and for everyone: earned with time and with every
    /// byte sent, as of `earned_at`.
    per_asker: Budgets<Asker>,
    pool: f64,
    earned_at: Instant,
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
    /// Their bytes.
    pub repair_bytes: u64,
    /// Datagrams asked for that were no longer kept.
    pub expired: u64,
    /// NACKs not answered in full because a repair budget was spent.
    pub throttled: u64,
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
            closing: false,
            per_asker: Budgets::new(REPAIR_PER_ASKER.0, REPAIR_PER_ASKER.1),
            pool: WINDOW_BYTES as f64,
            earned_at: now,
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

    /// How often this sender beats when quiet.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// The numbered datagrams that carry `payload`, kept for repair.
    pub fn send(&mut self, payload: &Payload, now: Instant) -> Vec<Bytes> {
        self.spoke = now;
        self.origin
            .datagrams(payload)
            .into_iter()
            .map(|(seq, bytes)| {
                let bytes: Bytes = bytes.into();
                self.pool = (self.pool + bytes.len() as f64).min(REPAIR_SAVED);
                add(&mut self.stats.datagrams, 1);
                add(&mut self.stats.bytes, bytes.len());
                self.outbox.keep(seq, bytes.clone(), now);
                bytes
            })
            .collect()
    }

    /// A datagram that is not numbered (a NACK of our own, an admission).
    pub fn control(&self, body: &Body) -> Bytes {
        self.origin.control(body).into()
    }

    /// From now on this sender's heartbeats say that it closed: it only stays to repair.
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// When the next heartbeat is due if nothing is sent before.
    pub fn heartbeat_due(&self) -> Instant {
        later(self.spoke, self.every)
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
        add(&mut self.stats.heartbeats, 1);
        self.control(&Body::Heartbeat {
            last: self.origin.last_seq(),
            every_ms: u32::try_from(self.every.as_millis()).unwrap_or(u32::MAX),
            announcer: self.announcer,
            closing: self.closing,
        })
    }

    /// Answers a NACK from `asker` for our datagrams: the repairs its budget and everyone's
    /// pay for, then an `expired` for what is gone.
    pub fn nacked(&mut self, ranges: &[(u64, u64)], asker: Asker, now: Instant) -> Vec<Bytes> {
        add(&mut self.stats.nacks, 1);
        let earned = now.saturating_duration_since(self.earned_at).as_secs_f64() * REPAIR_BASE;
        self.pool = (self.pool + earned).min(REPAIR_SAVED);
        self.earned_at = self.earned_at.max(now);
        let (per_asker, pool) = (&mut self.per_asker, &mut self.pool);
        let mut throttled = false;
        let repair = self.outbox.repair(ranges, now, |bytes| {
            // Each datagram is paid whole from both budgets, or not sent.
            let cost = bytes as f64;
            let paid = *pool >= cost && per_asker.take_many(&asker, cost, now) == Verdict::Allow;
            if paid {
                *pool -= cost;
            }
            throttled |= !paid;
            paid
        });
        if throttled {
            add(&mut self.stats.throttled, 1);
        }
        add(&mut self.stats.repairs, repair.resend.len());
        for bytes in &repair.resend {
            add(&mut self.stats.repair_bytes, bytes.len());
        }
        let mut out = repair.resend;
        if !repair.expired.is_empty() {
            for (from, to) in &repair.expired {
                add(
                    &mut self.stats.expired,
                    to.saturating_sub(*from).saturating_add(1),
                );
            }
            out.push(self.control(&Body::Expired {
                ranges: repair.expired,
            }));
        }
        out
    }
}

/// Adds to a counter; counters of datagrams and bytes cannot reach 2^64.
fn add(counter: &mut u64, more: impl TryInto<u64>) {
    *counter = counter.saturating_add(more.try_into().unwrap_or(u64::MAX));
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const ASKER: Asker = (
        SocketAddr::V4(std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::LOCALHOST,
            4000,
        )),
        77,
    );

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
        let free = |_| true;
        let repair = outbox.repair(&[(5, 12), (total, total + 5)], t0, free);
        assert_eq!(repair.expired, vec![(5, 10)]);
        assert_eq!(repair.resend.len(), 3);
        // Asked again at once (other receivers' NACKs sent before the repair arrived): served.
        assert!(
            outbox
                .repair(&[(11, 12)], t0 + ms(1), free)
                .resend
                .is_empty()
        );
        assert_eq!(
            outbox.repair(&[(11, 12)], t0 + ms(10), free).resend.len(),
            2
        );
        // Young datagrams are kept beyond the minimum.
        let mut young = Outbox::default();
        for seq in 1..=total {
            young.keep(seq, vec![0; 100].into(), t0);
        }
        assert_eq!(young.size().0, total as usize);
    }

    #[test]
    fn reversed_empty_and_far_ranges_repair_nothing() {
        let t0 = Instant::now();
        let mut outbox = Outbox::default();
        for seq in 1..=10 {
            outbox.keep(seq, vec![0].into(), t0);
        }
        for ranges in [
            vec![(5, 3)],
            vec![(0, 0)],
            vec![(11, u64::MAX)],
            vec![(u64::MAX, u64::MAX)],
            vec![(u64::MAX, 1)],
            vec![],
        ] {
            let repair = outbox.repair(&ranges, t0, |_| true);
            assert_eq!(repair, Repair::default(), "{ranges:?}");
        }
        // (0, 3) starts at 0: refused by the decoder, ignored here.
        assert!(outbox.repair(&[(0, 3)], t0, |_| true).resend.is_empty());
        assert_eq!(
            outbox.repair(&[(1, u64::MAX)], t0, |_| true).resend.len(),
            10
        );
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
        assert_eq!(sender.nacked(&[(1, 1)], ASKER, t0 + ms(500)).len(), 1);
        assert_eq!(sender.stats().repairs, 1);
    }

    #[test]
    fn nacks_for_the_whole_window_cost_a_bounded_amount() {
        // A datagram of ~1 KB a millisecond for two seconds, then one asker NACKs the whole
        // window a thousand times in a second: it gets its budget's worth, not the window a
        // thousand times over.
        let t0 = Instant::now();
        let mut sender = Sender::new(Origin::new("announcer"), ms(250), true, t0);
        let payload = Payload::new(&Body::Chat {
            text: "x".repeat(500),
        })
        .unwrap();
        for i in 0..2000 {
            sender.send(&payload, t0 + ms(i));
        }
        let mut out = 0usize;
        let mut nack_bytes = 0usize;
        let start = t0 + ms(2000);
        for i in 0..1000u64 {
            let nack = Body::Nack {
                to: 1,
                ranges: vec![(1, 2000)],
            };
            nack_bytes += serde_json::to_string(&nack).unwrap().len() + 60;
            for bytes in sender.nacked(&[(1, 2000)], ASKER, start + ms(i)) {
                out += bytes.len();
            }
        }
        // One asker: its own budget, a burst of the window and 2 MiB a second.
        let (rate, burst) = REPAIR_PER_ASKER;
        let budget = (burst + rate * 1.0) as usize;
        assert!(out <= budget + 2048, "{out} bytes out for {nack_bytes} in");
        assert!(out >= budget / 2, "the asker still gets repairs: {out}");
        assert!(sender.stats().throttled > 900);
        // Many askers (made-up addresses) together: what the sender sent, what it saved up,
        // and 1 MiB a second; never the window a thousand times over.
        let mut quiet = Sender::new(Origin::new("announcer"), ms(250), true, t0);
        let small = Payload::new(&Body::Chat {
            text: "x".repeat(500),
        })
        .unwrap();
        for i in 0..2000 {
            quiet.send(&small, t0 + ms(i));
        }
        let sent = quiet.stats().bytes as usize;
        let mut out = 0usize;
        for i in 0..1000u64 {
            let asker = (SocketAddr::from(([127, 0, 0, 1], 5007)), 5000 + i);
            for bytes in quiet.nacked(&[(1, 2000)], asker, start + ms(i)) {
                out += bytes.len();
            }
        }
        let bound = 2 * WINDOW_BYTES + (REPAIR_BASE * 1.0) as usize;
        assert!(out <= bound + 2048, "{out} bytes out, {sent} sent");
        // Another asker is not starved by the first.
        let other: Asker = ("127.0.0.1:4000".parse().unwrap(), 78);
        assert!(
            !sender
                .nacked(&[(1990, 2000)], other, start + ms(1001))
                .is_empty()
        );
    }
}
