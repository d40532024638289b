//! The wire: what one datagram carries and how it is encoded. Nothing else in gamecast knows the bytes.
//!
//! A datagram is one JSON object: a header (`v`, `from`, `session`, `seq`) and a body whose `kind`
//! says what it is. docs/protocol.md describes every kind for people writing their own tools.
//! In a game with a key, [`seal`] adds a signature and a counter at the end of every datagram.

use serde::{Deserialize, Serialize};

pub mod seal;
pub use seal::Guard;

/// The protocol version this build speaks; datagrams with another `v` are refused.
pub const VERSION: u32 = 1;

/// The largest datagram we send. It fits a 1500-byte Ethernet frame with IP and UDP headers,
/// so a datagram is never fragmented by IP (a lost fragment loses the whole datagram).
pub const MAX_DATAGRAM: usize = 1400;

/// The longest name a player may take, in characters.
pub const MAX_NAME_CHARS: usize = 24;

/// A number naming one run of one process, so that a restarted player or announcer is told
/// apart from its earlier self; later runs have larger numbers. Kept below 2^53 so that every
/// JSON tool reads it exactly.
pub type SessionId = u64;

/// Picks a new session id: the time in milliseconds, then 11 random bits. Later runs get
/// larger ids, so that a receiver tells a restart (a newer session) from a replay of an old
/// one; two runs started in the same millisecond still differ, by chance, 2047 times in 2048.
pub fn new_session() -> SessionId {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ((millis & ((1 << 42) - 1)) << 11) | fastrand::u64(1..(1 << 11))
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
        /// The game in progress, for a player who joins in the middle: its title and text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        game: Option<Game>,
        /// The latest ranking sent, if any.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ranking: Vec<Entry>,
        /// Where each player's own numbered datagrams stand, as the announcer has them: the
        /// new player listens to each from the next one on, so that a chat line lost right
        /// after its welcome is asked for again like any other.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        streams: Vec<Stream>,
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
    /// A player left the game: it said so, or it fell silent. Sent by the announcer, so that
    /// players who missed the player's own `leave` hear of it too.
    Left {
        /// Who left.
        player: String,
        /// The session that left: a player who reads its own session here was dropped while
        /// still running, and joins again.
        to_session: SessionId,
        /// Why ("quit", "connection lost"…).
        reason: String,
    },
    /// The announcer admitted session `to_session`: its events for that player count from
    /// number `at` (the player's first welcome). Not numbered, and small, so that a player
    /// reads it on arrival: it tells the player where to start listening, and a player whose
    /// first welcome was lost asks for it from there. Sent after each welcome.
    Admit {
        /// The admitted player's session.
        to_session: SessionId,
        /// The first number the player must have: its first welcome.
        at: u64,
    },
    /// "I am alive, and my latest numbered datagram is `last`" (0: none yet), from anyone who
    /// has been quiet for `every_ms`. Not numbered itself (its `seq` is 0): losing one loses
    /// nothing.
    Heartbeat {
        /// The sender's latest numbered datagram.
        last: u64,
        /// How often the sender beats when quiet, in milliseconds.
        every_ms: u32,
        /// Whether the sender is an announcer.
        announcer: bool,
    },
    /// "Please send again": session `to`'s numbered datagrams in `ranges` (inclusive pairs)
    /// did not arrive. Sent to the whole group, so that others missing the same hold back.
    Nack {
        /// The session whose datagrams are missing.
        to: SessionId,
        /// The missing sequence numbers, as `[first, last]` pairs.
        ranges: Vec<(u64, u64)>,
    },
    /// The answer to a NACK for datagrams the sender no longer keeps: lost for good.
    Expired {
        /// The sequence numbers that are gone, as `[first, last]` pairs.
        ranges: Vec<(u64, u64)>,
    },
    /// One piece of an event too large for one datagram: the `data` of pieces 1 to `parts`,
    /// joined in order, is the event's JSON object. Each piece is numbered and repaired like
    /// any other datagram.
    Fragment {
        /// Which piece, from 1.
        part: u32,
        /// How many pieces the event has.
        parts: u32,
        /// This piece of the event's JSON text.
        data: String,
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

/// The game in progress, as a late joiner is told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Game {
    /// The title its `game_start` gave.
    pub title: String,
    /// The line under the title.
    pub text: String,
}

/// A player's place in its own sequence, as an announcer's welcome passes it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    /// The player's name.
    pub name: String,
    /// The player's session.
    pub session: SessionId,
    /// The player's latest numbered datagram the announcer has.
    pub last: u64,
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
        match self {
            Body::Heartbeat { announcer, .. } => *announcer,
            Body::Join
            | Body::Leave { .. }
            | Body::Chat { .. }
            | Body::Move { .. }
            | Body::Nack { .. }
            | Body::Expired { .. }
            | Body::Fragment { .. } => false,
            _ => true,
        }
    }

    /// True for the kinds that take a place in the sender's sequence, so that receivers notice
    /// when one is missing and ask for it again. Heartbeats and repair requests are not
    /// numbered: they are worth nothing once late.
    pub fn is_numbered(&self) -> bool {
        !matches!(
            self,
            Body::Heartbeat { .. } | Body::Nack { .. } | Body::Expired { .. } | Body::Admit { .. }
        )
    }
}

