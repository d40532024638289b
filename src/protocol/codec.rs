//! Encoding and decoding: our datagrams to bytes and back, and everything that arrives read as
//! one of [`Decoded`]'s cases. What an honest sender never makes (numbers at or above 2^53,
//! reversed or empty ranges, lines and datagrams over their limits) is refused here, so that the
//! state machines behind the decoder only ever see numbers they can add to.

use serde::{Deserialize, Serialize};

use super::fragment::{self, FRAGMENT_OVERHEAD};
use super::{
    Announcement, Body, Datagram, Decoded, HEARTBEAT_MS, Invalid, MAX_DATAGRAM, MAX_EVENT,
    MAX_LINE, MAX_NUMBER, MAX_PARTS, MAX_PLAYERS, MAX_RANGES, SessionId, TooLarge, VERSION,
    new_session, seal,
};
use crate::text::MAX_NAME_CHARS;

/// Encodes one datagram whole, refusing one over [`MAX_DATAGRAM`] bytes. Senders use
/// [`Origin::datagrams`], which splits large events; this is for tools and tests.
pub fn encode(datagram: &Datagram) -> Result<Vec<u8>, TooLarge> {
    // Serializing our own types into a Vec cannot fail: every field is a string, number or list.
    let bytes = serde_json::to_vec(datagram).expect("a Datagram always serializes");
    if bytes.len() > MAX_DATAGRAM {
        return Err(TooLarge {
            bytes: bytes.len(),
            limit: MAX_DATAGRAM,
        });
    }
    Ok(bytes)
}

/// A body encoded once, as a JSON object, ready to go out under any sender's header: the
/// script API encodes an announcement when it is made (to refuse one too large while the
/// script's line is known) and the announcer sends those same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(String);

impl Payload {
    /// Encodes `body`, refusing one over [`MAX_EVENT`] bytes.
    pub fn new(body: &Body) -> Result<Payload, TooLarge> {
        Payload::encode(body)
    }

    /// Encodes an announcement as the body it is sent as, without copying it into a
    /// [`Body`] first (a ranking can be long): the body's announcement variant is untagged, so
    /// the two encode alike.
    pub fn announcement(announcement: &Announcement) -> Result<Payload, TooLarge> {
        Payload::encode(announcement)
    }

    fn encode(value: &impl Serialize) -> Result<Payload, TooLarge> {
        // Our types hold only strings, numbers and lists: serializing cannot fail.
        let json = serde_json::to_string(value).expect("a Body always serializes");
        if json.len() > MAX_EVENT {
            return Err(TooLarge {
                bytes: json.len(),
                limit: MAX_EVENT,
            });
        }
        Ok(Payload(json))
    }

    /// The encoded size, in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a body always has at least its `kind`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads one received datagram. Never fails: whatever arrives is one of [`Decoded`]'s cases.
/// A game with a key reads through its [`Guard`] instead.
pub fn decode(bytes: &[u8]) -> Decoded {
    decode_as(bytes, false)
}

/// Reads a datagram whose signature [`seal`] checked.
pub(super) fn decode_signed(bytes: &[u8]) -> Decoded {
    decode_as(bytes, true)
}

fn decode_as(bytes: &[u8], signed: bool) -> Decoded {
    if bytes.len() > MAX_DATAGRAM {
        return Decoded::Invalid(Invalid::Oversized {
            what: "datagram",
            bytes: bytes.len(),
            limit: MAX_DATAGRAM,
        });
    }
    // A NUL is valid UTF-8 but never part of anyone's text: it is binary data.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Decoded::Invalid(Invalid::Binary);
    };
    if text.contains('\0') {
        return Decoded::Invalid(Invalid::Binary);
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Decoded::Invalid(Invalid::Empty);
    }
    // A JSON object with a "v" field claims to be ours: it is either right or counted as bad,
    // never shown as chat. Anything else that is text is somebody's plain message.
    if trimmed.starts_with('{') {
        match serde_json::from_str(trimmed) {
            Ok(serde_json::Value::Object(object)) if object.contains_key("v") => {
                if !signed && object.contains_key("mac") && seal::looks_signed(bytes) {
                    return Decoded::Invalid(Invalid::Protected);
                }
                return decode_ours(object);
            }
            // Cut short or mangled, but it names our version field: a broken datagram of
            // ours, not a person's words.
            Err(e) if trimmed.contains("\"v\"") => {
                return Decoded::Invalid(Invalid::Malformed(e.to_string()));
            }
            _ => {}
        }
    }
    if trimmed.len() > MAX_LINE {
        return Decoded::Invalid(Invalid::Oversized {
            what: "line",
            bytes: trimmed.len(),
            limit: MAX_LINE,
        });
    }
    let (from, text) = split_plain(trimmed);
    Decoded::Text {
        from,
        text: text.to_string(),
    }
}

/// The `kind`s of the bodies that are not announcements. [`decode_ours`] reads these as a
/// [`Body`] and any other kind as an [`Announcement`] directly: asked to read an announcement,
/// serde's derived `Body` would first fail on the `kind` and format an error listing every kind,
/// then try the announcement (a fifth of a player's work per event, measured with callgrind).
const CONTROL_KINDS: &[&str] = &[
    "join",
    "leave",
    "chat",
    "move",
    "hello",
    "welcome",
    "refuse",
    "close",
    "left",
    "admit",
    "watch",
    "snapshot",
    "heartbeat",
    "nack",
    "expired",
    "fragment",
];

