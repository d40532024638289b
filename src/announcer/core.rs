//! The announcer's logic as a state machine: datagrams, saves, bots' events and the time go
//! in; [`Reaction`]s come out (datagrams to put on the link, lines for the host's console).
//! It owns the game's script and calls it, but it never touches a socket, a file watcher or
//! the clock: the loop in `announcer/mod.rs` does, and tests drive this by hand.
//!
//! Its life, in phases:
//!
//! ```text
//!   Listening ──(no older announcer heard for LISTEN_FIRST)──▶ Playing ──(stop(), Ctrl-C,
//!       │                                                         │      SIGTERM)──▶ Closing ──▶ Done
//!       └──(an older announcer is running)──▶ Done (an error, nothing sent)
//!                                                                 └──(an older announcer found
//!                                                                     later, or a newer one taking
//!                                                                     over)──▶ Closing (handing
//!                                                                     its players over) ──▶ Done
//! ```
//!
//! What it decides: who is in the game (the roster, by name and by look-alike skeleton), what
//! each member may make the script do (a rate per member, one for everyone outside), what a
//! late joiner is told (the welcome's snapshot and streams), who fell silent (judged only as of
//! the last read that found the socket empty, and not counting time this process did not run).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::budget::{Budgets, Verdict};
use crate::event::Event;
use crate::key::GameKey;
use crate::protocol::{
    self, ANNOUNCER_NAME, Announcement, Body, Datagram, Decoded, Entry, Game, Guard, Invalid,
    MAX_PLAYERS, Newcomer, Origin, Payload, SessionId,
};
use crate::reliable::{self, Arrived, Bytes, Peers, Received, SendStats, Sender};
use crate::script::{Action, Reload, Script, ScriptError};
use crate::text;

use super::text_channel;

/// How long a new announcer listens before it says anything: long enough to hear an older
/// announcer's heartbeat (one every 250 ms when it is quiet), so that two announcers never
/// split one group's players between two games.
pub const LISTEN_FIRST: Duration = Duration::from_millis(600);

/// After closing the game, the announcer stays this long to repair its last datagrams for
/// players who missed them (and beats, so that they notice).
pub const LINGER: Duration = Duration::from_millis(500);

/// Chat and watch requests a second from everyone not in the game, together (a flood of
/// made-up senders must not fill the console, nor make us send a snapshot each).
const OUTSIDERS_RATE: f64 = 50.0;
const OUTSIDERS_BURST: f64 = 100.0;

/// Joins a second from everyone not in the game, together: a full game may arrive at once (a
/// lecture hall told "join now"), and then a join storm goes on at this rate. What a join costs
/// the group is bounded by [`WELCOME_GAP`] whatever the rate; a flood of made-up players is
/// dropped for silence within [`crate::reliable::MISSED_BEATS`] heartbeats, and only a game key
/// keeps them out.
const JOINS_RATE: f64 = 500.0;
const JOINS_BURST: f64 = MAX_PLAYERS as f64;

/// At most one welcome to newcomers this often: the joins that come meanwhile wait and are
/// answered together, by one welcome. A welcome lists everyone in the game, so a welcome each
/// in a storm of a thousand joins would be a thousand times the roster on the group (15 MB,
/// half a minute of a Wi-Fi's multicast); together they are a few dozen.
pub const WELCOME_GAP: Duration = Duration::from_millis(20);

/// At most one datagram on the lab's text channel this often: lines said sooner wait and go
/// together, packed, so that a burst of events costs the wire one datagram an event plus a
/// few for the lab, not two an event. A person reading does not see 50 ms.
pub const TEXT_EVERY: Duration = Duration::from_millis(50);

/// The most newcomers one welcome lets in (the rest wait for the next): with the roster of a
/// full game of long names, the welcome still fits an event.
pub const WELCOME_BATCH: usize = 64;

/// The sessions the announcer gives text players are multiples of this: a real session's low
/// 11 bits are random and never all zero ([`protocol::new_session`]), so the two never meet.
const TEXT_SESSION_STEP: SessionId = 1 << 11;

/// Whether `session` is one the announcer gives text players ([`TEXT_SESSION_STEP`]).
fn is_text_session(session: SessionId) -> bool {
    session != 0 && session.is_multiple_of(TEXT_SESSION_STEP)
}

/// A text player (the lab's own script) says nothing for this long: gone (it cannot beat, and
/// a script stopped with Ctrl-C never says quit).
pub const TEXT_IDLE: Duration = Duration::from_secs(600);

/// The most text players in a game at once: the lab's channel is open to anyone, and a flood
/// of made-up greetings must not fill the roster.
pub const MAX_TEXT_PLAYERS: usize = 32;

/// Lines a second the whole text channel may bring to the announcer, with bursts of twice
/// that: apart from the protocol's joins, so that a flood of text cannot keep players out.
const TEXT_RATE: f64 = 20.0;

/// Sessions dropped for silence that are remembered, to tell them if they speak again.
const MAX_DROPPED: usize = 1024;

/// A turn of the loop that comes later than it was due by more than this means the process
/// did not run meanwhile (stopped, suspended, or busy in a long call): that time does not count
/// against anyone's silence. Being late by less costs nothing either way.
pub const STALL: Duration = Duration::from_millis(20);

/// What the announcer's settings are, beyond its script.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often to beat when there is nothing to say.
    pub heartbeat: Duration,
    /// A player is gone after this many of its heartbeats without a word.
    pub missed: u32,
    /// Lines a second one player may send to the script (bursts of twice that); 0: no limit.
    pub rate_limit: f64,
    /// The game key: every datagram signed, only signed ones accepted. `None`: an open game.
    pub key: Option<GameKey>,
    /// Take the group over from an announcer already running there, rather than leave.
    pub take_over: bool,
    /// Report every datagram sent and received as JSON.
    pub json: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            heartbeat: reliable::ANNOUNCER_HEARTBEAT,
            missed: reliable::MISSED_BEATS,
            rate_limit: crate::budget::RATE,
            key: None,
            take_over: false,
            json: false,
        }
    }
}

/// The reasons `on_leave` is given: a player's own three, and the announcer's "connection
/// lost" for one it stopped hearing.
pub const LEAVE_REASONS: [&str; 4] = ["quit", "end of input", "interrupted", "connection lost"];

/// A player's leave reason as the script is told it: one of [`LEAVE_REASONS`] (a reason from
/// a program of someone else's making, or a forged one, reads as `quit`).
fn leave_reason(said: &str) -> &'static str {
    LEAVE_REASONS[..3]
        .iter()
        .find(|r| **r == said)
        .copied()
        .unwrap_or("quit")
}

/// The longest refusal reason a script gives that a player is sent, in characters.
const MAX_REASON: usize = 200;

/// What the loop must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    /// Put this datagram on the link (signed already, in a game with a key).
    Transmit(Bytes),
    /// Put this on the lab's text channel (lines for people, never in a game with a key).
    Say(String),
    /// A line for the host.
    Note(String),
    /// An event for the host's console, rendered as players see it.
    Show(Event),
    /// A line of `--json` output: a datagram sent or received, or one dropped.
    Json(serde_json::Value),
}

/// How the announcer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The game is over (the script called `stop()`, or the host stopped the announcer): why.
    Over(String),
    /// Another announcer runs a game on this group, and this one leaves it to it.
    Rival {
        /// The other announcer's session.
        session: SessionId,
        /// Where its datagrams come from.
        source: SocketAddr,
        /// Whether this one had started (and handed its players over) or left before saying
        /// anything.
        handed_over: bool,
    },
    /// A newer announcer took the group over (it was started with `--take-over`).
    TakenOver {
        /// Its session.
        session: SessionId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Listening for an older announcer before saying anything.
    Listening {
        until: Instant,
    },
    Playing,
    /// The game is closed; repairs are still answered until `until`.
    Closing {
        until: Instant,
        next_beat: Instant,
    },
    Done,
}

/// One player in the game.
#[derive(Debug)]
struct Member {
    name: String,
    /// What the name looks like: two members never share one.
    skeleton: String,
    session: SessionId,
    /// The number of our first welcome to it (0 until sent): where its listening starts.
    welcomed_at: u64,
    /// When it was last welcomed: a member asking again sooner is not answered (each welcome
    /// can be a 128 KiB event to the whole group).
    welcomed: Option<Instant>,
    /// NACKs it sent us (repairs it asked for), and its own datagrams we could not have.
    asked: u64,
    lost: u64,
    /// A text player's (one of the lab's scripts, on the text channel): when it last said
    /// anything. `None` for a gamecast player.
    text: Option<Instant>,
    /// Where a text player's lines come from: its name from elsewhere is someone else's.
    text_from: Option<SocketAddr>,
}

