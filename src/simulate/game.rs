//! A simulated game that a test steers: players join, type and leave when the test says, and
//! game time passes only when the test lets it. What the script tests of `announcer --test`
//! drive (through [`crate::script::testing`]), and what Rust tests can drive directly.
//!
//! The announcer and the players are the real loops on the in-memory group under tokio's
//! paused clock, on one thread: between two calls of the test nothing runs at all, and a call
//! that lets time pass runs everything that happens in that time, in order.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::{JoinHandle, LocalSet};

use super::Simulation;
use crate::announcer::{self, Config, Console, End};
use crate::event::Event;
use crate::link::memory::Hub;
use crate::player::{self, Outcome};

/// What the game's members showed so far: shared with their tasks.
#[derive(Debug, Default)]
struct Shown {
    /// The host's console, line by line.
    host: Vec<String>,
    /// Each player's events, by player number.
    players: Vec<Vec<Event>>,
    /// How each player's program ended, once it did: `left`, `closed`, `refused: why`…
    outcomes: Vec<Option<String>>,
    /// Whether the announcer has ended.
    ended: bool,
}

/// A player of a [`Game`]: its number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerId(usize);

/// A simulated game under a test's control.
pub struct Game {
    runtime: tokio::runtime::Runtime,
    local: LocalSet,
    hub: Hub,
    shown: Arc<Mutex<Shown>>,
    /// Told whenever anything is shown: waits wake on it.
    changed: Arc<Notify>,
    announcer: JoinHandle<anyhow::Result<End>>,
    /// What each player types, by player number (`None` once the test made it leave).
    inputs: Vec<Option<mpsc::Sender<String>>>,
    names: Vec<String>,
    /// Where each player's next `wait_for` starts looking: just after the event its last one
    /// found, so that a test reads what a player sees in order ("the next ranking").
    read: Vec<usize>,
    began: tokio::time::Instant,
}

impl std::fmt::Debug for Game {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Game")
            .field("players", &self.names)
            .finish_non_exhaustive()
    }
}

/// A writer that appends each line written to the host's console of a [`Game`].
struct HostLines {
    partial: Vec<u8>,
    shown: Arc<Mutex<Shown>>,
    changed: Arc<Notify>,
}

impl std::io::Write for HostLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(bytes);
        while let Some(at) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=at).collect();
            let line = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line));
            lock(&self.shown).host.push(line.into_owned());
            self.changed.notify_waiters();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lock(shown: &Mutex<Shown>) -> MutexGuard<'_, Shown> {
    // Only this thread's tasks hold it, never across a wait; a panic in one is a bug in us.
    shown
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The longest a join waits for the announcer's answer, in game time.
const JOIN_WITHIN: Duration = Duration::from_secs(10);

impl Game {
    /// Starts `config`'s announcer on a simulated group and lets game time pass until it
    /// plays (it first listens for another announcer, 0.6 s). A script that does not load is
    /// an error, with its `file:line`.
    pub fn start(mut config: Config, simulation: Simulation) -> anyhow::Result<Game> {
        let (hub, runtime) = super::prepare(&mut config, simulation)?;
        let local = LocalSet::new();
        let shown = Arc::new(Mutex::new(Shown::default()));
        let changed = Arc::new(Notify::new());
        let console = {
            let lines = || HostLines {
                partial: Vec::new(),
                shown: shown.clone(),
                changed: changed.clone(),
            };
            Console::new(false, false, Box::new(lines()), Box::new(lines()))
        };
        let began = local.block_on(&runtime, async { tokio::time::Instant::now() });
        let announcer = {
            let hub = hub.clone();
            let shown = shown.clone();
            let changed = changed.clone();
            local.spawn_local(async move {
                let end =
                    announcer::run(config, &hub, console, std::future::pending::<String>()).await;
                lock(&shown).ended = true;
                changed.notify_waiters();
                end
            })
        };
        let mut game = Game {
            runtime,
            local,
            hub,
            shown,
            changed,
            announcer,
            inputs: Vec::new(),
            names: Vec::new(),
            read: Vec::new(),
            began,
        };
        let ready = game.run_until(Duration::from_secs(5), |shown| {
            shown.ended
                || shown
                    .host
                    .iter()
                    .any(|l| l.starts_with("gamecast announcer:"))
        });
        let ready = ready && !lock(&game.shown).ended;
        if !ready {
            // It ended before it played: a script that did not load says why.
            if game.ended() {
                let announcer = &mut game.announcer;
                let ended = game.local.block_on(&game.runtime, announcer);
                return match ended {
                    Ok(Err(error)) => Err(error),
                    Ok(Ok(end)) => anyhow::bail!("the announcer ended before the game: {end:?}"),
                    Err(panic) => anyhow::bail!("the announcer crashed: {panic}"),
                };
            }
            anyhow::bail!("the announcer did not start within 5 s of game time");
        }
        Ok(game)
    }

