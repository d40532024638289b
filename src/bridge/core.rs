//! The bridge's decisions, without any I/O: what crosses from the LAN to NATS and back, which
//! of several bridges on one LAN relays, and the counters the host reads.
//!
//! The rules (docs/protocol.md, "Bridges"):
//! 1. A bridge puts what it carries onto the LAN from the **bridge port** (the protocol's port
//!    plus one, 5009 by default). A datagram on the LAN from that port came from NATS through
//!    some bridge: no bridge carries it back, so nothing loops.
//! 2. Bridges beacon on the bridge port twice a second. Of the bridges one LAN hears, only the
//!    oldest relays (the earliest start, then the smallest id); the others stand by and take
//!    over when its beacons stop. So two bridges on one LAN never duplicate a datagram, either
//!    way. A bridge listens for a second before it relays, as an announcer does.
//! 3. A bridge's NATS connection does not echo: it never hears its own publications.
//! 4. Anything over the protocol's 1400 bytes is no datagram of a game: dropped, counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::protocol::MAX_DATAGRAM;

/// How often a bridge beacons.
pub const BEACON_EVERY: Duration = Duration::from_millis(500);
/// A bridge whose beacons stopped this long ago is gone.
pub const BRIDGE_GONE: Duration = Duration::from_millis(1500);
/// How long a new bridge listens for others before it relays.
pub const LISTEN_FIRST: Duration = Duration::from_millis(1000);
/// The most other bridges remembered (a flood of made-up beacons cannot grow memory).
pub const MAX_BRIDGES: usize = 32;
/// The largest beacon read.
const MAX_BEACON: usize = 256;

/// What a bridge says on the bridge port: who it is and since when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    /// Always "bridge": what the datagram is.
    gamecast: BeaconKind,
    /// The bridge's random id.
    pub id: u64,
    /// When it started, in milliseconds since the Unix epoch: the oldest relays.
    pub since: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BeaconKind {
    Bridge,
}

impl Beacon {
    /// A beacon for the bridge `id`, started at `since`.
    pub fn new(id: u64, since: u64) -> Beacon {
        Beacon {
            gamecast: BeaconKind::Bridge,
            id,
            since,
        }
    }

    /// The beacon's bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a beacon always serializes")
    }

    /// A beacon from bytes heard on the bridge port, or `None` if they are not one.
    pub fn decode(bytes: &[u8]) -> Option<Beacon> {
        if bytes.len() > MAX_BEACON {
            return None;
        }
        serde_json::from_slice(bytes).ok()
    }

    /// Which of two bridges relays: the older one, then the smaller id.
    fn rank(&self) -> (u64, u64) {
        (self.since, self.id)
    }
}

/// What the bridge did, for the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// LAN datagrams published on NATS.
    pub lan_to_nats: u64,
    /// NATS messages put on the LAN.
    pub nats_to_lan: u64,
    /// LAN datagrams from the bridge port (carried by a bridge, this one or another): not
    /// carried back.
    pub bridged: u64,
    /// Datagrams over 1400 bytes, from either side: dropped.
    pub too_big: u64,
    /// Datagrams not relayed while another bridge relays for this LAN (or while listening).
    pub standing_by: u64,
    /// What came to the bridge port and was no beacon.
    pub bad_beacons: u64,
    /// Times this bridge started relaying (1 for a bridge alone; more after take-overs).
    pub took_over: u64,
    /// LAN datagrams not published while the NATS server was away (repaired once it is back).
    pub unsent: u64,
}

/// One bridge's state.
#[derive(Debug)]
pub struct Bridge {
    me: Beacon,
    started: Instant,
    /// Other bridges heard on the LAN: their beacon and when it was last heard.
    others: HashMap<u64, (Beacon, Instant)>,
    counters: Counters,
    relaying: bool,
    /// Whether it has listened and decided (until then it neither relays nor stands by).
    decided: bool,
}

impl Bridge {
    /// A bridge with the random `id`, started at `since` (Unix milliseconds) and `now`.
    pub fn new(id: u64, since: u64, now: Instant) -> Bridge {
        Bridge {
            me: Beacon::new(id, since),
            started: now,
            others: HashMap::new(),
            counters: Counters::default(),
            relaying: false,
            decided: false,
        }
    }

    /// Our beacon's bytes.
    pub fn beacon(&self) -> Vec<u8> {
        self.me.encode()
    }

