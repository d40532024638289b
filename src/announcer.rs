//! The announcer: one multicast socket, one Lua script, one event loop. It admits players,
//! hands what they do to the script, fires the script's timers, sends what the script says,
//! and shows it all on the host's console. `--bots` players are run here too.
//!
//! Everything it sends is numbered and kept for repair ([`Sender`]); each player's datagrams
//! go through an [`Inbox`], so that the script sees a player's moves in order and once. A
//! player silent for a few of its heartbeats is gone, as if it had left.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

use crate::budget::{Budgets, Verdict};
use crate::event::Event;
use crate::key::GameKey;
use crate::player;
use crate::protocol::{
    self, Announcement, Body, Datagram, Decoded, Entry, Game, Guard, Invalid, Origin, Payload,
    Reassembly, SessionId,
};
use crate::reliable::{self, Arrived, Delivery, Inbox, ReceiveStats, Sender};
use crate::render::{Style, visible};
use crate::script::{Action, Limits, Reload, Script, ScriptError};
use crate::transport::{self, NetConfig, Transport};
use crate::watch::Watcher;

/// The name the announcer's datagrams carry.
pub const ANNOUNCER_NAME: &str = "announcer";

/// Names for `--bots`, pioneers of computing and networking.
const BOT_NAMES: [&str; 12] = [
    "Ada", "Alan", "Grace", "Vint", "Radia", "Dennis", "Barbara", "Ken", "Hedy", "Linus",
    "Margaret", "Tim",
];

/// Everything an announcer run needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The game script.
    pub script: PathBuf,
    /// `--set key=value` pairs, the script's `args`.
    pub args: BTreeMap<String, String>,
    /// Where the group is.
    pub net: NetConfig,
    /// How many simulated players to add.
    pub bots: usize,
    /// The longest a bot thinks before it types (it takes between a quarter of it and all of it).
    pub bot_think: Duration,
    /// Print every event sent and received as JSON lines on stdout (the console goes to stderr).
    pub json: bool,
    /// Colour the console.
    pub colour: bool,
    /// Reload the script when its files are saved.
    pub watch: bool,
    /// How often to beat when there is nothing to say.
    pub heartbeat: Duration,
    /// A player is gone after this many of its heartbeats without a word.
    pub missed: u32,
    /// What the script may take: memory, and time per call.
    pub limits: Limits,
    /// Lines a second one player may send to the script (bursts of twice that); 0: no limit.
    pub rate_limit: f64,
    /// The game key: every datagram signed, only signed ones accepted. `None`: an open game.
    pub key: Option<GameKey>,
}

/// After closing the game, the announcer stays this long to repair its last datagrams for
/// players who missed them (and beats, so that they notice).
const LINGER: Duration = Duration::from_millis(500);

/// Joins and chat a second from everyone not in the game, together (a flood of made-up
/// players must not fill the roster or the console).
const OUTSIDERS_RATE: f64 = 50.0;
const OUTSIDERS_BURST: f64 = 100.0;

/// Sessions dropped for silence that are remembered, to tell them if they speak again.
const MAX_DROPPED: usize = 1024;

/// How long the files must stay quiet after a change before we reload: editors save with a
/// burst of events (write, rename, delete a backup…), and the burst must make one reload.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(20);

/// Runs a game until the script calls `stop()` or `shutdown` completes. A script that does not
/// load is an error (with its file:line); errors while the game runs are shown and survived.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let script = Script::load_with(&config.script, &config.args, config.limits)
        .map_err(anyhow::Error::new)?;
    let transport = Transport::open(&config.net).with_context(|| {
        format!(
            "cannot open the group {}:{}",
            config.net.group, config.net.port
        )
    })?;
    let console = Console {
        json: config.json,
        style: Style {
            colour: config.colour && !config.json,
        },
        pending: Default::default(),
    };
    if let Some(warning) = transport.buffer_warning() {
        console.note(&format!("warning: {warning}"));
    }
    let (bot_tx, bot_events) = mpsc::unbounded_channel();
    let mut announcer = Announcer {
        script,
        transport,
        guard: Guard::new(config.key.as_ref()),
        sender: Sender::new(
            Origin::new(ANNOUNCER_NAME),
            config.heartbeat,
            true,
            Instant::now(),
        ),
        missed: config.missed,
        roster: Vec::new(),
        stats: ReceiveStats::default(),
        snapshot: Snapshot::default(),
        dropped: HashMap::new(),
        caught_up: Instant::now(),
        budgets: Budgets::new(config.rate_limit, 2.0 * config.rate_limit),
        outsiders: Budgets::new(OUTSIDERS_RATE, OUTSIDERS_BURST),
        console,
        bots: HashMap::new(),
        bot_think: config.bot_think,
        bad_datagrams: 0,
        rival: None,
        pending: Vec::new(),
    };
    announcer.serve(&config, bot_tx, bot_events, shutdown).await
}