/// The host's view of the game right now: who is connected and how well, the script, the
/// counters. The host's full-screen console draws it; nothing in it steers the game.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// "listening", "playing", "closing" or "done".
    pub phase: &'static str,
    /// The players in the game, in join order.
    pub players: Vec<PlayerLink>,
    /// The script's file.
    pub script: String,
    /// How many times it was reloaded, and the last reload: when, and what came of it.
    pub reloads: u32,
    /// The last reload's result ("reloaded in 1.2 ms" or why it failed), with its time.
    pub last_reload: Option<(Instant, String)>,
    /// The last script error, `file:line: message`, with its time.
    pub last_error: Option<(Instant, String)>,
    /// What went out: datagrams, bytes, heartbeats, NACKs received, repairs sent.
    pub sent: SendStats,
    /// Datagrams dropped as bad (malformed, forged, from outside the game and over its rate).
    pub bad: u64,
}

/// One player's link, as the announcer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerLink {
    /// The player's name.
    pub name: String,
    /// How long since anything was heard from it.
    pub silent: Duration,
    /// Repairs it asked for (NACKs).
    pub asked: u64,
    /// Its own datagrams that could not be had.
    pub lost: u64,
}

/// Where the game stands, for players who join in the middle: kept from what was sent.
#[derive(Debug, Default)]
struct Standing {
    game: Option<Game>,
    ranking: Vec<Entry>,
}

impl Standing {
    fn update(&mut self, announcement: &Announcement) {
        match announcement {
            Announcement::GameStart { title, text } => {
                self.game = Some(Game {
                    title: title.clone(),
                    text: text.clone(),
                });
                self.ranking.clear();
            }
            Announcement::Ranking { entries } => self.ranking = entries.clone(),
            Announcement::GameEnd { .. } => self.game = None,
            _ => {}
        }
    }
}

/// Another announcer heard on the group.
#[derive(Debug, Clone, Copy)]
struct Rival {
    first: Instant,
    last: Instant,
    count: u32,
    /// It said it was started to take the group over.
    takes_over: bool,
    /// It closed its game: what it sends now (repairs, a last heartbeat) is no rival's.
    closed: bool,
    warned: bool,
}

/// The most other announcers remembered at once (sessions come from the network).
const MAX_RIVALS: usize = 16;

/// How much older than ours another announcer's session may be and still be believed: its
/// session starts with the time it started, and a game of more than a month is not one.
const RIVAL_MAX_AGE_MS: u64 = 30 * 24 * 3600 * 1000;

/// What the announcer itself must send (before the script's actions, in order).
#[derive(Debug)]
enum Outgoing {
    /// A body of ours: numbered, or a control datagram.
    Send(Body),
    /// A NACK for our datagrams from `asker`: send these again.
    Repair {
        ranges: Vec<(u64, u64)>,
        asker: reliable::Asker,
    },
}

/// The announcer.
pub struct Announcer {
    script: Script,
    settings: Settings,
    phase: Phase,
    end: Option<End>,
    sender: Sender,
    /// Signs what we send and checks what we receive, when the game has a key.
    guard: Guard,
    /// The members' datagrams: in order, repaired, and their liveness.
    peers: Peers,
    /// Who is in the game, in join order.
    roster: Vec<Member>,
    /// Where each member's session is in `roster`: a member's datagram finds its member
    /// without going through everyone (a thousand players beat twice a second each).
    places: HashMap<SessionId, usize>,
    standing: Standing,
    /// What each member may make the script do (messages a second), and what all senders that
    /// are not in the game may, together (joins, chat): checked before any Lua runs.
    budgets: Budgets<SessionId>,
    outsiders: Budgets<()>,
    joins: Budgets<()>,
    /// Joins that came while a welcome had just gone out: (name, session, number of the
    /// join), answered together once [`WELCOME_GAP`] has passed. At most [`MAX_PLAYERS`].
    queued_joins: Vec<(String, SessionId, u64)>,
    /// When the last welcome to newcomers went out.
    last_welcome: Option<Instant>,
    /// When idle text players are next looked for.
    text_check_due: Instant,
    /// Lines for the text channel waiting for [`TEXT_EVERY`] to pass since the last datagram
    /// there, and when that was.
    text_queue: Vec<String>,
    text_sent: Option<Instant>,
    /// Players dropped for silence, and when we last told them so: one that speaks again
    /// (its heartbeats were lost, not the player) is told, and joins again.
    dropped: HashMap<SessionId, Instant>,
    /// Other announcers heard on the group: when first and last, how often.
    rivals: HashMap<SessionId, Rival>,
    /// The session the next text player gets.
    next_text_session: SessionId,
    /// What the whole text channel may make the announcer do, together.
    text_lines: Budgets<()>,
    bad_datagrams: u64,
    /// Whether the host was told what to do about datagrams without our key.
    key_hint_given: bool,
    /// When this announcer last said it takes the group over.
    take_over_said: Instant,
    pending: Vec<Outgoing>,
    out: Vec<Reaction>,
    /// When the loop was told to come back at the latest: a turn much later than that means
    /// the process did not run in between.
    expected: Option<Instant>,
    /// For the host's view: reloads, and the last reload's and the last error's words.
    reloads: u32,
    last_reload: Option<(Instant, String)>,
    last_error: Option<(Instant, String)>,
    /// The time of the turn in progress (for when an error happened).
    script_now: Instant,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer")
            .field("script", &self.script)
            .field("phase", &self.phase)
            .field("roster", &self.roster)
            .finish_non_exhaustive()
    }
}

impl Announcer {
    /// An announcer for `script` (loaded, its top level run), starting at `now`: it first
    /// listens for another announcer on the group.
    pub fn new(script: Script, settings: Settings, now: Instant) -> Announcer {
        Announcer::with_origin(script, settings, Origin::new(ANNOUNCER_NAME), now)
    }

    /// [`Announcer::new`] with a given header (tests pick the session).
    pub fn with_origin(
        script: Script,
        settings: Settings,
        origin: Origin,
        now: Instant,
    ) -> Announcer {
        let session = origin.session();
        let rate = settings.rate_limit;
        Announcer {
            script,
            phase: Phase::Listening {
                until: reliable_later(now, LISTEN_FIRST),
            },
            end: None,
            sender: Sender::new(origin, settings.heartbeat, true, now),
            guard: Guard::new(settings.key.as_ref()),
            peers: Peers::new(session, MAX_PLAYERS, settings.missed, now),
            roster: Vec::new(),
            places: HashMap::new(),
            standing: Standing::default(),
            budgets: Budgets::new(rate, 2.0 * rate),
            outsiders: Budgets::new(OUTSIDERS_RATE, OUTSIDERS_BURST),
            joins: Budgets::new(JOINS_RATE, JOINS_BURST),
            queued_joins: Vec::new(),
            last_welcome: None,
            text_check_due: now,
            text_queue: Vec::new(),
            text_sent: None,
            dropped: HashMap::new(),
            rivals: HashMap::new(),
            next_text_session: TEXT_SESSION_STEP,
            text_lines: Budgets::new(TEXT_RATE, TEXT_RATE * 2.0),
            bad_datagrams: 0,
            key_hint_given: false,
            take_over_said: now,
            pending: Vec::new(),
            out: Vec::new(),
            expected: None,
            reloads: 0,
            last_reload: None,
            last_error: None,
            script_now: now,
            settings,
        }
    }

    /// Our session.
    pub fn session(&self) -> SessionId {
        self.sender.origin().session()
    }

    /// The script, for the loop to watch its files.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// Whether the game is protected by a key.
    pub fn is_protected(&self) -> bool {
        self.guard.is_protected()
    }

    /// Whether the announcer has started its game (it listened first, heard no rival).
    pub fn is_playing(&self) -> bool {
        self.phase == Phase::Playing
    }

    /// How the announcer ended, once it is done.
    pub fn done(&self) -> Option<&End> {
        match self.phase {
            Phase::Done => self.end.as_ref(),
            _ => None,
        }
    }

    /// The names in the game, in join order.
    pub fn roster(&self) -> Vec<String> {
        self.roster.iter().map(|m| m.name.clone()).collect()
    }

