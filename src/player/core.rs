//! A player's logic as a state machine: datagrams, typed lines and the time go in; what to
//! show, what to send and when to stop come out. It never touches a socket or the clock: the
//! loop in `player/mod.rs` does, and the tests below drive it by hand.
//!
//! What arrives goes through the shared receive table ([`Peers`]): one inbox per sender (the
//! announcer and each other player), shown in order and once, gaps asked for again, what cannot
//! be repaired shown as lost. The announcer's events count from our welcome, which carries where
//! the game stands: what came before is in that snapshot, so it is neither shown nor asked for.
//!
//! How a player gets into an announcer's game ([`Phase`]):
//!
//! ```text
//!            an announcer's datagram                its admit, or our welcome        our welcome
//!  Alone ──────────────────────────────▶ Placing ─────────────────────────────▶ Admitted ──delivered──▶ Playing
//!  (the lab's chat:                      (its datagrams kept     read whole on arrival    (its events counted       │
//!   no announcer)                         by number; we join      (its number is where     from there; we join       │ `left` naming us
//!                                         every 500 ms)           our events start)        every 500 ms)             ▼ (our heartbeats were lost)
//!                 ▲                                                                                             Rejoining ──our welcome──▶ Playing
//!                 └─ the followed announcer fell silent and a newer one speaks, or it hands   (still listening: nothing
//!                    its players over to another (`close` with a successor): Placing again     it says is missed)
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::budget::{Budgets, Verdict};
use crate::event::{Event, Link};
use crate::key::GameKey;
use crate::player::others::{Other, Others};
use crate::protocol::seal::GuardStats;
use crate::protocol::{
    ANNOUNCER_NAME, Announcement, Body, Datagram, Decoded, Guard, Invalid, MAX_LINE, Origin,
    Payload, SessionId,
};
use crate::reliable::{self, Arrived, Bytes, Peers, ReceiveStats, Received, Sender};
use crate::text;

/// A player not yet welcomed asks again this often while an announcer is there.
pub const JOIN_RETRY: Duration = Duration::from_millis(500);

/// The most senders a player listens to; beyond, the one heard least recently is forgotten.
pub const MAX_SENDERS: usize = 256;

/// A sender silent this long is forgotten (a player that left without a word).
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// The most names a player keeps track of. A flood of made-up joins must not grow memory:
/// beyond, names are not recorded (nor shown joining).
pub const MAX_NAMES: usize = 1024;

/// Senders not heard before that a player starts listening to, a second (bursts of twice that),
/// all together: a class joining at once fits; a flood of made-up senders is dropped.
pub const NEW_SENDERS: (f64, f64) = (20.0, 40.0);

/// Datagrams kept from an announcer before we know where to start listening to it.
const MAX_KEPT: usize = 4096;

/// How many times a spectator asks an announcer where the game stands, and how far apart.
const WATCH_TRIES: u32 = 8;
const WATCH_RETRY: Duration = Duration::from_millis(250);

/// Warnings said once, remembered at most (they are keyed by sessions from the network).
const MAX_WARNED: usize = 64;

/// Announcer runs replaced by a newer one, remembered so that nothing of theirs is shown again.
const MAX_STALE: usize = 64;

/// How a player's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The player typed `quit` or their input ended.
    Left,
    /// The announcer closed the game.
    Closed,
    /// The announcer refused the player's join; the reason.
    Refused(String),
    /// The host interrupted the player (Ctrl-C, SIGTERM, SIGHUP).
    Interrupted,
}

/// What the loop must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    /// Show this to the person.
    Show(Event),
    /// Put this datagram on the link (signed already, in a game with a key).
    Transmit(Bytes),
    /// Put this line on the lab's text channel, for the lab's scripts to read (never in a
    /// game with a key: its chat is not for everyone on the network).
    Say(String),
    /// The session is over.
    Exit(Outcome),
}

/// A player's timing, and the game key.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often to beat when quiet, so that the announcer knows we are here.
    pub heartbeat: Duration,
    /// The announcer is unreachable after this many of its heartbeats without a word.
    pub missed: u32,
    /// The game key: every datagram signed, only signed ones accepted. `None`: an open game.
    pub key: Option<GameKey>,
    /// Watch the game without playing (the scoreboard): never join, beat or chat; send only
    /// the NACKs that loss repair needs; stay when a game closes, for the next one.
    pub spectator: bool,
    /// Play in this session rather than a new one: a replay plays as the player it recorded,
    /// so that what the announcer said to it alone is shown again.
    pub session: Option<crate::protocol::SessionId>,
    /// The game so far, read from where the game keeps it (a NATS game's history): shown
    /// first, as a spectator would have seen it, before the player joins.
    pub history: Vec<(Vec<u8>, std::net::SocketAddr)>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            heartbeat: reliable::PLAYER_HEARTBEAT,
            missed: reliable::MISSED_BEATS,
            key: None,
            spectator: false,
            session: None,
            history: Vec::new(),
        }
    }
}

