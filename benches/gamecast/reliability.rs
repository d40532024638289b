//! Reliability: what NACK repair delivers and what it costs on the wire, on a LAN of network
//! namespaces with 10% of the players' host's input dropped, beside one plain datagram per event.
//!
//! The announcer (benches/lua/announce.lua) runs on host 0, N `player --json --stats` processes
//! on host 1. All N players share host 1's input, so the nftables rule that drops a datagram
//! there drops it for all of them at once: N players miss the same datagrams, which is the case
//! NACK suppression is for. The players' own datagrams (their heartbeats and NACKs, looped back
//! inside host 1) cross the same rule. Counting datagrams and bytes is left to the kernel: the
//! statistics of host 0's interface.

use std::net::SocketAddrV4;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use socket2::{Domain, Protocol, Socket, Type};

use crate::common::lan::Lan;
use crate::common::{Net, TIMEOUT};
use crate::procs::{Counted, Host, bench_script, wait_counts};
use crate::report::{ratio, summarize};
use crate::throughput::RawSender;

/// Events per second, as a lively game would never reach but a benchmark should.
const RATE: u64 = 1000;
/// The padding that makes each datagram about 200 bytes, as in the other suites.
const PADDING: usize = 100;
/// The loss on the players' host in the lossy runs, percent.
const LOSS: u32 = 10;
/// The LAN's hosts.
const ANNOUNCER: usize = 0;
const PLAYERS: usize = 1;
/// How long the players may go without showing anything new before a run stops waiting: far
/// longer than a repair takes (a gap is given up after 12 NACKs 50 ms apart).
const QUIET: Duration = Duration::from_secs(5);

/// What one run with the announcer measured.
struct Run {
    players: usize,
    loss: u32,
    /// Events each player showed.
    shown: Vec<u64>,
    /// Each player's `--stats`, None for a player that did not exit by itself.
    stats: Vec<Option<Value>>,
    /// Datagrams host 1's loss rule dropped, from "go" until every player exited.
    dropped: u64,
    /// The announcer's stop line: datagrams, bytes, heartbeats, repairs, NACKs, expired.
    stop: Vec<u64>,
    /// Host 0's interface from "go" until every player showed every event.
    wire: Wire,
}

/// Packets and bytes a host's interface sent.
#[derive(Clone, Copy)]
struct Wire {
    packets: u64,
    bytes: u64,
}

pub fn run(smoke: bool) -> String {
    let title = "### Reliability at 10% loss\n\n";
    let Some(lan) = Lan::build(2) else {
        return format!(
            "{title}Skipped: a namespace LAN needs root, `ip` and `nft` (stderr says which is \
             missing).\n"
        );
    };
    let counts: &[usize] = if smoke { &[1, 4] } else { &[1, 16] };
    let events: u64 = if smoke { 300 } else { 3_000 };
    let mut rows = Vec::new();
    for &players in counts {
        let baseline = baseline(&lan, events);
        rows.push(format!(
            "| {players} | none: raw socket | – | – | – | – | – | – | – | – | – | – | {:.2} | | {:.0} | |",
            baseline.packets as f64 / events as f64,
            baseline.bytes as f64 / events as f64,
        ));
        for loss in [0, LOSS] {
            let run = announce(&lan, players, events, loss);
            rows.push(row(&run, events, baseline));
        }
    }
    lan.loss(PLAYERS, 0);
    format!(
        "{title}The announcer (benches/lua/announce.lua, {events} events of ~200 bytes at \
         {RATE}/s) on host 0 of a LAN of network namespaces, N `player --json --stats` processes \
         on host 1; one player says \"go\". Runs: no loss, then {LOSS}% of the UDP datagrams \
         host 1 receives dropped at random by nftables (after the wire, before any socket). \
         Since the N players share host 1, a dropped datagram is lost for all N at once: the \
         case NACK suppression is for (players hold back when they overhear a NACK for what \
         they miss). The baseline, measured on the same LAN in the same run, is \"before \
         reliability\": the same number of datagrams, encoded as gamecast encodes these events, \
         sent once each by a raw socket on host 0.\n\n\
         Columns: *shown* is the fewest events any player showed (all = {events}); *lost* the \
         players' `lost` summed (should be 0); *repair p50/p99* the time from a player noticing \
         a gap to the repair arriving, over every repair of every player; *dropped* what the \
         nftables rule dropped on host 1 from \"go\" until the players exited (this includes \
         the players' own looped-back heartbeats and NACKs); *gaps/player* the datagrams each \
         player found missing, averaged; *NACKs* the NACKs the players sent (summed), and \
         *held back* those they did not send because another player had just asked; *NACKs / \
         dropped* the first divided by the datagrams dropped, and *NACKs / gap* divided by \
         gaps/player instead (the N players miss the same datagrams, so a gap is one datagram \
         all of them miss: 1 NACK per gap is perfect suppression, N would be none); *announcer* the NACKs the \
         announcer received and the datagrams it repaired (its stop line, whole run); \
         *datagrams/event* and *bytes/event* what host 0's interface sent (kernel tx_packets and \
         tx_bytes, frames with their headers) from \"go\" until every player showed every event, \
         divided by the events, with the ratio to the baseline.\n\n\
         | players | loss | shown | lost | repair p50 ms | repair p99 ms | dropped | gaps/player | NACKs (held back) | NACKs / dropped | NACKs / gap | announcer: NACKs in, repairs out | datagrams/event | vs baseline | bytes/event | vs baseline |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n\
         {}\n",
        rows.join("\n")
    )
}

