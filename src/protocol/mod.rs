//! The wire: what one datagram carries, its limits, and why one is refused. Nothing else in
//! gamecast knows the bytes.
//!
//! A datagram is one JSON object: a header (`v`, `from`, `session`, `seq`) and a body whose `kind`
//! says what it is. docs/protocol.md describes every kind for people writing their own tools.
//! The parts: the types and limits here; [`codec`] encodes and decodes, and refuses numbers and
//! shapes no honest sender makes; [`fragment`] splits large events and puts them back together;
//! in a game with a key, [`seal`] adds a signature and a counter at the end of every datagram.

// Numbers here come from the network: every sum and difference says what happens at the edge.
#![deny(clippy::arithmetic_side_effects)]

use serde::{Deserialize, Serialize};

pub mod codec;
pub mod fragment;
pub mod seal;

pub use codec::{Origin, Payload, decode, encode};
pub use fragment::Reassembly;
pub use seal::Guard;

/// Reads a datagram, signed or not, without checking its signature: only for what this process
/// sent itself (a recording's own datagrams, to know who recorded it), never for what arrives.
pub fn decode_own(bytes: &[u8]) -> Decoded {
    if seal::looks_signed(bytes) {
        codec::decode_signed(bytes)
    } else {
        codec::decode(bytes)
    }
}

/// The protocol version this build speaks; datagrams with another `v` are refused.
pub const VERSION: u32 = 1;

/// The largest datagram we send. It fits a 1500-byte Ethernet frame with IP and UDP headers,
/// so a datagram is never fragmented by IP (a lost fragment loses the whole datagram).
pub const MAX_DATAGRAM: usize = 1400;

/// The name the announcer's datagrams carry.
pub const ANNOUNCER_NAME: &str = "announcer";

/// The largest sequence number, session, counter or position a datagram may carry: 2^53 - 1,
/// the largest integer every JSON reader (JavaScript's included) holds exactly. A number at or
/// above 2^53 is refused by the decoder, so that no arithmetic on numbers from the network can
/// come near the end of a `u64`.
pub const MAX_NUMBER: u64 = (1 << 53) - 1;

/// The longest line a player may send (chat or a move), and the longest plain-text datagram
/// read as chat, in bytes of UTF-8: an IRC line is 512 bytes too. Longer lines are refused by
/// the player that would send them, and dropped by every receiver.
pub const MAX_LINE: usize = 512;

/// The most ranges one `nack` or `expired` may carry.
pub const MAX_RANGES: usize = 64;

/// The most pieces one fragmented event may have: a [`MAX_EVENT`] event in pieces of the
/// smallest size a sender makes fits in far fewer.
pub const MAX_PARTS: u32 = 512;

/// The most players one game holds, and the most names and streams a welcome may list: the
/// welcome of a full game fits one event.
pub const MAX_PLAYERS: usize = 1024;

/// The shortest and longest heartbeat intervals a sender may announce, in milliseconds: a
/// receiver judges silence by them, and a member announcing weeks could never be found gone.
pub const HEARTBEAT_MS: std::ops::RangeInclusive<u32> = 10..=60_000;

/// A number naming one run of one process, so that a restarted player or announcer is told
/// apart from its earlier self; later runs have larger numbers. Kept below 2^53 so that every
/// JSON tool reads it exactly.
pub type SessionId = u64;

thread_local! {
    /// Set on a thread that runs a simulated game: its epoch in milliseconds, and when on
    /// tokio's (virtual) clock it began.
    static SIMULATED_EPOCH: std::cell::Cell<Option<(u64, tokio::time::Instant)>> =
        const { std::cell::Cell::new(None) };
}

/// The milliseconds a simulated game's clock starts at (2023-11-14): any fixed time in the
/// past will do, so that the sessions of a real game that may follow are newer.
pub const SIMULATED_EPOCH_MS: u64 = 1_700_000_000_000;

/// Sessions made on this thread from now on count time on tokio's clock from
/// [`SIMULATED_EPOCH_MS`] (for a simulated game, whose clock is virtual), not the system's.
pub fn simulate_session_clock() {
    SIMULATED_EPOCH.set(Some((SIMULATED_EPOCH_MS, tokio::time::Instant::now())));
}

