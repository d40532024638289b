//! on_message throughput: players type as fast as they can (their stdin is a pipe this process
//! fills); how many handler calls a second the announcer makes (benches/lua/count.lua counts
//! them with `now()`), against a raw socket counting the same players' datagrams.

use std::time::{Duration, Instant};

use crate::common::Net;
use crate::procs::{Counted, Host, bench_script, raw_receiver};
use crate::report::ratio;

pub fn run(smoke: bool) -> String {
    let lines = if smoke { 1_000 } else { 50_000 };
    let player_counts: &[usize] = if smoke { &[1] } else { &[1, 4] };
    let mut rows = Vec::new();
    for &players in player_counts {
        let (handled, handled_rate) = announcer_handles(players, lines);
        let (counted, raw_rate) = raw_counts(players, lines);
        let sent = (players * lines) as f64;
        rows.push(format!(
            "| {players} | {lines} | {handled_rate:.0}/s | {:.1}% | {raw_rate:.0}/s | {:.1}% | {} |",
            100.0 * handled as f64 / sent,
            100.0 * counted as f64 / sent,
            ratio(handled_rate, raw_rate)
        ));
    }
    format!(
        "### on_message throughput\n\nEach player is fed {lines} lines on its stdin at once and \
         sends them as fast as it reads them. gamecast: `on_message` calls per second in the \
         announcer, measured by the script with `now()` from the first call to the last, and the \
         share of the lines that reached the handler. Baseline: a raw socket in the benchmark \
         receiving the same players' datagrams.\n\n\
         | players | lines each | handler calls/s | reached the handler | raw socket datagrams/s | reached the socket | handler vs raw |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n{}\n",
        rows.join("\n")
    )
}

fn feed(players: &mut [Counted], lines: usize) {
    for player in players.iter_mut() {
        let text: String = (0..lines).map(|n| format!("line {n}\n")).collect();
        player.say(text.trim_end());
    }
}

/// Returns how many lines the handler got and at what rate.
fn announcer_handles(players: usize, lines: usize) -> (u64, f64) {
    let net = Net::fresh();
    // No limit on lines a second: this measures the handler, not the flood limit.
    let host = Host::start(
        &net,
        &bench_script("count.lua"),
        &["--rate-limit", "0"],
        &["handled "],
    );
    let mut receivers: Vec<Counted> = (0..players)
        .map(|i| Counted::player(&net, &format!("p{i}")).welcomed())
        .collect();
    feed(&mut receivers, lines);
    // Each player says "end" after its lines; the script reports on each "end", and the last
    // report covers everything that arrived.
    let mut last = (0, 0.0);
    for player in receivers.iter_mut() {
        player.say("end");
        let line = host.wait_line("handled ");
        let mut words = line
            .split_whitespace()
            .skip_while(|w| *w != "handled")
            .skip(1);
        let count: u64 = words.next().unwrap().parse().unwrap();
        let seconds: f64 = words.nth(1).unwrap().parse().unwrap();
        last = (count, seconds);
    }
    let (count, seconds) = last;
    (
        count,
        if seconds > 0.0 {
            count as f64 / seconds
        } else {
            0.0
        },
    )
}

/// Counts the players' chat datagrams on a raw socket; returns the count and rate.
fn raw_counts(players: usize, lines: usize) -> (u64, f64) {
    let net = Net::fresh();
    let socket = raw_receiver(&net, Duration::from_secs(1));
    let expected = (players * lines) as u64;
    let counter = std::thread::spawn(move || {
        let (mut count, mut first, mut last) = (0u64, None, Instant::now());
        let mut buf = [0u8; 2048];
        while count < expected {
            let Ok(len) = socket.recv(&mut buf) else {
                break;
            };
            if buf[..len].windows(14).any(|w| w == b"\"kind\":\"chat\",") {
                count += 1;
                first.get_or_insert_with(Instant::now);
                last = Instant::now();
            }
        }
        let seconds = first.map_or(0.0, |f| (last - f).as_secs_f64());
        (
            count,
            if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            },
        )
    });
    let mut senders: Vec<Counted> = (0..players)
        .map(|i| Counted::player(&net, &format!("p{i}")))
        .collect();
    feed(&mut senders, lines);
    counter.join().unwrap()
}