/// A datagram's header, read apart from its body.
#[derive(Deserialize)]
struct Header {
    from: String,
    session: SessionId,
    seq: u64,
}

/// Reads a JSON object that claims to be ours (it has a `v`).
fn decode_ours(object: serde_json::Map<String, serde_json::Value>) -> Decoded {
    match object["v"].as_u64() {
        Some(v) if v == u64::from(VERSION) => {}
        Some(other) => return Decoded::Invalid(Invalid::Version(other)),
        None => return Decoded::Invalid(Invalid::Malformed("`v` is not a number".into())),
    }
    let object = serde_json::Value::Object(object);
    let datagram = match (Header::deserialize(&object), body_from(&object)) {
        (Ok(header), Ok(body)) => Datagram {
            v: VERSION,
            from: header.from,
            session: header.session,
            seq: header.seq,
            body,
        },
        (Err(e), _) | (_, Err(e)) => return Decoded::Invalid(Invalid::Malformed(e.to_string())),
    };
    match check(&datagram) {
        Ok(()) => Decoded::Datagram(datagram),
        Err(why) => Decoded::Invalid(Invalid::Malformed(why)),
    }
}

/// What no honest sender puts in a datagram, checked once it is read: numbers at or above 2^53,
/// a numbered kind without its number (or a number on a kind that has none), ranges that are
/// empty, reversed or too many, lines, lists and fragments over their limits.
pub fn check(datagram: &Datagram) -> Result<(), String> {
    number("session", datagram.session)?;
    if datagram.session == 0 {
        return Err("session 0".into());
    }
    number("seq", datagram.seq)?;
    match (datagram.body.is_numbered(), datagram.seq) {
        (true, 0) => return Err("a numbered kind with seq 0".into()),
        (false, seq) if seq != 0 => return Err(format!("seq {seq} on a kind that has none")),
        _ => {}
    }
    if datagram.from.is_empty() || datagram.from.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "`from` has {} characters, not 1 to {MAX_NAME_CHARS}",
            datagram.from.chars().count()
        ));
    }
    check_body(&datagram.body)
}

/// [`check`] for a body alone: a reassembled event is checked again whole.
pub fn check_body(body: &Body) -> Result<(), String> {
    match body {
        Body::Chat { text } | Body::Move { text } => line("text", text),
        Body::Leave { reason } => line("reason", reason),
        Body::Welcome {
            to_session,
            players,
            streams,
            ranking,
            also,
            ..
        } => {
            number("to_session", *to_session)?;
            if players.len() > MAX_PLAYERS
                || streams.len() > MAX_PLAYERS
                || also.len() > MAX_PLAYERS
            {
                return Err(format!("a welcome listing over {MAX_PLAYERS} players"));
            }
            also.iter()
                .try_for_each(|n| number("a newcomer's to_session", n.to_session))?;
            let names = players
                .iter()
                .chain(streams.iter().map(|s| &s.name))
                .chain(also.iter().map(|n| &n.player));
            if let Some(long) = names
                .into_iter()
                .find(|n| n.chars().count() > MAX_NAME_CHARS)
            {
                return Err(format!(
                    "a player's name of {} characters in a welcome",
                    long.chars().count()
                ));
            }
            ranking
                .iter()
                .try_for_each(|entry| ranked_name(&entry.name))?;
            streams.iter().try_for_each(|s| {
                number("a stream's session", s.session)?;
                number("a stream's last", s.last)
            })
        }
        Body::Refuse { to_session, .. } | Body::Left { to_session, .. } => {
            number("to_session", *to_session)
        }
        Body::Snapshot {
            to_session,
            players,
            ranking,
            ..
        } => {
            number("to_session", *to_session)?;
            if players.len() > MAX_PLAYERS {
                return Err(format!("a snapshot listing over {MAX_PLAYERS} players"));
            }
            if let Some(long) = players.iter().find(|n| n.chars().count() > MAX_NAME_CHARS) {
                return Err(format!(
                    "a player's name of {} characters in a snapshot",
                    long.chars().count()
                ));
            }
            ranking
                .iter()
                .try_for_each(|entry| ranked_name(&entry.name))
        }
        Body::Admit { to_session, at } => {
            number("to_session", *to_session)?;
            number("at", *at)?;
            if *at == 0 {
                return Err("admit at 0".into());
            }
            Ok(())
        }
        Body::Heartbeat { last, every_ms, .. } => {
            number("last", *last)?;
            if !HEARTBEAT_MS.contains(every_ms) {
                return Err(format!(
                    "a heartbeat every {every_ms} ms, not {} to {}",
                    HEARTBEAT_MS.start(),
                    HEARTBEAT_MS.end()
                ));
            }
            Ok(())
        }
        Body::Nack { to, ranges } => {
            number("to", *to)?;
            self::ranges(ranges)
        }
        Body::Expired { ranges } => self::ranges(ranges),
        Body::Fragment { part, parts, data } => {
            if *parts < 2 || *parts > MAX_PARTS || *part == 0 || part > parts {
                return Err(format!("fragment {part} of {parts}"));
            }
            if data.len() > MAX_DATAGRAM {
                return Err("a fragment larger than a datagram".into());
            }
            Ok(())
        }
        Body::Close { successor, .. } => number("successor", successor.unwrap_or(0)),
        Body::Announcement(Announcement::Ranking { entries }) => entries
            .iter()
            .try_for_each(|entry| ranked_name(&entry.name)),
        Body::Announcement(Announcement::Countdown { seconds, .. }) => {
            if !(0.0..=super::MAX_COUNTDOWN).contains(seconds) {
                return Err(format!(
                    "a countdown of {seconds} s, not 0 to {}",
                    super::MAX_COUNTDOWN
                ));
            }
            Ok(())
        }
        Body::Announcement(Announcement::Question { choices, .. }) => {
            if !(2..=26).contains(&choices.len()) {
                return Err(format!(
                    "a question of {} choices, not 2 to 26",
                    choices.len()
                ));
            }
            Ok(())
        }
        Body::Announcement(Announcement::Answered { count, of }) => {
            if count > of {
                return Err(format!("{count} answers of {of} players"));
            }
            Ok(())
        }
        Body::Announcement(Announcement::Tally { counts, correct }) => {
            if !(2..=26).contains(&counts.len()) {
                return Err(format!("a tally of {} choices, not 2 to 26", counts.len()));
            }
            match correct {
                Some(c) if *c == 0 || *c as usize > counts.len() => {
                    Err(format!("choice {c} is right, of {} choices", counts.len()))
                }
                _ => Ok(()),
            }
        }
        Body::Join | Body::Watch | Body::Hello { .. } | Body::Announcement(_) => Ok(()),
    }
}