/// One table row for a run with the announcer.
fn row(run: &Run, events: u64, baseline: Wire) -> String {
    let sum = |field: &str| -> u64 {
        run.stats
            .iter()
            .flatten()
            .map(|s| s[field].as_u64().unwrap_or(0))
            .sum()
    };
    let reported = run.stats.iter().flatten().count();
    let missing = run.players - reported;
    let lost = if missing == 0 {
        sum("lost").to_string()
    } else {
        format!("{} ({missing} players printed no stats)", sum("lost"))
    };
    let repairs: Vec<Duration> = run
        .stats
        .iter()
        .flatten()
        .filter_map(|s| s["repair_us"].as_array())
        .flatten()
        .filter_map(Value::as_u64)
        .map(Duration::from_micros)
        .collect();
    let (p50, p99) = if run.loss == 0 || repairs.is_empty() {
        ("–".to_string(), "–".to_string())
    } else {
        let summary = summarize(repairs);
        (format!("{:.2}", summary.p50), format!("{:.2}", summary.p99))
    };
    let nacks = sum("nacks");
    let per_dropped = if run.dropped == 0 {
        "–".to_string()
    } else {
        format!("{:.2}", nacks as f64 / run.dropped as f64)
    };
    let gaps = sum("gaps") as f64 / reported.max(1) as f64;
    let per_gap = if gaps == 0.0 {
        "–".to_string()
    } else {
        format!("{:.2}", nacks as f64 / gaps)
    };
    let gaps = if reported == 0 {
        "–".to_string()
    } else {
        format!("{gaps:.0}")
    };
    let announcer = match run.stop.as_slice() {
        [_, _, _, repairs, nacks, expired] if *expired == 0 => format!("{nacks}, {repairs}"),
        [_, _, _, repairs, nacks, expired] => format!("{nacks}, {repairs} ({expired} expired)"),
        _ => "no stop line".to_string(),
    };
    let per_event = |n: u64| n as f64 / events as f64;
    format!(
        "| {} | {}% | {} | {lost} | {p50} | {p99} | {} | {gaps} | {nacks} ({}) | {per_dropped} | {per_gap} | {announcer} | {:.2} | {} | {:.0} | {} |",
        run.players,
        run.loss,
        run.shown.iter().min().copied().unwrap_or(0),
        run.dropped,
        sum("held_back"),
        per_event(run.wire.packets),
        ratio(per_event(run.wire.packets), per_event(baseline.packets)),
        per_event(run.wire.bytes),
        ratio(per_event(run.wire.bytes), per_event(baseline.bytes)),
    )
}

/// Host 0's interface counters now.
fn wire(lan: &Lan) -> Wire {
    Wire {
        packets: lan.tx_packets(ANNOUNCER),
        bytes: lan.statistic(ANNOUNCER, "tx_bytes"),
    }
}

fn since(before: Wire, after: Wire) -> Wire {
    Wire {
        packets: after.packets - before.packets,
        bytes: after.bytes - before.bytes,
    }
}