/// Where this player stands with the announcer it follows (the diagram at the top).
#[derive(Debug)]
enum Phase {
    /// No announcer heard: a chat among players, as in the lab.
    Alone,
    /// Following an announcer, not yet knowing where our events start: its numbered datagrams
    /// wait here, by number.
    Placing {
        kept: BTreeMap<u64, (Datagram, usize)>,
    },
    /// We know where our events start, and wait for our welcome to come through in order.
    Admitted,
    /// Welcomed: in the game.
    Playing,
    /// The announcer dropped us while we were here: we go on listening, and join again.
    Rejoining,
}

/// The announcer we follow.
#[derive(Debug)]
struct Followed {
    session: SessionId,
    unreachable: bool,
    /// Where its datagrams come from (the last one heard): shown in our welcome.
    address: Option<SocketAddr>,
}

/// A name we know: who uses it (the session we saw it from, when we did).
#[derive(Debug)]
struct Known {
    name: String,
    session: Option<SessionId>,
}

/// The work one pattern may take on one typed line: far more than a game's patterns need,
/// far less than a person would notice (a hostile pattern cannot freeze the player).
const MOVE_PATTERN_STEPS: u64 = 100_000;

/// The most move patterns tried on one line.
const MAX_MOVE_PATTERNS: usize = 16;

/// Whether `line` (trimmed) is a move: equal to one of `moves` ignoring case, or matched by one
/// of them that is a Lua pattern (an entry that starts with `^`), against the line in
/// lowercase. A pattern that is malformed or too slow counts as a match: when in doubt a line
/// stays private, as a move, rather than being shown to everyone.
pub fn is_move(moves: &[String], line: &str) -> bool {
    let lower = line.to_lowercase();
    let mut patterns = 0usize;
    moves.iter().any(|entry| {
        if entry.starts_with('^') {
            // A game needs a few; an announcer that sends thousands gets the first ones tried.
            patterns = patterns.saturating_add(1);
            if patterns > MAX_MOVE_PATTERNS {
                return false;
            }
            let mut budget = crate::patterns::Steps(MOVE_PATTERN_STEPS);
            crate::patterns::matches_start(lower.as_bytes(), entry.as_bytes(), &mut budget)
                .unwrap_or(true)
        } else {
            *entry == lower
        }
    })
}

/// What one player knows: its name and session, the game's moves, who is here, and where
/// each sender's datagrams stand.
#[derive(Debug)]
pub struct Player {
    name: String,
    session: SessionId,
    /// Watching, not playing ([`Options::spectator`]).
    spectator: bool,
    /// A spectator's next request for the game's state, until one is answered.
    watch_due: Option<Instant>,
    /// Requests for the game's state a spectator has left for this announcer.
    watches_left: u32,
    sender: Sender,
    guard: Guard,
    peers: Peers,
    moves: Vec<String>,
    announcer: Option<Followed>,
    phase: Phase,
    /// Announcer runs that were replaced by a new one: nothing of theirs is shown again.
    stale: HashSet<SessionId>,
    /// Announcers heard on the group that we do not follow: each named once.
    others: Others,
    last_join: Instant,
    join_due: Option<Instant>,
    /// Who is here, by what their name looks like ([`text::skeleton`]), so that a look-alike
    /// name is not taken for another player's.
    roster: HashMap<String, Known>,
    /// What we warned about once already (a rival announcer, a name claimed by a second
    /// session): noise must not flood the screen.
    warned: HashSet<String>,
    /// Chat lines a second each sender may have shown: a flood must not bury the game.
    chat_budgets: Budgets<String>,
    /// New senders listened to a second, together.
    new_senders: Budgets<()>,
    /// The highest of our own numbers seen coming back: a repair of ours is not shown twice.
    own_seen: u64,
    bad_datagrams: u64,
    /// When the loop was told to come back at the latest: a turn much later than that means
    /// the process did not run in between.
    expected: Option<Instant>,
    out: Vec<Reaction>,
}

impl Player {
    /// A player called `name`, starting at `now`; its datagrams carry `origin`'s header.
    pub fn new(origin: Origin, options: Options, now: Instant) -> Player {
        let session = origin.session();
        Player {
            name: origin.name().to_string(),
            session,
            spectator: options.spectator,
            watch_due: None,
            watches_left: 0,
            sender: Sender::new(origin, options.heartbeat, false, now),
            guard: Guard::new(options.key.as_ref()),
            peers: Peers::new(session, MAX_SENDERS, options.missed, now),
            moves: Vec::new(),
            announcer: None,
            phase: Phase::Alone,
            stale: HashSet::new(),
            others: Others::default(),
            last_join: now,
            join_due: None,
            roster: HashMap::new(),
            warned: HashSet::new(),
            chat_budgets: Budgets::default(),
            new_senders: Budgets::new(NEW_SENDERS.0, NEW_SENDERS.1),
            own_seen: 0,
            bad_datagrams: 0,
            expected: None,
            out: Vec::new(),
        }
    }

