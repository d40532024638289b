//! A player's session: join the group, send what is typed (chat or a move), turn what arrives
//! into [`Event`]s, leave. Used by the `player` binary and by the announcer's `--bots`.
//!
//! The logic is a plain state machine ([`Player`]) that takes what arrives or is typed, and
//! the time, and says what to show and send, so it is tested without a network; [`play`]
//! wires it to a socket and a clock.
//!
//! What arrives goes through one [`Inbox`] per sender (the announcer and each other player):
//! shown in order and once, gaps asked for again, what cannot be repaired shown as lost. The
//! announcer's events count from our welcome, which carries where the game stands: what came
//! before is in that snapshot, so it is neither shown nor asked for.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::budget::{Budgets, Verdict};
use crate::event::{Event, Link};
use crate::key::GameKey;
use crate::protocol::seal::GuardStats;
use crate::protocol::{
    self, Announcement, Body, Datagram, Decoded, Guard, Invalid, Origin, Payload, Reassembly,
    SessionId,
};
use crate::reliable::{self, Arrived, Bytes, Delivery, Inbox, ReceiveStats, Sender};
use crate::transport::{self, Transport};

/// A player not yet welcomed asks again this often while an announcer is there.
pub const JOIN_RETRY: Duration = Duration::from_millis(500);

/// The most senders a player keeps track of; beyond, the longest silent is forgotten.
const MAX_SENDERS: usize = 256;

/// A sender silent this long is forgotten (a player that left without a word).
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// How a player's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The player typed `quit` or their input ended.
    Left,
    /// The announcer closed the game.
    Closed,
    /// The announcer refused the player's join; the reason.
    Refused(String),
    /// The host interrupted the player (Ctrl-C).
    Interrupted,
}

/// What the player should do after something arrived, was typed, or came due.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    /// Show this to the person.
    Show(Event),
    /// Send this to the group.
    Send(Body),
    /// Send again our datagrams in these ranges: someone missed them.
    Repair(Vec<(u64, u64)>),
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
}

impl Default for Options {
    fn default() -> Options {
        Options {
            heartbeat: reliable::PLAYER_HEARTBEAT,
            missed: reliable::MISSED_BEATS,
            key: None,
        }
    }
}

/// One sender we listen to: its datagrams in order, its large events put back together.
#[derive(Debug)]
struct Peer {
    name: String,
    inbox: Inbox<Datagram>,
    reassembly: Reassembly,
    heard: Instant,
}

impl Peer {
    fn new(name: &str, next: u64, now: Instant) -> Peer {
        Peer {
            name: name.to_string(),
            inbox: Inbox::starting_at(next),
            reassembly: Reassembly::default(),
            heard: now,
        }
    }
}

/// The announcer we follow.
#[derive(Debug)]
struct Followed {
    session: SessionId,
    every: Duration,
    heard: Instant,
    unreachable: bool,
    /// Until it tells us where our events start (its `admit`, or our welcome read on
    /// arrival), its datagrams wait here, by number; then its inbox starts there.
    waiting: Option<std::collections::BTreeMap<u64, Datagram>>,
}

/// Datagrams kept from an announcer before we know where to start listening to it.
const MAX_WAITING: usize = 4096;

/// What one player knows: its name and session, the game's moves, who is here, and where
/// each sender's datagrams stand.
#[derive(Debug)]
pub struct Player {
    name: String,
    session: SessionId,
    options: Options,
    moves: Vec<String>,
    announcer: Option<Followed>,
    /// Announcer runs that were replaced by a new one: nothing of theirs is shown again.
    stale: HashSet<SessionId>,
    welcomed: bool,
    last_join: Instant,
    join_due: Option<Instant>,
    /// Who is here, by name: the session we saw them join from (none when we only know the
    /// name from a welcome). A second join under a known name is not shown twice.
    roster: HashMap<String, Option<SessionId>>,
    senders: HashMap<SessionId, Peer>,
    /// What we warned about once already (a rival announcer, a name claimed by a second
    /// session): noise must not flood the screen.
    warned: HashSet<String>,
    /// Chat lines a second each sender may have shown: a flood must not bury the game.
    chat_budgets: Budgets<String>,
    /// When we last had read everything queued: silence is judged as of then, so that an
    /// announcer's heartbeat queued behind a burst does not count as silence.
    caught_up: Instant,
    /// The highest of our own numbers seen coming back: a repair of ours is not shown twice.
    own_seen: u64,
    stats: ReceiveStats,
    bad_datagrams: u64,
}

impl Player {
    /// A player called `name` whose datagrams carry `session`, which sent its join at `now`.
    pub fn new(name: &str, session: SessionId, options: Options, now: Instant) -> Player {
        Player {
            name: name.to_string(),
            session,
            options,
            moves: Vec::new(),
            announcer: None,
            stale: HashSet::new(),
            welcomed: false,
            last_join: now,
            join_due: None,
            roster: HashMap::new(),
            senders: HashMap::new(),
            own_seen: 0,
            caught_up: now,
            warned: HashSet::new(),
            chat_budgets: Budgets::default(),
            stats: ReceiveStats::default(),
            bad_datagrams: 0,
        }
    }