/// One joined player, and where its datagrams stand.
#[derive(Debug)]
struct Member {
    name: String,
    session: SessionId,
    inbox: Inbox<Datagram>,
    reassembly: Reassembly,
    /// When we last heard from it, and how often it says it beats.
    heard: Instant,
    every: Duration,
    /// The number of our first welcome to it (0 until sent): where its listening starts.
    welcomed_at: u64,
}

/// Where the game stands, for players who join in the middle: kept from what was sent.
#[derive(Debug, Default)]
struct Snapshot {
    game: Option<Game>,
    ranking: Vec<Entry>,
}

impl Snapshot {
    fn update(&mut self, body: &Body) {
        use protocol::Announcement as A;
        match body {
            Body::Announcement(A::GameStart { title, text }) => {
                self.game = Some(Game {
                    title: title.clone(),
                    text: text.clone(),
                });
                self.ranking.clear();
            }
            Body::Announcement(A::Ranking { entries }) => self.ranking = entries.clone(),
            Body::Announcement(A::GameEnd { .. }) => self.game = None,
            _ => {}
        }
    }
}

struct Announcer {
    script: Script,
    transport: Transport,
    /// Signs what we send and checks what we receive, when the game has a key.
    guard: Guard,
    sender: Sender,
    missed: u32,
    /// Who is in the game, in join order.
    roster: Vec<Member>,
    /// What loss repair of the players' datagrams did.
    stats: ReceiveStats,
    snapshot: Snapshot,
    /// When the announcer last had read everything queued on its socket.
    caught_up: Instant,
    /// What each member may make the script do (messages a second), and what all senders that
    /// are not in the game may, together (joins, chat): checked before any Lua runs.
    budgets: Budgets<SessionId>,
    outsiders: Budgets<()>,
    /// Players dropped for silence, and when we last told them so: one that speaks again
    /// (its heartbeats were lost, not the player) is told, and joins again.
    dropped: HashMap<SessionId, Instant>,
    console: Console,
    bots: HashMap<String, Bot>,
    bot_think: Duration,
    bad_datagrams: u64,
    /// Another announcer seen on the group, reported once.
    rival: Option<SessionId>,
    /// What the announcer itself must send (welcomes, refusals) before the script's actions.
    pending: Vec<Body>,
}

/// A simulated player run by the announcer.
struct Bot {
    /// What the bot "types".
    input: mpsc::Sender<String>,
    /// When it may type its next line: a bot types no faster than `--rate-limit` lets a
    /// player, or its lines would be dropped and a game that waits for its move would stall.
    free_at: Instant,
}

/// What the loop does after an event.
#[derive(Debug, PartialEq)]
enum Flow {
    Continue,
    Stop,
}

