//! `announcer`: runs a game script on a multicast group. Parses flags, then calls the library.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use cli::{KeyArgs, NatsArgs, NetArgs, Place};
use gamecast::announcer::{self, Config, Console, End, Settings};
use gamecast::link::Network;
use gamecast::link::nats::Nats;
use gamecast::script::{Clock, Limits, Start};
use gamecast::simulate::{Outcome, Simulation};
use gamecast::text::{expand_tabs, visible};

/// Runs a game over IP multicast: the rules are a Lua script, the players join with `player`.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Example: announcer scripts/dice.lua --bots 3 --set target=20"
)]
struct Cli {
    /// The game script (Lua 5.4), e.g. scripts/dice.lua
    script: PathBuf,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    nats: NatsArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// A setting for the script, KEY=VALUE (repeatable); the script reads it as args.KEY
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    set: Vec<(String, String)>,
    /// Add N simulated players that join over the group and play as the script's `on_bot` hook
    /// says (default 0; 3 with --simulate)
    #[arg(long, value_name = "N")]
    bots: Option<usize>,
    /// The longest a bot thinks before it types, in seconds
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS", value_parser = parse_seconds)]
    bot_think: f64,
    /// Print every event sent and received as one JSON object per line on stdout
    /// (the console then goes to stderr)
    #[arg(long)]
    json: bool,
    /// Do not reload the script when its files are saved
    #[arg(long)]
    no_watch: bool,
    /// How often the announcer beats when it has nothing to say, in seconds (players notice
    /// a lost last event, and a silent announcer, from these)
    #[arg(long, default_value_t = 0.25, value_name = "SECONDS", value_parser = parse_interval)]
    heartbeat: f64,
    /// A player is gone ("connection lost") after this many of its heartbeats without a word
    #[arg(long, default_value_t = gamecast::reliable::MISSED_BEATS, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    missed: u32,
    /// The most memory the script's Lua state may hold, in MiB
    #[arg(long, default_value_t = 64, value_name = "MIB",
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    memory_limit: u32,
    /// The longest one call into the script (a handler, a timer) may run, in milliseconds:
    /// an endless loop is stopped with an error at its line, and the game goes on
    #[arg(long, default_value_t = 100, value_name = "MS",
          value_parser = clap::value_parser!(u32).range(1..=600000))]
    call_limit: u32,
    /// Lines a second one player may send to the script, with bursts of twice that; more are
    /// dropped before any Lua runs (a flood must not stop the game); 0: no limit
    #[arg(long, default_value_t = gamecast::budget::RATE, value_name = "N",
          value_parser = parse_rate)]
    rate_limit: f64,
    /// Only load the script and run its top level, without any network: report errors with
    /// file:line and exit non-zero on any (for editors and CI)
    #[arg(long)]
    check: bool,
    /// The scrolling console even in a terminal (what a pipe or TERM=dumb gets)
    #[arg(long)]
    plain: bool,
    /// Only ASCII symbols in the host's view: no box drawing (automatic when the locale is
    /// not UTF-8)
    #[arg(long)]
    ascii: bool,
    /// Play the whole game at once on a simulated group, bots as players, on a virtual clock:
    /// no network, no waiting; print what happened and exit 0 if the game ended
    #[arg(long, conflicts_with_all = ["check", "take_over"])]
    simulate: bool,
    /// Run the tests in SCRIPT, a test file (e.g. scripts/tests/dice_test.lua): each drives
    /// simulated games of a script and checks what its players saw; exit 1 if any fails
    #[arg(long, conflicts_with_all = ["check", "take_over", "simulate"])]
    test: bool,
    /// The seed of the script's math.random (and, with --simulate, of the bots and the losses):
    /// the same seed plays the same game; without one, a random seed is said on the console
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// With --simulate: the share of datagrams each member loses, in percent (repaired as on
    /// a real network)
    #[arg(long, default_value_t = 0.0, value_name = "PERCENT", requires = "simulate",
          value_parser = parse_percent)]
    loss: f64,
    /// List the script's settings (what --set takes): name, default, what each means and
    /// takes; then exit, as --check does
    #[arg(long, conflicts_with_all = ["check", "test", "simulate"])]
    settings: bool,
    /// Record every datagram the announcer sends and receives, with its time, into FILE (see
    /// docs/recording.md); `player --replay FILE` shows the game again
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check", "test", "simulate", "settings"])]
    record: Option<PathBuf>,
    /// Take the group over from an announcer already running a game there: its players are
    /// handed over to this one (without it, an announcer that finds another one leaves)
    #[arg(long)]
    take_over: bool,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected KEY=VALUE, like target=20, not {text:?}")),
    }
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.0..=3600.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "expected a number of seconds from 0 to 3600, not {text:?}"
        )),
    }
}

fn parse_percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(percent) if percent.is_finite() && (0.0..=90.0).contains(&percent) => Ok(percent),
        _ => Err(format!("expected a percentage from 0 to 90, not {text:?}")),
    }
}

fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.01..=60.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "expected a number of seconds from 0.01 to 60, not {text:?}"
        )),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && (0.0..=1e6).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "expected a number of lines a second from 0 to 1000000, not {text:?}"
        )),
    }
}

/// `--settings`: the script's settings as a table, for a person (and for the README's tables).
fn print_settings(script: &gamecast::script::Script) {
    let settings = script.settings();
    if settings.is_empty() {
        println!(
            "{} declares no settings (setting(name, default, what) declares one)",
            script.path().display()
        );
        return;
    }
    let width = settings.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let default_width = settings.iter().map(|s| s.default.len()).max().unwrap_or(0);
    for s in settings {
        println!(
            "{:width$}  {:>default_width$}  {} ({})",
            s.name, s.default, s.description, s.takes
        );
    }
}