    /// How many datagrams were dropped as unreadable.
    pub fn bad_datagrams(&self) -> u64 {
        self.bad_datagrams
    }

    /// What loss repair did so far.
    pub fn stats(&self) -> &ReceiveStats {
        &self.stats
    }

    /// Everything queued on the socket was read at `now`.
    pub fn caught_up(&mut self, now: Instant) {
        self.caught_up = now;
    }

    /// What to do with a datagram that arrived from `source` at `now`.
    pub fn receive(&mut self, decoded: Decoded, source: SocketAddr, now: Instant) -> Vec<Reaction> {
        let datagram = match decoded {
            Decoded::Datagram(datagram) => datagram,
            Decoded::Text { from, text } => {
                let from = from.unwrap_or_else(|| source.to_string());
                let mut out = Vec::new();
                if self.chat_allowed(&source.to_string(), &from, now, &mut out) {
                    out.push(Reaction::Show(Event::Chat { from, text }));
                }
                return out;
            }
            Decoded::Invalid(Invalid::Protected) => {
                let mut out = Vec::new();
                let text = "signed datagrams are arriving: this game seems to be protected by a \
                            game key, which this player does not have, and nothing of it can be \
                            read (start the player with --key-file PATH, or the key in \
                            GAMECAST_KEY)"
                    .to_string();
                self.warn_once("protected", text, &mut out);
                return out;
            }
            Decoded::Invalid(Invalid::Forged) => {
                let mut out = self.bad(&format!("from {source}: {}", Invalid::Forged));
                let text = "datagrams signed with another game key (or altered on the way) are \
                            arriving: if they are your game's, check that everyone has the same \
                            key"
                .to_string();
                self.warn_once("forged", text, &mut out);
                return out;
            }
            Decoded::Invalid(why) => return self.bad(&format!("from {source}: {why}")),
        };
        if datagram.session == self.session {
            return self.own(datagram);
        }
        if self.stale.contains(&datagram.session) {
            return vec![];
        }
        let mut out = Vec::new();
        let session = datagram.session;
        if self
            .announcer
            .as_ref()
            .is_some_and(|a| a.session == session)
        {
            self.heard_announcer(now, &mut out);
        }
        match datagram.body {
            Body::Admit { to_session, at } => {
                if to_session == self.session && self.follow(session, now, &mut out) {
                    self.start_listening(session, at, now, &mut out);
                }
            }
            Body::Heartbeat {
                last,
                every_ms,
                announcer,
            } => {
                if announcer && !self.follow(session, now, &mut out) {
                    return out;
                }
                if self.waiting_for(session) {
                    return out;
                }
                if let Some(a) = self.announcer.as_mut().filter(|a| a.session == session) {
                    a.every = Duration::from_millis(u64::from(every_ms.max(1)));
                }
                self.track(session, &datagram.from, last + 1, now);
                if let Some(peer) = self.senders.get_mut(&session) {
                    let deliveries = peer.inbox.heard_last(last, now, &mut self.stats);
                    self.deliver(session, deliveries, now, &mut out);
                }
            }
            Body::Nack { to, ranges } => {
                if to == self.session {
                    out.push(Reaction::Repair(ranges));
                } else if let Some(peer) = self.senders.get_mut(&to) {
                    peer.inbox.overheard_nack(&ranges, now, &mut self.stats);
                }
            }
            Body::Expired { ranges } => {
                if let Some(peer) = self.senders.get_mut(&session) {
                    let deliveries = peer.inbox.expired(&ranges, &mut self.stats);
                    self.deliver(session, deliveries, now, &mut out);
                }
            }
            _ => {
                if datagram.body.is_from_announcer() && !self.follow(session, now, &mut out) {
                    return out;
                }
                if self.waiting_for(session) {
                    let ours = matches!(
                        datagram.body,
                        Body::Welcome { to_session, .. } | Body::Refuse { to_session, .. }
                            if to_session == self.session
                    );
                    let seq = datagram.seq;
                    if let Some(waiting) = self.announcer.as_mut().and_then(|a| a.waiting.as_mut())
                        && waiting.len() < MAX_WAITING
                    {
                        waiting.insert(seq, datagram);
                    }
                    // Our welcome (or refusal), whole: our events start here (its `admit` may
                    // be lost).
                    if ours {
                        self.start_listening(session, seq, now, &mut out);
                    }
                    return out;
                }
                let seq = datagram.seq;
                self.track(session, &datagram.from, seq, now);
                if let Some(peer) = self.senders.get_mut(&session) {
                    let deliveries = peer.inbox.accept(seq, datagram, now, &mut self.stats);
                    self.deliver(session, deliveries, now, &mut out);
                }
            }
        }
        out
    }

