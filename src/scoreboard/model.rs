//! What the scoreboard shows, built from the events a spectator sees: the player's own model
//! of the game ([`Board`]: players, ranking with moves, podium, countdown), plus what a room
//! looks at and a player's screen does not keep (the open question and its answers coming in,
//! how the answers were spread, the last announcement). [`Scoreboard::snapshot`] is all of it
//! as one JSON object: the page draws each one whole, so a browser that connects late, or
//! again, is where everyone else is at once.

use std::time::Instant;

use serde_json::{Value, json};

use crate::event::Event;
use crate::protocol::{Announcement, Entry};
use crate::view::Board;
use crate::view::board::{Phase, Presence};

/// How many of the ranking the page lists.
pub const TOP: usize = 5;

/// How many of those who left the page names (the latest).
const LEFT_SHOWN: usize = 10;

/// The longest text kept from the network, in characters: a page for a room, not a book.
const MAX_TEXT: usize = 600;

/// The question open, or the last one.
#[derive(Debug, Clone)]
struct Question {
    number: u32,
    total: u32,
    text: String,
    choices: Vec<String>,
    seconds: u32,
    /// How many answered, of how many asked.
    answered: Option<(u32, u32)>,
    /// How the answers were spread, once it closed.
    tally: Option<(Vec<u32>, Option<u32>)>,
}

/// The scoreboard's model of the game.
#[derive(Debug)]
pub struct Scoreboard {
    board: Board,
    question: Option<Question>,
    announcement: Option<String>,
    /// Bumped at every change: the Server-Sent Events' id.
    version: u64,
}

impl Default for Scoreboard {
    fn default() -> Scoreboard {
        Scoreboard {
            // Nobody is "me" on a projector: no row is highlighted as one's own.
            board: Board::new(""),
            question: None,
            announcement: None,
            version: 0,
        }
    }
}

