//! `--bots`: simulated players that join over the group like anyone else (each on its own
//! link, running the real player library) and type what the script's `bot` hook says, after
//! "thinking", never faster than `--rate-limit` lets a player.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::event::Event;
use crate::key::GameKey;
use crate::link::Network;
use crate::player;

/// Names for `--bots`, pioneers of computing and networking.
const BOT_NAMES: [&str; 12] = [
    "Ada", "Alan", "Grace", "Vint", "Radia", "Dennis", "Barbara", "Ken", "Hedy", "Linus",
    "Margaret", "Tim",
];

/// How long the bots may take to leave once the announcer is done.
const LEAVE_WITHIN: Duration = Duration::from_secs(2);

/// The name of bot number `index` (from 0).
pub fn name(index: usize) -> String {
    match BOT_NAMES.get(index) {
        Some(name) => name.to_string(),
        None => format!("Bot{}", index.saturating_add(1)),
    }
}

/// One bot.
struct Bot {
    name: String,
    /// What the bot "types".
    input: mpsc::Sender<String>,
    /// When it may type its next line: a bot types no faster than `--rate-limit` lets a
    /// player, or its lines would be dropped and a game that waits for its move would stall.
    free_at: Instant,
    task: JoinHandle<anyhow::Result<player::Played>>,
}

/// The announcer's bots, and what they see.
pub struct Bots {
    bots: Vec<Bot>,
    think: Duration,
    events_tx: mpsc::UnboundedSender<(String, Event)>,
    /// What each bot sees, for the script's `bot` hook.
    pub events: mpsc::UnboundedReceiver<(String, Event)>,
}

impl Bots {
    /// No bots yet; each thinks up to `think` before it types.
    pub fn new(think: Duration) -> Bots {
        let (events_tx, events) = mpsc::unbounded_channel();
        Bots {
            bots: Vec::new(),
            think,
            events_tx,
            events,
        }
    }

    /// Starts `count` bots on links of `network`.
    pub async fn spawn<N: Network>(
        &mut self,
        count: usize,
        network: &N,
        key: Option<&GameKey>,
        now: Instant,
    ) -> anyhow::Result<()> {
        for index in 0..count {
            let name = name(index);
            let link = network
                .open()
                .await
                .map_err(|e| e.context(format!("cannot open a link for the bot {name}")))?;
            let (input, lines) = mpsc::channel(16);
            let events = self.events_tx.clone();
            let options = player::Options {
                key: key.cloned(),
                ..player::Options::default()
            };
            let task = {
                let name = name.clone();
                tokio::spawn(async move {
                    let show = {
                        let name = name.clone();
                        move |event: Event| {
                            // The announcer outlives its bots; if it is gone, so is the game.
                            let _ = events.send((name.clone(), event));
                        }
                    };
                    player::play(&name, link, options, lines, show, std::future::pending()).await
                })
            };
            self.bots.push(Bot {
                name,
                input,
                free_at: now,
                task,
            });
        }
        Ok(())
    }

    /// The names of the bots started.
    pub fn names(&self) -> Vec<String> {
        self.bots.iter().map(|bot| bot.name.clone()).collect()
    }

    /// Has `bot` type `line` after thinking, at `rate` lines a second at most (0: no limit).
    pub fn type_later(&mut self, bot: &str, line: String, rate: f64, now: Instant) {
        let Some(bot) = self.bots.iter_mut().find(|b| b.name == bot) else {
            return;
        };
        let think = self.think.mul_f64(fastrand::f64() * 0.75 + 0.25);
        let at = now.checked_add(think).unwrap_or(now).max(bot.free_at);
        if rate > 0.0 {
            bot.free_at = at
                .checked_add(Duration::from_secs_f64(1.0 / rate))
                .unwrap_or(at);
        }
        let input = bot.input.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            // The bot may have left meanwhile; then there is nobody to type for.
            let _ = input.send(line).await;
        });
    }

    /// The game is over: each bot's input ends (it leaves, if the game's close did not already
    /// make it), and what went wrong with any of them is said.
    pub async fn finish(self) -> Vec<String> {
        let mut problems = Vec::new();
        for bot in self.bots {
            drop(bot.input);
            match tokio::time::timeout(LEAVE_WITHIN, bot.task).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err(error))) => problems.push(format!("bot {}: {error:#}", bot.name)),
                Ok(Err(panic)) => problems.push(format!("bot {}: it crashed: {panic}", bot.name)),
                Err(_) => problems.push(format!(
                    "bot {} did not leave within {} s",
                    bot.name,
                    LEAVE_WITHIN.as_secs()
                )),
            }
        }
        problems
    }
}