    /// When the loop must come back at the latest (a timer, a heartbeat, a NACK, a silence,
    /// the end of a phase).
    pub fn next_deadline(&mut self) -> Instant {
        let phase = match self.phase {
            Phase::Listening { until } => Some(until),
            Phase::Closing { until, next_beat } => Some(until.min(next_beat)),
            Phase::Playing | Phase::Done => None,
        };
        let playing = self.phase == Phase::Playing;
        let at = [
            phase,
            playing.then(|| self.sender.heartbeat_due()),
            self.text_due(),
            self.welcome_due().filter(|_| playing),
            self.script.next_deadline().filter(|_| playing),
            // Only a game in play asks for repairs and judges silence: while closing, a gap
            // still open must not wake the loop (nothing would handle it, and it would spin).
            self.peers.next_deadline().filter(|_| playing),
        ]
        .into_iter()
        .flatten()
        .min()
        // Nothing at all to wait for: come back in a minute anyway, harmlessly.
        .unwrap_or_else(|| reliable_later(self.sender.heartbeat_due(), Duration::from_secs(60)));
        self.expected = Some(at);
        at
    }

    /// A turn of the loop at `now`: if it comes much later than [`Announcer::next_deadline`]
    /// said, the process did not run meanwhile, and that time counts against nobody.
    fn turn(&mut self, now: Instant) {
        self.script.set_now(now);
        self.script_now = now;
        let Some(expected) = self.expected.take() else {
            return;
        };
        let late = now.saturating_duration_since(expected);
        if late > STALL {
            self.peers.stalled(late);
            if late >= Duration::from_secs(1) {
                self.note(format!(
                    "note: this process did not run for {:.1} s (stopped, suspended, or busy in \
                     the script); nobody's silence counts for that time",
                    late.as_secs_f64()
                ));
            }
        }
    }

    /// One datagram of `size` bytes from `source`, as it came off the link.
    pub fn receive(&mut self, bytes: &[u8], source: SocketAddr, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        if self.sender.origin().is_own(bytes) {
            return Vec::new(); // our own, looped back: known by its first bytes
        }
        let decoded = self.guard.open(bytes);
        match self.phase {
            Phase::Done => {}
            Phase::Listening { .. } => self.listening(decoded, source, now),
            Phase::Closing { .. } => self.closing(decoded, source, now),
            Phase::Playing => self.playing(decoded, bytes.len(), source, now),
        }
        self.apply(now);
        std::mem::take(&mut self.out)
    }

    /// A datagram from `source` on the lab's text channel: a line of one of the lab's scripts.
    /// `NAME: Entering user` makes `~NAME` a text player, who plays by typing moves and leaves
    /// with `quit`; other lines are chat (the link hands over only the lab's scripts' lines,
    /// not members'). A game with a key has no text players: nothing unsigned steers it.
    pub fn receive_text(
        &mut self,
        bytes: &[u8],
        source: SocketAddr,
        now: Instant,
    ) -> Vec<Reaction> {
        self.turn(now);
        let open = !self.guard.is_protected();
        if open && self.phase == Phase::Playing && self.text_lines.take(&(), now) == Verdict::Allow
        {
            match protocol::decode(bytes) {
                Decoded::Text { from, text } => self.text_said(from, text, source, now),
                _ => self.bad(
                    &source.to_string(),
                    "not a line of text, on the text channel",
                ),
            }
        }
        self.apply(now);
        std::mem::take(&mut self.out)
    }

    /// A read found the socket empty at `now`: anyone silent until now is silent indeed.
    pub fn caught_up(&mut self, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        self.peers.caught_up(now);
        if self.phase == Phase::Playing {
            for session in self.peers.silent() {
                if self.dropped.len() >= MAX_DROPPED {
                    self.dropped.clear();
                }
                self.dropped.insert(session, now);
                self.remove(session, "connection lost", "timeout");
            }
        }
        self.apply(now);
        std::mem::take(&mut self.out)
    }

    /// What came due at `now`: the end of listening first, timers, NACKs, gaps given up on,
    /// a heartbeat, the end of closing.
    pub fn tick(&mut self, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        match self.phase {
            Phase::Listening { until } if now >= until => self.start(now),
            Phase::Playing => {
                self.repeat_take_over(now);
                self.drop_idle_text_players(now);
                if self.welcome_due().is_some_and(|due| now >= due) {
                    self.let_in_queued(now);
                }
                // Their errors are queued among their actions, in order.
                drop(self.script.fire_due(now));
                self.peers.set_members(self.roster.len());
                let due = self.peers.poll(now);
                for (session, ranges) in due.nacks {
                    self.pending.push(Outgoing::Send(Body::Nack {
                        to: session,
                        ranges,
                    }));
                }
                self.deliver(due.arrived, now);
            }
            Phase::Closing { until, next_beat } => {
                if now >= until {
                    self.phase = Phase::Done;
                } else if now >= next_beat {
                    let beat = self.sender.beat(now);
                    self.transmit(&beat);
                    self.phase = Phase::Closing {
                        until,
                        next_beat: reliable_later(next_beat, LINGER / 5),
                    };
                }
            }
            Phase::Listening { .. } | Phase::Done => {}
        }
        self.apply(now);
        std::mem::take(&mut self.out)
    }

    /// The host stopped the announcer (Ctrl-C, SIGTERM, SIGHUP; a simulation's time limit), as
    /// `why` says: the game closes as if the script had called `stop()`.
    pub fn stop(&mut self, why: &str, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        match self.phase {
            Phase::Listening { .. } => {
                self.end = Some(End::Over(why.into()));
                self.phase = Phase::Done;
            }
            Phase::Playing => self.close(why, None, now),
            Phase::Closing { .. } | Phase::Done => {}
        }
        std::mem::take(&mut self.out)
    }

    /// The script's files were saved: run the new version, or say why the old one goes on.
    /// Returns whether the files it is made of may have changed (to watch them again).
    pub fn reload(&mut self, now: Instant) -> (bool, Vec<Reaction>) {
        self.turn(now);
        let mut changed = false;
        // Between an editor's delete and its re-create the file is missing: wait for it.
        if self.script.path().exists() {
            match self.script.reload() {
                Ok(Reload::Unchanged) => {
                    // Saved back as it runs (a broken edit undone): the running version is fine.
                    self.last_reload =
                        Some((now, "saved unchanged: the running version goes on".into()));
                    self.note(format!(
                        "{} saved unchanged: the running version goes on",
                        self.script.path().display()
                    ));
                }
                Ok(Reload::Reloaded(took)) => {
                    changed = true;
                    self.reloads = self.reloads.saturating_add(1);
                    let said = format!("reloaded in {:.2} ms", took.as_secs_f64() * 1000.0);
                    self.last_reload = Some((now, said));
                    self.note(format!(
                        "reloaded {} in {:.2} ms",
                        self.script.path().display(),
                        took.as_secs_f64() * 1000.0
                    ));
                }
                Err(error) => {
                    self.last_reload = Some((now, format!("failed: {error}")));
                    self.note(format!(
                        "reload failed, the previous version goes on: {error}"
                    ));
                }
            }
        }
        match self.phase {
            Phase::Playing => self.apply(now),
            // Still listening: what the new version queued goes out when the game starts.
            Phase::Listening { .. } => {}
            // The game is over: nothing of it goes out any more.
            // The game is over: nothing of it goes out any more, but the console still shows
            // what the script printed and where it failed.
            Phase::Closing { .. } | Phase::Done => {
                for action in self.script.take_actions() {
                    match action {
                        Action::Print(line) => self.print(&line),
                        Action::Error(error) => self.show_error(&error),
                        Action::Send(..) | Action::Moves(_) | Action::Stop => {}
                    }
                }
            }
        }
        (changed, std::mem::take(&mut self.out))
    }

    /// The bot `bot` saw `event`: what it types, if anything (the loop types it later, as a
    /// person would).
    pub fn bot_saw(
        &mut self,
        bot: &str,
        event: &Event,
        now: Instant,
    ) -> (Option<String>, Vec<Reaction>) {
        self.turn(now);
        let line = match self.script.bot(bot, event) {
            Ok(line) => line,
            Err(error) => {
                self.script_error(&error);
                None
            }
        };
        // What the hook did (printed, announced, its error) goes out now, not at the next turn.
        if self.phase == Phase::Playing {
            self.apply(now);
        }
        (line, std::mem::take(&mut self.out))
    }

    /// Lines a second one player may send (0: no limit): bots type no faster.
    pub fn rate_limit(&self) -> f64 {
        self.budgets.rate()
    }