/// The longest name a ranking entry may have, in characters: rankings name players, and teams
/// or anything else a script ranks ("Red team").
pub const MAX_RANKED_NAME: usize = 64;

fn ranked_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_RANKED_NAME {
        return Err(format!(
            "a ranked name of {chars} characters, over {MAX_RANKED_NAME}"
        ));
    }
    Ok(())
}

fn number(field: &str, value: u64) -> Result<(), String> {
    if value > MAX_NUMBER {
        return Err(format!("`{field}` is {value}, at or above 2^53"));
    }
    Ok(())
}

fn line(field: &str, text: &str) -> Result<(), String> {
    if text.len() > MAX_LINE {
        return Err(format!(
            "`{field}` has {} bytes, over the limit of {MAX_LINE}",
            text.len()
        ));
    }
    Ok(())
}

/// Ranges of sequence numbers: 1 to [`MAX_RANGES`] of them, each `[first, last]` with
/// `1 <= first <= last < 2^53`.
fn ranges(ranges: &[(u64, u64)]) -> Result<(), String> {
    if ranges.is_empty() || ranges.len() > MAX_RANGES {
        return Err(format!("{} ranges, not 1 to {MAX_RANGES}", ranges.len()));
    }
    for &(first, last) in ranges {
        if first == 0 || first > last || last > MAX_NUMBER {
            return Err(format!("the range [{first}, {last}]"));
        }
    }
    Ok(())
}

/// Reads the body of a datagram (or of a reassembled event) from its JSON object.
pub(super) fn body_from(object: &serde_json::Value) -> Result<Body, serde_json::Error> {
    match object.get("kind").and_then(serde_json::Value::as_str) {
        Some(kind) if !CONTROL_KINDS.contains(&kind) => {
            Announcement::deserialize(object).map(Body::Announcement)
        }
        _ => Body::deserialize(object),
    }
}

/// Splits `user1: Hola` into a sender and a message, as the lab's chat writes them.
fn split_plain(text: &str) -> (Option<String>, &str) {
    if let Some((name, rest)) = text.split_once(':') {
        let name = name.trim();
        let rest = rest.trim();
        if !name.is_empty() && name.chars().count() <= MAX_NAME_CHARS && !rest.is_empty() {
            return (Some(name.to_string()), rest);
        }
    }
    (None, text)
}

/// Stamps outgoing bodies with one sender's header, counting its sequence numbers.
#[derive(Debug)]
pub struct Origin {
    name: String,
    session: SessionId,
    next_seq: u64,
    /// `{"v":1,"from":NAME,"session":SESSION,`: how every datagram of ours begins, so that our
    /// own datagrams, looped back by the kernel, are known without decoding them.
    prefix: String,
}

impl Origin {
    /// A new sender called `name`, with a fresh session.
    pub fn new(name: impl Into<String>) -> Origin {
        Origin::with_session(name, new_session())
    }

    /// A sender called `name` in a given session (tests and tools).
    pub fn with_session(name: impl Into<String>, session: SessionId) -> Origin {
        let name = name.into();
        let quoted = serde_json::to_string(&name).expect("a string always serializes");
        Origin {
            prefix: format!("{{\"v\":{VERSION},\"from\":{quoted},\"session\":{session},"),
            name,
            session,
            next_seq: 1,
        }
    }

    /// The sender's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sender's session.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The latest sequence number given out (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    /// Whether `bytes` is one of our own datagrams (the multicast loop sends them back).
    pub fn is_own(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(self.prefix.as_bytes())
    }