    /// Whether this bridge relays for its LAN now: it has listened, and no older bridge is
    /// heard. Returns what changed, for the host: `Some(true)` when it starts relaying,
    /// `Some(false)` when it stands by.
    pub fn tick(&mut self, now: Instant) -> Option<bool> {
        self.others
            .retain(|_, (_, heard)| now.saturating_duration_since(*heard) < BRIDGE_GONE);
        let listened = now.saturating_duration_since(self.started) >= LISTEN_FIRST;
        let older = self
            .others
            .values()
            .any(|(other, _)| other.rank() < self.me.rank());
        if !listened {
            return None;
        }
        let relaying = !older;
        // The first decision after listening is news either way.
        if relaying == self.relaying && self.decided {
            return None;
        }
        self.decided = true;
        self.relaying = relaying;
        if relaying {
            self.counters.took_over += 1;
        }
        Some(relaying)
    }

    /// Whether this bridge relays (as of the last [`Bridge::tick`]).
    pub fn is_relaying(&self) -> bool {
        self.relaying
    }

    /// Something heard on the bridge port: another bridge's beacon (ours is skipped), or noise.
    pub fn heard_on_bridge_port(&mut self, bytes: &[u8], now: Instant) {
        let Some(beacon) = Beacon::decode(bytes) else {
            self.counters.bad_beacons += 1;
            return;
        };
        if beacon.id == self.me.id {
            return;
        }
        if self.others.len() >= MAX_BRIDGES && !self.others.contains_key(&beacon.id) {
            // Full: forget the newest heard bridge, which is the least likely to relay.
            if let Some(newest) = self
                .others
                .values()
                .map(|(b, _)| *b)
                .max_by_key(|b| b.rank())
                .filter(|newest| newest.rank() > beacon.rank())
            {
                self.others.remove(&newest.id);
            } else {
                return;
            }
        }
        self.others.insert(beacon.id, (beacon, now));
    }

    /// A datagram heard on the LAN's protocol port from `source`: whether to publish it on
    /// NATS. `bridge_port` is the port bridges send from.
    pub fn from_lan(&mut self, bytes: &[u8], source: SocketAddr, bridge_port: u16) -> bool {
        if source.port() == bridge_port {
            self.counters.bridged += 1;
            return false;
        }
        self.relay(bytes.len(), |c| &mut c.lan_to_nats)
    }

    /// A message from NATS: whether to put it on the LAN.
    pub fn from_nats(&mut self, bytes: &[u8]) -> bool {
        self.relay(bytes.len(), |c| &mut c.nats_to_lan)
    }

    fn relay(&mut self, len: usize, count: impl FnOnce(&mut Counters) -> &mut u64) -> bool {
        if len > MAX_DATAGRAM {
            self.counters.too_big += 1;
            return false;
        }
        if !self.relaying {
            self.counters.standing_by += 1;
            return false;
        }
        *count(&mut self.counters) += 1;
        true
    }

