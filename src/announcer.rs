//! The announcer: one multicast socket, one Lua script, one event loop. It admits players,
//! hands what they do to the script, fires the script's timers, sends what the script says,
//! and shows it all on the host's console. `--bots` players are run here too.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

use crate::event::Event;
use crate::player;
use crate::protocol::{self, Body, Datagram, Decoded, Origin, SessionId};
use crate::render::Style;
use crate::script::{Action, Reload, Script, ScriptError};
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
}

/// How long the files must stay quiet after a change before we reload: editors save with a
/// burst of events (write, rename, delete a backup…), and the burst must make one reload.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(20);

/// Runs a game until the script calls `stop()` or `shutdown` completes. A script that does not
/// load is an error (with its file:line); errors while the game runs are shown and survived.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let script = Script::load(&config.script, &config.args).map_err(anyhow::Error::new)?;
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
        origin: Origin::new(ANNOUNCER_NAME),
        roster: Vec::new(),
        console,
        bots: HashMap::new(),
        bot_think: config.bot_think,
        bad_datagrams: 0,
        rival: None,
        pending: Vec::new(),
    };
    announcer.serve(&config, bot_tx, bot_events, shutdown).await
}

/// One joined player.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    session: SessionId,
}

struct Announcer {
    script: Script,
    transport: Transport,
    origin: Origin,
    /// Who is in the game, in join order.
    roster: Vec<Member>,
    console: Console,
    /// Each bot's input: what the bot "types".
    bots: HashMap<String, mpsc::Sender<String>>,
    bot_think: Duration,
    bad_datagrams: u64,
    /// Another announcer seen on the group, reported once.
    rival: Option<SessionId>,
    /// What the announcer itself must send (welcomes, refusals) before the script's actions.
    pending: Vec<Body>,
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
        // Players already on the group join again when they hear our hello. A script that
        // declared its moves at the top level queued one (carrying them); else say it here.
        if self.script.moves().is_empty() {
            self.send(Body::Hello { moves: Vec::new() }).await;
        }
        // What the script's top level queued (`moves`, a greeting…), then the bots.
        let mut flow = self.apply().await;
        for index in 0..config.bots {
            self.spawn_bot(index, config.net, bot_tx.clone())?;
        }
        tokio::pin!(shutdown);
        let mut buf = transport::recv_buffer();
        let mut reason = "the game is over";
        while flow == Flow::Continue {
            self.console.flush();
            // Without a pending timer or reload, wake up in an hour anyway: harmless, and it
            // keeps the select simple.
            let later = Instant::now() + Duration::from_secs(3600);
            let wake = self.script.next_deadline().unwrap_or(later);
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
                    Ok((len, source)) => self.receive(&buf[..len], source),
                    Err(e) => self.console.note(&format!("warning: receive failed: {e}")),
                },
                () = tokio::time::sleep_until(wake.into()) => {
                    for error in self.script.fire_due(Instant::now()) {
                        self.console.script_error(&error);
                    }
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
        self.console.note(&format!("announcer stopped: {reason}"));
        self.console.flush();
        Ok(())
    }

