//! `bridge`: one LAN's group and one game on a NATS server, made one game. Parses flags, then
//! calls the library.

// The terminal helpers in it are the other binaries'; the bridge has no terminal view.
#[allow(dead_code)]
mod cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use cli::{NatsArgs, NetArgs};
use gamecast::bridge::Report;
use gamecast::link::nats::Nats;

/// Relays a game between this LAN's multicast group and a NATS server, both ways: players on
/// the LAN, on other LANs with a bridge of their own, and anywhere with `player --nats` play
/// one game. Run one on each LAN (more are fine: one relays, the others stand by).
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Example: bridge --iface eth0 --nats nats://nats.example.org:4222 --game quiz"
)]
struct Cli {
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    nats: NatsArgs,
    /// Print the counters every this many seconds when they changed (and at the end)
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = parse_seconds)]
    report: f64,
    /// The counters as one JSON object per line on stdout (the notes go to stderr)
    #[arg(long)]
    json: bool,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.1..=3600.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "expected a number of seconds from 0.1 to 3600, not {text:?}"
        )),
    }
}

fn main() -> ExitCode {
    cli::exit_on_panic("bridge");
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bridge: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(mut nats) = cli.nats.config()? else {
        anyhow::bail!("--nats URL (or GAMECAST_NATS): a bridge needs the NATS server to relay to");
    };
    // A bridge never hears its own publications back: what it relays cannot come round again.
    nats.echo = false;
    let net = cli.net.resolve()?;
    if net.port >= u16::MAX - 1 {
        anyhow::bail!(
            "--port {}: a bridge takes the next two ports, and there are none",
            net.port
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let json = cli.json;
    let show = move |report: Report| match report {
        Report::Note(line) => eprintln!("{line}"),
        Report::Counters(counters) if json => {
            println!("{}", serde_json::json!({ "counters": counters }));
        }
        Report::Counters(c) => eprintln!(
            "bridge: {} LAN -> NATS, {} NATS -> LAN, {} carried by bridges (not sent back), \
             {} while standing by, {} too big",
            c.lan_to_nats, c.nats_to_lan, c.bridged, c.standing_by, c.too_big
        ),
    };
    runtime.block_on(async {
        let network = Nats::connect(&nats).await?;
        gamecast::bridge::run(
            &net,
            &network,
            Duration::from_secs_f64(cli.report),
            show,
            cli::stop_requested(),
        )
        .await
    })?;
    eprintln!("bridge: stopped");
    Ok(())
}
