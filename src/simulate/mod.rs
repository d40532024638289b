//! `announcer --simulate`: a whole game in milliseconds. The real script and the real announcer
//! loop, with `--bots` players running the real player library, on the in-memory group
//! ([`crate::link::memory::Hub`]) under tokio's paused clock: time jumps to the next thing that
//! happens, so a dice race of a minute plays in a few milliseconds, and nothing touches a
//! network.
//!
//! One seed decides everything random: the script's `math.random`, the bots' thinking, the
//! sessions, the simulated losses. The same seed plays the same game.

mod game;

pub use game::{Game, PlayerId};

use std::cell::Cell;
use std::time::Duration;

use crate::announcer::{self, Config, Console, End};
use crate::link::memory::{Conditions, Hub};
use crate::script::Clock;

/// How the simulated group behaves, and how long a game may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Simulation {
    /// The share of datagrams each member loses, from 0 to 1 (repaired as on a real LAN).
    pub loss: f64,
    /// The most game time the game may take: a game that has not ended by then is stopped, as
    /// the host's Ctrl-C would, and counts as not ended.
    pub limit: Duration,
}

impl Default for Simulation {
    /// A lossless group and an hour of game time.
    fn default() -> Simulation {
        Simulation {
            loss: 0.0,
            limit: Duration::from_secs(3600),
        }
    }
}

/// What every simulated game starts from: `config` set for it (the game's clock, no reloads),
/// this thread's random numbers seeded and its sessions on the game's clock, a hub with
/// `simulation`'s losses, and a runtime on a paused clock.
fn prepare(
    config: &mut Config,
    simulation: Simulation,
) -> anyhow::Result<(Hub, tokio::runtime::Runtime)> {
    config.clock = Clock::Game;
    config.watch = false;
    // Sessions, NACK waits and the bots' thinking draw from this thread's generator; the
    // loop, the bots and the hub all run on this thread.
    fastrand::seed(config.seed);
    let hub = Hub::new(
        config.seed,
        Conditions {
            loss: simulation.loss.clamp(0.0, 1.0),
            ..Conditions::default()
        },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    // On the runtime's clock: the sessions made on this thread follow the game's time.
    runtime.block_on(async { crate::protocol::simulate_session_clock() });
    Ok((hub, runtime))
}

/// How a simulated game went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The script ended it (`stop()`), after this much game time.
    Ended(Duration),
    /// It was still going at the time limit (and was stopped then).
    OutOfTime,
    /// It did not end as a game does: another announcer's datagrams (none exist here, so this
    /// is a bug worth reporting).
    Other(End),
}

/// Plays `config`'s game on a simulated group, its console on `console`. `config.seed` seeds
/// every random draw; `config.clock` is set to the game's clock and reloading is off.
pub fn run(
    mut config: Config,
    simulation: Simulation,
    console: Console,
) -> anyhow::Result<Outcome> {
    let (hub, runtime) = prepare(&mut config, simulation)?;
    let out_of_time = Cell::new(false);
    let end = runtime.block_on(async {
        let begun = tokio::time::Instant::now();
        let limit = async {
            tokio::time::sleep(simulation.limit).await;
            out_of_time.set(true);
            format!(
                "the simulation stopped it: the game did not end within {} minutes of game time",
                simulation.limit.as_secs() / 60
            )
        };
        let end = announcer::run(config, &hub, console, limit).await;
        end.map(|end| (end, begun.elapsed()))
    })?;
    Ok(match end {
        _ if out_of_time.get() => Outcome::OutOfTime,
        (End::Over(_), took) => Outcome::Ended(took),
        (other, _) => Outcome::Other(other),
    })
}
