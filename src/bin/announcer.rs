//! `announcer`: runs a game script on a multicast group. Parses flags, then calls the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gamecast::announcer::{self, Config};
use gamecast::key::KeyArgs;
use gamecast::script::Limits;
use gamecast::transport::NetArgs;

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
    key: KeyArgs,
    /// A setting for the script, KEY=VALUE (repeatable); the script reads it as args.KEY
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    set: Vec<(String, String)>,
    /// Add N simulated players that join over the group and play as the script's `bot` hook says
    #[arg(long, default_value_t = 0, value_name = "N")]
    bots: usize,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let limits = Limits {
        memory: (cli.memory_limit as usize) << 20,
        per_call: Duration::from_millis(u64::from(cli.call_limit)),
    };
    if cli.check {
        let args = cli.set.into_iter().collect();
        return match gamecast::script::Script::load_with(&cli.script, &args, limits) {
            Ok(_) => {
                println!("{}: ok", cli.script.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        };
    }
    let result = (|| {
        let config = Config {
            script: cli.script,
            args: cli.set.into_iter().collect(),
            net: cli.net.resolve()?,
            bots: cli.bots,
            bot_think: Duration::from_secs_f64(cli.bot_think),
            json: cli.json,
            colour: gamecast::render::colour_wanted(std::io::stdout().is_terminal()),
            watch: !cli.no_watch,
            heartbeat: Duration::from_secs_f64(cli.heartbeat),
            missed: cli.missed,
            limits,
            rate_limit: cli.rate_limit,
            key: cli.key.load()?,
        };
        // One thread: the event loop is one Lua state and one socket; more threads would only
        // add hand-offs between them (measured in docs/BENCHMARKS.md).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(announcer::run(config, async {
            // If the handler cannot be installed, Ctrl-C simply kills the process as usual.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }))
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("announcer: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