    /// What the bridge did so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The other bridges heard on this LAN now.
    pub fn others(&self) -> usize {
        self.others.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    const BRIDGE_PORT: u16 = 5009;

    fn lan(port: u16) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), port))
    }

    #[test]
    fn a_bridge_alone_relays_after_listening_and_never_carries_back_what_a_bridge_carried() {
        let t0 = Instant::now();
        let mut bridge = Bridge::new(7, 1000, t0);
        assert_eq!(bridge.tick(t0), None);
        assert!(!bridge.from_lan(b"{}", lan(5008), BRIDGE_PORT), "listening");
        assert_eq!(bridge.tick(t0 + LISTEN_FIRST), Some(true));
        assert!(bridge.from_lan(b"{}", lan(5008), BRIDGE_PORT));
        assert!(!bridge.from_lan(b"{}", lan(BRIDGE_PORT), BRIDGE_PORT));
        assert!(bridge.from_nats(b"{}"));
        assert!(!bridge.from_nats(&[b' '; MAX_DATAGRAM + 1]));
        assert!(bridge.from_nats(&[b' '; MAX_DATAGRAM]));
        let c = bridge.counters();
        assert_eq!(
            (
                c.lan_to_nats,
                c.nats_to_lan,
                c.bridged,
                c.too_big,
                c.standing_by
            ),
            (1, 2, 1, 1, 1)
        );
    }

    #[test]
    fn of_two_bridges_on_a_lan_the_older_relays_and_the_other_takes_over_when_it_stops() {
        let t0 = Instant::now();
        let mut old = Bridge::new(9, 1000, t0);
        let mut new = Bridge::new(1, 2000, t0);
        old.heard_on_bridge_port(&new.beacon(), t0);
        new.heard_on_bridge_port(&old.beacon(), t0);
        // Its own beacon, looped back, is no other bridge.
        new.heard_on_bridge_port(&new.beacon(), t0);
        assert_eq!(new.others(), 1);
        let t1 = t0 + LISTEN_FIRST;
        old.heard_on_bridge_port(&new.beacon(), t1);
        new.heard_on_bridge_port(&old.beacon(), t1);
        assert_eq!(old.tick(t1), Some(true));
        assert_eq!(new.tick(t1), Some(false), "stands by");
        assert_eq!(new.tick(t1), None);
        assert!(!new.from_nats(b"{}") && old.from_nats(b"{}"));
        // The old one's beacons stop: the new one relays once it is gone.
        assert_eq!(new.tick(t1 + BRIDGE_GONE - Duration::from_millis(1)), None);
        assert_eq!(new.tick(t1 + BRIDGE_GONE), Some(true));
        assert!(new.from_nats(b"{}"));
        // It comes back, now the newer: it stands by, the other goes on.
        let mut back = Bridge::new(9, 5000, t1 + BRIDGE_GONE);
        back.heard_on_bridge_port(&new.beacon(), t1 + BRIDGE_GONE);
        assert_eq!(back.tick(t1 + BRIDGE_GONE + LISTEN_FIRST), Some(false));
        // Equal starts: the smaller id.
        let mut a = Bridge::new(1, 5, t0);
        let mut b = Bridge::new(2, 5, t0);
        a.heard_on_bridge_port(&b.beacon(), t1);
        b.heard_on_bridge_port(&a.beacon(), t1);
        assert_eq!((a.tick(t1), b.tick(t1)), (Some(true), Some(false)));
    }

    #[test]
    fn beacons_are_strict() {
        let beacon = Beacon::new(u64::MAX, 0);
        assert_eq!(Beacon::decode(&beacon.encode()), Some(beacon));
        for bad in [
            &b"{}"[..],
            br#"{"gamecast":"bridge","id":1}"#,
            br#"{"gamecast":"player","id":1,"since":2}"#,
            br#"{"gamecast":"bridge","id":-1,"since":2}"#,
            br#"{"gamecast":"bridge","id":1.5,"since":2}"#,
            br#"{"gamecast":"bridge","id":18446744073709551616,"since":2}"#,
            br#"{"gamecast":"bridge","id":1,"since":2,"x":0}"#,
            b"\xff\xfe",
        ] {
            assert_eq!(
                Beacon::decode(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!(
            r#"{{"gamecast":"bridge","id":1,"since":2{}}}"#,
            " ".repeat(300)
        );
        assert_eq!(Beacon::decode(long.as_bytes()), None);
    }

    fn boundary() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(1),
            Just(1u64 << 53),
            Just((1u64 << 53) + 1),
            Just(u64::MAX - 1),
            Just(u64::MAX),
            any::<u64>(),
        ]
    }

    proptest! {
        /// Whatever beacons arrive (boundary ids and starts, floods, our own id, noise), memory
        /// stays bounded, and exactly one of the bridges that hear each other relays.
        #[test]
        fn hostile_beacons_keep_memory_bounded_and_one_bridge_relaying(
            heard in proptest::collection::vec((boundary(), boundary(), 0u64..4000), 0..200),
            noise in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            ours in (boundary(), boundary()),
            theirs in (boundary(), boundary()),
        ) {
            prop_assume!(ours.0 != theirs.0);
            let t0 = Instant::now();
            let mut a = Bridge::new(ours.0, ours.1, t0);
            let mut b = Bridge::new(theirs.0, theirs.1, t0);
            for (id, since, at) in &heard {
                let at = t0 + Duration::from_millis(*at);
                a.heard_on_bridge_port(&Beacon::new(*id, *since).encode(), at);
                a.tick(at);
                prop_assert!(a.others() <= MAX_BRIDGES);
            }
            for bytes in &noise {
                a.heard_on_bridge_port(bytes, t0);
                a.from_lan(bytes, lan(5008), BRIDGE_PORT);
                a.from_nats(bytes);
            }
            // Later, the flood is over and the two hear only each other.
            let later = t0 + Duration::from_secs(10);
            a.tick(later);
            prop_assert_eq!(a.others(), 0);
            for step in 0..4u64 {
                let at = later + Duration::from_millis(step * 500);
                a.heard_on_bridge_port(&b.beacon(), at);
                b.heard_on_bridge_port(&a.beacon(), at);
                a.tick(at);
                b.tick(at);
            }
            prop_assert!(a.is_relaying() != b.is_relaying(), "exactly one relays");
        }
    }
}