impl From<Announcement> for Body {
    fn from(announcement: Announcement) -> Body {
        Body::Announcement(announcement)
    }
}

/// The largest event, encoded: a larger one is refused (with the script's file and line)
/// rather than split into more datagrams than any game needs. A ranking of 300 players takes
/// about 15 KiB.
pub const MAX_EVENT: usize = 64 * 1024;

/// An event too large to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// The size it would have had.
    pub bytes: usize,
    /// The limit it went over.
    pub limit: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the event takes {} bytes on the wire, over the limit of {} bytes",
            self.bytes, self.limit
        )
    }
}

impl std::error::Error for TooLarge {}

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
    /// Signed with a game key, and we have none (see [`seal`]).
    Protected,
    /// Not signed, in a game with a key.
    Unsigned,
    /// Signed, but not with our key, or altered on the way.
    Forged,
    /// Signed, and seen before.
    Replayed,
    /// Signed, from a run of its sender older than one already heard.
    Stale,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Binary => write!(f, "binary data, not text"),
            Invalid::Empty => write!(f, "empty datagram"),
            Invalid::Malformed(why) => write!(f, "malformed gamecast datagram: {why}"),
            Invalid::Version(v) => write!(f, "protocol version {v}, this build speaks {VERSION}"),
            Invalid::Protected => write!(f, "signed with a game key, and we have none"),
            Invalid::Unsigned => write!(f, "not signed with the game key"),
            Invalid::Forged => write!(f, "signed with another key, or altered"),
            Invalid::Replayed => write!(f, "a replay of a signed datagram"),
            Invalid::Stale => write!(
                f,
                "from an older run of its sender than one already heard (a recording, or a \
                 clock set back)"
            ),
        }
    }
}

/// Reads one received datagram. Never fails: whatever arrives is one of [`Decoded`]'s cases.
/// A game with a key reads through its [`Guard`] instead.
pub fn decode(bytes: &[u8]) -> Decoded {
    decode_as(bytes, false)
}

/// Reads a datagram whose signature [`seal`] checked.
fn decode_signed(bytes: &[u8]) -> Decoded {
    decode_as(bytes, true)
}