    /// Our own datagrams, looped back: our chat shows that it went out (as in the lab), our
    /// first join that we are in the group.
    fn own(&mut self, datagram: Datagram) -> Vec<Reaction> {
        if datagram.seq <= self.own_seen {
            return vec![]; // a repair of ours, or not numbered
        }
        self.own_seen = datagram.seq;
        match &datagram.body {
            Body::Chat { .. } => {}
            Body::Join if !self.roster.contains_key(&self.name) => {
                self.roster.insert(self.name.clone(), Some(self.session));
            }
            _ => return vec![],
        }
        Event::from_datagram(&datagram)
            .map(Reaction::Show)
            .into_iter()
            .collect()
    }

    /// Whether a chat line from `sender` (signed `name`) may be shown: each sender has a
    /// budget; over it, lines are dropped, and that is said once.
    fn chat_allowed(
        &mut self,
        sender: &str,
        name: &str,
        now: Instant,
        out: &mut Vec<Reaction>,
    ) -> bool {
        match self.chat_budgets.take(&sender.to_string(), now) {
            Verdict::Allow => true,
            Verdict::FirstDrop => {
                let text =
                    format!("{name} sends too fast: dropping their lines until they slow down");
                out.push(Reaction::Show(Event::Notice { text }));
                false
            }
            Verdict::Drop => false,
        }
    }

    /// Shows `text` the first time `key` comes up.
    fn warn_once(&mut self, key: &str, text: String, out: &mut Vec<Reaction>) {
        if self.warned.len() < 64 && self.warned.insert(key.to_string()) {
            out.push(Reaction::Show(Event::Notice { text }));
        }
    }

    fn bad(&mut self, why: &str) -> Vec<Reaction> {
        self.bad_datagrams += 1;
        // Say it once; after that, count quietly so that noise cannot flood the screen.
        if self.bad_datagrams == 1 {
            let text = format!("ignored a datagram {why} (further ones are ignored quietly)");
            return vec![Reaction::Show(Event::Notice { text })];
        }
        vec![]
    }

    /// Listens to the sender `session` (from its number `next` if it is new).
    fn track(&mut self, session: SessionId, name: &str, next: u64, now: Instant) {
        if !self.senders.contains_key(&session) && self.senders.len() >= MAX_SENDERS {
            let followed = self.announcer.as_ref().map(|a| a.session);
            if let Some(oldest) = self
                .senders
                .iter()
                .filter(|(s, _)| Some(**s) != followed)
                .min_by_key(|(_, p)| p.heard)
                .map(|(s, _)| *s)
            {
                self.senders.remove(&oldest);
            }
        }
        self.senders
            .entry(session)
            .or_insert_with(|| Peer::new(name, next, now))
            .heard = now;
    }

    /// An announcer's datagram arrived from `session`: follow it if it is ours, or the first
    /// we hear, or a newer run replacing ours after ours fell silent. Returns whether the
    /// datagram is from the announcer we follow now.
    fn follow(&mut self, session: SessionId, now: Instant, out: &mut Vec<Reaction>) -> bool {
        match &self.announcer {
            Some(current) if current.session == session => return true,
            // A new run is followed only once ours fell silent, and only if it is newer (session
            // numbers grow with time): a forged or replayed hello cannot take the game over
            // while the announcer is there, nor an old run come back.
            Some(current) if !current.unreachable || session < current.session => {
                // Only the announcer that welcomed us speaks for the game: another one on the
                // group (or someone posing as one) is ignored, and said so once.
                let text = format!(
                    "ignoring announcer events from another announcer (session {session}): \
                     only the one we joined speaks for the game"
                );
                self.warn_once(&format!("rival {session}"), text, out);
                return false;
            }
            Some(current) => {
                let old = current.session;
                self.stale.insert(old);
                self.senders.remove(&old);
                self.welcomed = false;
                out.push(Reaction::Show(Event::Announcer {
                    state: Link::Restarted,
                }));
            }
            None => {}
        }
        self.announcer = Some(Followed {
            session,
            every: reliable::ANNOUNCER_HEARTBEAT,
            heard: now,
            unreachable: false,
            waiting: Some(Default::default()),
        });
        self.senders.remove(&session);
        if !self.welcomed {
            // A new announcer does not know us yet; right after our own join, it is answering it.
            self.join_due = Some(now.max(self.last_join + JOIN_RETRY));
        }
        true
    }

    /// Whether `session` is the announcer we follow and we do not know yet where to start.
    fn waiting_for(&self, session: SessionId) -> bool {
        self.announcer
            .as_ref()
            .is_some_and(|a| a.session == session && a.waiting.is_some())
    }