    /// Handles one datagram from the group.
    fn receive(&mut self, bytes: &[u8], source: SocketAddr) {
        let datagram = match protocol::decode(bytes) {
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
                self.bad_datagrams += 1;
                self.console.json(serde_json::json!({
                    "dir": "dropped", "reason": why.to_string(), "source": source.to_string(),
                }));
                // The first few in full, then one line per hundred: noise must not bury the game.
                if self.bad_datagrams <= 5 || self.bad_datagrams.is_multiple_of(100) {
                    self.console.note(&format!(
                        "ignored a datagram from {source}: {why} ({} so far)",
                        self.bad_datagrams
                    ));
                }
                return;
            }
        };
        if datagram.session == self.origin.session() {
            return; // our own, looped back
        }
        self.console.datagram("received", &datagram);
        let member = self
            .roster
            .iter()
            .any(|m| m.name == datagram.from && m.session == datagram.session);
        match &datagram.body {
            Body::Join => self.join(&datagram.from, datagram.session, member),
            Body::Leave { reason } if member => {
                self.roster.retain(|m| m.session != datagram.session);
                self.console.show(&Event::Leave {
                    player: datagram.from.clone(),
                    reason: reason.clone(),
                });
                let result = self.script.leave(&datagram.from, reason);
                self.report(result);
            }
            Body::Chat { text } | Body::Move { text } => {
                if let Body::Chat { .. } = datagram.body {
                    self.console.show(&Event::Chat {
                        from: datagram.from.clone(),
                        text: text.clone(),
                    });
                } else {
                    self.console
                        .note(&format!("{} plays {text:?}", datagram.from));
                }
                if member {
                    let result = self.script.message(&datagram.from, text);
                    self.report(result);
                }
            }
            body if body.is_from_announcer() && self.rival != Some(datagram.session) => {
                self.rival = Some(datagram.session);
                self.console.note(&format!(
                    "warning: another announcer ({}, session {}) is sending on this group",
                    source, datagram.session
                ));
            }
            _ => {}
        }
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

    /// A player asks to join: welcome them, or refuse a name that is taken or invalid.
    fn join(&mut self, name: &str, session: SessionId, member: bool) {
        let refusal = if member {
            None // a repeated join (after our hello): welcome again, it is harmless
        } else if let Some(problem) = protocol::name_problem(name) {
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
            self.roster.push(Member {
                name: name.to_string(),
                session,
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
        let Some(input) = self.bots.get(bot).cloned() else {
            return;
        };
        let think = self.bot_think.mul_f64(fastrand::f64() * 0.75 + 0.25);
        tokio::spawn(async move {
            tokio::time::sleep(think).await;
            // The bot may have left meanwhile; then there is nobody to type for.
            let _ = input.send(line).await;
        });
    }

    fn spawn_bot(
        &mut self,
        index: usize,
        net: NetConfig,
        events: mpsc::UnboundedSender<(String, Event)>,
    ) -> anyhow::Result<()> {
        let name = match BOT_NAMES.get(index) {
            Some(name) => name.to_string(),
            None => format!("Bot{}", index + 1),
        };
        let transport = Transport::open(&net).context("cannot open a socket for a bot")?;
        let (input, lines) = mpsc::channel(16);
        self.bots.insert(name.clone(), input);
        tokio::spawn(async move {
            let show = {
                let name = name.clone();
                move |event: Event| {
                    // The announcer outlives its bots; if it is gone, so is the game.
                    let _ = events.send((name.clone(), event));
                }
            };
            let _ = player::play(&name, transport, lines, show, std::future::pending()).await;
        });
        Ok(())
    }

    /// Carries out what the script asked for since the last call.
    async fn apply(&mut self) -> Flow {
        let mut flow = Flow::Continue;
        for body in std::mem::take(&mut self.pending) {
            self.send(body).await;
        }
        for action in self.script.take_actions() {
            match action {
                Action::Send(announcement) => self.send(announcement.into()).await,
                Action::Moves(moves) => self.send(Body::Hello { moves }).await,
                Action::Print(line) => self.console.note(&format!("[script] {line}")),
                Action::Stop => flow = Flow::Stop,
            }
        }
        flow
    }

    async fn send(&mut self, body: Body) {
        let datagram = self.origin.stamp(body);
        let bytes = match protocol::encode(&datagram) {
            Ok(bytes) => bytes,
            Err(too_large) => {
                self.console.note(&format!("error: not sent: {too_large}"));
                return;
            }
        };
        if let Err(e) = self.transport.send(&bytes).await {
            self.console.note(&format!(
                "warning: cannot send to {}: {e}",
                self.transport.group()
            ));
            return;
        }
        self.console.datagram("sent", &datagram);
        if let Some(event) = Event::from_datagram(&datagram) {
            self.console.show(&event);
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
