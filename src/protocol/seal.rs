//! What a game key adds on the wire: every datagram signed with HMAC-SHA256, the signature
//! checked before anything of the datagram is parsed, and replays rejected.
//!
//! A signed datagram is the plain one with two more fields at its end, so that it stays one
//! JSON object that tools can read:
//!
//! ```text
//! {"v":1,"from":"alice",…,"text":"hi","n":42,"mac":"<64 hex digits>"}
//! ```
//!
//! `mac` is HMAC-SHA256, under the game key, of every byte before `,"mac":"`. `n` counts every
//! datagram a process sends, repairs and heartbeats included, so that no two of its datagrams
//! are alike: a receiver that has seen an `n` of a session rejects it the next time (a replay),
//! as IPsec and DTLS do with their sequence numbers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::{Decoded, Invalid, MAX_DATAGRAM, MAX_NUMBER, SessionId};
use crate::key::GameKey;

/// The most a signature adds to a datagram, in bytes: `,"n":` and 20 digits, `,"mac":"`,
/// 64 hex digits and `"`. Senders keep this much room in every datagram.
pub const SEAL_OVERHEAD: usize = 100;

/// How far back, in `n`, a receiver remembers which datagrams of one session it has seen.
/// Older ones are refused: the network does not reorder by this much.
pub const REPLAY_WINDOW: u64 = 1024;

/// Sessions a receiver keeps a replay window for; beyond this, the one heard least recently
/// is forgotten.
const MAX_SESSIONS: usize = 1024;

const COUNTER_FIELD: &[u8] = b",\"n\":";
const MAC_FIELD: &[u8] = b",\"mac\":\"";
const TAG_HEX: usize = 64;
/// `,"mac":"`, the tag, `"}`: how every signed datagram ends.
const TRAILER: usize = MAC_FIELD.len() + TAG_HEX + 2;

/// What the guard dropped, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GuardStats {
    /// Datagrams without a signature (or plain text) in a game with a key.
    pub unsigned: u64,
    /// Datagrams whose signature is wrong: another key, or altered on the way.
    pub forged: u64,
    /// Signed datagrams seen before, or from an older session of their sender.
    pub replayed: u64,
}

/// Signs what a process sends and checks what it receives, when the game has a key; without
/// one, passes everything through as before.
#[derive(Debug)]
pub struct Guard {
    /// The MAC already keyed: cloning it is cheaper than keying it for every datagram.
    mac: Option<Hmac<Sha256>>,
    /// The next `n` to send. Atomic, so that senders may hold the guard shared while they
    /// send (and a bot's guard may move to its task).
    next: AtomicU64,
    sessions: HashMap<SessionId, Window>,
    /// The newest session heard from each name: a session older than that, not heard before,
    /// is a recording of an earlier run.
    newest: HashMap<String, SessionId>,
    /// Counts receipts, so that the session heard least recently is the one forgotten.
    clock: u64,
    stats: GuardStats,
}

impl Guard {
    /// A guard for a game with `key`, or without a key.
    pub fn new(key: Option<&GameKey>) -> Guard {
        Guard {
            mac: key.map(|key| {
                Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes keys of any size")
            }),
            next: AtomicU64::new(1),
            sessions: HashMap::new(),
            newest: HashMap::new(),
            clock: 0,
            stats: GuardStats::default(),
        }
    }

    /// Whether the game has a key.
    pub fn is_protected(&self) -> bool {
        self.mac.is_some()
    }

    /// What the guard dropped so far.
    pub fn stats(&self) -> &GuardStats {
        &self.stats
    }

