//! A player's session: join the group, send what is typed (chat or a move), turn what arrives
//! into [`Event`]s, leave. Used by the `player` binary and by the announcer's `--bots`.
//!
//! The logic is a state machine ([`Player`]) that takes what arrives or is typed, and the time,
//! and says what to show and send, so it is tested without a network; [`play`] is the loop that
//! wires it to a link and a clock.

pub mod core;
pub mod others;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Instant;

use tokio::sync::mpsc;

pub use self::core::{JOIN_RETRY, Options, Outcome, Player, Reaction};
use crate::event::Event;
use crate::link::Link;
use crate::protocol::Origin;
use crate::protocol::seal::GuardStats;
use crate::reliable::{self, ReceiveStats};
use crate::transport;

/// How a player's session went.
#[derive(Debug, Clone)]
pub struct Played {
    /// How it ended.
    pub outcome: Outcome,
    /// What loss repair did.
    pub stats: ReceiveStats,
    /// What the game key's checks dropped.
    pub rejected: GuardStats,
}

/// The time, as the loop tells it to the state machine: tokio's clock, so that a test on a
/// paused runtime drives it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Plays as `name` on `link` until the person quits, the input ends, the announcer closes the
/// game or refuses us, or `shutdown` completes. Lines typed arrive on `input`; everything to
/// show goes to `show`.
pub async fn play(
    name: &str,
    link: impl Link,
    options: Options,
    mut input: mpsc::Receiver<String>,
    mut show: impl FnMut(Event),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Played> {
    if let Some(problem) = crate::text::name_problem(name) {
        anyhow::bail!("the name {}: {problem}", crate::text::visible_quoted(name));
    }
    let origin = match options.session {
        Some(session) => Origin::with_session(name, session),
        None => Origin::new(name),
    };
    if !options.history.is_empty() {
        let past = history_events(&options.history, options.key.as_ref(), now());
        show(Event::Notice {
            text: format!("the game so far, from its history ({} events):", past.len()),
        });
        past.into_iter().for_each(&mut show);
        show(Event::Notice {
            text: "the game from here on, live:".to_string(),
        });
    }
    let mut player = Player::new(origin, options, now());
    let mut buf = transport::recv_buffer();
    let mut text_buf = transport::recv_buffer();
    let mut text_open = true;
    let mut reactions = player.start(now());
    tokio::pin!(shutdown);
    loop {
        for reaction in reactions {
            match reaction {
                Reaction::Show(event) => show(event),
                Reaction::Transmit(bytes) => link
                    .send(&bytes)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot send to {}: {e}", link.describe()))?,
                // The text channel is a courtesy to the lab's scripts: a line that cannot go
                // out there costs the game nothing.
                Reaction::Say(line) => {
                    let _ = link.send_text(line.as_bytes()).await;
                }
                Reaction::Exit(outcome) => {
                    // Our leave must go out before we do; a link that cannot say so costs
                    // only that (the announcer then finds us gone by our silence).
                    let _ = link.flush().await;
                    return Ok(Played {
                        outcome,
                        stats: player.stats().clone(),
                        rejected: player.rejected().clone(),
                    });
                }
            }
        }
        let wake = tokio::time::Instant::from_std(player.next_deadline());
        // Branches in a fixed order (`biased`), so that a seeded simulation plays the same
        // way each time: what stops us first, then what is due (it reads the link too, so a
        // flood cannot starve it), then what the person typed (a flood of datagrams must not
        // keep them from typing), then the link.
        reactions = tokio::select! {
            biased;
            () = &mut shutdown => player.leave("interrupted", Outcome::Interrupted, now()),
            () = tokio::time::sleep_until(wake) => {
                // Read what is queued first: the announcer's heartbeat may be waiting there.
                let mut reactions = Vec::new();
                read_queued(&link, &mut player, &mut buf, &mut reactions)?;
                reactions.extend(player.tick(now()));
                reactions
            }
            line = input.recv() => match line {
                Some(line) => player.typed(&line, now()),
                None => player.leave("end of input", Outcome::Left, now()),
            },
            received = link.recv(&mut buf) => {
                let (len, source) = received?;
                let mut reactions = player.receive(&buf[..len], source, now());
                read_queued(&link, &mut player, &mut buf, &mut reactions)?;
                reactions
            }
            said = link.news() => vec![Reaction::Show(Event::Notice { text: said })],
            received = link.recv_text(&mut text_buf), if text_open => match received {
                Ok((len, source)) => player.receive_text(&text_buf[..len], source, now()),
                // The text channel is a courtesy to the lab's scripts: it failing must not end
                // the game; it is not read again.
                Err(e) => {
                    text_open = false;
                    vec![Reaction::Show(Event::Notice {
                        text: format!("the lab's text channel failed ({e}); the game goes on without it"),
                    })]
                }
            },
        };
    }
}

/// What a spectator shows of `history` (a game's datagrams and their sources, oldest first),
/// from its announcer's last start on: the game so far, for a player who joins late. Signed
/// datagrams are checked with `key` as live ones are.
pub fn history_events(
    history: &[(Vec<u8>, std::net::SocketAddr)],
    key: Option<&crate::key::GameKey>,
    now: Instant,
) -> Vec<Event> {
    // Older runs of the game are not this game's story: start at the last announcer's hello.
    let mut scan = crate::protocol::Guard::new(key);
    let start = history
        .iter()
        .rposition(|(bytes, _)| {
            matches!(scan.open(bytes), crate::protocol::Decoded::Datagram(d)
                if matches!(d.body, crate::protocol::Body::Hello { .. }))
        })
        .unwrap_or(0);
    let options = Options {
        spectator: true,
        key: key.cloned(),
        ..Options::default()
    };
    let mut spectator = Player::new(Origin::new("history"), options, now);
    let mut events = Vec::new();
    let mut keep = |reactions: Vec<Reaction>| {
        events.extend(reactions.into_iter().filter_map(|r| match r {
            // What it says about itself (protected or not) is the live player's to say.
            Reaction::Show(Event::Protection { .. }) => None,
            Reaction::Show(event) => Some(event),
            _ => None,
        }));
    };
    keep(spectator.start(now));
    for (bytes, source) in &history[start..] {
        keep(spectator.receive(bytes, *source, now));
    }
    events
}

/// Reads what else is queued on the link, a batch at most, telling the player when a read
/// found it empty.
fn read_queued(
    link: &impl Link,
    player: &mut Player,
    buf: &mut [u8],
    reactions: &mut Vec<Reaction>,
) -> std::io::Result<()> {
    for _ in 0..reliable::BATCH {
        let Some((len, source)) = link.try_recv(buf)? else {
            reactions.extend(player.caught_up(now()));
            return Ok(());
        };
        reactions.extend(player.receive(&buf[..len], source, now()));
    }
    Ok(())
}