    /// Starts listening to the announcer `session` from number `at` (our first welcome):
    /// what arrived from there on is taken in order, what is missing is asked for, what came
    /// before is in the welcome's snapshot.
    fn start_listening(
        &mut self,
        session: SessionId,
        at: u64,
        now: Instant,
        out: &mut Vec<Reaction>,
    ) {
        let Some(waiting) = self.announcer.as_mut().and_then(|a| a.waiting.take()) else {
            return; // listening already
        };
        self.senders.remove(&session);
        self.track(session, protocol::ANNOUNCER_NAME, at, now);
        let mut deliveries = Vec::new();
        if let Some(peer) = self.senders.get_mut(&session) {
            for (seq, datagram) in waiting.into_iter().filter(|(seq, _)| *seq >= at) {
                deliveries.extend(peer.inbox.accept(seq, datagram, now, &mut self.stats));
            }
        }
        self.deliver(session, deliveries, now, out);
    }

    fn heard_announcer(&mut self, now: Instant, out: &mut Vec<Reaction>) {
        if let Some(announcer) = self.announcer.as_mut() {
            announcer.heard = now;
            if announcer.unreachable {
                announcer.unreachable = false;
                out.push(Reaction::Show(Event::Announcer { state: Link::Back }));
            }
        }
    }

    /// Hands what a sender's inbox let through to [`Player::handle`], putting large events
    /// back together and showing gaps.
    fn deliver(
        &mut self,
        session: SessionId,
        deliveries: Vec<Delivery<Datagram>>,
        now: Instant,
        out: &mut Vec<Reaction>,
    ) {
        let followed = self
            .announcer
            .as_ref()
            .is_some_and(|a| a.session == session);
        let Some(peer) = self.senders.get_mut(&session) else {
            return;
        };
        let name = peer.name.clone();
        for arrived in reliable::reassemble(&mut peer.reassembly, deliveries) {
            match arrived {
                Arrived::Whole(datagram) => self.handle(datagram, now, out),
                // Before our welcome the announcer's events are not ours to show.
                Arrived::Lost(count) if !followed || self.welcomed => {
                    out.push(Reaction::Show(Event::Lost {
                        from: name.clone(),
                        count,
                    }));
                }
                Arrived::Lost(_) => {}
                Arrived::Unreadable(why) => out.extend(self.bad(&format!("from {session}: {why}"))),
            }
        }
    }

    /// One whole datagram, in its sender's order.
    fn handle(&mut self, datagram: Datagram, now: Instant, out: &mut Vec<Reaction>) {
        let sender = datagram.session;
        if datagram.body.is_from_announcer() {
            if self.announcer.as_ref().is_none_or(|a| a.session != sender) {
                return; // a large event from an announcer we do not follow
            }
            // Until our welcome, the announcer's events are covered by the welcome's snapshot.
            let for_us = match &datagram.body {
                Body::Welcome { to_session, .. }
                | Body::Refuse { to_session, .. }
                | Body::Left { to_session, .. } => *to_session == self.session,
                Body::Hello { .. } | Body::Close { .. } => true,
                _ => false,
            };
            if !self.welcomed && !for_us {
                return;
            }
        }
        match datagram.body {
            Body::Join => {
                if let Some(known) = self.roster.get_mut(&datagram.from) {
                    // Known already (from a welcome, a re-join, or a name taken twice): not news.
                    known.get_or_insert(sender);
                    return;
                }
                self.roster.insert(datagram.from.clone(), Some(sender));
                out.push(Reaction::Show(Event::Join {
                    player: datagram.from,
                }));
            }
            Body::Leave { reason } => {
                if let Some(Some(session)) = self.roster.get(&datagram.from)
                    && *session != sender
                {
                    // Someone under a name that is already here, leaving: not the one we know.
                    return;
                }
                if self.roster.remove(&datagram.from).is_some() || self.announcer.is_none() {
                    out.push(Reaction::Show(Event::Leave {
                        player: datagram.from,
                        reason,
                    }));
                }
            }
            Body::Chat { text } => {
                if let Some(Some(owner)) = self.roster.get(&datagram.from)
                    && *owner != sender
                {
                    let text = format!(
                        "ignored chat signed {} from another session ({sender}): that name \
                         belongs to a player in the game",
                        datagram.from
                    );
                    self.warn_once(&format!("name {}", datagram.from), text, out);
                    return;
                }
                if self.chat_allowed(&sender.to_string(), &datagram.from, now, out) {
                    out.push(Reaction::Show(Event::Chat {
                        from: datagram.from,
                        text,
                    }));
                }
            }
            Body::Hello { moves } => self.moves = moves,
            Body::Welcome {
                player,
                to_session,
                players,
                moves,
                game,
                ranking,
                streams,
            } => {
                if to_session != self.session {
                    // Someone else is in: news once, after our own welcome.
                    if !self.roster.contains_key(&player) {
                        self.roster.insert(player.clone(), Some(to_session));
                        out.push(Reaction::Show(Event::Join { player }));
                    }
                    return;
                }
                // Ours again (after a repeated join): not news.
                if self.welcomed {
                    return;
                }
                self.welcomed = true;
                self.join_due = None;
                self.moves = moves.clone();
                for name in &players {
                    self.roster.entry(name.clone()).or_insert(None);
                }
                for stream in streams {
                    // Who is who: chat signed with a player's name from another session is not
                    // that player's.
                    self.roster
                        .insert(stream.name.clone(), Some(stream.session));
                    if stream.session != self.session && !self.senders.contains_key(&stream.session)
                    {
                        self.track(stream.session, &stream.name, stream.last + 1, now);
                    }
                }
                out.push(Reaction::Show(Event::Welcome {
                    player,
                    players,
                    moves,
                    game,
                    ranking,
                }));
            }
            Body::Refuse {
                player,
                to_session,
                reason,
            } => {
                if to_session != self.session {
                    return;
                }
                out.push(Reaction::Show(Event::Refused {
                    player,
                    reason: reason.clone(),
                }));
                out.push(Reaction::Exit(Outcome::Refused(reason)));
            }
            Body::Left {
                player,
                to_session,
                reason,
            } => {
                if to_session == self.session {
                    // The announcer gave up on us while we are here (our heartbeats were lost):
                    // join again.
                    if self.welcomed {
                        self.welcomed = false;
                        self.join_due = Some(now);
                        out.push(Reaction::Show(Event::Notice {
                            text: format!("the announcer dropped us ({reason}); joining again"),
                        }));
                    }
                    return;
                }
                if self.roster.remove(&player).is_some() {
                    out.push(Reaction::Show(Event::Leave { player, reason }));
                }
            }
            Body::Close { text } => {
                out.push(Reaction::Show(Event::Close { text }));
                out.push(Reaction::Exit(Outcome::Closed));
            }
            Body::Announcement(Announcement::Tell { ref to, .. }) if *to != self.name => {}
            Body::Announcement(announcement) => {
                out.push(Reaction::Show(Event::Announcement(announcement)));
            }
            Body::Move { .. }
            | Body::Admit { .. }
            | Body::Heartbeat { .. }
            | Body::Nack { .. }
            | Body::Expired { .. }
            | Body::Fragment { .. } => {}
        }
    }