/// One run: the announcer on host 0, `players` players on host 1 with `loss`% loss, until the
/// announcer is stopped and every player has exited.
fn announce(lan: &Lan, players: usize, events: u64, loss: u32) -> Run {
    let net = Net::fresh();
    // Players join without loss: the run measures the events, not the handshake.
    lan.loss(PLAYERS, 0);
    let settings = [
        format!("count={events}"),
        format!("rate={RATE}"),
        format!("size={PADDING}"),
    ];
    let args: Vec<&str> = settings
        .iter()
        .flat_map(|s| ["--set", s.as_str()])
        .collect();
    let host = Host::start_in(
        &lan.prefix(ANNOUNCER),
        &net.on(lan.host_addr(ANNOUNCER)),
        &bench_script("announce.lua"),
        &args,
        &["announcer stopped"],
    );
    let mut counted: Vec<Counted> = (0..players)
        .map(|i| {
            let net = net.on(lan.host_addr(PLAYERS));
            Counted::player_with(&lan.prefix(PLAYERS), &net, &format!("p{i}"), &["--stats"])
                .welcomed()
        })
        .collect();
    // A new rule starts its drop counter at 0.
    lan.loss(PLAYERS, loss);
    let before = wire(lan);
    counted[0].say("go");
    let shown = wait_counts(&counted, events, QUIET);
    let wire = since(before, wire(lan));

    // SIGINT: the announcer closes the game, lingers for repairs, prints its stop line.
    let status = Command::new("kill")
        .args(["-INT", &host.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -INT the announcer");
    let stop = host.wait_line("announcer stopped");
    let stats: Vec<Option<Value>> = counted
        .iter_mut()
        .map(|player| {
            player
                .finish(TIMEOUT)
                .and_then(|line| serde_json::from_str(&line).ok())
        })
        .collect();
    let dropped = lan.dropped_by_loss(PLAYERS);
    drop(counted);
    drop(host);
    let run = Run {
        players,
        loss,
        shown,
        stats,
        dropped,
        stop: numbers(&stop),
        wire,
    };
    eprintln!(
        "reliability: {players} players, {loss}% loss: shown {:?}, dropped {dropped}, {stop}",
        run.shown
    );
    run
}

/// What gamecast delivered at 10% loss, for the lcm suite's side by side.
pub struct Lossy {
    /// The fewest events a player showed.
    pub shown: u64,
    /// What host 0's interface sent per event.
    pub packets_per_event: f64,
    pub bytes_per_event: f64,
}

/// One run of `players` players on host 1 of `lan` at 10% loss: [`Lossy`].
pub fn lossy_run(lan: &Lan, players: usize, events: u64) -> Lossy {
    let run = announce(lan, players, events, LOSS);
    Lossy {
        shown: run.shown.iter().copied().min().unwrap_or(0),
        packets_per_event: run.wire.packets as f64 / events as f64,
        bytes_per_event: run.wire.bytes as f64 / events as f64,
    }
}

/// The numbers in the announcer's stop line, in order: the reason before them has none.
fn numbers(line: &str) -> Vec<u64> {
    let counts = line.rsplit_once('(').map_or("", |(_, counts)| counts);
    counts
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Before reliability: `events` datagrams, encoded as gamecast encodes the benchmark's events,
/// each sent once at RATE by a raw socket on host 0 (to a group nobody joined, without loss);
/// what host 0's interface sent meanwhile.
fn baseline(lan: &Lan, events: u64) -> Wire {
    lan.loss(PLAYERS, 0);
    let net = Net::fresh();
    let from = lan.host_addr(ANNOUNCER);
    let before = wire(lan);
    lan.in_host(ANNOUNCER, || {
        let mut encoder = RawSender::new(&net);
        let padding = "x".repeat(PADDING);
        let datagrams: Vec<Vec<u8>> = (1..=events).map(|n| encoder.encode(n, &padding)).collect();
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        // Out of host 0's interface, as the announcer sends; never any other.
        socket.set_multicast_if_v4(&from).unwrap();
        socket.set_multicast_ttl_v4(1).unwrap();
        socket.set_multicast_loop_v4(false).unwrap();
        let group: socket2::SockAddr = SocketAddrV4::new(net.group, net.protocol_port()).into();
        let start = Instant::now();
        let mut sent = 0;
        while sent < datagrams.len() {
            let due = (start.elapsed().as_secs_f64() * RATE as f64) as usize;
            while sent < due.min(datagrams.len()) {
                socket.send_to(&datagrams[sent], &group).unwrap();
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    // The kernel counts a datagram when the interface sends it, which send_to does not wait
    // for: wait until the counter has seen them all (or gives up after TIMEOUT).
    let deadline = Instant::now() + TIMEOUT;
    let mut sent = since(before, wire(lan));
    while sent.packets < events && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        sent = since(before, wire(lan));
    }
    sent
}