fn decode_as(bytes: &[u8], signed: bool) -> Decoded {
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
    match (Header::deserialize(&object), body_from(&object)) {
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

/// Reads the body of a datagram (or of a reassembled event) from its JSON object.
fn body_from(object: &serde_json::Value) -> Result<Body, serde_json::Error> {
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

/// Whether `c` must never reach a terminal as it is: control characters (escape sequences
/// start with one) and the invisible format characters that reorder or hide text (bidi
/// overrides, zero-width characters): a name made of them could pass for another.
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Why a name cannot be played under, or `None` when it can.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Some(format!(
            "a name has 1 to {MAX_NAME_CHARS} characters, {name:?} has {chars}"
        ));
    }
    if name.chars().any(is_unprintable) {
        return Some(format!(
            "{} has control or invisible characters",
            name.escape_default()
        ));
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
    /// `{"v":1,"from":NAME,"session":SESSION,`: how every datagram of ours begins, so that our
    /// own datagrams, looped back by the kernel, are known without decoding them.
    prefix: String,
}

/// What a fragment's body adds around its data, at most (kind, part and parts up to 10
/// digits, quotes and braces); with the header's maximum, it bounds each piece's size.
const FRAGMENT_OVERHEAD: usize = 64;

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
        self.next_seq - 1
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
        self.next_seq += 1;
        seq
    }

    /// One datagram: our header, then the body's fields (`body` is a JSON object).
    fn with_header(&self, seq: u64, body: &str) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.prefix.len() + 30 + body.len());
        bytes.extend_from_slice(self.prefix.as_bytes());
        bytes.extend_from_slice(format!("\"seq\":{seq},").as_bytes());
        bytes.extend_from_slice(&body.as_bytes()[1..]);
        bytes
    }

    /// The numbered datagrams that carry `payload`, each with its sequence number: one when it
    /// fits in [`MAX_DATAGRAM`] bytes, signature included, else its fragments.
    pub fn datagrams(&mut self, payload: &Payload) -> Vec<(u64, Vec<u8>)> {
        // The widest a header can get: ours, with a sequence number of 20 digits, and room for
        // a signature (a game with a key signs every datagram as it goes out).
        let header = self.prefix.len() + "\"seq\":,".len() + 20 + seal::SEAL_OVERHEAD;
        if header + payload.len() <= MAX_DATAGRAM {
            let seq = self.take_seq();
            return vec![(seq, self.with_header(seq, &payload.0))];
        }
        let pieces = split_escaped(&payload.0, MAX_DATAGRAM - header - FRAGMENT_OVERHEAD);
        let parts = pieces.len() as u32;
        pieces
            .into_iter()
            .enumerate()
            .map(|(index, data)| {
                let body = Body::Fragment {
                    part: index as u32 + 1,
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

/// Splits `text` into pieces whose JSON string escaping takes at most `budget` bytes each,
/// never inside a character.
fn split_escaped(text: &str, budget: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (at, c) in text.char_indices() {
        let escaped = match c {
            '"' | '\\' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if size + escaped > budget {
            pieces.push(&text[start..at]);
            start = at;
            size = 0;
        }
        size += escaped;
    }
    pieces.push(&text[start..]);
    pieces
}

/// Puts fragmented events back together. One per sender, fed that sender's numbered datagrams
/// in order (after loss repair), and reset when some of them were lost for good.
#[derive(Debug, Default)]
pub struct Reassembly {
    data: String,
    parts: u32,
    next_part: u32,
}

impl Reassembly {
    /// Takes the sender's next datagram. Gives back a whole one (this one, or the event this
    /// fragment completes), `None` while an event is incomplete, or why a completed event
    /// cannot be read.
    pub fn add(&mut self, datagram: Datagram) -> Result<Option<Datagram>, Invalid> {
        let Body::Fragment { part, parts, data } = datagram.body else {
            self.reset();
            return Ok(Some(datagram));
        };
        if part == 1 {
            self.reset();
            self.parts = parts;
            self.next_part = 1;
        }
        if part != self.next_part || parts != self.parts || parts < 2 {
            // A piece of an event whose beginning we never had (we started listening in its
            // middle): nothing to show.
            self.reset();
            return Ok(None);
        }
        self.data.push_str(&data);
        if self.data.len() > MAX_EVENT {
            self.reset();
            return Err(Invalid::Malformed(
                "a fragmented event over the size limit".into(),
            ));
        }
        if part < parts {
            self.next_part += 1;
            return Ok(None);
        }
        let json = std::mem::take(&mut self.data);
        self.reset();
        let body = serde_json::from_str::<serde_json::Value>(&json)
            .and_then(|value| body_from(&value))
            .map_err(|e| Invalid::Malformed(format!("a fragmented event: {e}")))?;
        if let Body::Fragment { .. } = body {
            return Err(Invalid::Malformed("a fragment inside a fragment".into()));
        }
        Ok(Some(Datagram { body, ..datagram }))
    }

    /// Forgets an incomplete event (some of its pieces are lost for good).
    pub fn reset(&mut self) {
        self.data.clear();
        self.parts = 0;
        self.next_part = 0;
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
            },
            Body::Welcome {
                player: "bob".into(),
                to_session: 7,
                players: vec!["ann".into(), "bob".into()],
                moves: vec!["roll".into()],
                game: Some(Game {
                    title: "Dice".into(),
                    text: "first to 20".into(),
                }),
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
            announcer: false
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
            // Bounded, so that CI stays fast: a few thousand cases over the three properties.
            ProptestConfig::with_cases(1000)
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
                byte in any::<u8>(),
            ) {
                let mut origin = Origin::new("alice");
                let Ok(payload) = Payload::new(&Body::Chat { text }) else {
                    return Ok(());
                };
                let (_, bytes) = origin.datagrams(&payload).remove(0);
                let mut signed = Guard::new(Some(&key())).seal(&bytes).into_owned();
                let index = at.index(signed.len());
                prop_assume!(signed[index] != byte);
                signed[index] = byte;
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

    #[test]
    fn names_are_checked() {
        assert_eq!(name_problem("alice"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem(&"a".repeat(25)).is_some());
        assert!(name_problem("a\u{1b}[31m").is_some());
        assert!(name_problem(" alice").is_some());
        // Invisible characters could make a name pass for another one.
        assert!(name_problem("ali\u{200B}ce").is_some());
        assert!(name_problem("\u{202E}ecila").is_some());
        assert!(name_problem("ålice 🎲").is_none());
    }
}