    /// Wraps `body` in the next datagram of this sender (numbered or not, as its kind is).
    pub fn stamp(&mut self, body: Body) -> Datagram {
        let seq = if body.is_numbered() {
            self.take_seq()
        } else {
            0
        };
        Datagram {
            v: VERSION,
            from: self.name.clone(),
            session: self.session,
            seq,
            body,
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        // A sender would need 2^64 datagrams to get here; receivers refuse numbers past 2^53.
        self.next_seq = self.next_seq.saturating_add(1);
        seq
    }

    /// One datagram: our header, then the body's fields (`body` is a JSON object).
    fn with_header(&self, seq: u64, body: &str) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(
            self.prefix
                .len()
                .saturating_add(30)
                .saturating_add(body.len()),
        );
        bytes.extend_from_slice(self.prefix.as_bytes());
        bytes.extend_from_slice(format!("\"seq\":{seq},").as_bytes());
        bytes.extend_from_slice(body.as_bytes().get(1..).unwrap_or_default());
        bytes
    }

    /// The numbered datagrams that carry `payload`, each with its sequence number: one when it
    /// fits in [`MAX_DATAGRAM`] bytes, signature included, else its fragments.
    pub fn datagrams(&mut self, payload: &Payload) -> Vec<(u64, Vec<u8>)> {
        // The widest a header can get: ours, with a sequence number of 20 digits, and room for
        // a signature (a game with a key signs every datagram as it goes out).
        const SEQ_AND_SEAL: usize = "\"seq\":,".len() + 20 + seal::SEAL_OVERHEAD;
        let header = self.prefix.len().saturating_add(SEQ_AND_SEAL);
        if header.saturating_add(payload.len()) <= MAX_DATAGRAM {
            let seq = self.take_seq();
            return vec![(seq, self.with_header(seq, &payload.0))];
        }
        let budget = MAX_DATAGRAM
            .saturating_sub(header)
            .saturating_sub(FRAGMENT_OVERHEAD);
        let pieces = fragment::split_escaped(&payload.0, budget);
        let parts = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
        pieces
            .into_iter()
            .zip(1..)
            .map(|(data, part)| {
                let body = Body::Fragment {
                    part,
                    parts,
                    data: data.to_string(),
                };
                let json = serde_json::to_string(&body).expect("a Body always serializes");
                let seq = self.take_seq();
                (seq, self.with_header(seq, &json))
            })
            .collect()
    }

