//! What a player's screen knows of the game, built from the events the player shows: who is
//! here and how, the ranking with each player's move since the last one, the game's title and
//! phase, the countdown running, and the log of everything shown. The full-screen view draws
//! it and the local commands (`/who`, `/score`) read it; it never sees a datagram.
//!
//! Everything here comes from the network through events, so nothing trusts a number: a
//! countdown of any length or a ranking of any size is clamped or bounded, never a panic.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::event::{Event, Link};
use crate::protocol::{Announcement, Entry, MAX_COUNTDOWN};

/// The most log entries kept for scrollback: older ones are dropped (a long game must not grow
/// memory without end).
pub const MAX_LOG: usize = 5000;

/// The most players listed: beyond, the oldest who left are forgotten first.
pub const MAX_LISTED: usize = 1024;

/// Where the game stands, as the player saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No announcer has welcomed us (the lab's plain chat, or still joining).
    Chat,
    /// Welcomed, no game started yet.
    Lobby,
    /// Between a game's start and its end.
    Playing,
    /// The game ended (a rematch may follow).
    Over,
    /// The announcer closed the game.
    Closed,
}

impl Phase {
    /// The phase in a word, for the status line.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Chat => "chat",
            Phase::Lobby => "lobby",
            Phase::Playing => "playing",
            Phase::Over => "between games",
            Phase::Closed => "closed",
        }
    }
}

/// How a listed player is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Here and playing.
    Here,
    /// Came back after leaving or losing the connection.
    Rejoined,
    /// Left, for this reason.
    Left(String),
    /// Their connection was lost.
    Lost,
}

/// A countdown running: a turn, a question, the lobby.
#[derive(Debug, Clone, PartialEq)]
pub struct Countdown {
    /// What the time is for.
    pub text: String,
    /// When it runs out.
    pub until: Instant,
    /// How long it was when it began.
    pub length: Duration,
    /// Whether we typed a move since it began (then no warning before it runs out).
    pub acted: bool,
    /// Whether the line mode already warned that it runs out.
    pub warned: bool,
    /// For a question: how many of how many players have answered, as the game last said.
    pub answered: Option<(u32, u32)>,
}

impl Countdown {
    /// The time left at `now` (zero once it ran out).
    pub fn left(&self, now: Instant) -> Duration {
        self.until.saturating_duration_since(now)
    }
}

/// One line of the log: an event the player showed, or the answer to a local command.
#[derive(Debug, Clone, PartialEq)]
pub enum Logged {
    /// An event, as shown.
    Shown(Event),
    /// The player program's own words (a `/who` answer): never from the network.
    Local(String),
}

/// One ranked line with the player's move since the previous ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The entry as the announcer sent it.
    pub entry: Entry,
    /// Places gained since the last ranking (negative: lost); `None` when new to it.
    pub moved: Option<i64>,
}

/// The model of a player's screen.
#[derive(Debug, Clone)]
pub struct Board {
    /// Our own name.
    pub me: String,
    /// The game's title, once a game started (or a welcome told it).
    pub title: Option<String>,
    /// Where the game stands.
    pub phase: Phase,
    /// The players, in the order we learnt of them.
    pub players: Vec<(String, Presence)>,
    /// The latest ranking, best first.
    pub ranking: Vec<Ranked>,
    /// The last ranking before the game ended: the podium.
    pub podium: Vec<Entry>,
    /// The countdown running, if any.
    pub countdown: Option<Countdown>,
    /// The lines that are moves, as the welcome said (patterns, starting with `^`, included).
    pub moves: Vec<String>,
    /// What became of the announcer, if something did.
    pub announcer: Option<Link>,
    /// Everything shown, oldest first, bounded by [`MAX_LOG`].
    pub log: VecDeque<Logged>,
    /// How many log entries were dropped from the front, to keep it within [`MAX_LOG`].
    pub dropped: u64,
}

