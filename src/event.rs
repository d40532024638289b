//! What a player sees: the events a player renders on screen or prints with `--json`.
//!
//! These are not datagrams: the player turns what arrives into events (adding who sent a chat
//! line, dropping what is not for it), and rendering works only from events.

use serde::Serialize;

use crate::protocol::{Announcement, Body, Datagram};

/// One thing a player sees. With `--json` each is printed as one line: `kind` plus its fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The announcer accepted us into the game.
    Welcome {
        /// Our name.
        player: String,
        /// Everyone in the game, ourselves included, in join order.
        players: Vec<String>,
        /// Lines that are moves; anything else we type is chat.
        moves: Vec<String>,
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
    /// Something the player program itself has to say (a line too long to send…).
    Notice {
        /// What.
        text: String,
    },
    /// What the game's script announced, exactly as the announcer sent it.
    #[serde(untagged)]
    Announcement(Announcement),
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
            Body::Close { text } => Event::Close { text },
            Body::Move { .. } | Body::Hello { .. } | Body::Welcome { .. } | Body::Refuse { .. } => {
                return None;
            }
        })
    }

    /// The event as one line of JSON, as `player --json` prints it.
    pub fn to_json(&self) -> String {
        // Events hold only strings, numbers and lists of them: serializing cannot fail.
        serde_json::to_string(self).expect("an Event always serializes")
    }
}
