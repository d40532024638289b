//! The receive table both roles share: for each sender a role listens to, its inbox, the
//! reassembly of its large events and its liveness; what heartbeats, NACKs and expiries do to
//! them; when something is due next; and silence, judged as of the last read that found the
//! socket empty.
//!
//! Roles keep the policy: whom to listen to (the announcer listens to its members, a player to
//! its announcer and the other players), what is shown and what the script hears. A datagram
//! from a session the table does not listen to comes back to the role as [`Received::Pass`].

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::time::{Duration, Instant};

use super::{
    Arrived, Delivery, Inbox, NARROW, PLAYER_HEARTBEAT, Reach, ReceiveStats, TOTAL_BYTES, WIDE,
    later, reassemble,
};
use crate::protocol::{Body, Datagram, Reassembly, SessionId};

/// One sender a role listens to.
#[derive(Debug)]
pub struct Peer {
    name: String,
    inbox: Inbox<Datagram>,
    reach: Reach,
    reassembly: Reassembly,
    heard: Instant,
    every: Duration,
}

impl Peer {
    /// The name its datagrams carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When we last heard from it (moved on by time this process was not running).
    pub fn heard(&self) -> Instant {
        self.heard
    }

    /// Its latest numbered datagram delivered so far (0: none).
    pub fn last(&self) -> u64 {
        self.inbox.next().saturating_sub(1)
    }

    /// What its inbox holds: datagrams, bytes and numbers awaited.
    pub fn held(&self) -> (usize, usize, usize) {
        self.inbox.held()
    }
}

/// What one datagram did.
#[derive(Debug, PartialEq)]
pub enum Received {
    /// What it let through, in each sender's order: usually datagrams of its own sender, and
    /// what another inbox gave up when all of them together held too much.
    Arrived(Vec<(SessionId, Arrived)>),
    /// A NACK for our own datagrams, from the session `asker`: send these ranges again.
    Repair {
        /// The ranges asked for.
        ranges: Vec<(u64, u64)>,
        /// The session that asked.
        asker: SessionId,
    },
    /// Not the table's: from a session it does not listen to (or our own), or a kind it does
    /// not handle (`admit`). The role decides.
    Pass(Datagram),
}

/// What came due at a tick.
#[derive(Debug, Default, PartialEq)]
pub struct Due {
    /// NACKs to send: whose datagrams, which ranges.
    pub nacks: Vec<(SessionId, Vec<(u64, u64)>)>,
    /// What giving up on gaps let through, per sender, in order.
    pub arrived: Vec<(SessionId, Arrived)>,
}

/// How often a sender that says it beats every `every_ms` does (at least a millisecond).
pub fn beat_interval(every_ms: u32) -> Duration {
    Duration::from_millis(u64::from(every_ms.max(1)))
}

/// The receive table.
#[derive(Debug)]
pub struct Peers {
    me: SessionId,
    peers: BTreeMap<SessionId, Peer>,
    /// The most senders listened to at once.
    limit: usize,
    /// A sender silent for this many of its heartbeats is silent.
    missed: u32,
    /// The bytes all inboxes hold together.
    bytes: usize,
    stats: ReceiveStats,
    /// When a read last found the socket empty: silence is judged as of then, so that
    /// heartbeats queued behind a burst (or behind a stall) do not count as silence.
    caught_up: Instant,
    /// How many members the role knows in its game: with the senders listened to, the size
    /// of the group its NACK waits are drawn for.
    members: usize,
    /// The senders whose inbox awaits numbers: the only ones a tick looks at, so that a turn
    /// of the loop costs the same with ten players as with a thousand.
    gappy: BTreeSet<SessionId>,
    /// Every sender by when it falls silent (`silent_at`), for the same reason: silence and
    /// the next deadline are found without going through everyone.
    by_silence: BTreeSet<(Instant, SessionId)>,
}

impl Peers {
    /// A table for the role whose session is `me`, listening to `limit` senders at most, who
    /// are silent after `missed` of their heartbeats.
    pub fn new(me: SessionId, limit: usize, missed: u32, now: Instant) -> Peers {
        Peers {
            me,
            peers: BTreeMap::new(),
            limit,
            missed,
            bytes: 0,
            stats: ReceiveStats::default(),
            caught_up: now,
            members: 1,
            gappy: BTreeSet::new(),
            by_silence: BTreeSet::new(),
        }
    }