    /// The host's view of the game at `now` (see [`Status`]).
    pub fn status(&self, now: Instant) -> Status {
        Status {
            phase: match self.phase {
                Phase::Listening { .. } => "listening",
                Phase::Playing => "running",
                Phase::Closing { .. } => "closing",
                Phase::Done => "done",
            },
            players: self
                .roster
                .iter()
                .map(|m| PlayerLink {
                    name: m.name.clone(),
                    silent: self
                        .peers
                        .get(m.session)
                        .map_or(Duration::ZERO, |p| now.saturating_duration_since(p.heard())),
                    asked: m.asked,
                    lost: m.lost,
                })
                .collect(),
            script: self.script.path().display().to_string(),
            reloads: self.reloads,
            last_reload: self.last_reload.clone(),
            last_error: self.last_error.clone(),
            sent: self.sender.stats().clone(),
            bad: self.bad_datagrams,
        }
    }

    /// The host's closing line: what was sent and repaired, and what the key's checks dropped.
    pub fn summary(&self) -> String {
        let reason = match &self.end {
            Some(End::Over(reason)) => reason.clone(),
            Some(End::Rival { session, .. }) => {
                format!("another announcer (session {session}) runs the game on this group")
            }
            Some(End::TakenOver { session }) => {
                format!("a newer announcer (session {session}) took the group over")
            }
            None => "still running".into(),
        };
        let sent = self.sender.stats();
        let rejected = self.guard.stats();
        format!(
            "announcer stopped: {reason} (sent {} datagrams, {} bytes, {} heartbeats; \
             repaired {} for {} NACKs, {} expired{}{})",
            sent.datagrams,
            sent.bytes,
            sent.heartbeats,
            sent.repairs,
            sent.nacks,
            sent.expired,
            if sent.throttled > 0 {
                format!(", {} NACKs throttled", sent.throttled)
            } else {
                String::new()
            },
            if self.guard.is_protected() {
                format!(
                    "; dropped {} unsigned, {} forged, {} replayed",
                    rejected.unsigned, rejected.forged, rejected.replayed
                )
            } else {
                String::new()
            }
        )
    }

    /// Listening first: only another announcer matters.
    fn listening(&mut self, decoded: Decoded, source: SocketAddr, now: Instant) {
        let Decoded::Datagram(datagram) = decoded else {
            return;
        };
        let Some(rival) = self.rival_heard(&datagram, now) else {
            return;
        };
        // Only an older run counts (two started together each hear the other, and the newer
        // one leaves), heard twice: a live announcer beats every 250 ms.
        if rival.count >= 2 && self.is_older_rival(datagram.session) && !self.settings.take_over {
            self.end = Some(End::Rival {
                session: datagram.session,
                source,
                handed_over: false,
            });
            self.phase = Phase::Done;
        }
    }

    /// Another announcer's datagram: recorded, and what is known of it so far; `None` when it
    /// is none of our business (not from an announcer, from one of our members' sessions, or
    /// from an announcer that closed its game and only repairs).
    fn rival_heard(&mut self, datagram: &Datagram, now: Instant) -> Option<Rival> {
        let session = datagram.session;
        if datagram.from != ANNOUNCER_NAME
            || !datagram.body.is_from_announcer()
            || self.member(session).is_some()
        {
            return None;
        }
        if !self.rivals.contains_key(&session) && self.rivals.len() >= MAX_RIVALS {
            self.rivals.clear();
        }
        let rival = self.rivals.entry(session).or_insert(Rival {
            first: now,
            last: now,
            count: 0,
            takes_over: false,
            closed: false,
            warned: false,
        });
        if !is_live_announcer(&datagram.body) {
            rival.closed = true;
        }
        if rival.closed {
            return None;
        }
        rival.count = rival.count.saturating_add(1);
        rival.last = now;
        if matches!(
            datagram.body,
            Body::Hello {
                take_over: true,
                ..
            }
        ) {
            rival.takes_over = true;
        }
        Some(*rival)
    }

    /// Whether `session` is another announcer's that started before ours, as far as a session
    /// can be believed: sessions start with the time their run started (a session from years
    /// ago is made up).
    fn is_older_rival(&self, session: SessionId) -> bool {
        let ours = self.session();
        let started = |session: SessionId| session >> 11;
        session < ours && started(ours).saturating_sub(started(session)) <= RIVAL_MAX_AGE_MS
    }

    /// Listening is over and no older announcer was heard: say hello and start the game.
    fn start(&mut self, now: Instant) {
        self.phase = Phase::Playing;
        // Players already on the group join again when they hear our hello, which carries the
        // moves the script's top level declared: its own announcement of them is not needed.
        self.pending.push(Outgoing::Send(Body::Hello {
            moves: self.script.moves(),
            take_over: self.settings.take_over,
        }));
        self.say("A game runs on this group: type Entering user to play in it from here.");
        let actions: Vec<Action> = self
            .script
            .take_actions()
            .into_iter()
            .filter(|action| !matches!(action, Action::Moves(_)))
            .collect();
        self.carry_out(actions, now);
    }

    /// Playing: a datagram from a member, a join, the lab's chat, a NACK, another announcer.
    fn playing(&mut self, decoded: Decoded, size: usize, source: SocketAddr, now: Instant) {
        let datagram = match decoded {
            Decoded::Datagram(datagram) => datagram,
            Decoded::Text { from, text } => {
                let from = from.unwrap_or_else(|| source.to_string());
                self.json(serde_json::json!({
                    "dir": "received", "kind": "text", "from": from, "text": text,
                    "source": source.to_string(),
                }));
                if self.outsiders.take(&(), now) == Verdict::Allow {
                    self.out.push(Reaction::Show(Event::Chat { from, text }));
                }
                return;
            }
            Decoded::Invalid(why) => return self.invalid(why, source),
        };
        self.log("received", &datagram);
        if is_text_session(datagram.session) {
            // No player's own session looks so: this one poses as a text player.
            return self.bad(
                &source.to_string(),
                "a datagram with a text player's session",
            );
        }
        if datagram.session == self.session() {
            // Our own session but not our bytes (those are skipped by their first bytes): made
            // up by someone else.
            return self.bad(
                &source.to_string(),
                "a datagram claiming this announcer's session",
            );
        }
        if datagram.body.is_from_announcer() {
            return self.other_announcer(&datagram, source, now);
        }
        self.peers.set_members(self.roster.len());
        match self.peers.receive(datagram, size, now) {
            Received::Arrived(arrived) => self.deliver(arrived, now),
            Received::Repair { ranges, asker } => {
                if let Some(member) = self.member_mut(asker) {
                    member.asked = member.asked.saturating_add(1);
                }
                self.pending.push(Outgoing::Repair {
                    ranges,
                    asker: (source, asker),
                });
            }
            Received::Pass(datagram) => self.outsider_said(datagram, now),
        }
    }

    /// Closing: only repairs of our last datagrams are answered.
    fn closing(&mut self, decoded: Decoded, source: SocketAddr, now: Instant) {
        if let Decoded::Datagram(Datagram {
            body: Body::Nack { to, ranges },
            session,
            ..
        }) = decoded
            && to == self.session()
        {
            for bytes in self.sender.nacked(&ranges, (source, session), now) {
                self.transmit(&bytes);
            }
        }
    }

    /// Something only an announcer sends, from another session: a rival on the group. The
    /// older one keeps the game; the newer one hands its players over and leaves (unless it was
    /// started to take over, and then the older one does). Either leaves only for a rival heard
    /// for a while, several times: one forged datagram must not end a game.
    fn other_announcer(&mut self, datagram: &Datagram, source: SocketAddr, now: Instant) {
        let Some(rival) = self.rival_heard(datagram, now) else {
            return;
        };
        let session = datagram.session;
        let older = self.is_older_rival(session) && !self.settings.take_over;
        let newer_taking_over = rival.takes_over && session > self.session();
        let sustained =
            rival.count >= 3 && now.saturating_duration_since(rival.first) >= LISTEN_FIRST;
        if sustained && newer_taking_over {
            self.end = Some(End::TakenOver { session });
            return self.close(
                "a newer announcer took this group over; its game goes on",
                Some(session),
                now,
            );
        }
        if sustained && older {
            self.end = Some(End::Rival {
                session,
                source,
                handed_over: true,
            });
            return self.close(
                "another announcer already runs a game on this group; joining it",
                Some(session),
                now,
            );
        }
        if !rival.warned
            && let Some(rival) = self.rivals.get_mut(&session)
        {
            rival.warned = true;
            let keeper = if older || newer_taking_over {
                "it"
            } else {
                "this one"
            };
            self.note(format!(
                "warning: another announcer ({source}, session {session}) is sending on this \
                 group; {keeper} keeps the game"
            ));
        }
    }