    /// A datagram that is not numbered (heartbeat, NACK, expiry): small by construction.
    pub fn control(&self, body: &Body) -> Vec<u8> {
        debug_assert!(!body.is_numbered());
        let json = serde_json::to_string(body).expect("a Body always serializes");
        self.with_header(0, &json)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::protocol::{Entry, Game, Guard, Newcomer, Reassembly, Stream};
    use crate::protocol::{MAX_NUMBER, MAX_PARTS, MAX_PLAYERS, MAX_RANGES};

    fn sample(body: Body) -> Datagram {
        Origin::new("alice").stamp(body)
    }

    #[test]
    fn every_kind_round_trips() {
        let bodies = vec![
            Body::Join,
            Body::Leave {
                reason: "quit".into(),
            },
            Body::Chat { text: "hi".into() },
            Body::Move {
                text: "roll".into(),
            },
            Body::Hello {
                moves: vec!["roll".into()],
                take_over: false,
            },
            Body::Hello {
                moves: vec![],
                take_over: true,
            },
            Body::Announcement(Announcement::Ranking {
                entries: vec![Entry {
                    rank: 1,
                    name: "bob".into(),
                    score: -3,
                }],
            }),
            Body::Announcement(Announcement::Question {
                number: 1,
                total: 12,
                text: "q".into(),
                choices: vec!["w".into(), "x".into(), "y".into(), "z".into()],
                seconds: 20,
            }),
            Announcement::Announce { text: "hi".into() }.into(),
            Announcement::Countdown {
                seconds: 12.5,
                text: "Round 2: type roll".into(),
            }
            .into(),
            Announcement::Tell {
                to: "bob".into(),
                text: "psst".into(),
            }
            .into(),
            Announcement::GameStart {
                title: "Dice".into(),
                text: "roll".into(),
            }
            .into(),
            Announcement::Congratulate {
                player: "bob".into(),
                text: "well played".into(),
            }
            .into(),
            Announcement::GameEnd { text: "".into() }.into(),
            Body::Close {
                text: "bye".into(),
                successor: None,
            },
            Body::Close {
                text: "over to the other one".into(),
                successor: Some(77),
            },
            Body::Left {
                player: "bob".into(),
                to_session: 9,
                reason: "connection lost".into(),
            },
            Body::Admit {
                to_session: 9,
                at: 40,
            },
            Body::Heartbeat {
                last: 41,
                every_ms: 250,
                announcer: true,
                closing: false,
            },
            Body::Nack {
                to: 12,
                ranges: vec![(3, 5), (9, 9)],
            },
            Body::Expired {
                ranges: vec![(1, 2)],
            },
            Body::Fragment {
                part: 1,
                parts: 2,
                data: "{\"kind\":".into(),
            },
        ];
        for body in bodies {
            assert_round_trip(body);
        }
    }

    /// Encodes and decodes `body`, and checks that [`CONTROL_KINDS`] names its kind exactly
    /// when it is not an announcement.
    fn assert_round_trip(body: Body) {
        let datagram = sample(body);
        let bytes = encode(&datagram).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let kind = value["kind"].as_str().unwrap();
        assert_eq!(
            CONTROL_KINDS.contains(&kind),
            !matches!(datagram.body, Body::Announcement(_)),
            "{kind}"
        );
        assert_eq!(decode(&bytes), Decoded::Datagram(datagram));
    }

    #[test]
    fn wire_form_is_flat_json_with_kind() {
        let mut origin = Origin::new("alice");
        let d = origin.stamp(Body::Chat {
            text: "Hola".into(),
        });
        let value: serde_json::Value = serde_json::from_slice(&encode(&d).unwrap()).unwrap();
        assert_eq!(value["v"], 1);
        assert_eq!(value["kind"], "chat");
        assert_eq!(value["from"], "alice");
        assert_eq!(value["text"], "Hola");
        assert_eq!(value["seq"], 1);
        assert_eq!(origin.stamp(Body::Join).seq, 2);
    }

    #[test]
    fn welcome_and_refuse_round_trip() {
        // Body fields sit beside the header's in one object: a body field called `session`
        // would collide with the header's and the datagram would not decode.
        let bodies = vec![
            Body::Welcome {
                player: "bob".into(),
                to_session: 7,
                players: vec!["bob".into()],
                moves: vec![],
                game: None,
                ranking: vec![],
                streams: vec![],
                also: vec![],
            },
            Body::Welcome {
                player: "bob".into(),
                to_session: 7,
                players: vec!["ann".into(), "bob".into()],
                moves: vec!["roll".into()],
                game: Some(Box::new(Game {
                    title: "Dice".into(),
                    text: "first to 20".into(),
                })),
                ranking: vec![Entry {
                    rank: 1,
                    name: "ann".into(),
                    score: 12,
                }],
                streams: vec![Stream {
                    name: "ann".into(),
                    session: 12,
                    last: 40,
                }],
                also: vec![Newcomer {
                    player: "cy".into(),
                    to_session: 9,
                }],
            },
            Body::Refuse {
                player: "bob".into(),
                to_session: 7,
                reason: "taken".into(),
            },
        ];
        for body in bodies {
            assert_round_trip(body);
        }
    }

    #[test]
    fn plain_text_is_chat_with_the_lab_name() {
        assert_eq!(
            decode(b"user1: Hola\n"),
            Decoded::Text {
                from: Some("user1".into()),
                text: "Hola".into()
            }
        );
        assert_eq!(
            decode(b"just words"),
            Decoded::Text {
                from: None,
                text: "just words".into()
            }
        );
        // Not our JSON (no "v"): plain text too.
        assert!(matches!(decode(b"{\"a\":1}"), Decoded::Text { .. }));
    }

    #[test]
    fn answer_counts_and_tallies_are_checked_at_their_boundaries() {
        let decoded = |body: &str| {
            decode(format!(r#"{{"v":1,"from":"announcer","session":7,"seq":1,{body}}}"#).as_bytes())
        };
        let ok = |d: &Decoded| matches!(d, Decoded::Datagram(_));
        assert!(ok(&decoded(r#""kind":"answered","count":0,"of":0"#)));
        assert!(ok(&decoded(
            r#""kind":"answered","count":4294967295,"of":4294967295"#
        )));
        for bad in [
            r#""kind":"answered","count":3,"of":2"#,
            r#""kind":"answered","count":4294967296,"of":4294967296"#,
            r#""kind":"answered","count":-1,"of":2"#,
            r#""kind":"answered","count":1.5,"of":2"#,
            r#""kind":"tally","counts":[1]"#,
            r#""kind":"tally","counts":[1,2],"correct":0"#,
            r#""kind":"tally","counts":[1,2],"correct":3"#,
            r#""kind":"tally","counts":[1,2],"correct":4294967295"#,
            r#""kind":"tally","counts":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"#,
            r#""kind":"tally","counts":[9007199254740992,1]"#,
            r#""kind":"question","number":1,"total":1,"text":"q","choices":["a"],"seconds":5"#,
            r#""kind":"snapshot","to_session":9007199254740992,"players":[]"#,
            r#""kind":"snapshot","to_session":1,"players":["aaaaaaaaaaaaaaaaaaaaaaaaa"]"#,
        ] {
            assert!(
                matches!(decoded(bad), Decoded::Invalid(Invalid::Malformed(_))),
                "{bad}"
            );
        }
        assert!(ok(&decoded(
            r#""kind":"tally","counts":[4294967295,0],"correct":2"#
        )));
        assert!(ok(&decoded(r#""kind":"tally","counts":[1,0]"#)));
    }

    #[test]
    fn garbage_is_invalid_never_a_panic() {
        assert_eq!(
            decode(&[0xff, 0xfe, 0x00]),
            Decoded::Invalid(Invalid::Binary)
        );
        assert_eq!(decode(b"  \n"), Decoded::Invalid(Invalid::Empty));
        assert_eq!(
            decode(br#"{"v":2,"kind":"chat"}"#),
            Decoded::Invalid(Invalid::Version(2))
        );
        assert!(matches!(
            decode(br#"{"v":1,"kind":"nope","from":"x","session":1,"seq":1}"#),
            Decoded::Invalid(Invalid::Malformed(_))
        ));
        assert!(matches!(
            decode(br#"{"v":1,"kind":"chat","from":"x","session":1}"#),
            Decoded::Invalid(Invalid::Malformed(_))
        ));
        assert!(matches!(
            decode(br#"{"v":"1"}"#),
            Decoded::Invalid(Invalid::Malformed(_))
        ));
        // A datagram of ours cut short is broken, not chat; NULs are binary, not text.
        assert!(matches!(
            decode(br#"{"v":1,"kind":"ch"#),
            Decoded::Invalid(Invalid::Malformed(_))
        ));
        assert_eq!(decode(&[0u8; 100]), Decoded::Invalid(Invalid::Binary));
    }

    /// A datagram of ours with `fields` (header included), as raw JSON.
    fn raw(fields: serde_json::Value) -> Vec<u8> {
        let mut object = serde_json::json!({"v": 1, "from": "mallory", "session": 7, "seq": 1});
        object
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::to_vec(&object).unwrap()
    }

    fn refused(bytes: &[u8]) -> bool {
        matches!(
            decode(bytes),
            Decoded::Invalid(Invalid::Malformed(_) | Invalid::Oversized { .. })
        )
    }

    #[test]
    fn numbers_and_shapes_no_sender_makes_are_refused() {
        use serde_json::json;
        let big = MAX_NUMBER + 1;
        let nack = |ranges: serde_json::Value| {
            raw(json!({"kind": "nack", "seq": 0, "to": 9, "ranges": ranges}))
        };
        // Ranges: reversed, starting at 0, at or past 2^53, none, too many.
        assert!(refused(&nack(json!([[5, 3]]))));
        assert!(refused(&nack(json!([[0, 3]]))));
        assert!(refused(&nack(json!([[1, big]]))));
        assert!(refused(&nack(json!([[1, u64::MAX]]))));
        assert!(refused(&nack(json!([]))));
        assert!(refused(&nack(json!(vec![[1, 1]; MAX_RANGES + 1]))));
        assert!(!refused(&nack(json!([[1, MAX_NUMBER]]))));
        assert!(refused(&raw(
            json!({"kind": "expired", "seq": 0, "ranges": [[9, 8]]})
        )));
        // Heartbeats: `last` at 2^53 or 2^64 - 1, intervals out of range.
        let beat = |last: u64, every: u32| {
            raw(
                json!({"kind": "heartbeat", "seq": 0, "last": last, "every_ms": every, "announcer": false}),
            )
        };
        assert!(refused(&beat(big, 500)));
        assert!(refused(&beat(u64::MAX, 500)));
        assert!(refused(&beat(3, 0)));
        assert!(refused(&beat(3, u32::MAX)));
        assert!(!refused(&beat(MAX_NUMBER, 500)));
        // Headers: seq and session at 2^53, seq 0 on a numbered kind, a number on a heartbeat.
        assert!(refused(&raw(json!({"kind": "join", "seq": big}))));
        assert!(refused(&raw(json!({"kind": "join", "session": big}))));
        assert!(refused(&raw(json!({"kind": "join", "session": 0}))));
        assert!(refused(&raw(json!({"kind": "join", "seq": 0}))));
        assert!(refused(&raw(
            json!({"kind": "heartbeat", "seq": 4, "last": 1, "every_ms": 500, "announcer": false})
        )));
        assert!(refused(&raw(
            json!({"kind": "join", "from": "x".repeat(25)})
        )));
        // Lines over the limit, in a chat and as plain text; a datagram over 1400 bytes.
        assert!(refused(&raw(
            json!({"kind": "chat", "text": "x".repeat(MAX_LINE + 1)})
        )));
        assert!(!refused(&raw(
            json!({"kind": "chat", "text": "x".repeat(MAX_LINE)})
        )));
        assert!(refused("y".repeat(MAX_LINE + 1).as_bytes()));
        assert!(refused(&vec![b'a'; MAX_DATAGRAM + 1]));
        // Fragments: part 0, past the last, more parts than any event needs.
        let piece = |part: u32, parts: u32| {
            raw(json!({"kind": "fragment", "part": part, "parts": parts, "data": "{"}))
        };
        assert!(refused(&piece(0, 2)));
        assert!(refused(&piece(3, 2)));
        assert!(refused(&piece(1, 1)));
        assert!(refused(&piece(1, MAX_PARTS + 1)));
        assert!(!refused(&piece(2, 2)));
        // Admissions at 0, welcomes of more players than a game holds.
        assert!(refused(&raw(
            json!({"kind": "admit", "seq": 0, "to_session": 3, "at": 0})
        )));
        let crowd: Vec<String> = (0..=MAX_PLAYERS).map(|i| format!("p{i}")).collect();
        assert!(refused(&raw(json!({
            "kind": "welcome", "player": "p0", "to_session": 3, "players": crowd, "moves": []
        }))));
        // Newcomers at the edges: a session at 2^53, a name too long, too many of them.
        let newcomer = |session: u64, name: &str| json!({"player": name, "to_session": session});
        for also in [
            json!([newcomer(1 << 53, "a")]),
            json!([newcomer(u64::MAX, "a")]),
            json!([newcomer(4, &"x".repeat(25))]),
            json!(
                (0..=MAX_PLAYERS as u64)
                    .map(|i| newcomer(i + 1, "a"))
                    .collect::<Vec<_>>()
            ),
        ] {
            assert!(
                refused(&raw(json!({
                    "kind": "welcome", "player": "p0", "to_session": 3, "players": [],
                    "moves": [], "also": also
                }))),
                "{also}"
            );
        }
    }

    #[test]
    fn a_reassembled_event_is_checked_whole() {
        // A welcome listing too many players fits in no datagram, but fits in pieces: the
        // whole event is checked once put back together.
        let crowd: Vec<String> = (0..=MAX_PLAYERS).map(|i| format!("p{i}")).collect();
        let body = Body::Welcome {
            player: "p0".into(),
            to_session: 3,
            players: crowd,
            moves: vec![],
            game: None,
            ranking: vec![],
            streams: vec![],
            also: vec![],
        };
        let mut origin = Origin::new("announcer");
        let mut reassembly = Reassembly::default();
        let mut outcome = Ok(None);
        for (_, bytes) in origin.datagrams(&Payload::new(&body).unwrap()) {
            let Decoded::Datagram(piece) = decode(&bytes) else {
                panic!("each piece is fine on its own")
            };
            outcome = reassembly.add(piece);
        }
        assert!(matches!(outcome, Err(Invalid::Malformed(_))), "{outcome:?}");
    }

    /// What `origin` sends for `body`, decoded and reassembled as a receiver would.
    fn through_the_wire(origin: &mut Origin, body: &Body) -> (usize, Datagram) {
        let datagrams = origin.datagrams(&Payload::new(body).unwrap());
        let count = datagrams.len();
        let mut reassembly = Reassembly::default();
        let mut whole = None;
        for (seq, bytes) in datagrams {
            assert!(bytes.len() <= MAX_DATAGRAM, "{} bytes", bytes.len());
            let Decoded::Datagram(datagram) = decode(&bytes) else {
                panic!("not ours: {}", String::from_utf8_lossy(&bytes));
            };
            assert_eq!(datagram.seq, seq);
            assert!(whole.is_none(), "complete before its last piece");
            whole = reassembly.add(datagram).unwrap();
        }
        (count, whole.expect("the last piece completes the event"))
    }

    #[test]
    fn small_events_take_one_datagram_and_large_ones_are_split() {
        let mut origin = Origin::new("announcer");
        let small: Body = Announcement::Announce { text: "hi".into() }.into();
        let (count, datagram) = through_the_wire(&mut origin, &small);
        assert_eq!((count, datagram.body, datagram.seq), (1, small, 1));

        // 300 players, names with quotes, backslashes, control characters and wide
        // characters, so that escaping changes sizes.
        let entries: Vec<Entry> = (1..=300)
            .map(|i| Entry {
                rank: i,
                name: format!("pl\"a\\y\u{1}é🎲{i}"),
                score: 1000 - i64::from(i),
            })
            .collect();
        let ranking: Body = Announcement::Ranking { entries }.into();
        let (count, datagram) = through_the_wire(&mut origin, &ranking);
        assert!(count > 10, "{count} pieces");
        assert_eq!(datagram.body, ranking);
        assert_eq!(datagram.seq, 1 + count as u64, "the last piece's number");
        assert_eq!(origin.last_seq(), 1 + count as u64);
    }

    #[test]
    fn a_piece_out_of_place_drops_the_event_not_the_next() {
        let mut origin = Origin::new("announcer");
        let long: Body = Announcement::Announce {
            text: "x".repeat(3000),
        }
        .into();
        let pieces = origin.datagrams(&Payload::new(&long).unwrap());
        assert!(pieces.len() >= 3);
        let read = |bytes: &[u8]| match decode(bytes) {
            Decoded::Datagram(d) => d,
            other => panic!("{other:?}"),
        };
        let mut reassembly = Reassembly::default();
        // Listening from the middle of an event: its pieces are dropped quietly.
        assert_eq!(reassembly.add(read(&pieces[1].1)), Ok(None));
        assert_eq!(reassembly.add(read(&pieces[2].1)), Ok(None));
        let (_, next) = through_the_wire(&mut origin, &long);
        assert_eq!(next.body, long);
    }

    #[test]
    fn an_announcement_encodes_as_its_body() {
        let ranking = Announcement::Ranking {
            entries: vec![Entry {
                rank: 1,
                name: "ann".into(),
                score: 3,
            }],
        };
        assert_eq!(
            Payload::announcement(&ranking),
            Payload::new(&ranking.clone().into())
        );
    }

    #[test]
    fn oversized_events_are_refused() {
        let body: Body = Announcement::Announce {
            text: "x".repeat(MAX_EVENT),
        }
        .into();
        assert!(Payload::new(&body).is_err());
        let fits: Body = Announcement::Announce {
            text: "x".repeat(MAX_DATAGRAM),
        }
        .into();
        assert!(Payload::new(&fits).is_ok());
        assert!(encode(&sample(fits)).is_err(), "more than one datagram");
    }

    #[test]
    fn our_own_datagrams_are_known_without_decoding() {
        let mut origin = Origin::with_session("a\"n", 42);
        let (_, bytes) = origin
            .datagrams(&Payload::new(&Body::Join).unwrap())
            .remove(0);
        assert!(origin.is_own(&bytes));
        assert!(origin.is_own(&origin.control(&Body::Heartbeat {
            last: 1,
            every_ms: 250,
            announcer: false,
            closing: true
        })));
        let other = Origin::with_session("a\"n", 43);
        assert!(!other.is_own(&bytes));
        let Decoded::Datagram(datagram) = decode(&bytes) else {
            panic!()
        };
        assert_eq!((datagram.from.as_str(), datagram.session), ("a\"n", 42));
    }

    #[test]
    fn heartbeats_and_nacks_are_not_numbered() {
        let mut origin = Origin::new("alice");
        assert_eq!(origin.stamp(Body::Join).seq, 1);
        let nack = origin.stamp(Body::Nack {
            to: 1,
            ranges: vec![(1, 1)],
        });
        assert_eq!(nack.seq, 0);
        assert_eq!(origin.stamp(Body::Chat { text: "x".into() }).seq, 2);
    }

    mod fuzz {
        //! The decoder against arbitrary input: it classifies, it never panics, and with a key
        //! it accepts nothing made up and no signed datagram with any byte changed; whatever
        //! our encoder makes, split or not, signed or not, comes back the same.
        use super::*;
        use proptest::prelude::*;

        fn key() -> crate::key::GameKey {
            crate::key::GameKey::new(b"a key for the property tests", "test").unwrap()
        }

        fn config() -> ProptestConfig {
            // A thousand cases each in CI; more with PROPTEST_CASES (the long run).
            crate::reliable::peers::tests::config()
        }

        /// Text that is likely to find edge cases: JSON punctuation, escapes, controls, wide
        /// characters and our own field names.
        fn nasty_text() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    any::<char>().prop_map(String::from),
                    Just("\"".to_string()),
                    Just("\\".to_string()),
                    Just("{\"v\":1,".to_string()),
                    Just("\u{1b}[2J".to_string()),
                    Just("🎲".to_string()),
                    Just("\"kind\":\"fragment\"".to_string()),
                ],
                0..40,
            )
            .prop_map(|parts| parts.concat())
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
                let _ = decode(&bytes);
                // With a key, nothing made up passes.
                let decoded = Guard::new(Some(&key())).open(&bytes);
                let accepted = matches!(decoded, Decoded::Datagram(_) | Decoded::Text { .. });
                prop_assert!(!accepted, "made-up bytes accepted: {:?}", decoded);
            }

            #[test]
            fn any_change_to_a_signed_datagram_is_refused(
                text in nasty_text(),
                at in any::<prop::sample::Index>(),
                change in 1..=255u8,
            ) {
                let mut origin = Origin::new("alice");
                let Ok(payload) = Payload::new(&Body::Chat { text }) else {
                    return Ok(());
                };
                let (_, bytes) = origin.datagrams(&payload).remove(0);
                let mut signed = Guard::new(Some(&key())).seal(&bytes).into_owned();
                let index = at.index(signed.len());
                // A change that is never none (rejecting unchanged bytes instead would make a
                // run of a million cases fail on proptest's limit of rejects).
                signed[index] = signed[index].wrapping_add(change);
                let decoded = Guard::new(Some(&key())).open(&signed);
                let accepted = matches!(decoded, Decoded::Datagram(_) | Decoded::Text { .. });
                prop_assert!(!accepted, "byte {} changed, still accepted: {:?}", index, decoded);
            }

            #[test]
            fn arbitrary_objects_of_ours_never_panic(
                kind in prop_oneof![
                    Just("chat"), Just("welcome"), Just("fragment"), Just("nack"),
                    Just("ranking"), Just("heartbeat"), Just("announce"), Just("nope"),
                ],
                fields in prop::collection::vec((nasty_text(), nasty_text()), 0..6),
                seq in any::<i64>(),
            ) {
                let mut object = serde_json::Map::new();
                object.insert("v".into(), 1.into());
                object.insert("kind".into(), kind.into());
                object.insert("seq".into(), seq.into());
                for (key, value) in fields {
                    object.insert(key, value.into());
                }
                let bytes = serde_json::to_vec(&object).unwrap();
                let _ = decode(&bytes);
                let mut reassembly = Reassembly::default();
                if let Decoded::Datagram(datagram) = decode(&bytes) {
                    let _ = reassembly.add(datagram);
                }
            }

            #[test]
            fn what_we_send_comes_back_the_same(
                name in "[a-z]{1,24}",
                text in nasty_text(),
                repeat in 1usize..60,
            ) {
                let mut origin = Origin::new(name.clone());
                let body: Body = Announcement::Announce { text: text.repeat(repeat) }.into();
                let Ok(payload) = Payload::new(&body) else {
                    return Ok(());
                };
                let (sender, mut receiver) = (Guard::new(Some(&key())), Guard::new(Some(&key())));
                let mut reassembly = Reassembly::default();
                let mut whole = None;
                for (_, bytes) in origin.datagrams(&payload) {
                    // Signed, it still fits.
                    let signed = sender.seal(&bytes);
                    prop_assert!(signed.len() <= MAX_DATAGRAM);
                    let Decoded::Datagram(datagram) = decode(&bytes) else {
                        panic!("not ours: {}", String::from_utf8_lossy(&bytes));
                    };
                    prop_assert_eq!(&datagram.from, &name);
                    prop_assert_eq!(receiver.open(&signed), Decoded::Datagram(datagram.clone()));
                    whole = reassembly.add(datagram).unwrap();
                }
                prop_assert_eq!(whole.map(|d| d.body), Some(body));
            }
        }
    }
}