    /// What came due at `now`: NACKs, gaps given up on, a join to repeat, a silent announcer.
    pub fn tick(&mut self, now: Instant) -> Vec<Reaction> {
        let mut out = Vec::new();
        let mut due = Vec::new();
        for (&session, peer) in self.senders.iter_mut() {
            let (ranges, deliveries) = peer.inbox.poll(now, &mut self.stats);
            if !ranges.is_empty() {
                out.push(Reaction::Send(Body::Nack {
                    to: session,
                    ranges,
                }));
            }
            if !deliveries.is_empty() {
                due.push((session, deliveries));
            }
        }
        for (session, deliveries) in due {
            self.deliver(session, deliveries, now, &mut out);
        }
        if self.join_due.is_some_and(|at| at <= now) && !self.welcomed {
            self.last_join = now;
            self.join_due = Some(now + JOIN_RETRY);
            out.push(Reaction::Send(Body::Join));
        }
        if let Some(announcer) = self.announcer.as_mut()
            && !announcer.unreachable
            && self.caught_up >= announcer.heard + announcer.every * self.options.missed
        {
            announcer.unreachable = true;
            out.push(Reaction::Show(Event::Announcer {
                state: Link::Unreachable,
            }));
        }
        let followed = self.announcer.as_ref().map(|a| a.session);
        self.senders.retain(|session, peer| {
            Some(*session) == followed || now.duration_since(peer.heard) < FORGET_AFTER
        });
        out
    }

    /// When [`Player::tick`] has something to do next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let inboxes = self
            .senders
            .values()
            .filter_map(|p| p.inbox.next_deadline());
        let join = self.join_due.filter(|_| !self.welcomed);
        let silence = self
            .announcer
            .as_ref()
            .filter(|a| !a.unreachable)
            .map(|a| a.heard + a.every * self.options.missed)
            .filter(|at| *at > self.caught_up);
        inboxes.chain(join).chain(silence).min()
    }

    /// What to do with a line the person typed.
    pub fn typed(&mut self, line: &str) -> Vec<Reaction> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return vec![];
        }
        if trimmed.eq_ignore_ascii_case("quit") {
            return vec![
                Reaction::Send(Body::Leave {
                    reason: "quit".into(),
                }),
                Reaction::Exit(Outcome::Left),
            ];
        }
        let body = if self.moves.contains(&trimmed.to_lowercase()) {
            Body::Move {
                text: trimmed.to_string(),
            }
        } else {
            Body::Chat {
                text: line.trim_end_matches(['\r', '\n']).to_string(),
            }
        };
        if let Err(too_large) = Payload::new(&body) {
            let text = format!("not sent: {too_large}");
            return vec![Reaction::Show(Event::Notice { text })];
        }
        vec![Reaction::Send(body)]
    }
}