    /// Started to take over, while the announcer it takes over from is still heard: it says so
    /// again every heartbeat, since one lost hello must not leave two games on the group.
    fn repeat_take_over(&mut self, now: Instant) {
        if !self.settings.take_over
            || now.saturating_duration_since(self.take_over_said) < self.settings.heartbeat
        {
            return;
        }
        let ours = self.session();
        let older_alive = self.rivals.iter().any(|(&session, rival)| {
            session < ours
                && !rival.closed
                && now.saturating_duration_since(rival.last) < Duration::from_secs(2)
        });
        if older_alive {
            self.take_over_said = now;
            self.pending.push(Outgoing::Send(Body::Hello {
                moves: self.script.moves(),
                take_over: true,
            }));
        }
    }

    /// A datagram that could not be read.
    fn invalid(&mut self, why: Invalid, source: SocketAddr) {
        self.bad(&source.to_string(), &why.to_string());
        // The first time, what the host can do about it.
        if matches!(why, Invalid::Unsigned | Invalid::Forged) && !self.key_hint_given {
            self.key_hint_given = true;
            self.note(
                "  (if a player sends these, it lacks this game's key or has another one: \
                 every player needs the same key, from --key-file or GAMECAST_KEY)"
                    .into(),
            );
        }
    }

    /// Hands what members' inboxes let through to [`Announcer::handle`], in order.
    fn deliver(&mut self, arrived: Vec<(SessionId, Arrived)>, now: Instant) {
        for (session, arrived) in arrived {
            // The game is over, or the member left meanwhile: the rest is not for the script.
            if self.script.stop_requested() || self.phase != Phase::Playing {
                return;
            }
            let Some(name) = self.member(session).map(|m| m.name.clone()) else {
                continue;
            };
            match arrived {
                Arrived::Whole(datagram) => self.handle(datagram, now),
                Arrived::Lost(count) => {
                    if let Some(member) = self.member_mut(session) {
                        member.lost = member.lost.saturating_add(count);
                    }
                    self.note(format!(
                        "{count} datagrams from {} were lost",
                        text::visible(&name)
                    ));
                }
                Arrived::Unreadable(why) => self.bad(&name, &why.to_string()),
            }
        }
    }

    fn member(&self, session: SessionId) -> Option<&Member> {
        self.roster.get(*self.places.get(&session)?)
    }

    /// Whether [`Announcer::places`] says where each member is, and nothing more.
    #[cfg(test)]
    pub(crate) fn places_agree(&self) -> bool {
        self.places.len() == self.roster.len()
            && self
                .roster
                .iter()
                .enumerate()
                .all(|(i, m)| self.places.get(&m.session) == Some(&i))
    }

    fn member_mut(&mut self, session: SessionId) -> Option<&mut Member> {
        self.roster.get_mut(*self.places.get(&session)?)
    }

    /// A member's datagram, in its order.
    fn handle(&mut self, datagram: Datagram, now: Instant) {
        let name = datagram.from;
        if matches!(datagram.body, Body::Chat { .. } | Body::Move { .. }) {
            match self.budgets.take(&datagram.session, now) {
                Verdict::Allow => {}
                Verdict::FirstDrop => {
                    // The sender is told too: a player whose move vanished without a word
                    // would wait for an answer that never comes.
                    let rate = self.budgets.rate();
                    self.pending.push(Outgoing::Send(
                        Announcement::Tell {
                            to: name.clone(),
                            text: format!(
                                "you send too fast: your lines are ignored until you slow \
                                 down (at most {rate} a second)"
                            ),
                        }
                        .into(),
                    ));
                    return self.note(format!(
                        "warning: {} sends too fast: dropping their lines until they slow down \
                         (at most {rate} a second, bursts of {}; --rate-limit)",
                        text::visible(&name),
                        self.budgets.burst()
                    ));
                }
                Verdict::Drop => return,
            }
        }
        match datagram.body {
            Body::Join => self.join(&name, datagram.session, datagram.seq, now),
            Body::Leave { reason } => {
                // What a player says is up to the player's program; what the script is told
                // is one of the documented reasons.
                let reason = leave_reason(&reason);
                self.remove(datagram.session, reason, reason);
            }
            Body::Chat { text } => {
                self.out.push(Reaction::Show(Event::Chat {
                    from: name.clone(),
                    text: text.clone(),
                }));
                let result = self.script.message(&name, &text);
                self.report(result);
            }
            Body::Move { text } => {
                self.note(format!(
                    "{} plays {}",
                    text::visible(&name),
                    text::visible_quoted(&text)
                ));
                let result = self.script.message(&name, &text);
                self.report(result);
            }
            _ => {}
        }
    }

    /// A datagram from a session that is not in the game: a join, the lab's chat, or a
    /// player we dropped that is still there.
    fn outsider_said(&mut self, datagram: Datagram, now: Instant) {
        let budget = match datagram.body {
            Body::Join => Some(&mut self.joins),
            Body::Chat { .. } | Body::Watch => Some(&mut self.outsiders),
            _ => None,
        };
        if let Some(budget) = budget {
            match budget.take(&(), now) {
                Verdict::Allow => {}
                Verdict::FirstDrop => {
                    return self.note(format!(
                        "warning: too many joins and lines from outside the game \
                         ({JOINS_RATE} joins and {OUTSIDERS_RATE} lines a second): dropping \
                         them until it calms down"
                    ));
                }
                Verdict::Drop => return,
            }
        }
        match datagram.body {
            Body::Join => self.join(&datagram.from, datagram.session, datagram.seq, now),
            Body::Watch => {
                let snapshot = self.snapshot(datagram.session);
                self.pending.push(Outgoing::Send(snapshot));
            }
            Body::Chat { text } => {
                let skeleton = text::skeleton(&datagram.from);
                if self.roster.iter().any(|m| m.skeleton == skeleton) {
                    let why = format!(
                        "chat signed {} from session {}, not that player's",
                        text::visible_quoted(&datagram.from),
                        datagram.session
                    );
                    return self.bad(&datagram.from, &why);
                }
                self.out.push(Reaction::Show(Event::Chat {
                    from: datagram.from,
                    text,
                }));
            }
            Body::Move { .. } | Body::Heartbeat { .. } => {
                self.tell_dropped(datagram.session, &datagram.from, now);
            }
            // Gone before its welcome: it waits no more.
            Body::Leave { .. } => self.queued_joins.retain(|(_, s, _)| *s != datagram.session),
            _ => {}
        }
    }

    /// A player we dropped for silence speaks: tell it (once a second at most), so that it
    /// joins again.
    fn tell_dropped(&mut self, session: SessionId, name: &str, now: Instant) {
        let Some(told) = self.dropped.get_mut(&session) else {
            return;
        };
        if now.saturating_duration_since(*told) < Duration::from_secs(1) {
            return;
        }
        *told = now;
        self.pending.push(Outgoing::Send(Body::Left {
            player: name.to_string(),
            to_session: session,
            reason: "connection lost".into(),
        }));
    }

    /// A player asks to join: welcome them, or refuse a name that is taken (or looks like one
    /// that is), invalid, or a game that is full. A member asking again (it did not get our
    /// welcome) is welcomed again.
    fn join(&mut self, name: &str, session: SessionId, seq: u64, now: Instant) {
        if self.member(session).is_none() {
            // A join that cannot be let in is told so at once; one that can waits, in a storm,
            // for the next welcome, which lets them all in at once (and checks again).
            if self.refused(name, session, now) {
                return;
            }
            let wait = !self.queued_joins.is_empty()
                || self
                    .last_welcome
                    .is_some_and(|last| now < reliable_later(last, WELCOME_GAP));
            if wait {
                let queued = self.queued_joins.iter().any(|(_, s, _)| *s == session);
                if !queued && self.queued_joins.len() < MAX_PLAYERS {
                    self.queued_joins.push((name.to_string(), session, seq));
                }
                return;
            }
            if let Some(newcomer) = self.let_in(name, session, seq, now) {
                self.welcome_newcomers(vec![newcomer], now);
            }
            return;
        }
        // A member asking again is welcomed again (its welcome was lost), once a join retry at
        // most: every welcome goes to the whole group.
        let again_too_soon = self
            .member(session)
            .and_then(|m| m.welcomed)
            .is_some_and(|at| now.saturating_duration_since(at) < crate::player::JOIN_RETRY / 2);
        if again_too_soon {
            return;
        }
        if let Some(m) = self.member_mut(session) {
            m.welcomed = Some(now);
        }
        let welcome = self.welcome(
            &Newcomer {
                player: name.to_string(),
                to_session: session,
            },
            &[],
        );
        self.pending.push(Outgoing::Send(welcome));
    }

