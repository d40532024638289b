//! What a player sees: the events a player renders on screen or prints with `--json`.
//!
//! These are not datagrams: the player turns what arrives into events (adding who sent a chat
//! line, dropping what is not for it), and rendering works only from events.

use serde::Serialize;

use crate::protocol::{Announcement, Body, Datagram, Entry, Game};

/// One thing a player sees. With `--json` each is printed as one line: `kind` plus its fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The announcer accepted us into the game.
    Welcome {
        /// Our name.
        player: String,
        /// Where the announcer's datagrams come from ("192.168.1.20:5007"): whose game this is.
        #[serde(skip_serializing_if = "Option::is_none")]
        announcer: Option<String>,
        /// Everyone in the game, ourselves included, in join order.
        players: Vec<String>,
        /// Lines that are moves; anything else we type is chat.
        moves: Vec<String>,
        /// The game in progress when we joined, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        game: Option<Game>,
        /// The ranking when we joined, if any was sent.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        ranking: Vec<Entry>,
    },
    /// The announcer refused us (the name is taken, or not a valid name).
    Refused {
        /// The name we asked for.
        player: String,
        /// Why.
        reason: String,
    },
    /// A player entered the group.
    Join {
        /// Who.
        player: String,
    },
    /// A player left.
    Leave {
        /// Who.
        player: String,
        /// Why ("quit", "interrupted"…).
        reason: String,
    },
    /// A chat line.
    Chat {
        /// Who wrote it.
        from: String,
        /// What they wrote.
        text: String,
    },
    /// The announcer closed the game; the player leaves.
    Close {
        /// Why.
        text: String,
    },
    /// Datagrams from `from` that could not be repaired: the gap, shown where it is.
    Lost {
        /// Whose datagrams (a player's name, or the announcer's).
        from: String,
        /// How many in a row.
        count: u64,
    },
    /// The announcer fell silent, came back, or restarted.
    Announcer {
        /// Which.
        state: Link,
    },
    /// Whether the game is protected by a game key: shown first, so that a player knows
    /// whether what follows may come from anyone on the network.
    Protection {
        /// Every datagram is signed with the game key, and only signed ones are read.
        protected: bool,
    },
    /// Something the player program itself has to say (a line too long to send…).
    Notice {
        /// What.
        text: String,
    },
    /// What the game's script announced, exactly as the announcer sent it.
    #[serde(untagged)]
    Announcement(Announcement),
}

/// What became of the announcer, as a player notices it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Nothing heard from it for several of its heartbeats.
    Unreachable,
    /// Heard again after it was unreachable.
    Back,
    /// A new run of the announcer (a new session) took over: the player joins it again.
    Restarted,
    /// The announcer handed its players over to another announcer on the group (the one that
    /// keeps the game): the player joins that one.
    HandedOver,
}

impl Event {
    /// What a datagram shows to anyone who reads it, or `None` for kinds that are only
    /// bookkeeping (moves, hello, welcome and refuse are for one reader: see the player).
    pub fn from_datagram(datagram: &Datagram) -> Option<Event> {
        let from = || datagram.from.clone();
        Some(match datagram.body.clone() {
            Body::Join => Event::Join { player: from() },
            Body::Leave { reason } => Event::Leave {
                player: from(),
                reason,
            },
            Body::Chat { text } => Event::Chat { from: from(), text },
            Body::Announcement(announcement) => Event::Announcement(announcement),
            Body::Close { text, .. } => Event::Close { text },
            Body::Left { player, reason, .. } => Event::Leave { player, reason },
            Body::Move { .. }
            | Body::Hello { .. }
            | Body::Welcome { .. }
            | Body::Refuse { .. }
            | Body::Admit { .. }
            | Body::Watch
            | Body::Snapshot { .. }
            | Body::Heartbeat { .. }
            | Body::Nack { .. }
            | Body::Expired { .. }
            | Body::Fragment { .. } => return None,
        })
    }

    /// The event with every text it carries (names included) passed through `f`: how
    /// `--ascii` shows a script's own symbols and accents on a terminal that has none.
    pub fn map_text(self, f: impl Fn(&str) -> String) -> Event {
        let all = |list: Vec<String>| list.iter().map(|s| f(s)).collect::<Vec<_>>();
        let entries = |list: Vec<Entry>| {
            list.into_iter()
                .map(|e| Entry {
                    name: f(&e.name),
                    ..e
                })
                .collect::<Vec<_>>()
        };
        match self {
            Event::Welcome {
                player,
                announcer,
                players,
                moves,
                game,
                ranking,
            } => Event::Welcome {
                player: f(&player),
                announcer,
                players: all(players),
                // Moves are what the person types back: shown as the game spells them.
                moves,
                game: game.map(|g| Game {
                    title: f(&g.title),
                    text: f(&g.text),
                }),
                ranking: entries(ranking),
            },
            Event::Refused { player, reason } => Event::Refused {
                player: f(&player),
                reason: f(&reason),
            },
            Event::Join { player } => Event::Join { player: f(&player) },
            Event::Leave { player, reason } => Event::Leave {
                player: f(&player),
                reason: f(&reason),
            },
            Event::Chat { from, text } => Event::Chat {
                from: f(&from),
                text: f(&text),
            },
            Event::Close { text } => Event::Close { text: f(&text) },
            Event::Lost { from, count } => Event::Lost {
                from: f(&from),
                count,
            },
            Event::Notice { text } => Event::Notice { text: f(&text) },
            event @ (Event::Announcer { .. } | Event::Protection { .. }) => event,
            Event::Announcement(announcement) => Event::Announcement(match announcement {
                Announcement::Announce { text } => Announcement::Announce { text: f(&text) },
                Announcement::Countdown { seconds, text } => Announcement::Countdown {
                    seconds,
                    text: f(&text),
                },
                Announcement::Tell { to, text } => Announcement::Tell {
                    to: f(&to),
                    text: f(&text),
                },
                Announcement::GameStart { title, text } => Announcement::GameStart {
                    title: f(&title),
                    text: f(&text),
                },
                Announcement::Ranking { entries: list } => Announcement::Ranking {
                    entries: entries(list),
                },
                Announcement::Question {
                    number,
                    total,
                    text,
                    choices,
                    seconds,
                } => Announcement::Question {
                    number,
                    total,
                    text: f(&text),
                    choices: all(choices),
                    seconds,
                },
                Announcement::Congratulate { player, text } => Announcement::Congratulate {
                    player: f(&player),
                    text: f(&text),
                },
                Announcement::GameEnd { text } => Announcement::GameEnd { text: f(&text) },
                numbers @ (Announcement::Answered { .. } | Announcement::Tally { .. }) => numbers,
            }),
        }
    }

    /// The event as one line of JSON, as `player --json` prints it.
    pub fn to_json(&self) -> String {
        // Events hold only strings, numbers and lists of them: serializing cannot fail.
        serde_json::to_string(self).expect("an Event always serializes")
    }
}