    /// `bytes` (one of our datagrams, a JSON object) as it goes on the wire: signed when the
    /// game has a key, as it is when not.
    pub fn seal<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(mac) = &self.mac else {
            return Cow::Borrowed(bytes);
        };
        debug_assert!(bytes.ends_with(b"}"), "only JSON objects are signed");
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut out = Vec::with_capacity(bytes.len().saturating_add(SEAL_OVERHEAD));
        // Everything but the closing brace: the two fields go inside the object.
        out.extend_from_slice(bytes.strip_suffix(b"}").unwrap_or(bytes));
        out.extend_from_slice(COUNTER_FIELD);
        out.extend_from_slice(n.to_string().as_bytes());
        let mut mac = mac.clone();
        mac.update(&out);
        let tag = mac.finalize().into_bytes();
        out.extend_from_slice(MAC_FIELD);
        for byte in tag {
            out.extend_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
        }
        out.extend_from_slice(b"\"}");
        Cow::Owned(out)
    }

    /// Reads one received datagram. With a key, one without a valid signature is dropped
    /// before it is parsed, and a replay after; each is counted.
    pub fn open(&mut self, bytes: &[u8]) -> Decoded {
        let Some(mac) = &self.mac else {
            return super::codec::decode(bytes);
        };
        // Nobody who has the key sends more than this: do not even hash a bigger one.
        if bytes.len() > MAX_DATAGRAM {
            count(&mut self.stats.unsigned);
            return Decoded::Invalid(Invalid::Unsigned);
        }
        let Some((signed, tag)) = split_tag(bytes) else {
            count(&mut self.stats.unsigned);
            return Decoded::Invalid(Invalid::Unsigned);
        };
        let mut mac = mac.clone();
        mac.update(signed);
        // verify_slice compares in constant time: how long a check takes tells a forger nothing.
        if tag.is_none_or(|tag| mac.verify_slice(&tag).is_err()) {
            count(&mut self.stats.forged);
            return Decoded::Invalid(Invalid::Forged);
        }
        let Some(n) = counter(signed).filter(|&n| n <= MAX_NUMBER) else {
            return Decoded::Invalid(Invalid::Malformed(
                "signed, but no counter `n` below 2^53".into(),
            ));
        };
        match super::codec::decode_signed(bytes) {
            Decoded::Datagram(datagram) => match self.fresh(&datagram.from, datagram.session, n) {
                Ok(()) => Decoded::Datagram(datagram),
                Err(why) => {
                    count(&mut self.stats.replayed);
                    Decoded::Invalid(why)
                }
            },
            Decoded::Text { .. } => {
                Decoded::Invalid(Invalid::Malformed("signed, but not a datagram".into()))
            }
            invalid => invalid,
        }
    }

    /// Whether datagram `n` of `session` (sent by `from`) is new to us, and if not, why;
    /// remembers it.
    fn fresh(&mut self, from: &str, session: SessionId, n: u64) -> Result<(), Invalid> {
        self.clock = self.clock.wrapping_add(1);
        if let Some(window) = self.sessions.get_mut(&session) {
            window.heard = self.clock;
            return if window.accept(n) {
                Ok(())
            } else {
                Err(Invalid::Replayed)
            };
        }
        // A session never heard, older than one heard from the same name: a recording of an
        // earlier run. (A session already heard goes on being accepted even when a newer one
        // of that name shows up: two live players who picked one name are the announcer's to
        // sort out, and neither must be cut off by the other.) Not for announcers: two of them
        // on one group hand over to the older, which its players must then hear; which one a
        // player follows is the player's rule (only the one it joined, or the one that one
        // names), not the guard's.
        if from != super::ANNOUNCER_NAME
            && self
                .newest
                .get(from)
                .is_some_and(|&newest| newest > session)
        {
            return Err(Invalid::Stale);
        }
        if self.sessions.len() >= MAX_SESSIONS
            && let Some(&oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, window)| window.heard)
                .map(|(session, _)| session)
        {
            self.sessions.remove(&oldest);
        }
        if self.newest.len() >= MAX_SESSIONS {
            let sessions = &self.sessions;
            self.newest
                .retain(|_, session| sessions.contains_key(session));
        }
        self.newest.insert(from.to_string(), session);
        let mut window = Window {
            heard: self.clock,
            ..Window::default()
        };
        window.accept(n);
        self.sessions.insert(session, window);
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// One more in a count of dropped datagrams (a count cannot reach 2^64).
fn count(counter: &mut u64) {
    *counter = counter.saturating_add(1);
}

/// Whether `bytes` ends as a signed datagram does (`,"mac":"` and 64 hex digits): how a
/// receiver without the key tells a protected game's datagrams from others.
pub(super) fn looks_signed(bytes: &[u8]) -> bool {
    matches!(split_tag(bytes), Some((_, Some(_))))
}

