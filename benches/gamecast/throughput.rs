//! Announce throughput: the highest rate of announcements that every player receives without
//! loss, against a raw socket sending datagrams of the same size to the same players; then
//! memory and start-up.
//!
//! The players are real `player --json` processes; their output is counted by this process.
//! The load is benches/lua/announce.lua, which announces at a given rate from a 1 ms timer.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use gamecast::protocol::{self, Announcement, Origin};
use socket2::{Domain, Protocol, Socket, Type};

use crate::common::Net;
use crate::procs::{Counted, Host, bench_script, peak_rss_kib, wait_counts};
use crate::report::{mono_now, ratio, summarize};

/// The padding that makes each datagram about 200 bytes, the size of a typical announcement.
const PADDING: usize = 100;

#[derive(Clone, Copy, PartialEq)]
pub enum Sender {
    Gamecast,
    Raw,
}

pub struct Trial {
    /// Offered rate, events/s (0: as fast as the sender goes).
    offered: u64,
    /// The slowest player's receive rate, events/s.
    received: f64,
    /// Events missing, over all players.
    lost: u64,
    expected: u64,
}

pub fn run(smoke: bool) -> String {
    let player_counts: &[usize] = if smoke { &[1] } else { &[1, 4, 16] };
    let mut rows = Vec::new();
    for &players in player_counts {
        let gamecast = ladder(players, smoke, Sender::Gamecast, &[]);
        let raw = ladder(players, smoke, Sender::Raw, &[]);
        rows.push(row(players, &gamecast, &raw));
    }
    let (memory, startup) = memory_and_startup(smoke);
    format!(
        "### Announce throughput\n\n\
         benches/lua/announce.lua announces ~200-byte events at a rising rate (10k, 25k, 50k, \
         100k, 200k events/s, then as fast as it can) to real `player --json` processes; the \
         baseline is a raw socket sending datagrams of the same size, pre-encoded, at the same \
         rates to as many receiving processes, each a raw socket in the group printing a line \
         per datagram as a player does (no decoding, no order, no repair, no rate limit: the \
         wire and a process's stdout). A step counts when every receiver got every event; the \
         rate shown is what the slowest one received.\n\n\
         | players | gamecast: best zero-loss rate | raw socket: best zero-loss rate | gamecast vs raw | gamecast: first step with loss | raw: first step with loss |\n\
         | --- | --- | --- | --- | --- | --- |\n\
         {}\n\n{memory}\n{startup}",
        rows.join("\n")
    )
}

/// One table row: the best zero-loss rates of `measured` and `baseline`, their ratio, and
/// where each first lost events.
pub fn row(players: usize, measured: &[Trial], baseline: &[Trial]) -> String {
    format!(
        "| {players} | {} | {} | {} | {} | {} |",
        best(measured),
        best(baseline),
        ratio(best_rate(measured), best_rate(baseline)),
        first_loss(measured),
        first_loss(baseline),
    )
}

pub fn best_rate(trials: &[Trial]) -> f64 {
    trials
        .iter()
        .filter(|t| t.lost == 0)
        .map(|t| t.received)
        .fold(0.0, f64::max)
}

fn best(trials: &[Trial]) -> String {
    format!("{:.0}/s", best_rate(trials))
}

pub fn first_loss(trials: &[Trial]) -> String {
    match trials.iter().find(|t| t.lost > 0) {
        Some(t) => format!(
            "{}: {:.1}% lost",
            offered(t.offered),
            100.0 * t.lost as f64 / t.expected as f64
        ),
        None => "none".into(),
    }
}

fn offered(rate: u64) -> String {
    if rate == 0 {
        "max".into()
    } else {
        format!("{}k/s", rate / 1000)
    }
}

