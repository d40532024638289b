//! The announcer: one link onto the group, one Lua script, one event loop. It admits players,
//! hands what they do to the script, fires the script's timers, sends what the script says,
//! and shows it all on the host's console. `--bots` players are run here too.
//!
//! The logic is a state machine ([`core::Announcer`]) that takes datagrams, saves and the
//! time and says what to do; [`run`] is the loop around it: it waits on the link, the file
//! watcher, the bots and the clock, hands each to the state machine, and carries out its
//! [`Reaction`]s. Like mini-redis's `server::run(listener, shutdown)`, it takes where the
//! game is (a [`Network`]) and what stops it, so that tests run it on an in-memory group.

pub mod bots;
pub mod console;
pub mod core;
#[cfg(test)]
mod tests;
pub mod text_channel;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

pub use self::console::Console;
pub use self::core::{Announcer, End, PlayerLink, Reaction, Settings, Status};
use crate::link::{Link, Network};
use crate::record::{Header, Recorded};
use crate::reliable;
use crate::script::{Clock, Limits, Script, Start};
use crate::transport;
use crate::watch::Watcher;

/// Everything an announcer run needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The game script.
    pub script: PathBuf,
    /// `--set key=value` pairs, the script's `args`.
    pub args: BTreeMap<String, String>,
    /// Timing, limits, the key.
    pub settings: Settings,
    /// How many simulated players to add.
    pub bots: usize,
    /// The longest a bot thinks before it types (it takes between a quarter of it and all of it).
    pub bot_think: Duration,
    /// Reload the script when its files are saved.
    pub watch: bool,
    /// What the script may take: memory, and time per call.
    pub limits: Limits,
    /// The seed of the script's `math.random` (said on the console, so that a game can be
    /// played again with `--seed`).
    pub seed: u64,
    /// What the script's `now()` reads: the system's clock, or a simulated game's.
    pub clock: Clock,
    /// Where to record every datagram the announcer sends and receives (`--record`).
    pub record: Option<PathBuf>,
}

/// How long the files must stay quiet after a change before we reload: editors save with a
/// burst of events (write, rename, delete a backup…), and the burst must make one reload.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(20);

/// How often the host's full-screen view is told the game's status (at most).
const STATUS_EVERY: Duration = Duration::from_millis(250);

