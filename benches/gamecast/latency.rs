//! Latency: from the Lua `announce` call to the line a player writes, at 1,000 events/s,
//! against the raw socket's one-way latency (a socket2 sender to a socket receiving in this
//! process). All three clocks are the host's monotonic clock: Lua's `now()`, the raw sender's
//! and this process's.

use std::time::{Duration, Instant};

use crate::common::Net;
use crate::procs::{Counted, Host, bench_script, raw_receiver, wait_counts};
use crate::report::{Summary, mono_now, ratio, summarize};
use crate::throughput::RawSender;

const RATE: u64 = 1000;

pub fn run(smoke: bool) -> String {
    let count = if smoke { 300 } else { 5_000 };
    let raw = raw_to_raw(count);
    let raw_process = raw_to_process(count);
    let gamecast = lua_to_player(count);
    let socket = lua_to_socket(count);
    let row = |name: &str, s: &Summary| row(name, s, &raw);
    format!(
        "### Latency\n\n{count} events at {RATE} events/s, ~200 bytes each, on loopback. \
         gamecast: from the Lua `announce` call in the announcer to the player's JSON line read \
         from its stdout. Baseline: a socket2 sender to a socket receiving in the benchmark, same \
         datagrams, same rate. The middle row sends the same as plain text to a process that \
         receives it on a raw socket and prints a line per datagram, as a player does: what a \
         second process and its stdout add, without anything of gamecast's. The last row \
         times the same announcer's datagrams as a bare socket in the benchmark receives them (a run \
         of its own, whose player leaves after saying \"go\"): the announcer's part of the time, from the \
         Lua call to the datagram in a socket; the rest of the row above it is the player's.\n\n\
         | path | n | p50 ms | p99 ms | max ms | p50 vs raw | p99 vs raw |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n{}\n{}\n{}\n{}\n",
        row("raw socket → raw socket (baseline)", &raw),
        row("raw socket → receiving process's line", &raw_process),
        row("Lua announce → player line", &gamecast),
        row("Lua announce → raw socket (the announcer's part)", &socket),
    )
}

/// A table row: `s`'s figures, and its ratios to `baseline`'s.
pub fn row(name: &str, s: &Summary, baseline: &Summary) -> String {
    format!(
        "| {name} | {} | {:.3} | {:.3} | {:.3} | {} | {} |",
        s.n,
        s.p50,
        s.p99,
        s.max,
        ratio(s.p50, baseline.p50),
        ratio(s.p99, baseline.p99)
    )
}

/// Sends `count` timestamped datagrams at RATE, from this thread: gamecast's JSON, or (for a
/// real player, which shows only its own announcer's JSON) the same as plain text.
fn paced(net: &Net, count: u64, text: bool) {
    let mut sender = RawSender::new(net);
    let padding = "x".repeat(100);
    let start = Instant::now();
    for n in 1..=count {
        let due = start + Duration::from_secs_f64(n as f64 / RATE as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let bytes = if text {
            sender.encode_text(n, &padding)
        } else {
            sender.encode(n, &padding)
        };
        sender.send(&bytes);
    }
}

fn raw_to_raw(count: u64) -> Summary {
    let net = Net::fresh();
    let receiver = timed_receiver(&net, count);
    paced(&net, count, false);
    summarize(receiver.join().unwrap())
}

/// A bare socket in `net`'s group, on a thread that times the benchmark's announcements `@1` to
/// `@count` from their send time to their arrival, each once (a repair sends one again), until
/// the last has come or the time they take at RATE, and ten seconds more, is over.
fn timed_receiver(net: &Net, count: u64) -> std::thread::JoinHandle<Vec<Duration>> {
    let socket = raw_receiver(net, Duration::from_millis(200));
    let within = Duration::from_secs_f64(count as f64 / RATE as f64) + Duration::from_secs(10);
    std::thread::spawn(move || {
        let deadline = Instant::now() + within;
        let mut got = vec![false; usize::try_from(count).unwrap_or(0) + 1];
        let mut latencies = Vec::new();
        let mut buf = [0u8; 2048];
        while (latencies.len() as u64) < count && Instant::now() < deadline {
            // A read that times out only gives the deadline a look.
            let Ok(len) = socket.recv(&mut buf) else {
                continue;
            };
            let now = mono_now();
            let text = String::from_utf8_lossy(&buf[..len]);
            let Some((n, sent)) = numbered(&text) else {
                continue;
            };
            if let Some(seen) = usize::try_from(n).ok().and_then(|n| got.get_mut(n))
                && n > 0
                && !*seen
            {
                *seen = true;
                latencies.push(Duration::from_secs_f64((now - sent).max(0.0)));
            }
        }
        latencies
    })
}

/// The number and send time of a benchmark announcement: `"text":"@<n> <seconds> …"`.
fn numbered(datagram: &str) -> Option<(u64, f64)> {
    let rest = datagram.split("\"text\":\"@").nth(1)?;
    let mut words = rest.split(' ');
    let n = words.next()?.parse().ok()?;
    Some((n, words.next()?.parse().ok()?))
}

fn latencies_of(player: &Counted) -> Vec<Duration> {
    let stats = player.stats.lock().unwrap();
    stats
        .latencies
        .iter()
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
        .collect()
}

/// Plain text to the baselines' receiving process: a raw socket that prints a line per
/// datagram (a player rate-limits plain text; this shows what a process and its stdout add).
pub fn raw_to_process(count: u64) -> Summary {
    let net = Net::fresh();
    let players = [Counted::raw(&net, "p0")];
    paced(&net, count, true);
    wait_counts(&players, count, Duration::from_secs(2));
    summarize(latencies_of(&players[0]))
}

pub fn lua_to_player(count: u64) -> Summary {
    let net = Net::fresh();
    let _host = start_announcer(&net, count);
    let mut players = [Counted::player(&net, "p0").welcomed()];
    players[0].say("go");
    wait_counts(&players, count, Duration::from_secs(2));
    summarize(latencies_of(&players[0]))
}

/// The same announcer's events timed by a bare socket in the group, in a run of their own:
/// its player says "go" and leaves once the first event is out, so that no other process
/// wakes for the events but the socket's.
fn lua_to_socket(count: u64) -> Summary {
    let net = Net::fresh();
    let _host = start_announcer(&net, count);
    let mut player = [Counted::player(&net, "p0").welcomed()];
    let socket = timed_receiver(&net, count);
    player[0].say("go");
    wait_counts(&player, 1, Duration::from_secs(2));
    drop(player);
    summarize(socket.join().unwrap())
}

/// The latency script's announcer on `net`, `count` events at RATE once a player says "go".
fn start_announcer(net: &Net, count: u64) -> Host {
    let settings = [format!("count={count}"), format!("rate={RATE}")];
    let args: Vec<&str> = settings
        .iter()
        .flat_map(|s| ["--set", s.as_str()])
        .collect();
    Host::start(net, &bench_script("announce.lua"), &args, &[])
}