    /// When the joins waiting are let in, if some wait: [`WELCOME_GAP`] after the last
    /// welcome to newcomers.
    fn welcome_due(&self) -> Option<Instant> {
        if self.queued_joins.is_empty() {
            return None;
        }
        Some(
            self.last_welcome
                .map_or(self.script_now, |last| reliable_later(last, WELCOME_GAP)),
        )
    }

    /// Lets in the joins that waited for the gap between welcomes (the first
    /// [`WELCOME_BATCH`] of them), with one welcome.
    fn let_in_queued(&mut self, now: Instant) {
        let rest = self
            .queued_joins
            .split_off(WELCOME_BATCH.min(self.queued_joins.len()));
        let queued = std::mem::replace(&mut self.queued_joins, rest);
        let newcomers: Vec<Newcomer> = queued
            .into_iter()
            .filter_map(|(name, session, seq)| self.let_in(&name, session, seq, now))
            .collect();
        if !newcomers.is_empty() {
            self.welcome_newcomers(newcomers, now);
        }
    }

    /// `name` asks to join from `session` (its join numbered `seq`) and is not in the game:
    /// refuse a name that is taken (or looks like one that is), invalid, or a game that is
    /// full, or one the script's `on_join` refuses; else they are in, to be welcomed.
    fn let_in(
        &mut self,
        name: &str,
        session: SessionId,
        seq: u64,
        now: Instant,
    ) -> Option<Newcomer> {
        if self.refused(name, session, now) || !self.script_admits(name, session) {
            return None;
        }
        self.dropped.remove(&session);
        if !self.peers.listen(session, name, seq.saturating_add(1), now) {
            return None; // cannot happen: the roster and the table have the same bound
        }
        self.admit(name, text::skeleton(name), session, None);
        Some(Newcomer {
            player: name.to_string(),
            to_session: session,
        })
    }

    /// A full game makes room for a newcomer by dropping a member never heard from since it
    /// was welcomed, two heartbeats ago or more: a real player beats within one, and a flood of
    /// made-up joins (which never beat) must not keep the game full until they time out.
    fn make_room(&mut self, now: Instant) {
        if self.roster.len() < MAX_PLAYERS {
            return;
        }
        let mute = self.roster.iter().find_map(|m| {
            let welcomed = m.welcomed?;
            let heard = self.peers.get(m.session)?.heard();
            let long_ago = now.saturating_duration_since(welcomed)
                >= reliable::PLAYER_HEARTBEAT.saturating_mul(2);
            (m.text.is_none() && heard <= welcomed && long_ago).then_some(m.session)
        });
        if let Some(session) = mute {
            self.remove(session, "connection lost", "timeout");
        }
    }

    /// Whether `name`'s join from `session` is refused now (an invalid name, one taken or
    /// looking like one that is, a full game that has no room to make): if so, the host and
    /// the player are told.
    fn refused(&mut self, name: &str, session: SessionId, now: Instant) -> bool {
        self.make_room(now);
        let skeleton = text::skeleton(name);
        let Some(reason) = text::name_problem(name).or_else(|| self.refusal(name, &skeleton))
        else {
            return false;
        };
        self.note(format!("refused {}: {reason}", text::visible_quoted(name)));
        self.pending.push(Outgoing::Send(Body::Refuse {
            player: name.to_string(),
            to_session: session,
            reason,
        }));
        true
    }

    /// One welcome for `newcomers`, just let in.
    fn welcome_newcomers(&mut self, newcomers: Vec<Newcomer>, now: Instant) {
        let Some((first, also)) = newcomers.split_first() else {
            return;
        };
        for newcomer in &newcomers {
            if let Some(m) = self.member_mut(newcomer.to_session) {
                m.welcomed = Some(now);
            }
        }
        let welcome = self.welcome(first, also);
        self.pending.push(Outgoing::Send(welcome));
        self.last_welcome = Some(now);
    }

    /// Why `name` (whose skeleton is `skeleton`) cannot join now, if it cannot: taken, or
    /// looks like a name that is, or the game is full.
    fn refusal(&self, name: &str, skeleton: &str) -> Option<String> {
        // A gamecast "bob" beside the lab's "~bob" would read as one person in the lab's chat.
        let lab_twin = self.roster.iter().find(|m| {
            m.text.is_some()
                && m.name
                    .strip_prefix(text::TEXT_MARK)
                    .is_some_and(|lab| text::skeleton(lab) == skeleton)
        });
        if let Some(twin) = lab_twin {
            return Some(format!(
                "the name {} is taken in this game by {}, who plays from the lab's text chat; \
                 pick another with --name",
                text::visible_quoted(name),
                text::visible_quoted(&twin.name)
            ));
        }
        if let Some(taken) = self.roster.iter().find(|m| m.skeleton == skeleton) {
            Some(if taken.name == name {
                format!(
                    "the name {} is taken in this game; pick another with --name",
                    text::visible_quoted(name)
                )
            } else {
                format!(
                    "the name {} looks like {}, who is in this game; pick another with --name",
                    text::visible_quoted(name),
                    text::visible_quoted(&taken.name)
                )
            })
        } else if self.roster.len() >= MAX_PLAYERS {
            Some(format!(
                "the game is full ({MAX_PLAYERS} players); try again when someone leaves"
            ))
        } else {
            None
        }
    }

    /// The script has its say before a player is in: `on_join` may refuse them (then they are
    /// told, and this is false).
    fn script_admits(&mut self, name: &str, session: SessionId) -> bool {
        let crate::script::Joined::Refused(reason) = self.script.join(name) else {
            return true;
        };
        let reason = text::visible(&reason)
            .chars()
            .take(MAX_REASON)
            .collect::<String>();
        self.note(format!(
            "refused {}: the script says: {reason}",
            text::visible_quoted(name)
        ));
        if is_text_session(session) {
            self.say(&format!("{name}: {reason}"));
        }
        self.pending.push(Outgoing::Send(Body::Refuse {
            player: name.to_string(),
            to_session: session,
            reason,
        }));
        false
    }

    /// `name` is in the game from now on (`text`: a text player, heard at that time).
    fn admit(
        &mut self,
        name: &str,
        skeleton: String,
        session: SessionId,
        text: Option<(Instant, SocketAddr)>,
    ) {
        self.places.insert(session, self.roster.len());
        self.roster.push(Member {
            name: name.to_string(),
            skeleton,
            session,
            welcomed_at: 0,
            welcomed: None,
            asked: 0,
            lost: 0,
            text: text.map(|(at, _)| at),
            text_from: text.map(|(_, from)| from),
        });
        self.note(format!(
            "+ {} joined ({} in the game{})",
            text::visible(name),
            self.roster.len(),
            if text.is_some() {
                ", from the text channel"
            } else {
                ""
            }
        ));
    }

    /// A line of plain text from `source` on the text channel, signed `from`.
    fn text_said(&mut self, from: Option<String>, said: String, source: SocketAddr, now: Instant) {
        let Some(lab_name) = from else {
            // Unsigned words: chat from an address, as the lab's first exercise sends them.
            self.out.push(Reaction::Show(Event::Chat {
                from: source.to_string(),
                text: said,
            }));
            return;
        };
        let name = text::text_player(&lab_name);
        self.json(serde_json::json!({
            "dir": "received", "kind": "text", "from": name, "text": said,
            "source": source.to_string(),
        }));
        let player = self
            .roster
            .iter()
            .find(|m| m.text.is_some() && m.name == name)
            .map(|m| (m.session, m.text_from));
        let Some((session, from)) = player else {
            // Not a player: their greeting makes them one; anything else is chat.
            if said.trim().eq_ignore_ascii_case("entering user") {
                self.join_text(&lab_name, &name, source, now);
            } else {
                if crate::player::core::is_move(&self.script.moves(), said.trim()) {
                    // A move from someone not in the game (their greeting came before it ran).
                    self.say(&format!(
                        "{lab_name}: you are not in the game yet: type Entering user to play"
                    ));
                }
                self.out.push(Reaction::Show(Event::Chat {
                    from: name,
                    text: said,
                }));
            }
            return;
        };
        if from != Some(source) {
            let why = format!(
                "a line signed {} from {source}, not where that text player speaks from",
                text::visible_quoted(&lab_name)
            );
            return self.bad(&source.to_string(), &why);
        }
        if let Some(m) = self.member_mut(session) {
            m.text = Some(now);
        }
        if self.budgets.take(&session, now) != Verdict::Allow {
            return;
        }
        if said.trim().eq_ignore_ascii_case("quit") {
            return self.remove(session, "quit", "quit");
        }
        if said.trim().eq_ignore_ascii_case("entering user") {
            return; // greeted again: in the game already
        }
        if crate::player::core::is_move(&self.script.moves(), said.trim()) {
            self.note(format!(
                "{} plays {}",
                text::visible(&name),
                text::visible_quoted(said.trim())
            ));
            let result = self.script.message(&name, said.trim());
            return self.report(result);
        }
        // Chat: the lab's users read it already; gamecast players are shown it by their own
        // text channel. The script hears it as any player's chat.
        self.out.push(Reaction::Show(Event::Chat {
            from: name.clone(),
            text: said.clone(),
        }));
        let result = self.script.message(&name, &said);
        self.report(result);
    }