impl Announcer {
    async fn serve(
        &mut self,
        config: &Config,
        bot_tx: mpsc::UnboundedSender<(String, Event)>,
        mut bot_events: mpsc::UnboundedReceiver<(String, Event)>,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let (mut watcher, mut changes) = if config.watch {
            let (mut watcher, changes) = Watcher::new()?;
            watcher.watch(&self.script.files())?;
            (Some(watcher), Some(changes))
        } else {
            (None, None)
        };
        let mut reload_due: Option<Instant> = None;
        // Everything is in place: the socket is in the group, the files are watched.
        self.console.note(&format!(
            "gamecast announcer: {} on {}:{} via {} (ttl {}){}",
            config.script.display(),
            config.net.group,
            config.net.port,
            config.net.iface,
            config.net.ttl,
            if watcher.is_some() {
                ", reloading on save"
            } else {
                ""
            },
        ));
        self.console.note(if self.guard.is_protected() {
            "protected by a game key: every datagram is signed; players need the same key"
        } else {
            "not protected: anyone on this network can send to the game (see --key-file)"
        });
        // Players already on the group join again when they hear our hello. A script that
        // declared its moves at the top level queued one (carrying them); else say it here.
        if self.script.moves().is_empty() {
            self.send(Body::Hello { moves: Vec::new() }).await;
        }
        // What the script's top level queued (`moves`, a greeting…), then the bots.
        let mut flow = self.apply().await;
        for index in 0..config.bots {
            self.spawn_bot(index, config.net, config.key.clone(), bot_tx.clone())?;
        }
        tokio::pin!(shutdown);
        let mut buf = transport::recv_buffer();
        let mut reason = "the game is over";
        while flow == Flow::Continue {
            self.console.flush();
            // Without a pending timer or reload, wake up in an hour anyway: harmless, and it
            // keeps the select simple.
            let later = Instant::now() + Duration::from_secs(3600);
            let wake = [
                self.script.next_deadline(),
                Some(self.sender.heartbeat_due()),
                self.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(later);
            let change = async {
                match changes.as_mut() {
                    Some(changes) => changes.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(_) = change => reload_due = Some(Instant::now() + RELOAD_DEBOUNCE),
                () = tokio::time::sleep_until(reload_due.unwrap_or(later).into()) => {
                    reload_due = None;
                    self.reload(watcher.as_mut());
                }
                received = self.transport.recv(&mut buf) => match received {
                    Ok((len, source)) => {
                        self.receive(&buf[..len], source, Instant::now());
                        self.read_queued(&mut buf);
                    }
                    Err(e) => self.console.note(&format!("warning: receive failed: {e}")),
                },
                () = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    for error in self.script.fire_due(now) {
                        self.console.script_error(&error);
                    }
                    self.read_queued(&mut buf);
                    self.tick(Instant::now());
                }
                Some((bot, event)) = bot_events.recv() => self.bot_saw(&bot, &event),
                () = &mut shutdown => {
                    reason = "the host stopped the announcer";
                    break;
                }
            }
            flow = self.apply().await;
        }
        self.send(Body::Close {
            text: reason.to_string(),
        })
        .await;
        if !self.roster.is_empty() {
            self.linger(&mut buf).await;
        }
        let sent = self.sender.stats();
        let rejected = self.guard.stats();
        self.console.note(&format!(
            "announcer stopped: {reason} (sent {} datagrams, {} bytes, {} heartbeats; \
             repaired {} for {} NACKs, {} expired{})",
            sent.datagrams,
            sent.bytes,
            sent.heartbeats,
            sent.repairs,
            sent.nacks,
            sent.expired,
            if self.guard.is_protected() {
                format!(
                    "; dropped {} unsigned, {} forged, {} replayed",
                    rejected.unsigned, rejected.forged, rejected.replayed
                )
            } else {
                String::new()
            }
        ));
        self.console.flush();
        Ok(())
    }

    /// After the close: repairs for players who missed the last datagrams, with heartbeats so
    /// that a lost close is noticed, for [`LINGER`].
    async fn linger(&mut self, buf: &mut [u8]) {
        let end = Instant::now() + LINGER;
        let beat = LINGER / 5;
        let mut next_beat = Instant::now();
        while Instant::now() < end {
            tokio::select! {
                () = tokio::time::sleep_until(next_beat.into()) => {
                    let bytes = self.sender.beat(Instant::now());
                    self.transmit(&bytes).await;
                    next_beat += beat;
                }
                received = self.transport.recv(buf) => {
                    let Ok((len, _)) = received else { continue };
                    if let Decoded::Datagram(Datagram { body: Body::Nack { to, ranges }, .. }) =
                        self.guard.open(&buf[..len])
                        && to == self.sender.origin().session()
                    {
                        self.repair(&ranges).await;
                    }
                }
                () = tokio::time::sleep_until(end.into()) => break,
            }
        }
    }

    /// Handles one datagram from the group.
    fn receive(&mut self, bytes: &[u8], source: SocketAddr, now: Instant) {
        if self.sender.origin().is_own(bytes) {
            return; // our own, looped back: known by its first bytes, without decoding it
        }
        let datagram = match self.guard.open(bytes) {
            Decoded::Datagram(datagram) => datagram,
            Decoded::Text { from, text } => {
                let from = from.unwrap_or_else(|| source.to_string());
                self.console.json(serde_json::json!({
                    "dir": "received", "kind": "text", "from": from, "text": text,
                    "source": source.to_string(),
                }));
                self.console.show(&Event::Chat { from, text });
                return;
            }
            Decoded::Invalid(why) => {
                self.bad(&source.to_string(), &why.to_string());
                // The first time, what the host can do about it.
                let first = match why {
                    Invalid::Unsigned => self.guard.stats().unsigned == 1,
                    Invalid::Forged => self.guard.stats().forged == 1,
                    _ => false,
                };
                if first {
                    self.console.note(
                        "  (if a player sends these, it lacks this game's key or has another one: \
                         every player needs the same key, from --key-file or GAMECAST_KEY)",
                    );
                }
                return;
            }
        };
        self.console.datagram("received", &datagram);
        let session = datagram.session;
        let member = self.roster.iter().position(|m| m.session == session);
        if let Some(index) = member {
            self.roster[index].heard = now;
        }
        match datagram.body {
            Body::Heartbeat {
                announcer: true, ..
            } => self.rival(session, source),
            Body::Heartbeat { last, every_ms, .. } => match member {
                Some(index) => {
                    let m = &mut self.roster[index];
                    m.every = Duration::from_millis(u64::from(every_ms.max(1)));
                    let deliveries = m.inbox.heard_last(last, now, &mut self.stats);
                    self.deliver(session, deliveries);
                }
                None => self.tell_dropped(session, &datagram.from, now),
            },
            Body::Nack { to, ranges } => {
                if to == self.sender.origin().session() {
                    self.pending.push(Body::Nack { to, ranges });
                } else if let Some(m) = self.roster.iter_mut().find(|m| m.session == to) {
                    m.inbox.overheard_nack(&ranges, now, &mut self.stats);
                }
            }
            Body::Expired { ranges } => {
                if let Some(index) = member {
                    let deliveries = self.roster[index].inbox.expired(&ranges, &mut self.stats);
                    self.deliver(session, deliveries);
                }
            }
            ref body if body.is_from_announcer() => self.rival(session, source),
            _ => match member {
                Some(index) => {
                    let seq = datagram.seq;
                    let m = &mut self.roster[index];
                    let deliveries = m.inbox.accept(seq, datagram, now, &mut self.stats);
                    self.deliver(session, deliveries);
                }
                None => self.outsider_said(datagram, now),
            },
        }
    }

    /// Reads what else is queued, a batch at most. Having read everything, the announcer has
    /// caught up: a player silent until now is silent indeed, not queued behind a burst.
    fn read_queued(&mut self, buf: &mut [u8]) {
        for _ in 0..reliable::BATCH {
            // The game is over: what is still queued must not reach the script.
            if self.script.stop_requested() {
                return;
            }
            match self.transport.try_recv(buf) {
                Ok(Some((len, source))) => self.receive(&buf[..len], source, Instant::now()),
                Ok(None) => {
                    self.caught_up = Instant::now();
                    self.check_silent();
                    return;
                }
                Err(e) => {
                    self.console.note(&format!("warning: receive failed: {e}"));
                    return;
                }
            }
        }
    }

    /// Members silent for `missed` of their heartbeats as of the last time we had read
    /// everything queued: gone.
    fn check_silent(&mut self) {
        let at = self.caught_up;
        let silent: Vec<SessionId> = self
            .roster
            .iter()
            .filter(|m| at >= m.heard + m.every * self.missed)
            .map(|m| m.session)
            .collect();
        for session in silent {
            if self.dropped.len() >= MAX_DROPPED {
                self.dropped.clear();
            }
            self.dropped.insert(session, at);
            self.remove(session, "connection lost", "timeout");
        }
    }

    /// A datagram from a session that is not in the game: a join, the lab's chat, or a
    /// player we dropped that is still there.
    fn outsider_said(&mut self, datagram: Datagram, now: Instant) {
        if matches!(datagram.body, Body::Join | Body::Chat { .. }) {
            match self.outsiders.take(&(), now) {
                Verdict::Allow => {}
                Verdict::FirstDrop => {
                    return self.console.note(&format!(
                        "warning: too many joins and lines from outside the game \
                         ({OUTSIDERS_RATE}/s): dropping them until it calms down"
                    ));
                }
                Verdict::Drop => return,
            }
        }
        match datagram.body {
            Body::Join => self.join(&datagram.from, datagram.session, datagram.seq, now),
            Body::Chat { text } => {
                if self.roster.iter().any(|m| m.name == datagram.from) {
                    let why = format!(
                        "chat signed {:?} from session {}, not that player's",
                        datagram.from, datagram.session
                    );
                    return self.bad(&datagram.from, &why);
                }
                self.console.show(&Event::Chat {
                    from: datagram.from,
                    text,
                });
            }
            Body::Move { .. } => self.tell_dropped(datagram.session, &datagram.from, now),
            _ => {}
        }
    }

    /// A player we dropped for silence speaks: tell it (once a second at most), so that it
    /// joins again.
    fn tell_dropped(&mut self, session: SessionId, name: &str, now: Instant) {
        let Some(told) = self.dropped.get_mut(&session) else {
            return;
        };
        if now.duration_since(*told) < Duration::from_secs(1) {
            return;
        }
        *told = now;
        self.queue(Body::Left {
            player: name.to_string(),
            to_session: session,
            reason: "connection lost".into(),
        });
    }

    fn bad(&mut self, source: &str, why: &str) {
        self.bad_datagrams += 1;
        self.console.json(serde_json::json!({
            "dir": "dropped", "reason": why, "source": source,
        }));
        // The first few in full, then one line per hundred: noise must not bury the game.
        if self.bad_datagrams <= 5 || self.bad_datagrams.is_multiple_of(100) {
            // The reason may quote the datagram: escaped, like anything from the network.
            self.console.note(&format!(
                "ignored a datagram from {}: {} ({} so far)",
                visible(source),
                visible(why),
                self.bad_datagrams
            ));
        }
    }

    fn rival(&mut self, session: SessionId, source: SocketAddr) {
        if self.rival != Some(session) {
            self.rival = Some(session);
            self.console.note(&format!(
                "warning: another announcer ({source}, session {session}) is sending on this group"
            ));
        }
    }

    /// Hands what a member's inbox let through to [`Announcer::handle`], in order.
    fn deliver(&mut self, session: SessionId, deliveries: Vec<Delivery<Datagram>>) {
        let Some(m) = self.roster.iter_mut().find(|m| m.session == session) else {
            return;
        };
        let name = m.name.clone();
        for arrived in reliable::reassemble(&mut m.reassembly, deliveries) {
            if !self.roster.iter().any(|m| m.session == session) {
                return; // it left meanwhile: the rest is not for the script
            }
            match arrived {
                Arrived::Whole(datagram) => self.handle(datagram),
                Arrived::Lost(count) => self
                    .console
                    .note(&format!("{count} datagrams from {name} were lost")),
                Arrived::Unreadable(why) => self.bad(&name, &why.to_string()),
            }
        }
    }

    /// A member's datagram, in its order.
    fn handle(&mut self, datagram: Datagram) {
        let name = datagram.from;
        if matches!(datagram.body, Body::Chat { .. } | Body::Move { .. }) {
            match self.budgets.take(&datagram.session, Instant::now()) {
                Verdict::Allow => {}
                Verdict::FirstDrop => {
                    // The sender is told too: a player whose move vanished without a word
                    // would wait for an answer that never comes.
                    self.pending.push(Body::Announcement(Announcement::Tell {
                        to: name.clone(),
                        text: format!(
                            "you send too fast: your lines are ignored until you slow down \
                             (at most {} a second)",
                            self.budgets.rate()
                        ),
                    }));
                    return self.console.note(&format!(
                        "warning: {name} sends too fast: dropping their lines until they slow \
                         down (at most {} a second, bursts of {}; --rate-limit)",
                        self.budgets.rate(),
                        self.budgets.burst()
                    ));
                }
                Verdict::Drop => return,
            }
        }
        match datagram.body {
            Body::Join => self.join(&name, datagram.session, datagram.seq, Instant::now()),
            Body::Leave { reason } => self.remove(datagram.session, &reason, &reason),
            Body::Chat { text } => {
                self.console.show(&Event::Chat {
                    from: name.clone(),
                    text: text.clone(),
                });
                let result = self.script.message(&name, &text);
                self.report(result);
            }
            Body::Move { text } => {
                self.console.note(&format!("{name} plays {text:?}"));
                let result = self.script.message(&name, &text);
                self.report(result);
            }
            _ => {}
        }
    }

    /// A member is gone: tell everyone (`shown` is the reason players see), then the script
    /// (`reason`).
    fn remove(&mut self, session: SessionId, shown: &str, reason: &str) {
        let Some(index) = self.roster.iter().position(|m| m.session == session) else {
            return;
        };
        let member = self.roster.remove(index);
        self.queue(Body::Left {
            player: member.name.clone(),
            to_session: session,
            reason: shown.to_string(),
        });
        let result = self.script.leave(&member.name, reason);
        self.report(result);
    }

    /// What came due: NACKs for members' datagrams, gaps given up on.
    fn tick(&mut self, now: Instant) {
        let mut due = Vec::new();
        for m in &mut self.roster {
            let (ranges, deliveries) = m.inbox.poll(now, &mut self.stats);
            if !ranges.is_empty() {
                self.pending.push(Body::Nack {
                    to: m.session,
                    ranges,
                });
            }
            if !deliveries.is_empty() {
                due.push((m.session, deliveries));
            }
        }
        for (session, deliveries) in due {
            self.deliver(session, deliveries);
        }
    }

    /// When [`Announcer::tick`] has something to do next. A silence that ended before we last
    /// caught up is judged at the next catch-up, not by a timer.
    fn next_deadline(&self) -> Option<Instant> {
        self.roster
            .iter()
            .flat_map(|m| {
                let silent_at = m.heard + m.every * self.missed;
                [
                    m.inbox.next_deadline(),
                    (silent_at > self.caught_up).then_some(silent_at),
                ]
            })
            .flatten()
            .min()
    }

    /// The script's files were saved: run the new version, or say why the old one goes on.
    fn reload(&mut self, watcher: Option<&mut Watcher>) {
        // Between an editor's delete and its re-create the file is missing: wait for it.
        if !self.script.path().exists() {
            return;
        }
        match self.script.reload() {
            Ok(Reload::Unchanged) => {}
            Ok(Reload::Reloaded(took)) => {
                self.console.note(&format!(
                    "reloaded {} in {:.2} ms",
                    self.script.path().display(),
                    took.as_secs_f64() * 1000.0
                ));
                // A new version may require other modules, in other folders.
                if let Some(watcher) = watcher
                    && let Err(e) = watcher.watch(&self.script.files())
                {
                    self.console.note(&format!("warning: {e:#}"));
                }
            }
            Err(error) => self.console.note(&format!(
                "reload failed, the previous version goes on: {error}"
            )),
        }
    }

    /// A player asks to join: welcome them, or refuse a name that is taken or invalid. A
    /// member asking again (it did not get our welcome) is welcomed again.
    fn join(&mut self, name: &str, session: SessionId, seq: u64, now: Instant) {
        let member = self.roster.iter().any(|m| m.session == session);
        let refusal = if member {
            None
        } else if let Some(problem) = crate::text::name_problem(name) {
            Some(problem)
        } else if self.roster.iter().any(|m| m.name == name) {
            Some(format!(
                "the name {name:?} is taken in this game; pick another with --name"
            ))
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.console.note(&format!("refused {name:?}: {reason}"));
            self.queue(Body::Refuse {
                player: name.to_string(),
                to_session: session,
                reason,
            });
            return;
        }
        if !member {
            self.dropped.remove(&session);
            self.roster.push(Member {
                name: name.to_string(),
                session,
                inbox: Inbox::starting_at(seq + 1),
                reassembly: Reassembly::default(),
                heard: now,
                every: reliable::PLAYER_HEARTBEAT,
                welcomed_at: 0,
            });
            self.console.note(&format!(
                "+ {name} joined ({} in the game)",
                self.roster.len()
            ));
        }
        self.queue(Body::Welcome {
            player: name.to_string(),
            to_session: session,
            players: self.roster.iter().map(|m| m.name.clone()).collect(),
            moves: self.script.moves(),
            game: self.snapshot.game.clone(),
            ranking: self.snapshot.ranking.clone(),
            streams: self
                .roster
                .iter()
                .filter(|m| m.session != session)
                .map(|m| protocol::Stream {
                    name: m.name.clone(),
                    session: m.session,
                    last: m.inbox.next() - 1,
                })
                .collect(),
        });
        if !member {
            let result = self.script.join(name);
            self.report(result);
        }
    }

    /// Sends what a handler did before the script's own actions, in order: the script's
    /// actions are queued behind the welcome they follow.
    fn queue(&mut self, body: Body) {
        self.pending.push(body);
    }

    fn report(&self, result: Result<(), ScriptError>) {
        if let Err(error) = result {
            self.console.script_error(&error);
        }
    }

    /// A bot saw an event: ask the script what it types, and type it after "thinking".
    fn bot_saw(&mut self, bot: &str, event: &Event) {
        let line = match self.script.bot(bot, event) {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(error) => {
                self.console.script_error(&error);
                return;
            }
        };
        let rate = self.budgets.rate();
        let Some(bot) = self.bots.get_mut(bot) else {
            return;
        };
        let think = self.bot_think.mul_f64(fastrand::f64() * 0.75 + 0.25);
        let at = (Instant::now() + think).max(bot.free_at);
        if rate > 0.0 {
            bot.free_at = at + Duration::from_secs_f64(1.0 / rate);
        }
        let input = bot.input.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            // The bot may have left meanwhile; then there is nobody to type for.
            let _ = input.send(line).await;
        });
    }

    fn spawn_bot(
        &mut self,
        index: usize,
        net: NetConfig,
        key: Option<GameKey>,
        events: mpsc::UnboundedSender<(String, Event)>,
    ) -> anyhow::Result<()> {
        let name = match BOT_NAMES.get(index) {
            Some(name) => name.to_string(),
            None => format!("Bot{}", index + 1),
        };
        let transport = Transport::open(&net).context("cannot open a socket for a bot")?;
        let (input, lines) = mpsc::channel(16);
        self.bots.insert(
            name.clone(),
            Bot {
                input,
                free_at: Instant::now(),
            },
        );
        tokio::spawn(async move {
            let show = {
                let name = name.clone();
                move |event: Event| {
                    // The announcer outlives its bots; if it is gone, so is the game.
                    let _ = events.send((name.clone(), event));
                }
            };
            let options = player::Options {
                key,
                ..player::Options::default()
            };
            let _ = player::play(
                &name,
                transport,
                options,
                lines,
                show,
                std::future::pending(),
            )
            .await;
        });
        Ok(())
    }

    /// Carries out what the script asked for since the last call.
    async fn apply(&mut self) -> Flow {
        let mut flow = Flow::Continue;
        for body in std::mem::take(&mut self.pending) {
            match body {
                Body::Nack { to, ranges } if to == self.sender.origin().session() => {
                    self.repair(&ranges).await;
                }
                Body::Welcome { to_session, .. } => {
                    let first = self.sender.origin().last_seq() + 1;
                    self.send(body).await;
                    // A player whose first welcome was lost learns where it was, and asks.
                    let Some(m) = self.roster.iter_mut().find(|m| m.session == to_session) else {
                        continue;
                    };
                    if m.welcomed_at == 0 {
                        m.welcomed_at = first;
                    }
                    let admit = Body::Admit {
                        to_session,
                        at: m.welcomed_at,
                    };
                    self.send(admit).await;
                }
                body => self.send(body).await,
            }
        }
        for action in self.script.take_actions() {
            match action {
                Action::Send(announcement, payload) => {
                    self.send_payload(announcement.into(), &payload).await;
                }
                Action::Moves(moves) => self.send(Body::Hello { moves }).await,
                Action::Print(line) => self.console.note(&format!("[script] {line}")),
                Action::Stop => flow = Flow::Stop,
            }
        }
        if let Some(beat) = self.sender.heartbeat(Instant::now()) {
            self.transmit(&beat).await;
        }
        flow
    }

    /// Answers a NACK for our datagrams.
    async fn repair(&mut self, ranges: &[(u64, u64)]) {
        for bytes in self.sender.nacked(ranges, Instant::now()) {
            self.transmit(&bytes).await;
        }
    }

    async fn send(&mut self, body: Body) {
        if !body.is_numbered() {
            let bytes = self.sender.control(&body);
            self.transmit(&bytes).await;
            return;
        }
        match Payload::new(&body) {
            Ok(payload) => self.send_payload(body, &payload).await,
            Err(too_large) => self.console.note(&format!("error: not sent: {too_large}")),
        }
    }

    /// Sends a numbered body (in pieces if it is large), and shows it on the console.
    async fn send_payload(&mut self, body: Body, payload: &Payload) {
        self.snapshot.update(&body);
        for bytes in self.sender.send(payload, Instant::now()) {
            self.transmit(&bytes).await;
        }
        let origin = self.sender.origin();
        let datagram = Datagram {
            v: protocol::VERSION,
            from: origin.name().to_string(),
            session: origin.session(),
            seq: origin.last_seq(),
            body,
        };
        self.console.datagram("sent", &datagram);
        if let Some(event) = Event::from_datagram(&datagram) {
            self.console.show(&event);
        }
    }

    async fn transmit(&self, bytes: &[u8]) {
        if let Err(e) = self.transport.send(&self.guard.seal(bytes)).await {
            self.console.note(&format!(
                "warning: cannot send to {}: {e}",
                self.transport.group()
            ));
        }
    }
}