    /// The role knows of `members` members in its game (a player's roster, the announcer's):
    /// the group that may miss what this role misses is taken as the larger of that and the
    /// senders listened to (a table of 256 senders in a game of a thousand players), and its
    /// NACK waits are drawn for that size.
    pub fn set_members(&mut self, members: usize) {
        self.members = members;
    }

    /// The group the NACK waits are drawn for.
    fn group(&self) -> usize {
        self.members.max(self.peers.len()).max(1)
    }

    /// Starts listening to `session` (called `name`) from its number `next`, as of `now`, with
    /// the [`NARROW`] reach of a player's lines. Returns false when the table is full (the role
    /// may [`Peers::forget`] someone first); a session listened to already is left as it is.
    pub fn listen(&mut self, session: SessionId, name: &str, next: u64, now: Instant) -> bool {
        self.listen_reaching(session, name, next, NARROW, now)
    }

    /// [`Peers::listen`] with the [`WIDE`] reach of an announcer's events.
    pub fn listen_wide(&mut self, session: SessionId, name: &str, next: u64, now: Instant) -> bool {
        self.listen_reaching(session, name, next, WIDE, now)
    }

    fn listen_reaching(
        &mut self,
        session: SessionId,
        name: &str,
        next: u64,
        reach: Reach,
        now: Instant,
    ) -> bool {
        if self.peers.contains_key(&session) {
            return true;
        }
        if self.peers.len() >= self.limit || session == self.me {
            return false;
        }
        let peer = Peer {
            name: name.to_string(),
            inbox: Inbox::reaching(next, reach),
            reach,
            reassembly: Reassembly::default(),
            heard: now,
            every: PLAYER_HEARTBEAT,
        };
        self.by_silence.insert((self.silent_at(&peer), session));
        self.peers.insert(session, peer);
        true
    }

    /// `session` was heard at `now` (and beats every `every`, when it said): its place in
    /// the silence order moves with it.
    fn set_heard(&mut self, session: SessionId, now: Instant, every: Option<Duration>) {
        let missed = self.missed;
        let Some(peer) = self.peers.get_mut(&session) else {
            return;
        };
        let before = later(peer.heard, peer.every.saturating_mul(missed));
        peer.heard = now;
        if let Some(every) = every {
            peer.every = every;
        }
        let after = later(peer.heard, peer.every.saturating_mul(missed));
        if after != before {
            self.by_silence.remove(&(before, session));
            self.by_silence.insert((after, session));
        }
    }

    /// Keeps [`Peers::gappy`] true to `session`'s inbox after it changed.
    fn note_gaps(&mut self, session: SessionId) {
        match self.peers.get(&session) {
            Some(peer) if peer.inbox.has_gaps() => {
                self.gappy.insert(session);
            }
            _ => {
                self.gappy.remove(&session);
            }
        }
    }

    /// Starts `session`'s inbox again at number `next`, keeping its liveness: a player that
    /// learns where its announcer's events start for it.
    pub fn restart(&mut self, session: SessionId, next: u64) {
        if let Some(peer) = self.peers.get_mut(&session) {
            self.bytes = self.bytes.saturating_sub(peer.inbox.held().1);
            peer.inbox = Inbox::reaching(next, peer.reach);
            peer.reassembly = Reassembly::default();
        }
        self.gappy.remove(&session);
    }

    /// Heard from `session` at `now`, every `every` when quiet: liveness only, for a datagram
    /// the role keeps aside rather than hand to the inbox.
    pub fn heard(&mut self, session: SessionId, every: Option<Duration>, now: Instant) {
        self.set_heard(session, now, every);
    }

    /// Stops listening to `session`; what its inbox held is dropped.
    pub fn forget(&mut self, session: SessionId) -> Option<Peer> {
        let peer = self.peers.remove(&session)?;
        self.bytes = self.bytes.saturating_sub(peer.inbox.held().1);
        self.gappy.remove(&session);
        self.by_silence.remove(&(self.silent_at(&peer), session));
        Some(peer)
    }

    /// The sender `session`, if listened to.
    pub fn get(&self, session: SessionId) -> Option<&Peer> {
        self.peers.get(&session)
    }

    /// Whether `session` is listened to.
    pub fn contains(&self, session: SessionId) -> bool {
        self.peers.contains_key(&session)
    }

    /// How many senders are listened to.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no sender is listened to.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Every sender listened to.
    pub fn iter(&self) -> impl Iterator<Item = (SessionId, &Peer)> {
        self.peers.iter().map(|(session, peer)| (*session, peer))
    }