/// `--simulate`: the whole game at once; a game that did not end is an error.
fn simulate(config: Config, loss: f64, console: Console) -> anyhow::Result<End> {
    let simulation = Simulation {
        loss,
        ..Simulation::default()
    };
    let began = Instant::now();
    let seed = config.seed;
    let script = config.script.clone();
    match gamecast::simulate::run(config, simulation, console)? {
        Outcome::Ended(took) => {
            eprintln!(
                "simulated: the game ended after {:.1} s of game time, in {:.3} s (seed {seed})",
                took.as_secs_f64(),
                began.elapsed().as_secs_f64()
            );
            Ok(End::Over("simulated".into()))
        }
        Outcome::OutOfTime => anyhow::bail!(
            "the simulated game did not end within {} minutes of game time (seed {seed}): does \
             {} call stop() when the game is over, and do its bots play (a bot hook)?",
            simulation.limit.as_secs() / 60,
            script.display()
        ),
        Outcome::Other(end) => anyhow::bail!("the simulated game ended oddly: {end:?}"),
    }
}

/// Runs the game on `network`: in the host's full-screen view when given its theme, else on
/// the console.
async fn host<N: Network>(
    config: Config,
    network: &N,
    place: String,
    full_screen: Option<gamecast::view::Theme>,
    console: Console,
) -> anyhow::Result<End> {
    let stop = async {
        cli::stop_requested().await;
        "the host stopped the announcer".to_string()
    };
    match full_screen {
        Some(theme) => {
            drop(console);
            gamecast::view::host::run(config, network, place, theme, stop).await
        }
        None => announcer::run(config, network, console, stop).await,
    }
}

fn main() -> ExitCode {
    cli::exit_on_panic("announcer");
    let cli = Cli::parse();
    let limits = Limits {
        memory: (cli.memory_limit as usize) << 20,
        per_call: Duration::from_millis(u64::from(cli.call_limit)),
    };
    if cli.test {
        let mut out = std::io::stdout();
        return match gamecast::script::testing::run(&cli.script, &mut out) {
            Ok(summary) if summary.failed.is_empty() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        };
    }
    let seed = cli.seed.unwrap_or_else(gamecast::script::random_seed);
    let check = cli.check || cli.settings;
    if cli.check && gamecast::script::testing::is_test_file(&cli.script) {
        return match gamecast::script::testing::check(&cli.script) {
            Ok(count) => {
                println!(
                    "{}: ok ({count} test{})",
                    cli.script.display(),
                    if count == 1 { "" } else { "s" }
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        };
    }
    if check {
        let args = cli.set.into_iter().collect();
        let start = Start {
            limits,
            now: Instant::now(),
            seed,
            clock: Clock::System,
        };
        let loaded = gamecast::script::Script::load_with(&cli.script, &args, start)
            .and_then(|script| script.check_given().map(|warning| (script, warning)));
        return match loaded {
            Ok((script, warning)) => {
                // What the top level printed, as a game's console shows it.
                for action in script.take_actions() {
                    if let gamecast::script::Action::Print(line) = action {
                        eprintln!("[script] {}", visible(&expand_tabs(&line)));
                    }
                }
                if let Some(warning) = warning {
                    eprintln!("{warning}");
                }
                if cli.settings {
                    print_settings(&script);
                } else {
                    println!("{}: ok", cli.script.display());
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        };
    }
    let bots = cli.bots.unwrap_or(if cli.simulate { 3 } else { 0 });
    let result = (|| {
        let config = Config {
            script: cli.script,
            args: cli.set.into_iter().collect(),
            settings: Settings {
                heartbeat: Duration::from_secs_f64(cli.heartbeat),
                missed: cli.missed,
                rate_limit: cli.rate_limit,
                key: cli.key.load()?,
                take_over: cli.take_over,
                json: cli.json,
            },
            bots,
            bot_think: Duration::from_secs_f64(cli.bot_think),
            watch: !cli.no_watch,
            limits,
            seed,
            clock: Clock::System,
            record: cli.record.clone(),
        };
        let colour = gamecast::render::colour_wanted(std::io::stdout().is_terminal());
        let console = Console::stdio(cli.json, colour);
        if cli.simulate {
            return simulate(config, cli.loss / 100.0, console);
        }
        let place = cli::place(&cli.net, &cli.nats)?;
        let history = cli.nats.nats_history;
        // One thread: the event loop is one Lua state and one socket; more threads would only
        // add hand-offs between them (measured in docs/BENCHMARKS.md).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let full_screen = !cli.json
            && !cli.plain
            && std::io::stdin().is_terminal()
            && std::io::stdout().is_terminal()
            && cli::full_screen_fits();
        let theme = full_screen.then(|| gamecast::view::Theme {
            colour,
            ascii: cli.ascii || !cli::utf8_locale(),
        });
        runtime.block_on(async {
            match place {
                Place::Nats(nats) => {
                    let network = Nats::connect(&nats).await?;
                    if history {
                        network.keep_history().await?;
                    }
                    let place = network.place();
                    host(config, &network, place, theme, console).await
                }
                Place::Group(net) => {
                    let place = net.place();
                    host(config, &net, place, theme, console).await
                }
            }
        })
    })();
    match result {
        Ok(End::Over(_) | End::TakenOver { .. }) => ExitCode::SUCCESS,
        Ok(End::Rival {
            session,
            source,
            handed_over,
        }) => {
            eprintln!(
                "announcer: error: another announcer (session {session}, at {source}) already \
                 runs a game on this group{}; stop it first, pick another --group or --port (--game \
                 over NATS), or \
                 start this one with --take-over to replace it",
                if handed_over {
                    " (this one's players were handed over to it)"
                } else {
                    ""
                }
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("announcer: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