impl Board {
    /// An empty board for the player named `me`.
    pub fn new(me: &str) -> Board {
        Board {
            me: me.to_string(),
            title: None,
            phase: Phase::Chat,
            players: Vec::new(),
            ranking: Vec::new(),
            podium: Vec::new(),
            countdown: None,
            moves: Vec::new(),
            announcer: None,
            log: VecDeque::new(),
            dropped: 0,
        }
    }

    /// The player saw `event` at `now`.
    pub fn apply(&mut self, event: &Event, now: Instant) {
        self.follow(event, now);
        // How many have answered is news for the status line, not a line of the log each time.
        if !matches!(event, Event::Announcement(Announcement::Answered { .. })) {
            self.log(Logged::Shown(event.clone()));
        }
    }

    /// A line of the player program's own (a local command's answer) for the log.
    pub fn note(&mut self, text: String) {
        self.log(Logged::Local(text));
    }

    fn log(&mut self, entry: Logged) {
        if self.log.len() >= MAX_LOG {
            self.log.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        self.log.push_back(entry);
    }

    /// The person typed a line, a move if `is_move`: a move answers the countdown running.
    pub fn typed(&mut self, is_move: bool) {
        if let (true, Some(countdown)) = (is_move, self.countdown.as_mut()) {
            countdown.acted = true;
        }
    }

    fn follow(&mut self, event: &Event, now: Instant) {
        match event {
            Event::Welcome {
                players,
                moves,
                game,
                ranking,
                ..
            } => {
                self.phase = if game.is_some() {
                    Phase::Playing
                } else {
                    Phase::Lobby
                };
                if let Some(game) = game {
                    self.title = Some(game.title.clone());
                }
                for name in players {
                    self.arrive(name);
                }
                self.moves = moves.clone();
                self.rank(ranking);
            }
            Event::Join { player } => self.arrive(player),
            Event::Leave { player, reason } => {
                let presence = if reason == "connection lost" || reason == "timeout" {
                    Presence::Lost
                } else {
                    Presence::Left(reason.clone())
                };
                self.set(player, presence);
                // Whoever left is out of the game: not in the ranking shown, nor on the podium
                // (the next ranking the game sends says the same).
                if self.phase == Phase::Playing {
                    self.ranking.retain(|r| r.entry.name != *player);
                }
            }
            Event::Close { .. } => {
                self.phase = Phase::Closed;
                self.countdown = None;
            }
            Event::Announcer { state } => {
                self.announcer = match state {
                    Link::Back => None,
                    other => Some(*other),
                };
            }
            Event::Announcement(announcement) => self.announced(announcement, now),
            Event::Refused { .. }
            | Event::Chat { .. }
            | Event::Lost { .. }
            | Event::Protection { .. }
            | Event::Notice { .. } => {}
        }
    }

    fn announced(&mut self, announcement: &Announcement, now: Instant) {
        match announcement {
            Announcement::GameStart { title, .. } => {
                self.title = Some(title.clone());
                self.phase = Phase::Playing;
                self.ranking.clear();
                self.podium.clear();
                self.countdown = None;
            }
            Announcement::GameEnd { .. } => {
                self.phase = Phase::Over;
                self.podium = self.ranking.iter().map(|r| r.entry.clone()).collect();
                self.countdown = None;
            }
            Announcement::Ranking { entries } => self.rank(entries),
            Announcement::Countdown { seconds, text } => {
                self.start_countdown(text.clone(), *seconds, now);
            }
            Announcement::Question {
                number,
                total,
                seconds,
                ..
            } => {
                let text = format!("Question {number} of {total}: answer");
                self.start_countdown(text, f64::from(*seconds), now);
            }
            Announcement::Answered { count, of } => {
                if let Some(countdown) = &mut self.countdown {
                    countdown.answered = Some((*count, *of));
                }
            }
            Announcement::Announce { .. }
            | Announcement::Tell { .. }
            | Announcement::Tally { .. }
            | Announcement::Congratulate { .. } => {}
        }
    }

    fn start_countdown(&mut self, text: String, seconds: f64, now: Instant) {
        // The decoder refuses what is out of range; a board built some other way must not
        // panic on it either.
        let seconds = if seconds.is_finite() {
            seconds.clamp(0.0, MAX_COUNTDOWN)
        } else {
            0.0
        };
        let length = Duration::from_secs_f64(seconds);
        self.countdown = Some(Countdown {
            text,
            until: now.checked_add(length).unwrap_or(now),
            length,
            acted: false,
            warned: false,
            answered: None,
        });
    }

    fn rank(&mut self, entries: &[Entry]) {
        if entries.is_empty() {
            return;
        }
        let before: HashMap<&str, u32> = self
            .ranking
            .iter()
            .map(|r| (r.entry.name.as_str(), r.entry.rank))
            .collect();
        let ranking = entries
            .iter()
            .map(|entry| Ranked {
                entry: entry.clone(),
                moved: before
                    .get(entry.name.as_str())
                    .map(|old| i64::from(*old) - i64::from(entry.rank)),
            })
            .collect();
        self.ranking = ranking;
    }

    fn arrive(&mut self, name: &str) {
        let presence = match self.presence(name) {
            Some(Presence::Left(_) | Presence::Lost) => Presence::Rejoined,
            Some(other) => other.clone(),
            None => Presence::Here,
        };
        self.set(name, presence);
    }

    fn set(&mut self, name: &str, presence: Presence) {
        if let Some(slot) = self.players.iter_mut().find(|(n, _)| n == name) {
            slot.1 = presence;
            return;
        }
        if self.players.len() >= MAX_LISTED {
            // Forget someone who left first; with everyone here, the oldest.
            let gone = self
                .players
                .iter()
                .position(|(_, p)| matches!(p, Presence::Left(_) | Presence::Lost))
                .unwrap_or(0);
            self.players.remove(gone);
        }
        self.players.push((name.to_string(), presence));
    }

    /// How `name` is, if listed.
    pub fn presence(&self, name: &str) -> Option<&Presence> {
        self.players
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, presence)| presence)
    }

    /// The names of the players here now (not those who left), in order.
    pub fn here(&self) -> Vec<&str> {
        self.players
            .iter()
            .filter(|(_, p)| matches!(p, Presence::Here | Presence::Rejoined))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// The moves a person types (the words, not the patterns), for completion and help.
    pub fn words(&self) -> Vec<&str> {
        self.moves
            .iter()
            .map(String::as_str)
            .filter(|m| !m.starts_with('^'))
            .collect()
    }

    /// Once per countdown, when it is about to run out without a move from us: the line mode's
    /// warning ("4 s left: Round 3: type roll").
    pub fn warning(&mut self, now: Instant) -> Option<String> {
        if !self.hurry(now) {
            return None;
        }
        let countdown = self.countdown.as_mut()?;
        if countdown.warned {
            return None;
        }
        countdown.warned = true;
        let left = countdown.left(now).as_secs_f64().ceil();
        Some(format!(
            "{left:.0} s left: {}",
            crate::text::visible(&countdown.text)
        ))
    }

    /// Whether the countdown running is about to run out at `now` without a move from us: the
    /// moment to warn ("5 s left").
    pub fn hurry(&self, now: Instant) -> bool {
        self.countdown.as_ref().is_some_and(|c| {
            let left = c.left(now);
            !c.acted && self.phase == Phase::Playing && left > Duration::ZERO && left <= HURRY
        })
    }
}