    /// Our session.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// How many datagrams were dropped as unreadable.
    pub fn bad_datagrams(&self) -> u64 {
        self.bad_datagrams
    }

    /// What loss repair did so far.
    pub fn stats(&self) -> &ReceiveStats {
        self.peers.stats()
    }

    /// What the game key's checks dropped so far.
    pub fn rejected(&self) -> &GuardStats {
        self.guard.stats()
    }

    /// The start: whether the game is protected, and the lab's greeting (our join).
    pub fn start(&mut self, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        self.out.push(Reaction::Show(Event::Protection {
            protected: self.guard.is_protected(),
        }));
        self.last_join = now;
        if !self.spectator {
            self.send(Body::Join, now);
            self.say("Entering user");
        }
        std::mem::take(&mut self.out)
    }

    /// A turn at `now`: if it comes much later than [`Player::next_deadline`] said, the
    /// process did not run meanwhile, and that time counts against nobody.
    fn turn(&mut self, now: Instant) {
        let Some(expected) = self.expected.take() else {
            return;
        };
        let late = now.saturating_duration_since(expected);
        if late > crate::announcer::core::STALL {
            self.peers.stalled(late);
        }
    }

    /// What to do with a datagram of ours that arrived from `source` at `now`.
    pub fn receive(&mut self, bytes: &[u8], source: SocketAddr, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        match self.guard.open(bytes) {
            Decoded::Datagram(datagram) => self.datagram(datagram, bytes.len(), source, now),
            Decoded::Text { from, text } => self.text_line(from, text, source, now),
            Decoded::Invalid(Invalid::Protected) => {
                let text = format!(
                    "signed datagrams are arriving from {source}: this game seems to be \
                     protected by a game key, which this player does not have, and nothing of \
                     it can be read (start the player with --key-file PATH, or the key in \
                     GAMECAST_KEY)"
                );
                self.warn_once("protected", text);
            }
            Decoded::Invalid(Invalid::Forged) => {
                self.bad(&format!("from {source}: {}", Invalid::Forged));
                let text = "datagrams signed with another game key (or altered on the way) are \
                            arriving: if they are your game's, check that everyone has the same \
                            key"
                .to_string();
                self.warn_once("forged", text);
            }
            Decoded::Invalid(why) => self.bad(&format!("from {source}: {why}")),
        }
        std::mem::take(&mut self.out)
    }

    /// A datagram from `source` on the lab's text channel (the link hands over only the lab's
    /// scripts' lines there): shown as theirs, marked as a text player's
    /// ([`text::text_player`]). The protocol has nothing to do there.
    pub fn receive_text(
        &mut self,
        bytes: &[u8],
        source: SocketAddr,
        now: Instant,
    ) -> Vec<Reaction> {
        self.turn(now);
        // A game with a key reads nothing unsigned: the text channel is outside it.
        if self.guard.is_protected() {
            return Vec::new();
        }
        match crate::protocol::decode(bytes) {
            Decoded::Text { from, text } => self.text_line(from, text, source, now),
            _ => self.bad(&format!(
                "from {source} on the text channel: not a line of text"
            )),
        }
        std::mem::take(&mut self.out)
    }

    /// A line of plain text from `source`, signed `from` if it starts with a name. A move of
    /// the game is for the announcer, whoever typed it: a text player's answer is not shown
    /// here either (the lab's own chat shows it to its users: they type in the open).
    fn text_line(&mut self, from: Option<String>, text: String, source: SocketAddr, now: Instant) {
        if from.is_some() && is_move(&self.moves, text.trim()) {
            return;
        }
        let from = from.map_or_else(|| source.to_string(), |name| text::text_player(&name));
        if self.chat_allowed(&source.to_string(), &from, now) {
            self.show(Event::Chat { from, text });
        }
    }

    /// A read found the socket empty at `now`: an announcer silent until now is unreachable.
    pub fn caught_up(&mut self, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        self.peers.caught_up(now);
        if let Some(announcer) = self.announcer.as_mut()
            && !announcer.unreachable
            && self.peers.is_silent(announcer.session)
        {
            announcer.unreachable = true;
            self.show(Event::Announcer {
                state: Link::Unreachable,
            });
        }
        std::mem::take(&mut self.out)
    }