/// Picks a new session id: the time in milliseconds, then 11 random bits. Later runs get
/// larger ids, so that a receiver tells a restart (a newer session) from a replay of an old
/// one; two runs started in the same millisecond still differ, by chance, 2047 times in 2048.
pub fn new_session() -> SessionId {
    let millis = match SIMULATED_EPOCH.get() {
        // A simulated game's sessions follow its clock, so that a seed gives the same sessions
        // (and the same order of members) each time.
        Some((epoch, origin)) => {
            epoch.saturating_add(u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX))
        }
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    // 42 bits of milliseconds (until the year 2109) and 11 random bits, never all zero (the
    // announcer's text players have those): below 2^53.
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
        /// This announcer was started to take over from an older one on the group: the older
        /// one hands its players over and leaves (without this, the newer one leaves).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        take_over: bool,
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
        game: Option<Box<Game>>,
        /// The latest ranking sent, if any.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ranking: Vec<Entry>,
        /// Where each player's own numbered datagrams stand, as the announcer has them: the
        /// new player listens to each from the next one on, so that a chat line lost right
        /// after its welcome is asked for again like any other.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        streams: Vec<Stream>,
        /// Others this same welcome lets in: in a join storm the announcer answers everyone who
        /// asked within a few milliseconds with one welcome, rather than one each (a welcome
        /// lists everyone, so a thousand of them would be a thousand times the roster).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<Newcomer>,
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
    /// The announcer is going away; players leave too, unless it names a `successor`.
    Close {
        /// Why, for players to show.
        text: String,
        /// The session of the announcer whose game goes on: players join it instead of leaving
        /// (one of two announcers on a group handing over to the other).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        successor: Option<SessionId>,
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
    /// A spectator (the scoreboard) asks where the game stands: it never joins, so no welcome
    /// tells it. Not numbered.
    Watch,
    /// The announcer's answer to a `watch`: the game's state, for the spectator `to_session`
    /// only (the others ignore it).
    Snapshot {
        /// The spectator's session.
        to_session: SessionId,
        /// Everyone in the game now, in join order.
        players: Vec<String>,
        /// The game in progress, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        game: Option<Box<Game>>,
        /// The latest ranking sent, if any.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ranking: Vec<Entry>,
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
        /// The announcer closed its game and only stays to repair its last datagrams: a new
        /// announcer starting now is not a rival.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        closing: bool,
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
    /// An announcement with a deadline (a turn, a phase): players show the time left.
    Countdown {
        /// How long from now, in seconds (0 to [`MAX_COUNTDOWN`]).
        seconds: f64,
        /// What the time is for ("Round 3: type roll").
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
    /// How many of the players asked have answered the open question, without saying what:
    /// for a room to see the answers come in.
    Answered {
        /// Answers in.
        count: u32,
        /// Players who were asked.
        of: u32,
    },
    /// How the answers to a question that just closed were spread over its choices.
    Tally {
        /// Answers for each choice, in the question's order (a, b, c…).
        counts: Vec<u32>,
        /// Which choice was right, from 1, if one was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        correct: Option<u32>,
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

/// The longest countdown, in seconds: a day.
pub const MAX_COUNTDOWN: f64 = 86_400.0;

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

/// A player a welcome lets in besides its first one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Newcomer {
    /// The player's name.
    pub player: String,
    /// The player's session: only this run of the player takes the welcome as its own.
    pub to_session: SessionId,
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

impl Entry {
    /// The entry of `name` at `rank` with `score`.
    pub fn new(rank: u32, name: &str, score: i64) -> Entry {
        Entry {
            rank,
            name: name.to_string(),
            score,
        }
    }
}

impl Body {
    /// The name a welcome lets `session` in under, when it is one that does (as its first
    /// player, or among the others it lets in).
    pub fn welcomes(&self, session: SessionId) -> Option<&str> {
        let Body::Welcome {
            player,
            to_session,
            also,
            ..
        } = self
        else {
            return None;
        };
        if *to_session == session {
            return Some(player);
        }
        also.iter()
            .find(|n| n.to_session == session)
            .map(|n| n.player.as_str())
    }

    /// True for the kinds only an announcer sends.
    pub fn is_from_announcer(&self) -> bool {
        match self {
            Body::Heartbeat { announcer, .. } => *announcer,
            Body::Join
            | Body::Leave { .. }
            | Body::Chat { .. }
            | Body::Move { .. }
            | Body::Watch
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
            Body::Heartbeat { .. }
                | Body::Nack { .. }
                | Body::Expired { .. }
                | Body::Admit { .. }
                | Body::Watch
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
/// about 15 KiB; the welcome of a full game ([`MAX_PLAYERS`] names of 24 characters, even
/// of 4 bytes each) under 110 KiB.
pub const MAX_EVENT: usize = 128 * 1024;

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
    /// Larger than anything a gamecast sender makes: a datagram over [`MAX_DATAGRAM`] bytes,
    /// or plain text over [`MAX_LINE`].
    Oversized {
        /// What was too large ("datagram", "line").
        what: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
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
            Invalid::Oversized { what, bytes, limit } => {
                write!(f, "a {what} of {bytes} bytes, over the limit of {limit}")
            }
            Invalid::Stale => write!(
                f,
                "from an older run of its sender than one already heard (a recording, or a \
                 clock set back)"
            ),
        }
    }
}