    /// The sender heard least recently, other than `keep`: the one to forget for room.
    pub fn least_recent(&self, keep: Option<SessionId>) -> Option<SessionId> {
        self.iter()
            .filter(|(session, _)| Some(*session) != keep)
            .min_by_key(|(_, peer)| peer.heard)
            .map(|(session, _)| session)
    }

    /// What loss repair did so far.
    pub fn stats(&self) -> &ReceiveStats {
        &self.stats
    }

    /// The bytes all inboxes hold together.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// Takes a datagram of `size` bytes that arrived at `now`.
    pub fn receive(&mut self, datagram: Datagram, size: usize, now: Instant) -> Received {
        if let Body::Nack { to, ranges } = &datagram.body {
            self.set_heard(datagram.session, now, None);
            if *to == self.me {
                return Received::Repair {
                    ranges: ranges.clone(),
                    asker: datagram.session,
                };
            }
            let group = self.group();
            if let Some(peer) = self.peers.get_mut(to) {
                peer.inbox.set_group(group);
                peer.inbox.overheard_nack(ranges, now, &mut self.stats);
            }
            return Received::Arrived(Vec::new());
        }
        let session = datagram.session;
        let group = self.group();
        if !self.peers.contains_key(&session) {
            return Received::Pass(datagram);
        }
        let every = match &datagram.body {
            Body::Heartbeat { every_ms, .. } => Some(beat_interval(*every_ms)),
            _ => None,
        };
        self.set_heard(session, now, every);
        let Some(peer) = self.peers.get_mut(&session) else {
            return Received::Pass(datagram);
        };
        peer.inbox.set_group(group);
        let before = peer.inbox.held().1;
        let deliveries = match &datagram.body {
            Body::Heartbeat { last, .. } => {
                peer.inbox.heard_last(*last, now, &mut self.stats);
                Vec::new()
            }
            Body::Expired { ranges } => peer.inbox.expired(ranges, &mut self.stats),
            body if !body.is_numbered() => return Received::Pass(datagram),
            _ => {
                let seq = datagram.seq;
                peer.inbox.accept(seq, datagram, size, now, &mut self.stats)
            }
        };
        let mut arrived = self.delivered(session, before, deliveries);
        if self.bytes > TOTAL_BYTES {
            self.make_room(&mut arrived);
        }
        Received::Arrived(arrived)
    }

    /// Hands over what `session`'s inbox let through (its bytes were `before`), put back
    /// together, and keeps the count of bytes held.
    fn delivered(
        &mut self,
        session: SessionId,
        before: usize,
        deliveries: Vec<Delivery<Datagram>>,
    ) -> Vec<(SessionId, Arrived)> {
        let Some(peer) = self.peers.get_mut(&session) else {
            return Vec::new();
        };
        let after = peer.inbox.held().1;
        self.bytes = self.bytes.saturating_add(after).saturating_sub(before);
        let arrived = reassemble(&mut peer.reassembly, deliveries)
            .into_iter()
            .map(|arrived| (session, arrived))
            .collect();
        self.note_gaps(session);
        arrived
    }

    /// All inboxes together hold too much: the one holding the most gives up its oldest gaps
    /// until they fit.
    fn make_room(&mut self, arrived: &mut Vec<(SessionId, Arrived)>) {
        while self.bytes > TOTAL_BYTES {
            let Some(session) = self
                .iter()
                .max_by_key(|(_, peer)| peer.inbox.held().1)
                .map(|(session, _)| session)
            else {
                return;
            };
            let Some(peer) = self.peers.get_mut(&session) else {
                return;
            };
            let before = peer.inbox.held().1;
            let Some(deliveries) = peer.inbox.shed(&mut self.stats) else {
                return;
            };
            arrived.extend(self.delivered(session, before, deliveries));
        }
    }

    /// NACKs due at `now`, and what gaps given up on let through.
    pub fn poll(&mut self, now: Instant) -> Due {
        let mut due = Due::default();
        let sessions: Vec<SessionId> = self.gappy.iter().copied().collect();
        let group = self.group();
        for session in sessions {
            let Some(peer) = self.peers.get_mut(&session) else {
                continue;
            };
            peer.inbox.set_group(group);
            let before = peer.inbox.held().1;
            let (ranges, deliveries) = peer.inbox.poll(now, &mut self.stats);
            if !ranges.is_empty() {
                due.nacks.push((session, ranges));
            }
            due.arrived
                .extend(self.delivered(session, before, deliveries));
        }
        due
    }