/// `text` cut to [`MAX_TEXT`] characters.
fn short(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

impl Scoreboard {
    /// The spectator saw `event` at `now`.
    pub fn apply(&mut self, event: &Event, now: Instant) {
        self.board.apply(event, now);
        self.version = self.version.saturating_add(1);
        let Event::Announcement(announcement) = event else {
            return;
        };
        match announcement {
            Announcement::GameStart { .. } => {
                self.question = None;
                self.announcement = None;
            }
            Announcement::Question {
                number,
                total,
                text,
                choices,
                seconds,
            } => {
                self.question = Some(Question {
                    number: *number,
                    total: *total,
                    text: short(text),
                    choices: choices.iter().map(|c| short(c)).collect(),
                    seconds: *seconds,
                    answered: None,
                    tally: None,
                });
            }
            Announcement::Answered { count, of } => {
                if let Some(question) = &mut self.question {
                    question.answered = Some((*count, *of));
                }
            }
            Announcement::Tally { counts, correct } => {
                if let Some(question) = &mut self.question {
                    question.tally = Some((counts.clone(), *correct));
                }
            }
            Announcement::Announce { text } | Announcement::Congratulate { text, .. } => {
                self.announcement = Some(short(text));
            }
            _ => {}
        }
    }

    /// The version of the model: bumped at every event.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Everything the page shows, at `now` (countdowns as milliseconds left).
    pub fn snapshot(&self, now: Instant) -> Value {
        let board = &self.board;
        let phase = match board.phase {
            Phase::Chat if board.players.is_empty() => "waiting for a game",
            Phase::Chat | Phase::Lobby => "lobby",
            Phase::Playing => "playing",
            Phase::Over => "game over",
            Phase::Closed => "closed",
        };
        let players: Vec<Value> = board
            .players
            .iter()
            .map(|(name, presence)| {
                let state = match presence {
                    Presence::Here => "here",
                    Presence::Rejoined => "back",
                    Presence::Left(_) => "left",
                    Presence::Lost => "connection lost",
                };
                json!({"name": name, "state": state})
            })
            .collect();
        let left: Vec<&str> = board
            .players
            .iter()
            .filter(|(_, p)| matches!(p, Presence::Left(_) | Presence::Lost))
            .map(|(name, _)| name.as_str())
            .rev()
            .take(LEFT_SHOWN)
            .collect();
        let top: Vec<Value> = board
            .ranking
            .iter()
            .take(TOP)
            .map(|r| {
                json!({"rank": r.entry.rank, "name": r.entry.name, "score": r.entry.score,
                       "moved": r.moved})
            })
            .collect();
        let entry = |e: &Entry| json!({"rank": e.rank, "name": e.name, "score": e.score});
        let podium: Vec<Value> = board
            .podium
            .iter()
            .take_while(|e| e.rank <= 3)
            .map(entry)
            .collect();
        let countdown = board
            .countdown
            .as_ref()
            .map(|c| json!({"text": short(&c.text), "left_ms": c.left(now).as_millis() as u64}));
        let question = self.question.as_ref().map(|q| {
            json!({
                "number": q.number, "total": q.total, "text": q.text, "choices": q.choices,
                "seconds": q.seconds,
                "answered": q.answered.map(|(count, of)| json!({"count": count, "of": of})),
                "tally": q.tally.as_ref().map(|(counts, correct)|
                    json!({"counts": counts, "correct": correct})),
            })
        });
        json!({
            "version": self.version,
            "title": board.title.as_deref().map(short),
            "phase": phase,
            "players": players,
            "left": left,
            "top": top,
            "ranked": board.ranking.len(),
            "podium": podium,
            "countdown": countdown,
            "question": question,
            "announcement": self.announcement,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn said(announcement: Announcement) -> Event {
        Event::Announcement(announcement)
    }

    #[test]
    fn a_quiz_as_the_room_sees_it() {
        let t = Instant::now();
        let mut board = Scoreboard::default();
        assert_eq!(board.snapshot(t)["phase"], "waiting for a game");
        for name in ["<script>x</script>", "bob"] {
            board.apply(
                &Event::Join {
                    player: name.into(),
                },
                t,
            );
        }
        assert_eq!(board.snapshot(t)["phase"], "lobby");
        board.apply(
            &said(Announcement::GameStart {
                title: "Trivia".into(),
                text: String::new(),
            }),
            t,
        );
        board.apply(
            &said(Announcement::Question {
                number: 1,
                total: 2,
                text: "Which range is multicast?".into(),
                choices: vec!["10.0.0.0/8".into(), "224.0.0.0/4".into()],
                seconds: 20,
            }),
            t,
        );
        board.apply(&said(Announcement::Answered { count: 1, of: 2 }), t);
        let now = board.snapshot(t + Duration::from_secs(5));
        assert_eq!(now["phase"], "playing");
        assert_eq!(now["question"]["answered"], json!({"count": 1, "of": 2}));
        assert_eq!(now["question"]["tally"], Value::Null);
        assert_eq!(now["countdown"]["left_ms"], 15_000);
        board.apply(
            &said(Announcement::Tally {
                counts: vec![0, 2],
                correct: Some(2),
            }),
            t,
        );
        board.apply(
            &said(Announcement::Ranking {
                entries: vec![
                    Entry::new(1, "bob", 900),
                    Entry::new(2, "<script>x</script>", 800),
                ],
            }),
            t,
        );
        board.apply(
            &Event::Leave {
                player: "bob".into(),
                reason: "quit".into(),
            },
            t,
        );
        let now = board.snapshot(t);
        assert_eq!(
            now["question"]["tally"],
            json!({"counts": [0, 2], "correct": 2})
        );
        assert_eq!(now["left"], json!(["bob"]));
        // Names are data: the page shows them as text.
        assert_eq!(now["players"][0]["name"], "<script>x</script>");
        board.apply(
            &said(Announcement::GameEnd {
                text: String::new(),
            }),
            t,
        );
        let end = board.snapshot(t);
        assert_eq!(end["phase"], "game over");
        assert_eq!(end["podium"][0]["name"], "<script>x</script>");
        assert!(end["version"].as_u64().unwrap() >= 8);
    }

    proptest! {
        #![proptest_config(crate::reliable::peers::tests::config())]

        /// Whatever the events and the clock, a snapshot is made and stays small.
        #[test]
        fn any_events_make_a_bounded_snapshot(
            steps in prop::collection::vec(crate::view::board::tests::any_event(), 0..200),
            later in prop_oneof![Just(0u64), Just(1 << 53), Just(u64::MAX), any::<u64>()],
        ) {
            let t = Instant::now();
            let mut board = Scoreboard::default();
            for event in &steps {
                board.apply(event, t);
            }
            let at = t.checked_add(Duration::from_millis(later)).unwrap_or(t);
            let snapshot = board.snapshot(at).to_string();
            prop_assert!(snapshot.len() < 2_000_000);
        }
    }
}