/// The time, as the loop tells it to the state machine: tokio's clock, so that a test on a
/// paused runtime drives it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs a game until the script calls `stop()`, `shutdown` completes (with why, for the console
/// and the players), or another announcer turns out to run this group. A script that does not load is an error (with its file:line);
/// errors while the game runs are shown and survived.
pub async fn run<N: Network>(
    config: Config,
    network: &N,
    mut console: Console,
    shutdown: impl Future<Output = String>,
) -> anyhow::Result<End> {
    let start = Start {
        limits: config.limits,
        now: now(),
        seed: config.seed,
        clock: config.clock,
    };
    let script =
        Script::load_with(&config.script, &config.args, start).map_err(anyhow::Error::new)?;
    if let Some(warning) = script.check_given().map_err(anyhow::Error::new)? {
        console.note(&warning);
    }
    let link = network
        .open()
        .await
        .with_context(|| format!("cannot open the group {}", network.describe()))?;
    let link = Recorded::new(
        link,
        config.record.as_deref(),
        &Header::new("announcer", None, &network.describe()),
    )?;
    if let Some(warning) = link.warning() {
        console.note(&format!("warning: {warning}"));
    }
    // A game with a key has no text channel: the lab's scripts have nothing to meet.
    let lab_hint = network.lab_hint().filter(|_| config.settings.key.is_none());
    let (mut watcher, mut changes) = if config.watch {
        let (mut watcher, changes) = Watcher::new()?;
        watcher.watch(&script.files())?;
        (Some(watcher), Some(changes))
    } else {
        (None, None)
    };
    let mut core = Announcer::new(script, config.settings.clone(), now());
    let mut bots = bots::Bots::new(config.bot_think);
    let mut started = false;
    let mut reload_due: Option<Instant> = None;
    let mut stopping = false;
    let mut buf = transport::recv_buffer();
    let mut text_buf = transport::recv_buffer();
    let mut status_due = now();
    tokio::pin!(shutdown);
    let end = loop {
        console.flush();
        // The host's view, if it runs, is told where the game stands a few times a second.
        if console.wants_status() {
            let at = now();
            if at >= status_due {
                console.status(core.status(at));
                status_due = at + STATUS_EVERY;
            }
        }
        if let Some(end) = core.done() {
            break end.clone();
        }
        if core.is_playing() && !started {
            // No other announcer runs this group: the game is open.
            started = true;
            console.note(&format!(
                "gamecast announcer: {} on {}{}",
                config.script.display(),
                network.describe(),
                if watcher.is_some() {
                    ", reloading on save"
                } else {
                    ""
                },
            ));
            console.note(&format!(
                "random seed {} (--seed {} gives the script the same random numbers)",
                config.seed, config.seed
            ));
            if config.bots > 0 && !core.script().has_bot() {
                console.note(&format!(
                    "warning: {} has no bot hook: the {} bot{} will join and never type \
                     (see on_bot() in the README)",
                    config.script.display(),
                    config.bots,
                    if config.bots == 1 { "" } else { "s" }
                ));
            }
            console.note(if core.is_protected() {
                "protected by a game key: every datagram is signed; players need the same key"
            } else {
                "not protected: anyone on this network can send to the game (see --key-file)"
            });
            if let Some(hint) = &lab_hint {
                console.note(&format!("note: {hint}"));
            }
            console.flush();
            bots.spawn(config.bots, network, config.settings.key.as_ref(), now())
                .await?;
            core.script().set_bots(bots.names());
        }
        let wake = tokio::time::Instant::from_std(core.next_deadline());
        let change = async {
            match changes.as_mut() {
                Some(changes) => changes.recv().await,
                None => std::future::pending().await,
            }
        };
        let reload_at = reload_due.map(tokio::time::Instant::from_std);
        // Branches in a fixed order (`biased`), so that a seeded simulation plays the same
        // way each time: what stops us first, then what is due (the tick reads the link too,
        // so a flood cannot starve it), the reload, the files, the bots (they answer what we
        // sent: a bounded amount), then the link.
        let reactions = tokio::select! {
            biased;
            why = &mut shutdown, if !stopping => {
                stopping = true;
                core.stop(&why, now())
            }
            () = tokio::time::sleep_until(wake) => {
                // Read what is queued first: a member's heartbeat may be waiting there.
                let mut reactions = Vec::new();
                read_queued(&link, &mut core, &mut buf, &mut reactions, &mut console);
                reactions.extend(core.tick(now()));
                reactions
            }
            () = sleep_until(reload_at) => {
                reload_due = None;
                let (changed, reactions) = core.reload(now());
                // A new version may require other modules, in other folders.
                if changed
                    && let Some(watcher) = watcher.as_mut()
                    && let Err(e) = watcher.watch(&core.script().files())
                {
                    console.note(&format!("warning: {e:#}"));
                }
                reactions
            }
            Some(_) = change => {
                reload_due = Some(now() + RELOAD_DEBOUNCE);
                Vec::new()
            }
            Some((bot, event)) = bots.events.recv() => {
                let (line, reactions) = core.bot_saw(&bot, &event, now());
                if let Some(line) = line {
                    bots.type_later(&bot, line, core.rate_limit(), now());
                }
                reactions
            }
            received = link.recv(&mut buf) => match received {
                Ok((len, source)) => {
                    let mut reactions = core.receive(&buf[..len], source, now());
                    read_queued(&link, &mut core, &mut buf, &mut reactions, &mut console);
                    reactions
                }
                Err(e) => {
                    console.note(&format!("warning: receive failed: {e}"));
                    Vec::new()
                }
            },
            said = link.news() => {
                console.note(&format!("warning: {said}"));
                Vec::new()
            }
            received = link.recv_text(&mut text_buf) => match received {
                Ok((len, source)) => core.receive_text(&text_buf[..len], source, now()),
                Err(e) => {
                    console.note(&format!("warning: receive failed on the text channel: {e}"));
                    Vec::new()
                }
            },
        };
        carry_out(reactions, &link, &mut console).await;
    };
    if let Err(e) = link.flush().await {
        console.note(&format!(
            "warning: the game's last datagrams may not have gone out: {e}"
        ));
    }
    console.note(&core.summary());
    console.flush();
    for problem in bots.finish().await {
        console.note(&format!("warning: {problem}"));
    }
    console.flush();
    Ok(end)
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads what else is queued, a batch at most. Having read everything (the link said it is
/// empty, from the kernel itself), the announcer has caught up: a player silent until now is
/// silent indeed, not queued behind a burst.
fn read_queued(
    link: &impl Link,
    core: &mut Announcer,
    buf: &mut [u8],
    reactions: &mut Vec<Reaction>,
    console: &mut Console,
) {
    for _ in 0..reliable::BATCH {
        match link.try_recv(buf) {
            Ok(Some((len, source))) => reactions.extend(core.receive(&buf[..len], source, now())),
            Ok(None) => {
                reactions.extend(core.caught_up(now()));
                return;
            }
            Err(e) => {
                console.note(&format!("warning: receive failed: {e}"));
                return;
            }
        }
    }
}

/// Carries out what the state machine said: datagrams onto the link, lines onto the console.
async fn carry_out(reactions: Vec<Reaction>, link: &impl Link, console: &mut Console) {
    for reaction in reactions {
        match reaction {
            Reaction::Transmit(bytes) => {
                if let Err(e) = link.send(&bytes).await {
                    console.note(&format!("warning: cannot send to {}: {e}", link.describe()));
                }
            }
            // The text channel is a courtesy to the lab's scripts: a line that cannot go out
            // there costs the game nothing.
            Reaction::Say(line) => {
                let _ = link.send_text(line.as_bytes()).await;
            }
            Reaction::Note(line) => console.note(&line),
            Reaction::Show(event) => console.show(&event),
            Reaction::Json(value) => console.json(&value),
        }
    }
}
