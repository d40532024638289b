//! `--simulate`: whole games in-process on a virtual clock, against the same games played in
//! real time by the real binary on loopback multicast (the baseline, measured in the same run).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gamecast::announcer::{Config, Console, Settings};
use gamecast::script::{Clock, Limits};
use gamecast::simulate::{Outcome, Simulation};

use crate::common::*;

/// A writer that counts the JSON lines of announcements sent: the game's events.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<u64>>);

impl Write for Events {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(bytes);
        let sent = text
            .lines()
            .filter(|l| l.contains(r#""dir":"sent""#) && !l.contains(r#""kind":"heartbeat""#))
            .count() as u64;
        *self.0.lock().unwrap() += sent;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One game: its script and settings, the bots' thinking.
struct Game {
    name: &'static str,
    script: &'static str,
    set: &'static [(&'static str, &'static str)],
}

/// A simulated run of `game` with `seed`: its real time, its game time, the events sent.
fn simulated(game: &Game, seed: u64, think: Duration) -> (Duration, Duration, u64) {
    let events = Events::default();
    let console = Console::new(
        true,
        false,
        Box::new(events.clone()),
        Box::new(std::io::sink()),
    );
    let config = Config {
        script: repo(game.script),
        args: game
            .set
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        settings: Settings {
            json: true,
            ..Settings::default()
        },
        bots: 3,
        bot_think: think,
        watch: false,
        limits: Limits::default(),
        seed,
        clock: Clock::Game,
        record: None,
    };
    let started = Instant::now();
    let outcome = gamecast::simulate::run(config, Simulation::default(), console).unwrap();
    let took = started.elapsed();
    let Outcome::Ended(game_time) = outcome else {
        panic!("{}: the simulated game did not end: {outcome:?}", game.name);
    };
    let sent = *events.0.lock().unwrap();
    (took, game_time, sent)
}

/// The same game played in real time: `announcer --bots 3` on loopback, until it exits.
fn real(game: &Game, seed: u64, think: Duration) -> Duration {
    let net = Net::fresh();
    let script = repo(game.script);
    let think = format!("{}", think.as_secs_f64());
    let seed = seed.to_string();
    let mut args: Vec<String> = vec![
        script.display().to_string(),
        "--bots".into(),
        "3".into(),
        "--bot-think".into(),
        think,
        "--seed".into(),
        seed,
        "--no-watch".into(),
    ];
    args.extend(net.flags());
    for (key, value) in game.set {
        args.push("--set".into());
        args.push(format!("{key}={value}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let (status, stdout, stderr) = announcer_output(&args);
    assert!(status.success(), "{}: {stdout}\n{stderr}", game.name);
    started.elapsed()
}

pub fn run(smoke: bool) -> String {
    // Smoke: short games, one of each; a full run: the games as the README plays them.
    let (games, runs, think): (Vec<Game>, u64, Duration) = if smoke {
        (
            vec![
                Game {
                    name: "dice race",
                    script: "scripts/dice.lua",
                    set: &[("countdown", "0"), ("target", "6"), ("turn_seconds", "1")],
                },
                Game {
                    name: "trivia quiz",
                    script: "scripts/trivia.lua",
                    set: &[("countdown", "0"), ("questions", "2"), ("pause", "0")],
                },
            ],
            2,
            Duration::from_millis(100),
        )
    } else {
        (
            vec![
                Game {
                    name: "dice race",
                    script: "scripts/dice.lua",
                    set: &[("countdown", "3")],
                },
                Game {
                    name: "trivia quiz",
                    script: "scripts/trivia.lua",
                    set: &[("countdown", "3"), ("questions", "4")],
                },
            ],
            20,
            Duration::from_secs(1),
        )
    };
    let mut out = String::from(
        "## A whole game simulated (`--simulate`)\n\n\
         Whole games with 3 bots: the real script, announcer and players in one process on a \
         virtual clock, against the same game (same settings and seed) played in real time by \
         the real binary on loopback multicast in the same run. Simulated: the median of the \
         runs' real times (seeds 1 to N); real / simulated: seed 1's game both ways; per event: \
         the runs' time over the events the announcer sent (heartbeats not counted).\n\n\
         | game | game time (simulated) | simulated in | real time | real / simulated | per event |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for game in &games {
        let runs: Vec<(Duration, Duration, u64)> = (1..=runs)
            .map(|seed| simulated(game, seed, think))
            .collect();
        let mut times: Vec<Duration> = runs.iter().map(|(took, _, _)| *took).collect();
        times.sort();
        let median = times[times.len() / 2];
        let total: Duration = runs.iter().map(|(took, _, _)| *took).sum();
        let events: u64 = runs.iter().map(|(_, _, sent)| *sent).sum();
        // Seed 1, as the real run plays it.
        let (first, game_time, _) = runs[0];
        let real = real(game, 1, think);
        out.push_str(&format!(
            "| {} | {:.1} s | {:.2} ms | {:.1} s | {:.0}× | {:.1} µs |\n",
            game.name,
            game_time.as_secs_f64(),
            median.as_secs_f64() * 1000.0,
            real.as_secs_f64(),
            real.as_secs_f64() / first.as_secs_f64().max(1e-9),
            total.as_secs_f64() * 1e6 / events.max(1) as f64,
        ));
    }
    out.push_str(
        "\nThe real game takes its game time (plus the announcer's 0.6 s of listening and the \
         bots' leaving); the simulated one takes what its work takes.\n",
    );
    out
}
