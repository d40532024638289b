//! `scoreboard`: the game on a projector. Watches the group as a spectator and serves one web
//! page with the live game. Parses flags, then calls the library.

// The terminal helpers in it are the other binaries'; the scoreboard has no terminal view.
#[allow(dead_code)]
mod cli;

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use cli::{KeyArgs, NatsArgs, NetArgs, Place};
use gamecast::link::nats::Nats;

/// Serves a live scoreboard of the game on the group: open it in a browser on the projector.
/// It watches without playing: no name, not in the game, nothing sent but loss repair.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    nats: NatsArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Where the page is served: loopback by default; an address of this machine on the
    /// room's network (such as 0.0.0.0:8080) opens it to the room
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: SocketAddr,
}

fn main() -> ExitCode {
    cli::exit_on_panic("scoreboard");
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("scoreboard: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let place = cli::place(&cli.net, &cli.nats)?;
    let key = cli.key.load()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen there", cli.listen))?;
        let at = listener.local_addr()?;
        match place {
            Place::Nats(nats) => {
                let network = Nats::connect(&nats).await?;
                println!(
                    "scoreboard: open http://{at}/ (watching {}; Ctrl-C stops)",
                    network.place()
                );
                gamecast::scoreboard::run(&network, key, listener, cli::stop_requested()).await
            }
            Place::Group(net) => {
                println!(
                    "scoreboard: open http://{at}/ (watching {}; Ctrl-C stops)",
                    net.place()
                );
                gamecast::scoreboard::run(&net, key, listener, cli::stop_requested()).await
            }
        }
    })?;
    println!("scoreboard: stopped");
    Ok(())
}