/// Splits a signed datagram into what is signed and its tag: `None` when it carries no
/// signature at all, `Some((signed, None))` when the tag is not 64 lowercase hex digits.
fn split_tag(bytes: &[u8]) -> Option<(&[u8], Option<[u8; 32]>)> {
    let mac_at = bytes.len().checked_sub(TRAILER)?;
    let (signed, trailer) = bytes.split_at(mac_at);
    let hex = trailer.strip_prefix(MAC_FIELD)?.strip_suffix(b"\"}")?;
    let mut tag = [0u8; 32];
    for (byte, pair) in tag.iter_mut().zip(hex.chunks_exact(2)) {
        // Lowercase only: one spelling per tag, so that a tag cannot be altered and still pass.
        let lower_hex = pair.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        let value = std::str::from_utf8(pair)
            .ok()
            .filter(|_| lower_hex)
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match value {
            Some(value) => *byte = value,
            None => return Some((signed, None)),
        }
    }
    Some((signed, Some(tag)))
}

/// The `n` that ends the signed part of a datagram (`…,"n":42`).
fn counter(signed: &[u8]) -> Option<u64> {
    let digits = signed
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let (rest, number) = signed.split_at(signed.len().saturating_sub(digits));
    if digits == 0 || !rest.ends_with(COUNTER_FIELD) {
        return None;
    }
    std::str::from_utf8(number).ok()?.parse().ok()
}

/// Which of the last [`REPLAY_WINDOW`] numbers of one session were seen: a ring of bits,
/// indexed by the number modulo the window.
#[derive(Debug, Default)]
struct Window {
    highest: u64,
    seen: [u64; (REPLAY_WINDOW / 64) as usize],
    heard: u64,
}

impl Window {
    /// Whether `n` is new; marks it seen.
    fn accept(&mut self, n: u64) -> bool {
        if let Some(ahead) = n.checked_sub(self.highest).filter(|&ahead| ahead > 0) {
            // Numbers skipped on the way up have not been seen: clear their bits.
            if ahead >= REPLAY_WINDOW {
                self.seen = Default::default();
            } else {
                for skipped in self.highest.saturating_add(1)..n {
                    self.set(skipped, false);
                }
            }
            self.highest = n;
            self.set(n, true);
            return true;
        }
        // Here n <= highest.
        if self.highest.abs_diff(n) >= REPLAY_WINDOW || self.get(n) {
            return false;
        }
        self.set(n, true);
        true
    }