    /// The lab's user `lab_name` greeted: `name` (`~lab_name`) plays, unless the name is not
    /// one, or a gamecast player's, or the script refuses it.
    fn join_text(&mut self, lab_name: &str, name: &str, source: SocketAddr, now: Instant) {
        let skeleton = text::skeleton(name);
        let texts = self.roster.iter().filter(|m| m.text.is_some()).count();
        let refusal = text::name_problem(lab_name)
            .or_else(|| {
                // Marked, the name must still be a name.
                (name.chars().count() > text::MAX_NAME_CHARS).then(|| {
                    format!(
                        "a text player's name has 1 to {} characters (the ~ is one)",
                        text::MAX_NAME_CHARS - 1
                    )
                })
            })
            .or_else(|| {
                (texts >= MAX_TEXT_PLAYERS).then(|| {
                    format!("the game has {MAX_TEXT_PLAYERS} text players, as many as it takes")
                })
            })
            .or_else(|| {
                // The lab's "bob" must not pass for gamecast's bob, even marked.
                let plain = text::skeleton(lab_name);
                self.roster
                    .iter()
                    .find(|m| m.text.is_none() && m.skeleton == plain)
                    .map(|m| {
                        format!(
                            "the name {} is a gamecast player's in this game: start your chat \
                             with another name to play",
                            text::visible_quoted(&m.name)
                        )
                    })
            })
            .or_else(|| self.refusal(name, &skeleton));
        if let Some(reason) = refusal {
            self.note(format!("refused {}: {reason}", text::visible_quoted(name)));
            return self.say(&format!("{lab_name}: {reason}"));
        }
        let session = self.next_text_session;
        // Numbers stay below 2^53, as the protocol wants: 2^42 text players is more than a
        // run of the announcer can see.
        self.next_text_session = self.next_text_session.saturating_add(TEXT_SESSION_STEP);
        if !self.script_admits(name, session) {
            return;
        }
        self.admit(name, skeleton, session, Some((now, source)));
        let moves: Vec<String> = self
            .script
            .moves()
            .into_iter()
            .filter(|m| !m.starts_with('^'))
            .collect();
        let mut line = format!("Welcome, {name}! You play from this chat as {name}.");
        if !moves.is_empty() {
            line.push_str(&format!(
                " Moves: {} (type them here; anything else is chat; quit leaves).",
                moves.join(", ")
            ));
        }
        self.say(&line);
        // The gamecast players learn of them as of anyone: by a welcome.
        if let Some(m) = self.member_mut(session) {
            m.welcomed = Some(now);
        }
        self.pending.push(Outgoing::Send(self.welcome(
            &Newcomer {
                player: name.to_string(),
                to_session: session,
            },
            &[],
        )));
    }

    /// Text players silent for [`TEXT_IDLE`] are gone.
    /// They are looked for once a second (they have ten minutes): a tick must not go through
    /// the roster, which a game with a 1 ms timer does a thousand times a second.
    fn drop_idle_text_players(&mut self, now: Instant) {
        if now < self.text_check_due {
            return;
        }
        self.text_check_due = reliable_later(now, Duration::from_secs(1));
        let idle: Vec<SessionId> = self
            .roster
            .iter()
            .filter(|m| {
                m.text
                    .is_some_and(|heard| now.saturating_duration_since(heard) >= TEXT_IDLE)
            })
            .map(|m| m.session)
            .collect();
        for session in idle {
            self.remove(session, "connection lost", "timeout");
        }
    }

    /// `text` on the lab's text channel, said by the announcer (not in a game with a key).
    fn say(&mut self, text: &str) {
        if self.guard.is_protected() {
            return;
        }
        self.say_lines(vec![text_channel::said(text)]);
    }

    fn say_lines(&mut self, datagrams: Vec<String>) {
        if self.guard.is_protected() {
            return;
        }
        for datagram in datagrams {
            self.json(serde_json::json!({"dir": "sent", "kind": "text", "text": datagram}));
            // A line of at most MAX_LINE bytes: a queue of them is bounded by what is said
            // in 50 ms, which the script's own limits bound.
            self.text_queue.push(datagram);
        }
    }

    /// When the lines waiting for the text channel go, if some wait.
    fn text_due(&self) -> Option<Instant> {
        if self.text_queue.is_empty() {
            return None;
        }
        Some(
            self.text_sent
                .map_or(self.script_now, |at| reliable_later(at, TEXT_EVERY)),
        )
    }