/// How long before a countdown runs out a player who has not moved is warned.
pub const HURRY: Duration = Duration::from_secs(5);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::Game;
    use proptest::prelude::*;

    fn ranking(entries: Vec<Entry>) -> Event {
        Event::Announcement(Announcement::Ranking { entries })
    }

    #[test]
    fn rank_moves_are_counted_from_the_previous_ranking() {
        let mut board = Board::new("alice");
        let t = Instant::now();
        board.apply(
            &ranking(vec![Entry::new(1, "bob", 6), Entry::new(2, "alice", 5)]),
            t,
        );
        assert_eq!(board.ranking[0].moved, None);
        board.apply(
            &ranking(vec![
                Entry::new(1, "alice", 11),
                Entry::new(2, "bob", 10),
                Entry::new(2, "carol", 10),
            ]),
            t,
        );
        let moved: Vec<Option<i64>> = board.ranking.iter().map(|r| r.moved).collect();
        assert_eq!(moved, [Some(1), Some(-1), None]);
    }

    #[test]
    fn players_leave_lose_the_connection_and_come_back() {
        let mut board = Board::new("alice");
        let t = Instant::now();
        board.apply(
            &Event::Welcome {
                announcer: None,
                player: "alice".into(),
                players: vec!["bob".into(), "alice".into()],
                moves: vec!["roll".into(), "^%a$".into()],
                game: Some(Game {
                    title: "Dice race".into(),
                    text: String::new(),
                }),
                ranking: vec![],
            },
            t,
        );
        assert_eq!(board.phase, Phase::Playing);
        assert_eq!(board.words(), ["roll"]);
        board.apply(
            &Event::Leave {
                player: "bob".into(),
                reason: "connection lost".into(),
            },
            t,
        );
        assert_eq!(board.presence("bob"), Some(&Presence::Lost));
        assert_eq!(board.here(), ["alice"]);
        board.apply(
            &Event::Join {
                player: "bob".into(),
            },
            t,
        );
        assert_eq!(board.presence("bob"), Some(&Presence::Rejoined));
    }

    #[test]
    fn a_countdown_warns_only_who_has_not_moved() {
        let mut board = Board::new("alice");
        let t = Instant::now();
        board.apply(
            &Event::Announcement(Announcement::GameStart {
                title: "Dice".into(),
                text: String::new(),
            }),
            t,
        );
        board.apply(
            &Event::Announcement(Announcement::Countdown {
                seconds: 15.0,
                text: "Round 1: type roll".into(),
            }),
            t,
        );
        assert!(!board.hurry(t));
        assert!(board.hurry(t + Duration::from_secs(11)));
        assert!(!board.hurry(t + Duration::from_secs(15)), "ran out");
        let at = t + Duration::from_millis(10_500);
        assert_eq!(
            board.warning(at).as_deref(),
            Some("5 s left: Round 1: type roll")
        );
        assert_eq!(board.warning(at), None, "once per countdown");
        board.typed(true);
        assert!(!board.hurry(t + Duration::from_secs(11)));
    }

    #[test]
    fn a_player_who_leaves_mid_game_is_not_on_the_podium() {
        let mut board = Board::new("bob");
        let t = Instant::now();
        board.apply(
            &Event::Announcement(Announcement::GameStart {
                title: "Dice".into(),
                text: String::new(),
            }),
            t,
        );
        board.apply(
            &ranking(vec![Entry::new(1, "alice", 16), Entry::new(2, "bob", 12)]),
            t,
        );
        board.apply(
            &Event::Leave {
                player: "alice".into(),
                reason: "quit".into(),
            },
            t,
        );
        board.apply(
            &Event::Announcement(Announcement::GameEnd {
                text: String::new(),
            }),
            t,
        );
        let podium: Vec<&str> = board.podium.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(podium, ["bob"]);
    }

    #[test]
    fn the_log_is_bounded() {
        let mut board = Board::new("alice");
        let t = Instant::now();
        for i in 0..MAX_LOG + 10 {
            board.apply(
                &Event::Chat {
                    from: "bob".into(),
                    text: i.to_string(),
                },
                t,
            );
        }
        assert_eq!(board.log.len(), MAX_LOG);
        assert_eq!(board.dropped, 10);
    }

    /// Any event, with boundary values in its numbers: for the models built from events.
    pub(crate) fn any_event() -> impl Strategy<Value = Event> {
        let name = prop_oneof![
            Just("alice".to_string()),
            Just("bob".to_string()),
            "[a-z]{1,3}"
        ];
        let number = prop_oneof![Just(0u32), Just(1), Just(u32::MAX), any::<u32>()];
        let score = prop_oneof![
            Just(0i64),
            Just(i64::MIN),
            Just(i64::MAX),
            Just(1i64 << 53),
            any::<i64>()
        ];
        let seconds = prop_oneof![
            Just(0.0f64),
            Just(-1.0),
            Just(f64::MAX),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(9007199254740992.0),
            any::<f64>()
        ];
        prop_oneof![
            (name.clone(), "[a-z ]{0,8}").prop_map(|(from, text)| Event::Chat { from, text }),
            name.clone().prop_map(|player| Event::Join { player }),
            (
                name.clone(),
                prop_oneof![
                    Just("quit".to_string()),
                    Just("connection lost".to_string())
                ]
            )
                .prop_map(|(player, reason)| Event::Leave { player, reason }),
            proptest::collection::vec((number.clone(), name.clone(), score), 0..6).prop_map(|e| {
                ranking(
                    e.into_iter()
                        .map(|(rank, name, score)| Entry { rank, name, score })
                        .collect(),
                )
            }),
            (seconds, "[a-z ]{0,8}").prop_map(|(seconds, text)| {
                Event::Announcement(Announcement::Countdown { seconds, text })
            }),
            (number.clone(), number.clone(), number.clone()).prop_map(
                |(number, total, seconds)| {
                    Event::Announcement(Announcement::Question {
                        number,
                        total,
                        text: "q".into(),
                        choices: vec!["a".into(), "b".into()],
                        seconds,
                    })
                }
            ),
            (number.clone(), number.clone()).prop_map(|(count, of)| {
                Event::Announcement(Announcement::Answered { count, of })
            }),
            (
                proptest::collection::vec(number.clone(), 0..30),
                proptest::option::of(number.clone())
            )
                .prop_map(|(counts, correct)| {
                    Event::Announcement(Announcement::Tally { counts, correct })
                }),
            Just(Event::Announcement(Announcement::GameStart {
                title: "T".into(),
                text: String::new()
            })),
            Just(Event::Announcement(Announcement::GameEnd {
                text: String::new()
            })),
            Just(Event::Close {
                text: String::new()
            }),
        ]
    }

    proptest! {
        /// Whatever arrives, in any order, with any numbers, the board neither panics nor
        /// grows past its bounds, and every countdown ends within a day.
        #[test]
        fn any_events_keep_the_board_sound(
            events in proptest::collection::vec(any_event(), 0..60),
            moved in proptest::collection::vec(any::<bool>(), 0..60),
            later in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()],
        ) {
            let mut board = Board::new("alice");
            let t = Instant::now();
            for (event, is_move) in events.iter().zip(moved.iter().chain(std::iter::repeat(&false))) {
                board.apply(event, t);
                board.typed(*is_move);
                prop_assert!(board.players.len() <= MAX_LISTED);
                if let Some(c) = &board.countdown {
                    prop_assert!(c.length <= Duration::from_secs_f64(MAX_COUNTDOWN));
                }
                let at = t.checked_add(Duration::from_millis(later)).unwrap_or(t);
                let _ = board.hurry(at);
            }
            // Everything is logged but how many answered (the status line shows that).
            let logged = events
                .iter()
                .filter(|e| !matches!(e, Event::Announcement(Announcement::Answered { .. })))
                .count();
            prop_assert_eq!(board.log.len(), logged.min(MAX_LOG));
        }
    }
}