/// How a player's session went.
#[derive(Debug, Clone)]
pub struct Played {
    /// How it ended.
    pub outcome: Outcome,
    /// What loss repair did.
    pub stats: ReceiveStats,
    /// What the game key's checks dropped.
    pub rejected: GuardStats,
}

/// Plays as `name` until the person quits, the input ends, the announcer closes the game or
/// refuses us, or `shutdown` completes. Lines typed arrive on `input`; everything to show goes
/// to `show`.
pub async fn play(
    name: &str,
    transport: Transport,
    options: Options,
    mut input: mpsc::Receiver<String>,
    mut show: impl FnMut(Event),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Played> {
    if let Some(problem) = crate::text::name_problem(name) {
        anyhow::bail!("--name: {problem}");
    }
    let now = Instant::now();
    let mut sender = Sender::new(Origin::new(name), options.heartbeat, false, now);
    let mut guard = Guard::new(options.key.as_ref());
    let mut player = Player::new(name, sender.origin().session(), options, now);
    let mut buf = transport::recv_buffer();
    show(Event::Protection {
        protected: guard.is_protected(),
    });
    // The lab's greeting: announce ourselves to the group.
    transmit(&transport, &guard, &mut sender, Body::Join).await?;
    tokio::pin!(shutdown);
    loop {
        let wake = player
            .next_deadline()
            .map_or(sender.heartbeat_due(), |at| at.min(sender.heartbeat_due()));
        let reactions = tokio::select! {
            received = transport.recv(&mut buf) => {
                let (len, source) = received?;
                let mut reactions =
                    player.receive(guard.open(&buf[..len]), source, Instant::now());
                read_queued(&transport, &mut guard, &mut buf, &mut player, &mut reactions)?;
                reactions
            }
            line = input.recv() => match line {
                Some(line) => player.typed(&line),
                None => vec![
                    Reaction::Send(Body::Leave { reason: "end of input".into() }),
                    Reaction::Exit(Outcome::Left),
                ],
            },
            () = tokio::time::sleep_until(wake.into()) => {
                if let Some(beat) = sender.heartbeat(Instant::now()) {
                    send_bytes(&transport, &guard, &beat).await?;
                }
                let mut reactions = Vec::new();
                read_queued(&transport, &mut guard, &mut buf, &mut player, &mut reactions)?;
                reactions.extend(player.tick(Instant::now()));
                reactions
            }
            () = &mut shutdown => vec![
                Reaction::Send(Body::Leave { reason: "interrupted".into() }),
                Reaction::Exit(Outcome::Interrupted),
            ],
        };
        for reaction in reactions {
            match reaction {
                Reaction::Show(event) => show(event),
                Reaction::Send(body) => transmit(&transport, &guard, &mut sender, body).await?,
                Reaction::Repair(ranges) => {
                    for bytes in sender.nacked(&ranges, Instant::now()) {
                        send_bytes(&transport, &guard, &bytes).await?;
                    }
                }
                Reaction::Exit(outcome) => {
                    return Ok(Played {
                        outcome,
                        stats: player.stats().clone(),
                        rejected: guard.stats().clone(),
                    });
                }
            }
        }
    }
}

/// Reads what else is queued on the socket, a batch at most, telling the player when it has
/// read everything.
fn read_queued(
    transport: &Transport,
    guard: &mut Guard,
    buf: &mut [u8],
    player: &mut Player,
    reactions: &mut Vec<Reaction>,
) -> std::io::Result<()> {
    for _ in 0..reliable::BATCH {
        let Some((len, source)) = transport.try_recv(buf)? else {
            player.caught_up(Instant::now());
            return Ok(());
        };
        reactions.extend(player.receive(guard.open(&buf[..len]), source, Instant::now()));
    }
    Ok(())
}

/// Sends a body: numbered and kept for repair, or as a control datagram.
async fn transmit(
    transport: &Transport,
    guard: &Guard,
    sender: &mut Sender,
    body: Body,
) -> anyhow::Result<()> {
    if !body.is_numbered() {
        return send_bytes(transport, guard, &sender.control(&body)).await;
    }
    // `typed` checked the size of what a person writes; our other bodies are small.
    let payload = Payload::new(&body)?;
    for bytes in sender.send(&payload, Instant::now()) {
        send_bytes(transport, guard, &bytes).await?;
    }
    Ok(())
}

/// Sends one datagram, signed when the game has a key.
async fn send_bytes(transport: &Transport, guard: &Guard, bytes: &Bytes) -> anyhow::Result<()> {
    transport
        .send(&guard.seal(bytes))
        .await
        .map_err(|e| anyhow::anyhow!("cannot send to {}: {e}", transport.group()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        5007,
    ));

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn from(origin: &mut Origin, body: Body) -> Decoded {
        Decoded::Datagram(origin.stamp(body))
    }

    fn announce(text: &str) -> Body {
        Announcement::Announce { text: text.into() }.into()
    }

    fn welcome(session: SessionId, players: &[&str]) -> Body {
        Body::Welcome {
            player: "alice".into(),
            to_session: session,
            players: players.iter().map(|p| p.to_string()).collect(),
            moves: vec!["roll".into()],
            game: None,
            ranking: vec![],
            streams: vec![],
        }
    }

    /// What was shown, as the texts of announcements and the kinds of everything else.
    fn shown(reactions: Vec<Reaction>) -> Vec<String> {
        reactions
            .into_iter()
            .filter_map(|r| match r {
                Reaction::Show(Event::Announcement(Announcement::Announce { text })) => Some(text),
                Reaction::Show(Event::Lost { count, .. }) => Some(format!("lost {count}")),
                Reaction::Show(event) => Some(event.to_json()),
                _ => None,
            })
            .collect()
    }

    /// alice, welcomed at `t0` by `host` (its hello is number 1, the welcome number 2).
    fn welcomed(t0: Instant) -> (Player, Origin) {
        let mut alice = Player::new("alice", 1, Options::default(), t0);
        let mut host = Origin::new("announcer");
        alice.receive(from(&mut host, Body::Hello { moves: vec![] }), SOURCE, t0);
        let reactions = alice.receive(from(&mut host, welcome(1, &["alice"])), SOURCE, t0);
        assert!(matches!(
            reactions[0],
            Reaction::Show(Event::Welcome { .. })
        ));
        (alice, host)
    }

    #[test]
    fn moves_are_private_and_the_rest_is_chat() {
        let t0 = Instant::now();
        let (mut alice, _) = welcomed(t0);
        assert_eq!(
            alice.typed(" ROLL "),
            vec![Reaction::Send(Body::Move {
                text: "ROLL".into()
            })]
        );
        assert_eq!(
            alice.typed("roll on!"),
            vec![Reaction::Send(Body::Chat {
                text: "roll on!".into()
            })]
        );
        assert_eq!(alice.typed("  "), vec![]);
        assert!(matches!(
            alice.typed("Quit")[1],
            Reaction::Exit(Outcome::Left)
        ));

        // Another player's move is never shown.
        let mut bob = Origin::new("bob");
        assert_eq!(
            alice.receive(from(&mut bob, Body::Move { text: "a".into() }), SOURCE, t0),
            vec![]
        );
    }

    #[test]
    fn a_player_joins_an_announcer_until_it_is_welcomed() {
        let t0 = Instant::now();
        let mut alice = Player::new("alice", 1, Options::default(), t0);
        let mut host = Origin::new("announcer");
        // Right after our own join, the announcer is answering it: no second join yet.
        let hello = Body::Hello { moves: vec![] };
        assert_eq!(
            alice.receive(from(&mut host, hello.clone()), SOURCE, t0),
            vec![]
        );
        assert_eq!(alice.next_deadline(), Some(t0 + JOIN_RETRY));
        // Our join or its welcome was lost: ask again.
        assert_eq!(
            alice.tick(t0 + JOIN_RETRY),
            vec![Reaction::Send(Body::Join)]
        );
        let reactions = alice.receive(
            from(&mut host, welcome(1, &["bob", "alice"])),
            SOURCE,
            t0 + ms(501),
        );
        assert!(matches!(
            reactions[0],
            Reaction::Show(Event::Welcome { .. })
        ));
        assert_eq!(alice.tick(t0 + ms(1100)), vec![]);
        assert_eq!(alice.receive(from(&mut host, hello), SOURCE, t0), vec![]);
        // bob was in the welcome: his join (again) is not news.
        let mut bob = Origin::new("bob");
        assert_eq!(
            alice.receive(from(&mut bob, Body::Join), SOURCE, t0),
            vec![]
        );
    }

    #[test]
    fn someone_elses_refusal_or_tell_is_not_ours() {
        let t0 = Instant::now();
        let (mut alice, mut host) = welcomed(t0);
        let refuse = |session| Body::Refuse {
            player: "alice".into(),
            to_session: session,
            reason: "name taken".into(),
        };
        assert_eq!(
            alice.receive(from(&mut host, refuse(2)), SOURCE, t0),
            vec![]
        );
        let tell = |to: &str| {
            Body::from(Announcement::Tell {
                to: to.into(),
                text: "psst".into(),
            })
        };
        assert_eq!(
            alice.receive(from(&mut host, tell("bob")), SOURCE, t0),
            vec![]
        );
        assert_eq!(
            alice
                .receive(from(&mut host, tell("alice")), SOURCE, t0)
                .len(),
            1
        );
        assert_eq!(
            alice.receive(from(&mut host, refuse(1)), SOURCE, t0)[1],
            Reaction::Exit(Outcome::Refused("name taken".into()))
        );
    }

    #[test]
    fn plain_text_and_garbage() {
        let t0 = Instant::now();
        let mut alice = Player::new("alice", 1, Options::default(), t0);
        assert_eq!(
            alice.receive(protocol::decode(b"user1: Hola"), SOURCE, t0),
            vec![Reaction::Show(Event::Chat {
                from: "user1".into(),
                text: "Hola".into()
            })]
        );
        assert_eq!(
            alice.receive(protocol::decode(&[0xff]), SOURCE, t0).len(),
            1
        );
        assert_eq!(alice.receive(protocol::decode(&[0xfe]), SOURCE, t0), vec![]);
        assert_eq!(alice.bad_datagrams(), 2);
    }

    #[test]
    fn announcer_events_are_shown_in_order_once_and_gaps_are_asked_for() {
        let t0 = Instant::now();
        let (mut alice, mut host) = welcomed(t0);
        let three = host.stamp(announce("3"));
        let four = host.stamp(announce("4"));
        assert_eq!(
            shown(alice.receive(Decoded::Datagram(four.clone()), SOURCE, t0)),
            Vec::<String>::new()
        );
        assert_eq!(
            alice.tick(t0 + reliable::NACK_DELAY),
            vec![Reaction::Send(Body::Nack {
                to: host.session(),
                ranges: vec![(3, 3)]
            })]
        );
        // Someone asking for our own datagrams gets them again.
        let mut bob = Origin::new("bob");
        assert_eq!(
            alice.receive(
                from(
                    &mut bob,
                    Body::Nack {
                        to: 1,
                        ranges: vec![(1, 1)]
                    }
                ),
                SOURCE,
                t0
            ),
            vec![Reaction::Repair(vec![(1, 1)])]
        );
        assert_eq!(
            shown(alice.receive(Decoded::Datagram(three.clone()), SOURCE, t0 + ms(20))),
            ["3", "4"]
        );
        assert!(
            alice
                .receive(Decoded::Datagram(three), SOURCE, t0)
                .is_empty()
        );
        assert!(
            alice
                .receive(Decoded::Datagram(four), SOURCE, t0)
                .is_empty()
        );
        // What the announcer no longer has is shown as a gap, in its place.
        host.stamp(announce("5"));
        let six = host.stamp(announce("6"));
        alice.receive(Decoded::Datagram(six), SOURCE, t0);
        assert_eq!(
            shown(alice.receive(
                from(
                    &mut host,
                    Body::Expired {
                        ranges: vec![(5, 5)]
                    }
                ),
                SOURCE,
                t0
            )),
            ["lost 1", "6"]
        );
        assert_eq!(alice.stats().repaired, 1);
    }

    #[test]
    fn a_silent_announcer_is_reported_and_a_new_run_is_followed() {
        let t0 = Instant::now();
        let (mut alice, mut old) = welcomed(t0);
        let silence = reliable::ANNOUNCER_HEARTBEAT * reliable::MISSED_BEATS;
        assert_eq!(alice.next_deadline(), Some(t0 + silence));
        // Silence counts once everything queued was read: not while a burst is queued.
        assert_eq!(shown(alice.tick(t0 + silence)), Vec::<String>::new());
        alice.caught_up(t0 + silence);
        assert_eq!(
            shown(alice.tick(t0 + silence)),
            [r#"{"kind":"announcer","state":"unreachable"}"#]
        );
        // A newer run says hello: followed, joined at once.
        let mut new = Origin::with_session("announcer", old.session() + 1);
        let later = t0 + silence + ms(1);
        assert_eq!(
            shown(alice.receive(from(&mut new, Body::Hello { moves: vec![] }), SOURCE, later)),
            [r#"{"kind":"announcer","state":"restarted"}"#]
        );
        assert_eq!(alice.tick(later), vec![Reaction::Send(Body::Join)]);
        // Nothing from the old run is shown again, nor the new one's before its welcome.
        assert!(
            alice
                .receive(from(&mut old, announce("old")), SOURCE, later)
                .is_empty()
        );
        assert!(
            alice
                .receive(from(&mut new, announce("early")), SOURCE, later)
                .is_empty()
        );
        let reactions = alice.receive(from(&mut new, welcome(1, &["alice"])), SOURCE, later);
        assert!(matches!(
            reactions[0],
            Reaction::Show(Event::Welcome { .. })
        ));
        assert_eq!(
            shown(alice.receive(from(&mut new, announce("new")), SOURCE, later)),
            ["new"]
        );
    }

    #[test]
    fn an_announcer_heard_again_is_back() {
        let t0 = Instant::now();
        let (mut alice, host) = welcomed(t0);
        let silence = reliable::ANNOUNCER_HEARTBEAT * reliable::MISSED_BEATS;
        alice.caught_up(t0 + silence);
        alice.tick(t0 + silence);
        let beat = Decoded::Datagram(Datagram {
            v: protocol::VERSION,
            from: "announcer".into(),
            session: host.session(),
            seq: 0,
            body: Body::Heartbeat {
                last: 2,
                every_ms: 250,
                announcer: true,
            },
        });
        assert_eq!(
            shown(alice.receive(beat, SOURCE, t0 + silence * 2)),
            [r#"{"kind":"announcer","state":"back"}"#]
        );
    }
}