/// The host's console: what happens, for a person; with `--json`, every datagram for a program.
struct Console {
    json: bool,
    style: Style,
    /// What is waiting for stdout. Lines are written once per turn of the event loop rather than
    /// one write each: a script announcing thousands of events a second would otherwise spend
    /// more time in write calls than in Lua (measured in docs/BENCHMARKS.md).
    pending: std::cell::RefCell<String>,
}

impl Console {
    /// A line for the person running the announcer (stderr when stdout carries JSON).
    fn note(&self, line: &str) {
        if self.json {
            eprintln!("{line}");
        } else {
            self.print(line);
        }
    }

    fn print(&self, line: &str) {
        let mut pending = self.pending.borrow_mut();
        pending.push_str(line);
        pending.push('\n');
    }

    /// Writes what is pending to stdout.
    fn flush(&self) {
        let mut pending = self.pending.borrow_mut();
        if pending.is_empty() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (the host's terminal went away) must not stop the game.
        let _ = stdout.write_all(pending.as_bytes());
        let _ = stdout.flush();
        pending.clear();
    }

    fn show(&self, event: &Event) {
        self.note(&self.style.event(event));
    }

    fn script_error(&self, error: &ScriptError) {
        self.note(&format!("script error: {error}"));
    }

    fn datagram(&self, dir: &str, datagram: &Datagram) {
        if self.json {
            let mut value = serde_json::to_value(datagram).expect("a Datagram always serializes");
            value["dir"] = dir.into();
            self.print(&value.to_string());
        }
    }

    fn json(&self, value: serde_json::Value) {
        if self.json {
            self.print(&value.to_string());
        }
    }
}