/// Runs the rates in turn (10k, 25k, 50k, 100k, 200k events/s, then as fast as it goes),
/// stopping after the first that loses events. `extra` flags go to the announcer and every
/// player (a game key).
pub fn ladder(players: usize, smoke: bool, sender: Sender, extra: &[&str]) -> Vec<Trial> {
    let rates: &[u64] = if smoke {
        &[2_000]
    } else {
        &[10_000, 25_000, 50_000, 100_000, 200_000, 0]
    };
    let mut trials = Vec::new();
    for &rate in rates {
        let count = if smoke {
            2_000
        } else {
            rate.clamp(20_000, 200_000)
        };
        let count = if rate == 0 && !smoke { 200_000 } else { count };
        let trial = trial(players, rate, count, sender, extra);
        let lost = trial.lost;
        trials.push(trial);
        if lost > 0 {
            break;
        }
    }
    trials
}

fn trial(players: usize, rate: u64, count: u64, sender: Sender, extra: &[&str]) -> Trial {
    let net = Net::fresh();
    let settings = [
        format!("count={count}"),
        format!("rate={rate}"),
        format!("size={PADDING}"),
    ];
    let host = (sender == Sender::Gamecast).then(|| {
        let mut args: Vec<&str> = settings
            .iter()
            .flat_map(|s| ["--set", s.as_str()])
            .collect();
        args.extend(extra);
        Host::start(&net, &bench_script("announce.lua"), &args, &[])
    });
    let mut receivers: Vec<Counted> = (0..players)
        .map(|i| match sender {
            Sender::Gamecast => Counted::player_with(&[], &net, &format!("p{i}"), extra).welcomed(),
            // Players rate-limit plain text: the baseline needs a receiver that does not.
            Sender::Raw => Counted::raw(&net, &format!("p{i}")),
        })
        .collect();
    match sender {
        Sender::Gamecast => receivers[0].say("go"),
        Sender::Raw => raw_send(&net, count, rate, PADDING),
    }
    let counts = wait_counts(&receivers, count, Duration::from_secs(2));
    let received = receivers
        .iter()
        .map(|p| {
            let stats = p.stats.lock().unwrap();
            match (stats.first, stats.last) {
                (Some(first), Some(last)) if last > first => {
                    stats.announces as f64 / (last - first).as_secs_f64()
                }
                _ => 0.0,
            }
        })
        .fold(f64::INFINITY, f64::min);
    drop(host);
    Trial {
        offered: rate,
        received,
        lost: counts.iter().map(|c| count.saturating_sub(*c)).sum(),
        expected: count * players as u64,
    }
}

/// A socket2 sender of gamecast announcements, no more: what an application would do with the
/// bare socket API. Pre-encodes the datagrams when `timed` is false (throughput), stamps each
/// with the clock as it goes when true (latency).
pub struct RawSender {
    socket: Socket,
    /// The protocol's port, for JSON.
    group: socket2::SockAddr,
    /// The text channel, for plain text.
    text_group: socket2::SockAddr,
    origin: Origin,
}

impl RawSender {
    pub fn new(net: &Net) -> RawSender {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        socket.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
        socket.set_multicast_loop_v4(true).unwrap();
        socket.set_multicast_ttl_v4(1).unwrap();
        RawSender {
            socket,
            group: SocketAddrV4::new(net.group, net.protocol_port()).into(),
            text_group: SocketAddrV4::new(net.group, net.port).into(),
            origin: Origin::new("announcer"),
        }
    }

    /// One announcement in the benchmark's format, encoded.
    pub fn encode(&mut self, n: u64, padding: &str) -> Vec<u8> {
        let text = format!("@{n} {:.6} {padding}", mono_now());
        protocol::encode(&self.origin.stamp(Announcement::Announce { text }.into())).unwrap()
    }

    /// The same announcement as the lab's plain text (`raw: @<n> …`), padded to the size of
    /// [`RawSender::encode`]'s: what a raw socket sends to real players. A player shows any
    /// text datagram at once as chat, while it shows an announcer's datagrams only from the
    /// announcer that welcomed it, in order: the baseline must not need an announcer.
    pub fn encode_text(&mut self, n: u64, padding: &str) -> Vec<u8> {
        let size = self.encode(n, padding).len();
        let mut text = format!("raw: @{n} {:.6} {padding}", mono_now());
        while text.len() < size {
            text.push('x');
        }
        text.into_bytes()
    }