    /// A read found the socket empty at `now`: silence is judged as of then.
    pub fn caught_up(&mut self, now: Instant) {
        self.caught_up = self.caught_up.max(now);
    }

    /// When `session` falls silent if nothing more is heard from it.
    fn silent_at(&self, peer: &Peer) -> Instant {
        later(peer.heard, peer.every.saturating_mul(self.missed))
    }

    /// The senders silent as of the last read that found the socket empty.
    pub fn silent(&self) -> Vec<SessionId> {
        self.by_silence
            .range(..=(self.caught_up, SessionId::MAX))
            .map(|&(_, session)| session)
            .collect()
    }

    /// Whether `session` is silent as of the last read that found the socket empty.
    pub fn is_silent(&self, session: SessionId) -> bool {
        self.get(session)
            .is_some_and(|peer| self.silent_at(peer) <= self.caught_up)
    }

    /// This process was not running for `by` (stopped, suspended, stuck in a long call): that
    /// time does not count against anyone's silence.
    pub fn stalled(&mut self, by: Duration) {
        for peer in self.peers.values_mut() {
            peer.heard = later(peer.heard, by);
        }
        self.by_silence = self
            .peers
            .iter()
            .map(|(&session, peer)| (self.silent_at(peer), session))
            .collect();
    }

    /// When something is due next: a NACK, a gap to give up on, or someone falling silent
    /// (a silence that ended before the last empty read is judged at the next one, not by a
    /// timer).
    pub fn next_deadline(&self) -> Option<Instant> {
        let nack = self
            .gappy
            .iter()
            .filter_map(|session| self.peers.get(session)?.inbox.next_deadline())
            .min();
        let silence = self
            .by_silence
            .range((
                Bound::Excluded((self.caught_up, SessionId::MAX)),
                Bound::Unbounded,
            ))
            .next()
            .map(|&(at, _)| at);
        nack.into_iter().chain(silence).min()
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::{MAX_NUMBER, Origin};
    use crate::reliable::{NACK_DELAY, NACK_RETRY, NACK_TRIES, PEER_BYTES};
    use proptest::prelude::*;

    /// How many cases each property runs: a thousand in CI, more with `PROPTEST_CASES`
    /// (the long run in the README's Security section).
    pub fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000);
        ProptestConfig::with_cases(cases)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn numbered(origin: &mut Origin, text: &str) -> Datagram {
        origin.stamp(Body::Chat { text: text.into() })
    }

