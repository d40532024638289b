//! The wire: what one datagram carries and how it is encoded. Nothing else in gamecast knows the bytes.
//!
//! A datagram is one JSON object: a header (`v`, `from`, `session`, `seq`) and a body whose `kind`
//! says what it is. docs/protocol.md describes every kind for people writing their own tools.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks; datagrams with another `v` are refused.
pub const VERSION: u32 = 1;

/// The largest datagram we send. It fits a 1500-byte Ethernet frame with IP and UDP headers,
/// so a datagram is never fragmented by IP (a lost fragment loses the whole datagram).
pub const MAX_DATAGRAM: usize = 1400;

/// The longest name a player may take, in characters.
pub const MAX_NAME_CHARS: usize = 24;

/// A random number naming one run of one process, so that a restarted player or announcer
/// is told apart from its earlier self. Kept below 2^53 so that every JSON tool reads it exactly.
pub type SessionId = u64;

/// Picks a new random session id.
pub fn new_session() -> SessionId {
    fastrand::u64(1..(1 << 53))
}

/// One datagram: who sent it, in which run, its place in that sender's sequence, and what it says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datagram {
    /// Protocol version, always [`VERSION`].
    pub v: u32,
    /// The sender's name (a player's name, or the announcer's).
    pub from: String,
    /// The sender's session.
    pub session: SessionId,
    /// The sender's sequence number: 1 for its first datagram, then one more for each.
    pub seq: u64,
    /// What the datagram says.
    #[serde(flatten)]
    pub body: Body,
}

/// What a datagram says. `kind` on the wire is the variant's name in snake_case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// A player enters the group (the lab's "Entering user"); sent again when an announcer says hello.
    Join,
    /// A player leaves the group, and why ("quit", "interrupted"…).
    Leave {
        /// Why the player left.
        reason: String,
    },
    /// A line typed by a player, for everyone to read.
    Chat {
        /// The line.
        text: String,
    },
    /// A line typed by a player that is a move in the game (see `moves`): for the announcer only.
    Move {
        /// The line, as typed.
        text: String,
    },
    /// The announcer is up: players that are already here join again so that it learns of them.
    Hello {
        /// Lines that are moves in this game; anything else a player types is chat.
        moves: Vec<String>,
    },
    /// The announcer accepted a player's join.
    Welcome {
        /// The player's name.
        player: String,
        /// The player's session, so that only this run of the player takes it as its own
        /// (not `session`: that is the header's, the announcer's own).
        to_session: SessionId,
        /// Everyone in the game now, in join order.
        players: Vec<String>,
        /// Lines that are moves in this game.
        moves: Vec<String>,
    },
    /// The announcer refused a player's join (a name already taken, an invalid name).
    Refuse {
        /// The name asked for.
        player: String,
        /// The session that asked.
        to_session: SessionId,
        /// Why, for the player to show.
        reason: String,
    },
    /// The announcer is going away; players leave too.
    Close {
        /// Why, for players to show.
        text: String,
    },
    /// What a game script says to the players: shown by every player as it is.
    #[serde(untagged)]
    Announcement(Announcement),
}

/// What a game script says to the players; each kind is shown by every player (a `tell` only
/// by the player it names). Serialized beside the header like every [`Body`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Announcement {
    /// A plain announcement.
    Announce {
        /// The announcement.
        text: String,
    },
    /// A line meant for one player only.
    Tell {
        /// The player it is for.
        to: String,
        /// The line.
        text: String,
    },
    /// The game starts.
    GameStart {
        /// The game's title.
        title: String,
        /// A line under the title (the rules in short), possibly empty.
        text: String,
    },
    /// The scores so far, best first.
    Ranking {
        /// One entry per player.
        entries: Vec<Entry>,
    },
    /// A question with four choices, answered `a` to `d`.
    Question {
        /// Which question this is, from 1.
        number: u32,
        /// How many questions the game asks.
        total: u32,
        /// The question.
        text: String,
        /// The choices, shown as a) b) c) d).
        choices: Vec<String>,
        /// How long players have to answer.
        seconds: u32,
    },
    /// The winner is congratulated publicly.
    Congratulate {
        /// The winner.
        player: String,
        /// The words of congratulation.
        text: String,
    },
    /// The game ends.
    GameEnd {
        /// A closing line, possibly empty.
        text: String,
    },
}

/// One line of a ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1 for the best score; equal scores share a rank.
    pub rank: u32,
    /// The player's name.
    pub name: String,
    /// The player's score.
    pub score: i64,
}

impl Body {
    /// True for the kinds only an announcer sends.
    pub fn is_from_announcer(&self) -> bool {
        !matches!(
            self,
            Body::Join | Body::Leave { .. } | Body::Chat { .. } | Body::Move { .. }
        )
    }
}

impl From<Announcement> for Body {
    fn from(announcement: Announcement) -> Body {
        Body::Announcement(announcement)
    }
}