    /// Sends the lines waiting for the text channel, packed in as few datagrams as they fit.
    fn flush_text(&mut self, now: Instant) {
        if self.text_queue.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.text_queue);
        for datagram in text_channel::pack(lines) {
            self.out.push(Reaction::Say(datagram));
        }
        self.text_sent = Some(now);
    }

    /// The names of the text players, for what is said on their channel.
    fn text_players(&self) -> Vec<String> {
        self.roster
            .iter()
            .filter(|m| m.text.is_some())
            .map(|m| m.name.clone())
            .collect()
    }

    /// The welcome for `first` and the others let in `also`: who is here, the moves, where the game stands and where each
    /// other player's datagrams stand. A welcome must fit one event: if the snapshot's
    /// ranking, the streams or the game's title and text make it too large, they are left out
    /// in that order (the player sees the next ranking, hears the others from their next
    /// datagram, and the game's next events). Names are at most 24 characters and 1024 players a
    /// game, so what is left always fits, unless the script's moves alone do not (they are
    /// lines of at most 512 bytes, a few dozen of them fill an event): then the welcome is not
    /// sent, and the host is told.
    fn welcome(&self, first: &Newcomer, also: &[Newcomer]) -> Body {
        let new = |session: SessionId| {
            first.to_session == session || also.iter().any(|n| n.to_session == session)
        };
        let mut welcome = Body::Welcome {
            player: first.player.clone(),
            to_session: first.to_session,
            players: self.roster.iter().map(|m| m.name.clone()).collect(),
            moves: self.script.moves(),
            game: self.standing.game.clone().map(Box::new),
            ranking: self.standing.ranking.clone(),
            also: also.to_vec(),
            streams: self
                .roster
                .iter()
                .filter(|m| !new(m.session))
                .filter_map(|m| {
                    let peer = self.peers.get(m.session)?;
                    Some(protocol::Stream {
                        name: m.name.clone(),
                        session: m.session,
                        last: peer.last(),
                    })
                })
                .collect(),
        };
        if Payload::new(&welcome).is_err()
            && let Body::Welcome { ranking, .. } = &mut welcome
        {
            ranking.clear();
        }
        if Payload::new(&welcome).is_err()
            && let Body::Welcome { streams, .. } = &mut welcome
        {
            streams.clear();
        }
        if Payload::new(&welcome).is_err()
            && let Body::Welcome { game, .. } = &mut welcome
        {
            *game = None;
        }
        welcome
    }

    /// Where the game stands, for the spectator `to_session`: as a welcome's snapshot, the
    /// ranking left out if it makes the event too large.
    fn snapshot(&self, to_session: SessionId) -> Body {
        let mut snapshot = Body::Snapshot {
            to_session,
            players: self.roster.iter().map(|m| m.name.clone()).collect(),
            game: self.standing.game.clone().map(Box::new),
            ranking: self.standing.ranking.clone(),
        };
        if Payload::new(&snapshot).is_err()
            && let Body::Snapshot { ranking, .. } = &mut snapshot
        {
            ranking.clear();
        }
        snapshot
    }

    /// A member is gone: tell everyone (`shown` is the reason players see), then the script
    /// (`reason`).
    fn remove(&mut self, session: SessionId, shown: &str, reason: &str) {
        let Some(index) = self.places.remove(&session) else {
            return;
        };
        let member = self.roster.remove(index);
        // Those after it moved up one: a leave costs a pass, a datagram none.
        for (place, later) in self.roster.iter().enumerate().skip(index) {
            self.places.insert(later.session, place);
        }
        self.peers.forget(session);
        // Who leaves by their own word says so on the text channel themselves.
        if shown == "connection lost" {
            self.say(&format!("{} left (connection lost)", member.name));
        }
        self.pending.push(Outgoing::Send(Body::Left {
            player: member.name.clone(),
            to_session: session,
            reason: shown.to_string(),
        }));
        let result = self.script.leave(&member.name, reason);
        self.report(result);
    }

    /// Closes the game: tells the players (and whose game goes on, if another announcer's),
    /// then stays a moment to repair.
    fn close(&mut self, reason: &str, successor: Option<SessionId>, now: Instant) {
        // What the script queued before is sent first; nothing of it reaches the script again.
        self.apply(now);
        if self.end.is_none() {
            self.end = Some(End::Over(reason.to_string()));
        }
        self.send(
            Body::Close {
                text: reason.to_string(),
                successor,
            },
            now,
        );
        if successor.is_none() {
            self.say(&format!("The announcer closed the game: {reason}"));
        }
        // The last lines go now: the announcer may be gone before their turn.
        self.flush_text(now);
        self.sender.close();
        let beat = self.sender.beat(now);
        self.transmit(&beat);
        self.phase = if self.roster.is_empty() {
            Phase::Done
        } else {
            Phase::Closing {
                until: reliable_later(now, LINGER),
                next_beat: reliable_later(now, LINGER / 5),
            }
        };
    }

    /// Carries out what the announcer and the script asked for since the last call, then
    /// beats if quiet.
    fn apply(&mut self, now: Instant) {
        self.apply_to_group(now);
        // What this turn said on the text channel goes together, unless a datagram went
        // there less than TEXT_EVERY ago: then it waits for the tick that comes then.
        if self.text_due().is_some_and(|due| now >= due) {
            self.flush_text(now);
        }
    }

    fn apply_to_group(&mut self, now: Instant) {
        if self.phase != Phase::Playing {
            // Repairs are still answered while closing; nothing else goes out.
            for outgoing in std::mem::take(&mut self.pending) {
                if let (Phase::Closing { .. }, Outgoing::Repair { ranges, asker }) =
                    (self.phase, outgoing)
                {
                    for bytes in self.sender.nacked(&ranges, asker, now) {
                        self.transmit(&bytes);
                    }
                }
            }
            return;
        }
        let actions = self.script.take_actions();
        self.carry_out(actions, now);
        if let Some(beat) = self.sender.heartbeat(now) {
            self.transmit(&beat);
        }
    }

    /// What the announcer queued, then the script's `actions`, in order.
    fn carry_out(&mut self, actions: Vec<Action>, now: Instant) {
        for outgoing in std::mem::take(&mut self.pending) {
            match outgoing {
                Outgoing::Repair { ranges, asker } => {
                    for bytes in self.sender.nacked(&ranges, asker, now) {
                        self.transmit(&bytes);
                    }
                }
                Outgoing::Send(body) => {
                    let welcomed: Vec<SessionId> = match &body {
                        Body::Welcome {
                            to_session, also, ..
                        } => std::iter::once(*to_session)
                            .chain(also.iter().map(|n| n.to_session))
                            .collect(),
                        _ => Vec::new(),
                    };
                    let first = self.sender.origin().last_seq().saturating_add(1);
                    if !self.send(body, now) {
                        continue;
                    }
                    // A player whose first welcome was lost learns where it was, and asks.
                    for to_session in welcomed {
                        let Some(m) = self.member_mut(to_session) else {
                            continue;
                        };
                        if m.welcomed_at == 0 {
                            m.welcomed_at = first;
                        }
                        let admit = Body::Admit {
                            to_session,
                            at: m.welcomed_at,
                        };
                        self.send(admit, now);
                    }
                }
            }
        }
        let mut stop = false;
        for action in actions {
            match action {
                Action::Send(announcement, payload) => {
                    self.standing.update(&announcement);
                    // Only a tell and a ranking name players: an announcement does not go
                    // through the roster, so that its cost is the same at any size of game.
                    let text_players = match &announcement {
                        Announcement::Tell { .. } | Announcement::Ranking { .. } => {
                            self.text_players()
                        }
                        _ => Vec::new(),
                    };
                    let lines = text_channel::datagrams(&announcement, &text_players);
                    self.send_payload(announcement.into(), &payload, now);
                    self.say_lines(lines);
                }
                Action::Moves(moves) => {
                    self.send(
                        Body::Hello {
                            moves,
                            take_over: false,
                        },
                        now,
                    );
                }
                Action::Print(line) => self.print(&line),
                Action::Error(error) => self.show_error(&error),
                Action::Stop => stop = true,
            }
        }
        if stop && self.phase == Phase::Playing {
            self.close("the game is over", None, now);
        }
    }

    /// Sends a body of ours; false when it was too large to send (the host is told).
    fn send(&mut self, body: Body, now: Instant) -> bool {
        if !body.is_numbered() {
            let bytes = self.sender.control(&body);
            self.transmit(&bytes);
            return true;
        }
        match Payload::new(&body) {
            Ok(payload) => {
                self.send_payload(body, &payload, now);
                true
            }
            Err(too_large) => {
                self.note(format!("error: not sent: {too_large}"));
                false
            }
        }
    }

    /// Sends a numbered body (in pieces if it is large), and shows it on the console.
    fn send_payload(&mut self, body: Body, payload: &Payload, now: Instant) {
        for bytes in self.sender.send(payload, now) {
            self.transmit(&bytes);
        }
        let datagram = Datagram {
            v: protocol::VERSION,
            from: ANNOUNCER_NAME.to_string(),
            session: self.session(),
            seq: self.sender.origin().last_seq(),
            body,
        };
        self.log("sent", &datagram);
        if let Some(event) = Event::from_datagram(&datagram) {
            self.out.push(Reaction::Show(event));
        }
    }

    fn transmit(&mut self, bytes: &Bytes) {
        let sealed = match self.guard.seal(bytes) {
            std::borrow::Cow::Borrowed(_) => bytes.clone(),
            std::borrow::Cow::Owned(signed) => signed.into(),
        };
        self.out.push(Reaction::Transmit(sealed));
    }

    fn note(&mut self, line: String) {
        self.out.push(Reaction::Note(line));
    }

    fn report(&mut self, result: Result<(), ScriptError>) {
        if let Err(error) = result {
            self.script_error(&error);
        }
    }

    /// A call into the script failed: shown after what the call did before it failed.
    fn script_error(&mut self, error: &ScriptError) {
        self.script.failed(error.clone());
    }

    /// A script error, on the host's console.
    fn show_error(&mut self, error: &ScriptError) {
        self.last_error = Some((self.script_now, error.to_string()));
        self.note(format!("script error: {error}"));
    }

    /// A line the script printed, escaped like anything a script or the network says.
    fn print(&mut self, line: &str) {
        self.note(format!(
            "[script] {}",
            text::visible(&text::expand_tabs(line))
        ));
    }

    fn bad(&mut self, source: &str, why: &str) {
        self.bad_datagrams = self.bad_datagrams.saturating_add(1);
        self.json(serde_json::json!({
            "dir": "dropped", "reason": why, "source": source,
        }));
        // The first few in full, then one line per hundred: noise must not bury the game.
        if self.bad_datagrams <= 5 || self.bad_datagrams.is_multiple_of(100) {
            // The reason may quote the datagram: escaped, like anything from the network.
            self.note(format!(
                "ignored a datagram from {}: {} ({} so far)",
                text::visible(source),
                text::visible(why),
                self.bad_datagrams
            ));
        }
    }

    fn log(&mut self, dir: &str, datagram: &Datagram) {
        if self.settings.json {
            let mut value = serde_json::to_value(datagram).expect("a Datagram always serializes");
            value["dir"] = dir.into();
            self.out.push(Reaction::Json(value));
        }
    }

    fn json(&mut self, value: serde_json::Value) {
        if self.settings.json {
            self.out.push(Reaction::Json(value));
        }
    }
}

/// `at + by`, saturating (see `reliable::later`).
fn reliable_later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by).unwrap_or(at)
}

/// Whether `body` says that an announcer is running a game (not one that is closing).
fn is_live_announcer(body: &Body) -> bool {
    match body {
        Body::Heartbeat {
            announcer, closing, ..
        } => *announcer && !closing,
        Body::Close { .. } => false,
        body => body.is_from_announcer(),
    }
}