    /// What came due at `now`: NACKs, gaps given up on, a join to repeat, a heartbeat, senders
    /// to forget.
    pub fn tick(&mut self, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        self.peers.set_members(self.roster.len());
        let due = self.peers.poll(now);
        for (session, ranges) in due.nacks {
            self.send(
                Body::Nack {
                    to: session,
                    ranges,
                },
                now,
            );
        }
        self.deliver(due.arrived, now);
        let joining = matches!(
            self.phase,
            Phase::Placing { .. } | Phase::Admitted | Phase::Rejoining
        );
        if joining && !self.spectator && self.join_due.is_some_and(|at| at <= now) {
            self.last_join = now;
            self.join_due = now.checked_add(JOIN_RETRY);
            self.send(Body::Join, now);
        }
        if self.spectator && self.announcer.is_some() && self.watch_due.is_some_and(|at| at <= now)
        {
            self.watches_left = self.watches_left.saturating_sub(1);
            self.watch_due = (self.watches_left > 0).then(|| now + WATCH_RETRY);
            self.send(Body::Watch, now);
        }
        if let Some(beat) = self.sender.heartbeat(now).filter(|_| !self.spectator) {
            self.transmit(&beat);
        }
        let followed = self.announcer.as_ref().map(|a| a.session);
        let forgotten: Vec<SessionId> = self
            .peers
            .iter()
            .filter(|(session, peer)| {
                Some(*session) != followed
                    && now.saturating_duration_since(peer.heard()) >= FORGET_AFTER
            })
            .map(|(session, _)| session)
            .collect();
        for session in forgotten {
            self.peers.forget(session);
        }
        std::mem::take(&mut self.out)
    }

