//! The bridge: one LAN's multicast group and one NATS subject made one game. What the LAN's
//! members say is published on the subject; what arrives on the subject is said on the LAN,
//! once, from the bridge port. Two LANs with a bridge each, or a LAN and players with
//! `--nats`, then play together; the datagrams are the game's own, so a signed game stays
//! signed and loss repair works end to end.
//!
//! The decisions (what crosses, which bridge relays) are [`core::Bridge`]'s; this is the loop
//! that wires it to the sockets and the NATS link.

pub mod core;

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;

pub use self::core::{Bridge, Counters};
use crate::link::nats::Nats;
use crate::link::{Link, Network};
use crate::transport::{self, BridgeSockets, NetConfig};

/// What the bridge tells its host.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A line for a person: relaying or standing by, the NATS link lost or back.
    Note(String),
    /// The counters, every so often (when they changed) and at the end.
    Counters(Counters),
}

/// The bridge's counters, with what its NATS link dropped (messages too big for a datagram,
/// and datagrams it could not publish while the server was away).
fn counted(bridge: &Bridge, link: &crate::link::nats::NatsLink) -> Counters {
    let mut counters = bridge.counters();
    counters.too_big += link.dropped();
    counters.unsent = link.unsent();
    counters
}

/// The time, as the loop tells it to the state machine.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Relays between the group of `net` and the game on `nats` until `shutdown` completes, and
/// returns the counters. `report` hears what the host should know; the counters come every
/// `report_every` when they changed.
pub async fn run(
    net: &NetConfig,
    nats: &Nats,
    report_every: Duration,
    mut report: impl FnMut(Report),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Counters> {
    let sockets = BridgeSockets::open(net)?;
    let link = nats.link().await?;
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut bridge = Bridge::new(fastrand::u64(..), since, now());
    let bridge_port = net.bridge_port();
    let mut lan_buf = transport::recv_buffer();
    let mut beacon_buf = vec![0; 512];
    let mut nats_buf = transport::recv_buffer();
    let mut beat = tokio::time::interval(core::BEACON_EVERY);
    let mut every = tokio::time::interval(report_every);
    let mut reported = counted(&bridge, &link);
    report(Report::Note(format!(
        "bridge: {} <-> {}; listening for other bridges on port {bridge_port} first",
        sockets.protocol_group,
        nats.describe()
    )));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            _ = beat.tick() => {
                // A beacon that cannot go out is a LAN that is down: said by the sends below.
                let _ = sockets.relay.send_to(&bridge.beacon(), sockets.bridge_group).await;
                match bridge.tick(now()) {
                    Some(true) => report(Report::Note(
                        "bridge: relaying for this LAN".to_string(),
                    )),
                    Some(false) => report(Report::Note(format!(
                        "bridge: standing by: an older bridge relays for this LAN ({} heard)",
                        bridge.others()
                    ))),
                    None => {}
                }
            }
            received = sockets.protocol.recv_from(&mut lan_buf) => {
                let (len, source) = received.context("cannot receive from the LAN")?;
                if bridge.from_lan(&lan_buf[..len], source, bridge_port)
                    && let Err(e) = link.send_from(&lan_buf[..len], source).await
                {
                    report(Report::Note(format!("bridge: cannot publish on NATS: {e}")));
                }
            }
            received = sockets.relay.recv_from(&mut beacon_buf) => {
                let (len, _) = received.context("cannot receive on the bridge port")?;
                bridge.heard_on_bridge_port(&beacon_buf[..len], now());
            }
            received = link.recv(&mut nats_buf) => {
                let (len, _) = received?;
                if bridge.from_nats(&nats_buf[..len])
                    && let Err(e) = sockets.relay.send_to(&nats_buf[..len], sockets.protocol_group).await
                {
                    report(Report::Note(format!("bridge: cannot send to the LAN: {e}")));
                }
            }
            said = link.news() => report(Report::Note(format!("bridge: {said}"))),
            _ = every.tick() => {
                let counters = counted(&bridge, &link);
                if counters != reported {
                    reported = counters;
                    report(Report::Counters(counters));
                }
            }
        }
    }
    let _ = link.flush().await;
    let counters = counted(&bridge, &link);
    report(Report::Counters(counters));
    Ok(counters)
}