    /// A player named `name` joins, and game time passes until the announcer welcomed or
    /// refused it (10 s at most; then it is an error).
    pub fn join(&mut self, name: &str) -> anyhow::Result<PlayerId> {
        let id = PlayerId(self.names.len());
        let link = self.hub.link();
        let (input, lines) = mpsc::channel(64);
        {
            let mut shown = lock(&self.shown);
            shown.players.push(Vec::new());
            shown.outcomes.push(None);
        }
        let show = {
            let shown = self.shown.clone();
            let changed = self.changed.clone();
            move |event: Event| {
                lock(&shown).players[id.0].push(event);
                changed.notify_waiters();
            }
        };
        let shown = self.shown.clone();
        let changed = self.changed.clone();
        let name_owned = name.to_string();
        self.local.spawn_local(async move {
            let played = player::play(
                &name_owned,
                link,
                player::Options::default(),
                lines,
                show,
                std::future::pending(),
            )
            .await;
            let outcome = match played {
                Ok(played) => match played.outcome {
                    Outcome::Left => "left".to_string(),
                    Outcome::Closed => "closed".to_string(),
                    Outcome::Refused(why) => format!("refused: {why}"),
                    Outcome::Interrupted => "interrupted".to_string(),
                },
                Err(error) => format!("error: {error:#}"),
            };
            lock(&shown).outcomes[id.0] = Some(outcome);
            changed.notify_waiters();
        });
        self.inputs.push(Some(input));
        self.names.push(name.to_string());
        self.read.push(0);
        let answered = self.run_until(JOIN_WITHIN, |shown| {
            shown.outcomes[id.0].is_some()
                || shown.players[id.0]
                    .iter()
                    .any(|e| matches!(e, Event::Welcome { .. } | Event::Refused { .. }))
        });
        if !answered {
            anyhow::bail!(
                "{name} was neither welcomed nor refused within {} s of game time",
                JOIN_WITHIN.as_secs()
            );
        }
        Ok(id)
    }

    /// The name `player` joined with.
    pub fn name(&self, player: PlayerId) -> &str {
        &self.names[player.0]
    }

    /// `player` types `line` (it is sent at once; what it causes happens as time passes).
    pub fn say(&mut self, player: PlayerId, line: &str) -> anyhow::Result<()> {
        let Some(input) = &self.inputs[player.0] else {
            anyhow::bail!(
                "{} left the game: it types nothing more",
                self.names[player.0]
            );
        };
        let input = input.clone();
        let line = line.to_string();
        let sent = self
            .local
            .block_on(&self.runtime, async move { input.send(line).await });
        if sent.is_err() {
            anyhow::bail!(
                "{}'s program has ended ({}): it types nothing more",
                self.names[player.0],
                self.outcome(player).unwrap_or_default()
            );
        }
        Ok(())
    }

    /// `player`'s input ends, as Ctrl-D would: it says goodbye and leaves (as time passes).
    pub fn leave(&mut self, player: PlayerId) {
        self.inputs[player.0] = None;
    }

    /// Lets `time` of game time pass.
    pub fn advance(&mut self, time: Duration) {
        // The sleep is made inside the runtime: its timer belongs to the game's clock.
        self.local
            .block_on(&self.runtime, async move { tokio::time::sleep(time).await });
    }

    /// Lets game time pass until `done` holds for what was shown, or `limit` passed; whether
    /// it held.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Shown) -> bool) -> bool {
        let shown = self.shown.clone();
        let changed = self.changed.clone();
        self.local.block_on(&self.runtime, async move {
            let deadline = tokio::time::Instant::now() + limit;
            loop {
                // Registered before looking, so that nothing shown in between is missed.
                let wake = changed.notified();
                if done(&lock(&shown)) {
                    return true;
                }
                tokio::select! {
                    biased;
                    () = wake => {}
                    () = tokio::time::sleep_until(deadline) => return done(&lock(&shown)),
                }
            }
        })
    }

    /// Lets game time pass until `player` has shown an event for which `wanted` holds, after
    /// the one its last `wait_for` found (events it showed before that do not count), or `limit`
    /// passed; the first such event.
    pub fn wait_for(
        &mut self,
        player: PlayerId,
        limit: Duration,
        mut wanted: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let mut found = None;
        // Events only grow: each look tries those that came since the last one.
        let mut looked = self.read[player.0];
        self.run_until(limit, |shown| {
            let events = &shown.players[player.0];
            let from = looked.min(events.len());
            found = events
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, e)| wanted(e))
                .map(|(at, e)| (at, e.clone()));
            looked = events.len();
            found.is_some()
        });
        let (at, event) = found?;
        self.read[player.0] = at.saturating_add(1);
        Some(event)
    }

    /// Lets game time pass until the announcer ended, or `limit` passed; whether it ended.
    pub fn run_to_end(&mut self, limit: Duration) -> bool {
        self.run_until(limit, |shown| shown.ended)
    }

    /// Whether the announcer has ended (the script called `stop()`).
    pub fn ended(&self) -> bool {
        lock(&self.shown).ended
    }

    /// Every event `player` showed so far, in order.
    pub fn events(&self, player: PlayerId) -> Vec<Event> {
        lock(&self.shown).players[player.0].clone()
    }

    /// How `player`'s program ended, if it did: `left`, `closed` (the game was closed),
    /// `refused: why`, `interrupted` or `error: why`.
    pub fn outcome(&self, player: PlayerId) -> Option<String> {
        lock(&self.shown).outcomes[player.0].clone()
    }

    /// The host's console so far, line by line (script errors and `print` included).
    pub fn host(&self) -> Vec<String> {
        lock(&self.shown).host.clone()
    }

    /// The game time since the announcer started.
    pub fn time(&self) -> Duration {
        let _guard = self.runtime.enter();
        self.began.elapsed()
    }
}