/// A datagram that would not fit in [`MAX_DATAGRAM`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// The size it would have had.
    pub bytes: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the event takes {} bytes on the wire, over the {MAX_DATAGRAM}-byte limit of one datagram",
            self.bytes
        )
    }
}

impl std::error::Error for TooLarge {}

/// Encodes a datagram, refusing one over [`MAX_DATAGRAM`] bytes.
pub fn encode(datagram: &Datagram) -> Result<Vec<u8>, TooLarge> {
    // Serializing our own types into a Vec cannot fail: every field is a string, number or list.
    let bytes = serde_json::to_vec(datagram).expect("a Datagram always serializes");
    if bytes.len() > MAX_DATAGRAM {
        return Err(TooLarge { bytes: bytes.len() });
    }
    Ok(bytes)
}

/// Checks that a body fits in one datagram whoever sends it, before it is queued:
/// it is encoded under the largest header a sender can have.
pub fn check_fits(body: &Body) -> Result<(), TooLarge> {
    let widest = Datagram {
        v: VERSION,
        from: "W".repeat(MAX_NAME_CHARS * 4),
        session: (1 << 53) - 1,
        seq: u64::MAX,
        body: body.clone(),
    };
    encode(&widest).map(|_| ())
}

/// What arrived, once read.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// One of ours.
    Datagram(Datagram),
    /// Plain text, as classroom scripts send: shown as chat.
    Text {
        /// The name before a `name: text` colon, when there is one.
        from: Option<String>,
        /// The text (after the colon, when a name was found).
        text: String,
    },
    /// Nothing we can use: counted and dropped.
    Invalid(Invalid),
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Not UTF-8 text at all.
    Binary,
    /// Empty, or only white space.
    Empty,
    /// A JSON object with a `v` of ours that does not follow the protocol.
    Malformed(String),
    /// Another protocol version.
    Version(u64),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Binary => write!(f, "binary data, not text"),
            Invalid::Empty => write!(f, "empty datagram"),
            Invalid::Malformed(why) => write!(f, "malformed gamecast datagram: {why}"),
            Invalid::Version(v) => write!(f, "protocol version {v}, this build speaks {VERSION}"),
        }
    }
}

/// Reads one received datagram. Never fails: whatever arrives is one of [`Decoded`]'s cases.
pub fn decode(bytes: &[u8]) -> Decoded {
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
    "join", "leave", "chat", "move", "hello", "welcome", "refuse", "close",
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
    let body = match object.get("kind").and_then(serde_json::Value::as_str) {
        Some(kind) if !CONTROL_KINDS.contains(&kind) => {
            Announcement::deserialize(&object).map(Body::Announcement)
        }
        _ => Body::deserialize(&object),
    };
    match (Header::deserialize(&object), body) {
        (Ok(header), Ok(body)) => Decoded::Datagram(Datagram {
            v: VERSION,
            from: header.from,
            session: header.session,
            seq: header.seq,
            body,
        }),
        (Err(e), _) | (_, Err(e)) => Decoded::Invalid(Invalid::Malformed(e.to_string())),
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

/// Why a name cannot be played under, or `None` when it can.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Some(format!(
            "a name has 1 to {MAX_NAME_CHARS} characters, {name:?} has {chars}"
        ));
    }
    if name.chars().any(char::is_control) {
        return Some(format!("{name:?} has control characters"));
    }
    if name.trim() != name {
        return Some(format!("{name:?} starts or ends with white space"));
    }
    None
}

/// Stamps outgoing bodies with one sender's header, counting its sequence numbers.
#[derive(Debug)]
pub struct Origin {
    name: String,
    session: SessionId,
    next_seq: u64,
}

impl Origin {
    /// A new sender called `name`, with a fresh session.
    pub fn new(name: impl Into<String>) -> Origin {
        Origin {
            name: name.into(),
            session: new_session(),
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

    /// Wraps `body` in the next datagram of this sender.
    pub fn stamp(&mut self, body: Body) -> Datagram {
        let seq = self.next_seq;
        self.next_seq += 1;
        Datagram {
            v: VERSION,
            from: self.name.clone(),
            session: self.session,
            seq,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Body::Close { text: "bye".into() },
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

    #[test]
    fn oversized_events_are_refused() {
        let body: Body = Announcement::Announce {
            text: "x".repeat(MAX_DATAGRAM),
        }
        .into();
        assert!(check_fits(&body).is_err());
        assert!(encode(&sample(body)).is_err());
        assert!(
            check_fits(
                &Announcement::Announce {
                    text: "x".repeat(1000)
                }
                .into()
            )
            .is_ok()
        );
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(name_problem("alice"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem(&"a".repeat(25)).is_some());
        assert!(name_problem("a\u{1b}[31m").is_some());
        assert!(name_problem(" alice").is_some());
    }
}