    /// When the loop must come back at the latest.
    pub fn next_deadline(&mut self) -> Instant {
        let joining = matches!(
            self.phase,
            Phase::Placing { .. } | Phase::Admitted | Phase::Rejoining
        );
        let at = [
            Some(self.sender.heartbeat_due()),
            self.peers.next_deadline(),
            self.join_due.filter(|_| joining),
            // Only while there is an announcer to ask: a past due time with nobody to ask would
            // wake the loop at once, again and again.
            self.watch_due
                .filter(|_| self.spectator && self.announcer.is_some()),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_else(|| self.sender.heartbeat_due());
        self.expected = Some(at);
        at
    }

    /// What to do with a line the person typed.
    pub fn typed(&mut self, line: &str, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        let trimmed = line.trim();
        if trimmed.is_empty() || self.spectator {
            return Vec::new();
        }
        if trimmed.eq_ignore_ascii_case("quit") {
            return self.leave("quit", Outcome::Left, now);
        }
        let body = if is_move(&self.moves, trimmed) {
            Body::Move {
                text: trimmed.to_string(),
            }
        } else {
            Body::Chat {
                text: line.trim_end_matches(['\r', '\n']).to_string(),
            }
        };
        let text_len = match &body {
            Body::Move { text } | Body::Chat { text } => text.len(),
            _ => 0,
        };
        if text_len > MAX_LINE {
            self.show(Event::Notice {
                text: format!(
                    "not sent: the line has {text_len} bytes, and a line is at most {MAX_LINE}"
                ),
            });
        } else {
            if let Body::Chat { text } = &body {
                self.say(&text.clone());
            }
            self.send(body, now);
        }
        std::mem::take(&mut self.out)
    }

    /// The person leaves (`reason`: "end of input", "interrupted"…): say so, and stop.
    pub fn leave(&mut self, reason: &str, outcome: Outcome, now: Instant) -> Vec<Reaction> {
        self.turn(now);
        if !self.spectator {
            self.send(
                Body::Leave {
                    reason: reason.to_string(),
                },
                now,
            );
            // The lab's chat says goodbye with the word itself.
            self.say("quit");
        }
        self.out.push(Reaction::Exit(outcome));
        std::mem::take(&mut self.out)
    }

    /// A datagram of ours, read.
    fn datagram(&mut self, datagram: Datagram, size: usize, source: SocketAddr, now: Instant) {
        if datagram.session == self.session {
            return self.own(datagram);
        }
        if self.stale.contains(&datagram.session) {
            return;
        }
        let session = datagram.session;
        if datagram.body.is_from_announcer() && !self.follow(session, &datagram.body, source, now) {
            return;
        }
        let followed = self.is_followed(session);
        if followed {
            self.heard_announcer(&datagram.body, source, now);
        }
        if let Body::Admit { to_session, at } = datagram.body {
            if to_session == self.session && followed {
                self.start_listening(session, at, now);
            }
            return;
        }
        if followed && self.spectator && matches!(self.phase, Phase::Placing { .. }) {
            // No welcome comes to a spectator: it takes the game from what it hears first.
            let at = match &datagram.body {
                Body::Heartbeat { last, .. } => last.saturating_add(1),
                body if body.is_numbered() => datagram.seq,
                _ => return,
            };
            self.start_listening(session, at, now);
            self.phase = Phase::Playing;
        }
        if followed && let Phase::Placing { kept } = &mut self.phase {
            if !datagram.body.is_numbered() {
                return; // liveness is all a heartbeat says before we are placed
            }
            // The announcer closes, or hands over, before we were placed: that is ours at once.
            if matches!(datagram.body, Body::Close { .. }) {
                return self.handle(datagram, now);
            }
            let ours = datagram.body.welcomes(self.session).is_some()
                || matches!(
                    datagram.body,
                    Body::Refuse { to_session, .. } if to_session == self.session
                );
            let seq = datagram.seq;
            if kept.len() < MAX_KEPT {
                kept.insert(seq, (datagram, size));
            }
            // Our welcome (or refusal), whole: our events start here (its `admit` may be lost).
            if ours {
                self.start_listening(session, seq, now);
            }
            return;
        }
        self.hand_to_table(datagram, size, source, now);
    }

    /// Hands a datagram to the receive table, listening to a sender heard for the first time.
    fn hand_to_table(&mut self, datagram: Datagram, size: usize, source: SocketAddr, now: Instant) {
        self.peers.set_members(self.roster.len());
        match self.peers.receive(datagram, size, now) {
            Received::Arrived(arrived) => self.deliver(arrived, now),
            Received::Repair { ranges, asker } => {
                for bytes in self.sender.nacked(&ranges, (source, asker), now) {
                    self.transmit(&bytes);
                }
            }
            Received::Pass(datagram) => {
                if self.listen_to(&datagram, now) {
                    // Listened to now: the table takes it (once, so no loop).
                    if let Received::Arrived(arrived) = self.peers.receive(datagram, size, now) {
                        self.deliver(arrived, now);
                    }
                }
            }
        }
    }

    /// Starts listening to the sender of `datagram`, heard for the first time: from this
    /// number, or after the one its heartbeat names. Not for kinds that start nothing, nor
    /// when too many new senders came at once.
    fn listen_to(&mut self, datagram: &Datagram, now: Instant) -> bool {
        let next = match &datagram.body {
            Body::Heartbeat { last, .. } => last.saturating_add(1),
            body if body.is_numbered() => datagram.seq,
            _ => return false,
        };
        if self.new_senders.take(&(), now) != Verdict::Allow {
            return false;
        }
        self.track(datagram.session, &datagram.from, next, now)
    }

    /// Listens to `session` from number `next`, making room if the table is full.
    fn track(&mut self, session: SessionId, name: &str, next: u64, now: Instant) -> bool {
        if !self.peers.contains(session) && self.peers.len() >= MAX_SENDERS {
            let followed = self.announcer.as_ref().map(|a| a.session);
            if let Some(oldest) = self.peers.least_recent(followed) {
                self.peers.forget(oldest);
            }
        }
        self.peers.listen(session, name, next, now)
    }

    fn is_followed(&self, session: SessionId) -> bool {
        self.announcer
            .as_ref()
            .is_some_and(|a| a.session == session)
    }

    /// Our own datagrams, looped back: our chat shows that it went out (as in the lab), our
    /// first join that we are in the group.
    fn own(&mut self, datagram: Datagram) {
        if datagram.seq <= self.own_seen {
            return; // a repair of ours, or not numbered
        }
        self.own_seen = datagram.seq;
        match &datagram.body {
            Body::Chat { .. } => {}
            Body::Join => {
                let skeleton = text::skeleton(&self.name);
                if self.roster.contains_key(&skeleton) {
                    return;
                }
                self.roster.insert(
                    skeleton,
                    Known {
                        name: self.name.clone(),
                        session: Some(self.session),
                    },
                );
            }
            _ => return,
        }
        if let Some(event) = Event::from_datagram(&datagram) {
            self.show(event);
        }
    }

    /// An announcer's datagram arrived from `session`: follow it if it is ours, or the first
    /// we hear, or a newer run replacing ours after ours fell silent. Returns whether the
    /// datagram is from the announcer we follow now.
    fn follow(
        &mut self,
        session: SessionId,
        body: &Body,
        source: SocketAddr,
        now: Instant,
    ) -> bool {
        match &self.announcer {
            Some(current) if current.session == session => return true,
            // A new run is followed only once ours fell silent, and only if it is newer (session
            // numbers grow with time): a forged or replayed hello cannot take the game over
            // while the announcer is there, nor an old run come back.
            Some(current) if !current.unreachable || session < current.session => {
                // Only the announcer that welcomed us speaks for the game: another one on the
                // group (or someone posing as one) is ignored, and named once.
                self.heard_other(session, body, source);
                return false;
            }
            Some(_) => {
                self.replace_announcer(Link::Restarted);
            }
            None => {
                // A game that is closing is not one to join.
                if matches!(
                    body,
                    Body::Heartbeat { closing: true, .. } | Body::Close { .. }
                ) {
                    self.heard_other(session, body, source);
                    return false;
                }
            }
        }
        self.follow_now(session, now);
        true
    }

    /// Stops following our announcer (its run is over for us): nothing of it is shown again.
    fn replace_announcer(&mut self, why: Link) {
        if let Some(old) = self.announcer.take() {
            if self.stale.len() >= MAX_STALE {
                self.stale.clear();
            }
            self.stale.insert(old.session);
            self.peers.forget(old.session);
        }
        self.show(Event::Announcer { state: why });
    }

    /// Follows the announcer `session` from now on: we join it, and keep what it says until
    /// we know where our events start.
    fn follow_now(&mut self, session: SessionId, now: Instant) {
        self.announcer = Some(Followed {
            session,
            unreachable: false,
            address: None,
        });
        self.peers.forget(session);
        if !self.peers.contains(session)
            && self.peers.len() >= MAX_SENDERS
            && let Some(oldest) = self.peers.least_recent(None)
        {
            self.peers.forget(oldest);
        }
        self.peers.listen_wide(session, ANNOUNCER_NAME, 1, now);
        self.phase = Phase::Placing {
            kept: BTreeMap::new(),
        };
        // A new announcer does not know us yet; right after our own join, it is answering it.
        self.join_due = Some(now.max(self.last_join.checked_add(JOIN_RETRY).unwrap_or(now)));
        // A spectator asks where the game stands (a few times: the request or the answer
        // may be lost).
        if self.spectator {
            self.watch_due = Some(now);
            self.watches_left = WATCH_TRIES;
        }
    }

    /// Starts listening to the announcer `session` from number `at` (our first welcome):
    /// what arrived from there on is taken in order, what is missing is asked for, what came
    /// before is in the welcome's snapshot.
    fn start_listening(&mut self, session: SessionId, at: u64, now: Instant) {
        if !matches!(self.phase, Phase::Placing { .. }) {
            return; // listening already
        }
        let Phase::Placing { kept } = std::mem::replace(&mut self.phase, Phase::Admitted) else {
            return;
        };
        self.peers.restart(session, at);
        for (seq, (datagram, size)) in kept {
            if seq >= at
                && let Received::Arrived(arrived) = self.peers.receive(datagram, size, now)
            {
                self.deliver(arrived, now);
            }
        }
    }

    fn heard_announcer(&mut self, body: &Body, source: SocketAddr, now: Instant) {
        let Some(announcer) = self.announcer.as_mut() else {
            return;
        };
        announcer.address = Some(source);
        let every = match body {
            Body::Heartbeat { every_ms, .. } => Some(reliable::peers::beat_interval(*every_ms)),
            _ => None,
        };
        self.peers.heard(announcer.session, every, now);
        if announcer.unreachable {
            announcer.unreachable = false;
            self.show(Event::Announcer { state: Link::Back });
        }
    }

    /// Hands what the table let through to [`Player::handle`], showing gaps.
    fn deliver(&mut self, arrived: Vec<(SessionId, Arrived)>, now: Instant) {
        for (session, arrived) in arrived {
            let followed = self.is_followed(session);
            match arrived {
                Arrived::Whole(datagram) => self.handle(datagram, now),
                // Before our welcome the announcer's events are not ours to show.
                Arrived::Lost(count)
                    if !followed || matches!(self.phase, Phase::Playing | Phase::Rejoining) =>
                {
                    let from = self
                        .peers
                        .get(session)
                        .map_or_else(|| session.to_string(), |p| p.name().to_string());
                    self.show(Event::Lost { from, count });
                }
                Arrived::Lost(_) => {}
                Arrived::Unreadable(why) => self.bad(&format!("from {session}: {why}")),
            }
        }
    }

    /// One whole datagram, in its sender's order.
    fn handle(&mut self, datagram: Datagram, now: Instant) {
        let sender = datagram.session;
        if datagram.body.is_from_announcer() {
            if !self.is_followed(sender) {
                return; // a large event from an announcer we do not follow
            }
            // Until our welcome, the announcer's events are covered by the welcome's snapshot.
            let for_us = match &datagram.body {
                body @ Body::Welcome { .. } => body.welcomes(self.session).is_some(),
                Body::Refuse { to_session, .. } | Body::Left { to_session, .. } => {
                    *to_session == self.session
                }
                Body::Hello { .. } | Body::Close { .. } => true,
                _ => false,
            };
            if matches!(self.phase, Phase::Admitted | Phase::Placing { .. }) && !for_us {
                return;
            }
        }
        let welcomed_as = datagram.body.welcomes(self.session).map(str::to_string);
        match datagram.body {
            Body::Join => self.joined(datagram.from, sender),
            Body::Leave { reason } => self.left(datagram.from, sender, reason),
            Body::Chat { text } => self.chat(datagram.from, sender, text, now),
            Body::Hello { moves, .. } => self.moves = moves,
            Body::Welcome {
                player,
                to_session,
                players,
                moves,
                game,
                ranking,
                streams,
                also,
            } => {
                let Some(player) = welcomed_as else {
                    // Someone else is in (or several): news once each, after our own welcome.
                    self.joined(player, to_session);
                    for newcomer in also {
                        self.joined(newcomer.player, newcomer.to_session);
                    }
                    return;
                };
                match self.phase {
                    // Ours again (after a repeated join): not news.
                    Phase::Playing => return,
                    Phase::Rejoining => {
                        self.phase = Phase::Playing;
                        self.join_due = None;
                        self.moves = moves;
                        return self.show(Event::Notice {
                            text: "the announcer took us back into the game".into(),
                        });
                    }
                    _ => {}
                }
                self.phase = Phase::Playing;
                self.join_due = None;
                self.moves = moves.clone();
                for name in &players {
                    self.know(name, None);
                }
                for stream in streams {
                    // Who is who: chat signed with a player's name from another session is not
                    // that player's.
                    self.know(&stream.name, Some(stream.session));
                    if stream.session != self.session && !self.peers.contains(stream.session) {
                        self.track(
                            stream.session,
                            &stream.name,
                            stream.last.saturating_add(1),
                            now,
                        );
                    }
                }
                let announcer = self.announcer_address();
                self.show(Event::Welcome {
                    player,
                    announcer,
                    players,
                    moves,
                    game: game.map(|g| *g),
                    ranking,
                });
            }
            Body::Snapshot {
                to_session,
                players,
                game,
                ranking,
            } => {
                if to_session != self.session || !self.spectator || self.watch_due.is_none() {
                    return; // someone else's, or ours again
                }
                self.watch_due = None;
                for name in &players {
                    self.know(name, None);
                }
                let announcer = self.announcer_address();
                // The game as a welcome tells it: the views take it the same way.
                self.show(Event::Welcome {
                    player: self.name.clone(),
                    announcer,
                    players,
                    moves: self.moves.clone(),
                    game: game.map(|g| *g),
                    ranking,
                });
            }
            Body::Refuse {
                player,
                to_session,
                reason,
            } => {
                if to_session != self.session {
                    return;
                }
                self.show(Event::Refused {
                    player,
                    reason: reason.clone(),
                });
                self.out.push(Reaction::Exit(Outcome::Refused(reason)));
            }
            Body::Left {
                player,
                to_session,
                reason,
            } => {
                if to_session == self.session {
                    // The announcer gave up on us while we are here (our heartbeats were lost):
                    // join again, and go on showing its game meanwhile.
                    if matches!(self.phase, Phase::Playing) {
                        self.phase = Phase::Rejoining;
                        self.join_due = Some(now);
                        self.show(Event::Notice {
                            text: format!(
                                "the announcer dropped us ({}); joining again",
                                text::visible(&reason)
                            ),
                        });
                    }
                    return;
                }
                if self.roster.remove(&text::skeleton(&player)).is_some() {
                    self.show(Event::Leave { player, reason });
                }
            }
            Body::Close { text, successor } => match successor {
                Some(successor) if successor != sender && !self.stale.contains(&successor) => {
                    // Our announcer leaves the group to another one, which keeps the game.
                    self.replace_announcer(Link::HandedOver);
                    self.follow_now(successor, now);
                    self.join_due = Some(now);
                }
                _ if self.spectator => {
                    // The game is over, the spectator is not: it waits for the next one.
                    self.show(Event::Close { text });
                    self.watch_due = None;
                    if let Some(old) = self.announcer.take() {
                        if self.stale.len() >= MAX_STALE {
                            self.stale.clear();
                        }
                        self.stale.insert(old.session);
                        self.peers.forget(old.session);
                    }
                    self.phase = Phase::Alone;
                }
                _ => {
                    self.show(Event::Close { text });
                    self.out.push(Reaction::Exit(Outcome::Closed));
                }
            },
            Body::Announcement(Announcement::Tell { ref to, .. }) if *to != self.name => {}
            Body::Announcement(announcement) => {
                self.show(Event::Announcement(announcement));
            }
            Body::Move { .. }
            | Body::Admit { .. }
            | Body::Watch
            | Body::Heartbeat { .. }
            | Body::Nack { .. }
            | Body::Expired { .. }
            | Body::Fragment { .. } => {}
        }
    }

    /// Records that `name` is used by `session` (when known). Returns false when the name is
    /// known already, or when there is no room for more names.
    fn know(&mut self, name: &str, session: Option<SessionId>) -> bool {
        let skeleton = text::skeleton(name);
        if let Some(known) = self.roster.get_mut(&skeleton) {
            if let Some(session) = session {
                known.session.get_or_insert(session);
            }
            return false;
        }
        if self.roster.len() >= MAX_NAMES {
            return false;
        }
        self.roster.insert(
            skeleton,
            Known {
                name: name.to_string(),
                session,
            },
        );
        true
    }

    /// `name` entered the group from `session`.
    fn joined(&mut self, name: String, session: SessionId) {
        let skeleton = text::skeleton(&name);
        if let Some(known) = self.roster.get(&skeleton)
            && known.name != name
            && known.session.is_some_and(|s| s != session)
        {
            let text = format!(
                "ignored {} joining: that name looks like {}, who is here",
                text::visible_quoted(&name),
                text::visible_quoted(&known.name)
            );
            return self.warn_once(&format!("name {skeleton}"), text);
        }
        // Known already (from a welcome, a re-join, or a name taken twice): not news.
        if self.know(&name, Some(session)) {
            self.show(Event::Join { player: name });
        }
    }

    /// `name` (from `session`) left.
    fn left(&mut self, name: String, session: SessionId, reason: String) {
        let skeleton = text::skeleton(&name);
        if let Some(known) = self.roster.get(&skeleton)
            && known.session.is_some_and(|s| s != session)
        {
            // Someone under a name that is already here, leaving: not the one we know.
            return;
        }
        if self.roster.remove(&skeleton).is_some() || self.announcer.is_none() {
            self.show(Event::Leave {
                player: name,
                reason,
            });
        }
    }

    /// A chat line from `name` (session `session`).
    fn chat(&mut self, name: String, session: SessionId, text: String, now: Instant) {
        let skeleton = text::skeleton(&name);
        if let Some(known) = self.roster.get(&skeleton)
            && known.session.is_some_and(|owner| owner != session)
        {
            let text = format!(
                "ignored chat signed {} from another session ({session}): that name belongs \
                 to a player in the game",
                text::visible(&name)
            );
            return self.warn_once(&format!("name {skeleton}"), text);
        }
        if self.chat_allowed(&session.to_string(), &name, now) {
            self.show(Event::Chat { from: name, text });
        }
    }

    /// Whether a chat line from `sender` (signed `name`) may be shown: each sender has a
    /// budget; over it, lines are dropped, and that is said once.
    fn chat_allowed(&mut self, sender: &str, name: &str, now: Instant) -> bool {
        match self.chat_budgets.take(&sender.to_string(), now) {
            Verdict::Allow => true,
            Verdict::FirstDrop => {
                let text = format!(
                    "{} sends too fast: dropping their lines until they slow down",
                    text::visible(name)
                );
                self.show(Event::Notice { text });
                false
            }
            Verdict::Drop => false,
        }
    }

    /// Where the announcer we follow speaks from, for a welcome.
    fn announcer_address(&self) -> Option<String> {
        self.announcer
            .as_ref()
            .and_then(|a| a.address)
            .map(|at| at.to_string())
    }

    /// A datagram of an announcer we do not follow: named when new, or its title new ([`Others`]).
    fn heard_other(&mut self, session: SessionId, body: &Body, source: SocketAddr) {
        if let Some(other) = self.others.heard(session, body, source) {
            self.name_other(&other);
        }
    }

    /// Says which other announcer is on the group, and what that means for this player.
    fn name_other(&mut self, other: &Other) {
        let game = match &other.title {
            Some(title) => format!("{} at {}", text::visible_quoted(title), other.address),
            None => format!("at {}", other.address),
        };
        let ours = self
            .announcer
            .as_ref()
            .map(|a| a.address.map_or("ours".to_string(), |at| at.to_string()));
        let text = match ours {
            Some(ours) => format!(
                "another announcer is on this group: the game {game}. This player stays in the \
                 game of the announcer at {ours}, and shows nothing of the other one; for two \
                 games at once, start each on its own --port or --group"
            ),
            None => format!(
                "an announcer {game} is closing its game; this player waits for one that is \
                 running"
            ),
        };
        self.show(Event::Notice { text });
    }

    /// Shows `text` the first time `key` comes up.
    fn warn_once(&mut self, key: &str, text: String) {
        if self.warned.len() < MAX_WARNED && self.warned.insert(key.to_string()) {
            self.show(Event::Notice { text });
        }
    }

    fn bad(&mut self, why: &str) {
        self.bad_datagrams = self.bad_datagrams.saturating_add(1);
        // Say it once; after that, count quietly so that noise cannot flood the screen.
        if self.bad_datagrams == 1 {
            let text = format!("ignored a datagram {why} (further ones are ignored quietly)");
            self.show(Event::Notice { text });
        }
    }

    fn show(&mut self, event: Event) {
        self.out.push(Reaction::Show(event));
    }

    /// Our `text` on the lab's text channel, signed with our name as the lab's chat signs it;
    /// not in a game with a key.
    fn say(&mut self, text: &str) {
        if !self.guard.is_protected() {
            // The lab's script prints what arrives straight to its terminal.
            let text = text::visible(text);
            self.out
                .push(Reaction::Say(format!("{}: {text}", self.name)));
        }
    }

    /// Sends a body of ours: numbered and kept for repair, or a control datagram.
    fn send(&mut self, body: Body, now: Instant) {
        if !body.is_numbered() {
            let bytes = self.sender.control(&body);
            return self.transmit(&bytes);
        }
        // `typed` checked the size of what a person writes; our other bodies are small.
        match Payload::new(&body) {
            Ok(payload) => {
                for bytes in self.sender.send(&payload, now) {
                    self.transmit(&bytes);
                }
            }
            Err(too_large) => self.show(Event::Notice {
                text: format!("not sent: {too_large}"),
            }),
        }
    }

    fn transmit(&mut self, bytes: &Bytes) {
        let sealed = match self.guard.seal(bytes) {
            std::borrow::Cow::Borrowed(_) => bytes.clone(),
            std::borrow::Cow::Owned(signed) => signed.into(),
        };
        self.out.push(Reaction::Transmit(sealed));
    }
}