    fn texts(received: Received) -> Vec<String> {
        match received {
            Received::Arrived(arrived) => arrived
                .into_iter()
                .map(|(_, a)| match a {
                    Arrived::Whole(d) => match d.body {
                        Body::Chat { text } => text,
                        other => format!("{other:?}"),
                    },
                    Arrived::Lost(n) => format!("lost {n}"),
                    Arrived::Unreadable(why) => format!("unreadable {why}"),
                })
                .collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn peers_deliver_in_order_and_strangers_pass() {
        let t0 = Instant::now();
        let mut table = Peers::new(1, 8, 3, t0);
        let mut alice = Origin::with_session("alice", 10);
        assert!(table.listen(10, "alice", 1, t0));
        let one = numbered(&mut alice, "one");
        let two = numbered(&mut alice, "two");
        assert!(texts(table.receive(two, 50, t0)).is_empty());
        assert_eq!(texts(table.receive(one, 50, t0)), ["one", "two"]);
        let mut bob = Origin::with_session("bob", 11);
        let hi = numbered(&mut bob, "hi");
        assert!(matches!(table.receive(hi, 50, t0), Received::Pass(_)));
        // A NACK for our own datagrams is for us to repair.
        let nack = bob.stamp(Body::Nack {
            to: 1,
            ranges: vec![(1, 2)],
        });
        assert_eq!(
            table.receive(nack, 50, t0),
            Received::Repair {
                ranges: vec![(1, 2)],
                asker: 11
            }
        );
    }

    #[test]
    fn silence_counts_as_of_the_last_empty_read_and_not_while_stalled() {
        let t0 = Instant::now();
        let mut table = Peers::new(1, 8, 3, t0);
        table.listen(10, "alice", 1, t0);
        let silence = PLAYER_HEARTBEAT * 3;
        assert_eq!(table.next_deadline(), Some(t0 + silence));
        // The time passes, but nothing was read: not silent yet.
        assert!(table.silent().is_empty());
        // The process was stopped for 2 s: that does not count.
        table.stalled(Duration::from_secs(2));
        table.caught_up(t0 + silence + ms(100));
        assert!(table.silent().is_empty());
        table.caught_up(t0 + Duration::from_secs(2) + silence);
        assert_eq!(table.silent(), vec![10]);
    }

    #[test]
    fn fake_senders_parking_datagrams_cost_a_bounded_total() {
        // Row 6: senders each parking datagrams of 1,400 bytes behind a gap.
        let t0 = Instant::now();
        let mut table = Peers::new(1, 256, 3, t0);
        for sender in 0..64u64 {
            let session = 100 + sender;
            table.listen(session, "fake", 1, t0);
            let mut origin = Origin::with_session("fake", session);
            origin.stamp(Body::Join); // number 1 never arrives
            for _ in 0..1500 {
                let datagram = numbered(&mut origin, &"x".repeat(300));
                let _ = table.receive(datagram, 1400, t0);
                assert!(table.held_bytes() <= TOTAL_BYTES);
            }
        }
        let counted: usize = table.iter().map(|(_, p)| p.held().1).sum();
        assert_eq!(counted, table.held_bytes());
        assert!(table.iter().all(|(_, p)| p.held().1 <= PEER_BYTES));
    }

    #[test]
    fn a_forged_heartbeat_far_ahead_does_not_make_real_datagrams_old() {
        // Row 11: a heartbeat with a member's session and `last` + 65,536.
        let t0 = Instant::now();
        let mut table = Peers::new(1, 8, 3, t0);
        table.listen(10, "alice", 1, t0);
        let mut alice = Origin::with_session("alice", 10);
        assert_eq!(
            texts(table.receive(numbered(&mut alice, "one"), 50, t0)),
            ["one"]
        );
        let forged = Datagram {
            v: 1,
            from: "alice".into(),
            session: 10,
            seq: 0,
            body: Body::Heartbeat {
                last: 1 + 65_536,
                every_ms: 500,
                announcer: false,
                closing: false,
            },
        };
        let _ = table.receive(forged, 80, t0);
        // Her real next line is delivered at once, gaps or not…
        assert_eq!(
            texts(table.receive(numbered(&mut alice, "two"), 50, t0)),
            ["two"]
        );
        // …and once the claimed numbers were given up on, so is every later one.
        let mut now = t0;
        for _ in 0..=NACK_TRIES {
            now += NACK_RETRY + NACK_DELAY;
            let due = table.poll(now);
            assert!(due.arrived.is_empty(), "{:?}", due.arrived);
        }
        assert_eq!(
            texts(table.receive(numbered(&mut alice, "three"), 50, now)),
            ["three"]
        );
        assert_eq!(table.stats().lost, 0);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Numbered {
            sender: u64,
            seq: u64,
            size: usize,
        },
        Heartbeat {
            sender: u64,
            last: u64,
        },
        Nack {
            sender: u64,
            to: u64,
            ranges: Vec<(u64, u64)>,
        },
        Expired {
            sender: u64,
            ranges: Vec<(u64, u64)>,
        },
        Listen {
            sender: u64,
            next: u64,
        },
        Forget {
            sender: u64,
        },
        Restart {
            sender: u64,
            next: u64,
        },
        Tick {
            ms: u64,
        },
        CaughtUp,
        Stalled {
            ms: u64,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        use crate::reliable::inbox::tests::properties::edgy;
        let sender = prop_oneof![0u64..6, edgy()];
        let ranges = prop::collection::vec((edgy(), edgy()), 0..4);
        prop_oneof![
            5 => (sender.clone(), edgy(), 0usize..1500)
                .prop_map(|(sender, seq, size)| Step::Numbered { sender, seq, size }),
            2 => (sender.clone(), edgy()).prop_map(|(sender, last)| Step::Heartbeat { sender, last }),
            1 => (sender.clone(), prop_oneof![0u64..6, edgy()], ranges.clone())
                .prop_map(|(sender, to, ranges)| Step::Nack { sender, to, ranges }),
            1 => (sender.clone(), ranges).prop_map(|(sender, ranges)| Step::Expired { sender, ranges }),
            1 => (sender.clone(), edgy()).prop_map(|(sender, next)| Step::Listen { sender, next }),
            1 => sender.clone().prop_map(|sender| Step::Forget { sender }),
            1 => (sender, edgy()).prop_map(|(sender, next)| Step::Restart { sender, next }),
            2 => (0u64..3000).prop_map(|ms| Step::Tick { ms }),
            1 => Just(Step::CaughtUp),
            1 => (0u64..5000).prop_map(|ms| Step::Stalled { ms }),
        ]
    }

    fn datagram(session: u64, seq: u64, body: Body) -> Datagram {
        Datagram {
            v: 1,
            from: "x".into(),
            session,
            seq,
            body,
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// Hostile input against the receive table: arbitrary senders (duplicate sessions,
        /// sessions at 0 and 2^64 - 1), numbers at the edges, reversed and empty ranges, huge
        /// gaps, stalls. No panic; every bound holds after every step; each sender's
        /// deliveries only go forward.
        #[test]
        fn the_receive_table_survives_anything(steps in prop::collection::vec(step(), 1..80)) {
            let mut now = Instant::now();
            let mut table = Peers::new(1, 4, 3, now);
            let mut last: std::collections::HashMap<u64, u64> = Default::default();
            for step in steps {
                let received = match step {
                    Step::Numbered { sender, seq, size } => Some(table.receive(
                        datagram(sender, seq, Body::Chat { text: "x".into() }), size, now)),
                    Step::Heartbeat { sender, last } => Some(table.receive(
                        datagram(sender, 0, Body::Heartbeat { last, every_ms: 500, announcer: false, closing: false }),
                        80, now)),
                    Step::Nack { sender, to, ranges } => Some(table.receive(
                        datagram(sender, 0, Body::Nack { to, ranges }), 80, now)),
                    Step::Expired { sender, ranges } => Some(table.receive(
                        datagram(sender, 0, Body::Expired { ranges }), 80, now)),
                    Step::Listen { sender, next } => {
                        table.listen(sender, "x", next, now);
                        last.remove(&sender);
                        None
                    }
                    Step::Forget { sender } => {
                        table.forget(sender);
                        last.remove(&sender);
                        None
                    }
                    Step::Restart { sender, next } => {
                        table.restart(sender, next);
                        last.remove(&sender);
                        None
                    }
                    Step::Tick { ms } => {
                        now += Duration::from_millis(ms);
                        Some(Received::Arrived(table.poll(now).arrived))
                    }
                    Step::CaughtUp => {
                        table.caught_up(now);
                        let _ = table.silent();
                        None
                    }
                    Step::Stalled { ms } => {
                        table.stalled(Duration::from_millis(ms));
                        None
                    }
                };
                if let Some(Received::Arrived(arrived)) = received {
                    for (session, arrived) in arrived {
                        if let Arrived::Whole(d) = arrived {
                            let before = last.insert(session, d.seq).unwrap_or(0);
                            prop_assert!(d.seq > before, "{} after {} from {}", d.seq, before, session);
                        }
                    }
                }
                prop_assert!(table.len() <= 4);
                prop_assert!(table.held_bytes() <= TOTAL_BYTES);
                let counted: usize = table.iter().map(|(_, p)| p.held().1).sum();
                prop_assert_eq!(counted, table.held_bytes());
                for (_, peer) in table.iter() {
                    let (ahead, bytes, missing) = peer.held();
                    // Listened to with `listen`: the narrow reach of a player's lines.
                    prop_assert!(ahead <= crate::reliable::NARROW.ahead);
                    prop_assert!(bytes <= PEER_BYTES);
                    prop_assert!(missing as u64 <= crate::reliable::NARROW.gap);
                    prop_assert!(peer.last() <= MAX_NUMBER);
                }
                // The indexes that spare a tick from going through everyone agree with doing so.
                let gappy: BTreeSet<SessionId> = table
                    .iter()
                    .filter(|(_, p)| p.held().2 > 0)
                    .map(|(s, _)| s)
                    .collect();
                prop_assert_eq!(&gappy, &table.gappy);
                let by_silence: BTreeSet<(Instant, SessionId)> = table
                    .iter()
                    .map(|(s, p)| (table.silent_at(p), s))
                    .collect();
                prop_assert_eq!(&by_silence, &table.by_silence);
                let mut silent = table.silent();
                silent.sort_unstable();
                let scanned: Vec<SessionId> = table
                    .iter()
                    .filter(|(_, p)| table.silent_at(p) <= table.caught_up)
                    .map(|(s, _)| s)
                    .collect();
                prop_assert_eq!(silent, scanned);
                let scanned = table
                    .iter()
                    .flat_map(|(_, p)| {
                        let at = table.silent_at(p);
                        [p.inbox.next_deadline(), (at > table.caught_up).then_some(at)]
                    })
                    .flatten()
                    .min();
                prop_assert_eq!(table.next_deadline(), scanned);
            }
        }
    }
}