    pub fn send(&self, bytes: &[u8]) {
        // A full socket buffer (ENOBUFS) is the sender outrunning the kernel: try again.
        // Plain text goes to the text channel, where players hear the lab's scripts.
        let to = if bytes.first() == Some(&b'{') {
            &self.group
        } else {
            &self.text_group
        };
        while self.socket.send_to(bytes, to).is_err() {
            std::thread::yield_now();
        }
    }
}

/// Sends `count` pre-encoded announcements at `rate` per second (0: as fast as it goes),
/// catching up with the schedule every millisecond as the Lua load does.
fn raw_send(net: &Net, count: u64, rate: u64, padding: usize) {
    let mut sender = RawSender::new(net);
    let padding = "x".repeat(padding);
    let datagrams: Vec<Vec<u8>> = (1..=count)
        .map(|n| sender.encode_text(n, &padding))
        .collect();
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < count {
        let due = if rate == 0 {
            count
        } else {
            (start.elapsed().as_secs_f64() * rate as f64) as u64
        };
        while sent < due.min(count) {
            sender.send(&datagrams[sent as usize]);
            sent += 1;
        }
        if rate > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Peak memory of the announcer and a player, idle and after a run at the highest rate; and the
/// time each takes to start, against starting a process that does nothing.
fn memory_and_startup(smoke: bool) -> (String, String) {
    let count = if smoke { 2_000 } else { 200_000 };
    let net = Net::fresh();
    let settings = [format!("count={count}"), "rate=0".to_string()];
    let args: Vec<&str> = settings
        .iter()
        .flat_map(|s| ["--set", s.as_str()])
        .collect();
    let host = Host::start(&net, &bench_script("announce.lua"), &args, &[]);
    let mut player = Counted::player(&net, "p0");
    let idle = (peak_rss_kib(host.pid()), peak_rss_kib(player.pid()));
    player.say("go");
    let players = [player];
    wait_counts(&players, count, Duration::from_secs(2));
    let loaded = (peak_rss_kib(host.pid()), peak_rss_kib(players[0].pid()));
    drop(players);
    drop(host);
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    let memory = format!(
        "### Memory\n\nPeak resident memory (VmHWM): idle after start-up, and after {count} \
         announcements as fast as the announcer sends them. Targets: announcer ≤ 16 MiB, player \
         ≤ 12 MiB.\n\n\
         | process | idle | under load |\n| --- | --- | --- |\n\
         | announcer (benches/lua/announce.lua) | {} | {} |\n| player | {} | {} |\n",
        mib(idle.0),
        mib(loaded.0),
        mib(idle.1),
        mib(loaded.1)
    );

    let runs = if smoke { 3 } else { 20 };
    let mut baseline = Vec::new();
    let mut announcer = Vec::new();
    let mut player = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        std::process::Command::new("true").status().unwrap();
        baseline.push(started.elapsed());

        let net = Net::fresh();
        let started = Instant::now();
        let host = Host::start(&net, &crate::common::repo("scripts/dice.lua"), &[], &[]);
        announcer.push(started.elapsed());
        let started = Instant::now();
        let p = Counted::player(&net, "alice");
        player.push(started.elapsed());
        drop(p);
        drop(host);
    }
    let (base, announcer, player) = (summarize(baseline), summarize(announcer), summarize(player));
    let startup = format!(
        "### Start-up\n\nFrom starting the process to: the announcer ready (script loaded, socket \
         in the group: its banner), a player welcomed by a running announcer (its \
         first event). Baseline: starting `true` and waiting for it to exit.\n\n\
         | measure | n | p50 ms | p99 ms | p50 vs baseline |\n| --- | --- | --- | --- | --- |\n\
         | baseline: `true` | {} | {:.2} | {:.2} | |\n\
         | announcer scripts/dice.lua ready | {} | {:.2} | {:.2} | {} |\n\
         | player welcomed | {} | {:.2} | {:.2} | {} |\n",
        base.n,
        base.p50,
        base.p99,
        announcer.n,
        announcer.p50,
        announcer.p99,
        ratio(announcer.p50, base.p50),
        player.n,
        player.p50,
        player.p99,
        ratio(player.p50, base.p50),
    );
    (memory, startup)
}