    fn get(&self, n: u64) -> bool {
        let bit = n % REPLAY_WINDOW;
        self.seen[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    fn set(&mut self, n: u64, on: bool) {
        let bit = n % REPLAY_WINDOW;
        let word = &mut self.seen[(bit / 64) as usize];
        if on {
            *word |= 1 << (bit % 64);
        } else {
            *word &= !(1 << (bit % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Body, Origin};

    fn key(text: &str) -> GameKey {
        GameKey::new(text.as_bytes(), "test").unwrap()
    }

    fn chat(origin: &mut Origin, text: &str) -> Vec<u8> {
        let payload = crate::protocol::Payload::new(&Body::Chat { text: text.into() }).unwrap();
        origin.datagrams(&payload).remove(0).1
    }

    #[test]
    fn signed_datagrams_are_read_and_checked_before_parsing() {
        let alice_key = key("the game key of tonight");
        let sender = Guard::new(Some(&alice_key));
        let mut receiver = Guard::new(Some(&alice_key));
        let mut alice = Origin::with_session("alice", 1 << 20);
        let sealed = sender.seal(&chat(&mut alice, "hi")).into_owned();
        let text = std::str::from_utf8(&sealed).unwrap();
        assert!(text.contains(r#","n":1,"mac":""#), "{text}");
        assert!(sealed.len() <= chat(&mut alice, "hi").len() + SEAL_OVERHEAD);
        let Decoded::Datagram(datagram) = receiver.open(&sealed) else {
            panic!("a signed datagram is read");
        };
        assert_eq!(datagram.body, Body::Chat { text: "hi".into() });

        // One byte changed anywhere (here the text), or another key: forged.
        let altered = text.replace("\"hi\"", "\"ho\"");
        assert_eq!(
            receiver.open(altered.as_bytes()),
            Decoded::Invalid(Invalid::Forged)
        );
        let other = Guard::new(Some(&key("somebody else's key")));
        let theirs = other.seal(&chat(&mut alice, "hi")).into_owned();
        assert_eq!(receiver.open(&theirs), Decoded::Invalid(Invalid::Forged));
        // No signature at all, or plain text: unsigned.
        assert_eq!(
            receiver.open(&chat(&mut alice, "hi")),
            Decoded::Invalid(Invalid::Unsigned)
        );
        assert_eq!(
            receiver.open(b"mallory: hi"),
            Decoded::Invalid(Invalid::Unsigned)
        );
        assert_eq!(
            receiver.stats(),
            &GuardStats {
                unsigned: 2,
                forged: 2,
                replayed: 0
            }
        );

        // Without a key, a signed datagram is known for what it is, not shown as anything.
        assert_eq!(
            crate::protocol::decode(&sealed),
            Decoded::Invalid(Invalid::Protected)
        );
        assert!(matches!(
            Guard::new(None).open(&chat(&mut alice, "hi")),
            Decoded::Datagram(_)
        ));
    }

    #[test]
    fn replays_are_rejected_within_a_session_and_from_older_sessions() {
        let game = key("the game key of tonight");
        let sender = Guard::new(Some(&game));
        let mut receiver = Guard::new(Some(&game));
        let mut alice = Origin::with_session("alice", 2 << 20);
        let sealed: Vec<Vec<u8>> = (0..3)
            .map(|i| {
                sender
                    .seal(&chat(&mut alice, &format!("line {i}")))
                    .into_owned()
            })
            .collect();
        // Out of order is fine, twice is not.
        for bytes in [&sealed[2], &sealed[0], &sealed[1]] {
            assert!(matches!(receiver.open(bytes), Decoded::Datagram(_)));
        }
        for bytes in &sealed {
            assert_eq!(receiver.open(bytes), Decoded::Invalid(Invalid::Replayed));
        }
        // A repair is sent with a new `n`: accepted.
        let repair = sender.seal(&chat(&mut alice, "line 0")).into_owned();
        assert!(matches!(receiver.open(&repair), Decoded::Datagram(_)));

        // alice restarts: her new session is accepted; a recording of a session older than
        // that, never heard, is not; her first session, heard already, still is.
        let newer = Guard::new(Some(&game));
        let mut alice_again = Origin::with_session("alice", 3 << 20);
        let restarted = newer.seal(&chat(&mut alice_again, "back")).into_owned();
        assert!(matches!(receiver.open(&restarted), Decoded::Datagram(_)));
        let recorded = Guard::new(Some(&game));
        let mut alice_before = Origin::with_session("alice", 1 << 20);
        let old = recorded.seal(&chat(&mut alice_before, "old")).into_owned();
        assert_eq!(receiver.open(&old), Decoded::Invalid(Invalid::Stale));
        let later = sender.seal(&chat(&mut alice, "still here")).into_owned();
        assert!(matches!(receiver.open(&later), Decoded::Datagram(_)));
        assert_eq!(receiver.stats().replayed, 4);

        // Announcers are not held to it: the newer of two hands its players over to the older,
        // which they must then hear.
        let mut newer_announcer = Origin::with_session("announcer", 5 << 20);
        let mut older_announcer = Origin::with_session("announcer", 4 << 20);
        let first = sender
            .seal(&chat(&mut newer_announcer, "newer"))
            .into_owned();
        let second = sender
            .seal(&chat(&mut older_announcer, "older"))
            .into_owned();
        assert!(matches!(receiver.open(&first), Decoded::Datagram(_)));
        assert!(matches!(receiver.open(&second), Decoded::Datagram(_)));
    }

    #[test]
    fn the_window_forgets_only_what_is_too_old() {
        let mut window = Window::default();
        assert!(window.accept(5));
        assert!(window.accept(3));
        assert!(!window.accept(5));
        assert!(window.accept(5 + REPLAY_WINDOW - 1));
        // 3 and 5 are now at the window's edge: 5 is still remembered, 3 is too old.
        assert!(!window.accept(5));
        assert!(!window.accept(3));
        assert!(window.accept(6 + REPLAY_WINDOW));
        assert!(!window.accept(5));
        assert!(window.accept(10 * REPLAY_WINDOW));
        assert!(!window.accept(10 * REPLAY_WINDOW));
        assert!(window.accept(10 * REPLAY_WINDOW - 1));
        assert!(!window.accept(9 * REPLAY_WINDOW));
    }
}
