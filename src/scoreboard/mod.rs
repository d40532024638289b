//! The scoreboard for a projector: a spectator on the group (it never joins, so it is in no
//! roster, and it sends nothing but the NACKs loss repair needs) whose model of the game
//! ([`model`]) a small web server shows to any number of browsers ([`server`]).

pub mod model;
pub mod server;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::event::Event;
use crate::key::GameKey;
use crate::link::Network;
use crate::player::{self, Options};

pub use self::model::Scoreboard;

/// The name a spectator's NACKs carry.
pub const NAME: &str = "scoreboard";

/// How long the browsers' streams have to close once the scoreboard stops.
const CLOSE_WITHIN: Duration = Duration::from_secs(3);

/// Watches the game on `network` and serves it on `listener` until `shutdown` completes
/// (games come and go meanwhile: it waits for the next one).
pub async fn run<N: Network>(
    network: &N,
    key: Option<GameKey>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let link = network.open().await?;
    let model = Arc::new(Mutex::new(Scoreboard::default()));
    let (changed, changes) = watch::channel(0u64);
    let app = server::router(server::Shared {
        model: model.clone(),
        changes: changes.clone(),
    });
    // The server stops when the model's sender is gone: every stream has ended by then.
    let mut closed = changes;
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { while closed.changed().await.is_ok() {} })
            .await
    });
    // Nothing is ever typed: the input stays open (its end would be a leave).
    let (_typing, input) = mpsc::channel::<String>(1);
    let options = Options {
        key,
        spectator: true,
        ..Options::default()
    };
    let show = move |event: Event| {
        let mut model = model.lock().unwrap_or_else(|p| p.into_inner());
        model.apply(&event, std::time::Instant::now());
        changed.send_replace(model.version());
    };
    let watched = player::play(NAME, link, options, input, show, shutdown).await;
    // `show` (and the sender in it) is gone with the session: the streams end, then the server.
    match tokio::time::timeout(CLOSE_WITHIN, server).await {
        Ok(Ok(served)) => served?,
        Ok(Err(panicked)) => anyhow::bail!("the web server stopped: {panicked}"),
        Err(_) => {} // a browser that does not let go is not worth waiting for
    }
    watched.map(|_| ())
}
