//! `lcm`: LCM (lcm-proj/lcm, Debian's liblcm-dev), the UDP multicast messaging a networking
//! person would pick instead, side by side with gamecast in the same run: zero-loss throughput
//! to 1, 4 and 16 receivers, one-way latency, and at 10% loss on the namespace LAN what each
//! receiver got and what the wire carried.
//!
//! LCM's side is benches/lcm/lcm_bench.c, built here against liblcm-dev with `cc`: a sender
//! and a receiver of the same ~200-byte events. LCM's udpm transport cannot be told which
//! interface to send from (it follows the routing table), so it runs only inside network
//! namespaces made here: one with nothing but `lo` and a multicast route to it, and the LAN's
//! hosts with a multicast route to their veth. Never in the machine's own namespace.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::lan::Lan;
use crate::common::{is_root, repo, skip};
use crate::latency;
use crate::plot::{self, Chart, Series};
use crate::reliability;
use crate::report::{Summary, mono_now, ratio, summarize};
use crate::throughput::{self, Sender};

/// LCM's default group and port; `ttl=0` keeps the datagrams on the host.
const URL_HOST: &str = "udpm://239.255.76.67:7667?ttl=0";
/// On the LAN: one hop.
const URL_LAN: &str = "udpm://239.255.76.67:7667?ttl=1";
/// The size of each event: gamecast's benchmark events are ~200 bytes on the wire too.
const SIZE: &str = "200";
/// How long a receiver may take to say it is subscribed, and to report after the sender ends.
const WITHIN: Duration = Duration::from_secs(20);

/// Builds benches/lcm/lcm_bench.c into target/, or says why it cannot.
fn build() -> Result<PathBuf, String> {
    if !std::path::Path::new("/usr/include/lcm/lcm.h").exists() {
        return Err("LCM is not installed (apt-get install liblcm-dev)".into());
    }
    if !is_root() {
        return Err("LCM runs only in network namespaces of its own, which need root".into());
    }
    let source = repo("benches/lcm/lcm_bench.c");
    let out = repo("target/lcm-bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let binary = out.join("lcm_bench");
    // lcm.pc wants glib's development files, which lcm.h does not use: -llcm is enough.
    let built = Command::new("cc")
        .args(["-O2", "-Wall", "-Wextra", "-o"])
        .arg(&binary)
        .arg(&source)
        .arg("-llcm")
        .status()
        .map_err(|e| format!("cc: {e}"))?;
    if !built.success() {
        return Err(format!("cc could not build {}", source.display()));
    }
    Ok(binary)
}

/// A network namespace with only `lo`, multicast routed to it: LCM's loopback.
struct HostOnly {
    name: String,
}

impl HostOnly {
    fn new() -> HostOnly {
        // Named like the LANs' namespaces (gcl-PID-…), so that a run killed before its Drop
        // leaves one that the next LAN removes.
        let name = format!("gcl-{}-lcm{:04x}", std::process::id(), fastrand::u16(..));
        for args in [
            vec!["netns", "add", &name],
            vec!["-n", &name, "link", "set", "lo", "up"],
            vec!["-n", &name, "link", "set", "lo", "multicast", "on"],
            vec!["-n", &name, "route", "add", "224.0.0.0/4", "dev", "lo"],
        ] {
            let status = Command::new("ip").args(&args).status().unwrap();
            assert!(status.success(), "ip {}", args.join(" "));
        }
        HostOnly { name }
    }

    fn prefix(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }
}

impl Drop for HostOnly {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// One `lcm_bench recv`, subscribed.
struct Receiver {
    child: Child,
    /// Its lines after `ready`, with the time each was read.
    lines: mpsc::Receiver<(f64, String)>,
}

impl Receiver {
    fn start(binary: &PathBuf, prefix: &[&str], url: &str, lines: bool) -> Receiver {
        let mut command = Command::new(prefix[0]);
        command.args(&prefix[1..]).arg(binary).args(["recv", url]);
        if lines {
            command.arg("--lines");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send((mono_now(), line)).is_err() {
                    return;
                }
            }
        });
        let receiver = Receiver { child, lines: rx };
        let (_, first) = receiver
            .lines
            .recv_timeout(WITHIN)
            .expect("an LCM receiver that says it is subscribed");
        assert_eq!(first, "ready", "an LCM receiver's first line");
        receiver
    }

    /// Waits for its `done` line: the events it got. With `--lines`, the latencies (from the
    /// send to this process reading the line) come too.
    fn finish(mut self) -> (u64, Vec<Duration>) {
        let mut latencies = Vec::new();
        let deadline = Instant::now() + WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok((at, line)) = self.lines.recv_timeout(left) else {
                panic!("an LCM receiver that did not report within {WITHIN:?}");
            };
            if let Some(rest) = line.strip_prefix("done ") {
                let received = field(rest, "received").expect("received= in LCM's report");
                let _ = self.child.wait();
                return (received, latencies);
            }
            if let Some((_, sent)) = line.split_once(' ')
                && let Ok(sent) = sent.parse::<u64>()
            {
                let seconds = (at - sent as f64 / 1e9).max(0.0);
                latencies.push(Duration::from_secs_f64(seconds));
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field(line: &str, name: &str) -> Option<u64> {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// Runs the sender to its end; the rate it kept, messages per second.
fn send(binary: &PathBuf, prefix: &[&str], url: &str, count: u64, rate: u64) -> f64 {
    let output = Command::new(prefix[0])
        .args(&prefix[1..])
        .arg(binary)
        .args(["send", url, &count.to_string(), &rate.to_string(), SIZE])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lcm_bench send: {stderr}");
    // "lcm_bench: sent N messages in T s (R msg/s)"
    stderr
        .rsplit_once('(')
        .and_then(|(_, r)| r.split(' ').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or(0.0)
}

/// One rung of LCM's ladder: `receivers` receivers, `count` events at `rate`.
struct Trial {
    rate: u64,
    /// The rate the sender kept.
    sent: f64,
    lost: u64,
    expected: u64,
}

fn trial(binary: &PathBuf, ns: &HostOnly, receivers: usize, count: u64, rate: u64) -> Trial {
    let started: Vec<Receiver> = (0..receivers)
        .map(|_| Receiver::start(binary, &ns.prefix(), URL_HOST, false))
        .collect();
    let sent = send(binary, &ns.prefix(), URL_HOST, count, rate);
    let got: Vec<u64> = started.into_iter().map(|r| r.finish().0).collect();
    Trial {
        rate,
        sent,
        lost: got.iter().map(|g| count.saturating_sub(*g)).sum(),
        expected: count * receivers as u64,
    }
}

/// The rates in turn until one loses events, as the throughput suite climbs gamecast's.
fn ladder(binary: &PathBuf, ns: &HostOnly, receivers: usize, smoke: bool) -> Vec<Trial> {
    let rates: &[u64] = if smoke {
        &[2_000]
    } else {
        &[
            1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 200_000, 0,
        ]
    };
    let mut trials = Vec::new();
    for &rate in rates {
        let count = if smoke {
            2_000
        } else if rate == 0 {
            200_000
        } else {
            rate.clamp(5_000, 200_000)
        };
        let trial = trial(binary, ns, receivers, count, rate);
        eprintln!(
            "lcm: {receivers} receivers at {rate}/s: {} of {} lost",
            trial.lost, trial.expected
        );
        let lost = trial.lost;
        trials.push(trial);
        if lost > 0 {
            break;
        }
    }
    trials
}

fn best(trials: &[Trial]) -> f64 {
    trials
        .iter()
        .filter(|t| t.lost == 0)
        .map(|t| t.sent)
        .fold(0.0, f64::max)
}

fn first_loss(trials: &[Trial]) -> String {
    match trials.iter().find(|t| t.lost > 0) {
        Some(t) => format!(
            "{}: {:.1}% lost",
            if t.rate == 0 {
                "max".to_string()
            } else {
                format!("{}k/s", t.rate as f64 / 1000.0)
            },
            100.0 * t.lost as f64 / t.expected as f64
        ),
        None => "none".into(),
    }
}

/// LCM's one-way latency to a receiving process's line, at 1,000 events/s.
fn latency(binary: &PathBuf, ns: &HostOnly, count: u64) -> Summary {
    let receiver = Receiver::start(binary, &ns.prefix(), URL_HOST, true);
    send(binary, &ns.prefix(), URL_HOST, count, 1_000);
    let (_, latencies) = receiver.finish();
    summarize(latencies)
}

/// At 10% loss on host 1's input: what each of `receivers` LCM receivers on host 1 got of
/// `events` sent from host 0 at 1,000/s, and host 0's interface's bytes and packets.
fn lossy(binary: &PathBuf, lan: &Lan, receivers: usize, events: u64) -> (u64, f64, f64) {
    lan.loss(1, 0);
    let started: Vec<Receiver> = (0..receivers)
        .map(|_| Receiver::start(binary, &lan.prefix(1), URL_LAN, false))
        .collect();
    lan.loss(1, 10);
    let (packets, bytes) = (lan.tx_packets(0), lan.statistic(0, "tx_bytes"));
    send(binary, &lan.prefix(0), URL_LAN, events, 1_000);
    let packets = lan.tx_packets(0) - packets;
    let bytes = lan.statistic(0, "tx_bytes") - bytes;
    lan.loss(1, 0);
    let got = started.into_iter().map(|r| r.finish().0).min().unwrap_or(0);
    // The sender's 5 END messages are on the wire too.
    let per = |n: u64| n as f64 / events as f64;
    (got, per(packets), per(bytes))
}

/// Gives each LAN host a multicast route out of its veth, for LCM (gamecast names its
/// interface and needs none).
fn route_lan(lan: &Lan) {
    for i in 0..2 {
        let status = Command::new("ip")
            .args(["-n", lan.netns(i), "route", "add", "224.0.0.0/4", "dev"])
            .arg(lan.veth(i))
            .status()
            .unwrap();
        assert!(status.success(), "a multicast route in host {i}");
    }
}

pub fn run(smoke: bool) -> String {
    let binary = match build() {
        Ok(binary) => binary,
        Err(why) => {
            skip(&format!("the lcm suite: {why}"));
            return format!("### Side by side with LCM\n\nSkipped: {why}.\n");
        }
    };
    let ns = HostOnly::new();
    let receivers: &[usize] = if smoke { &[1] } else { &[1, 4, 16] };
    let mut rows = Vec::new();
    let mut curve: Vec<(f64, f64, f64, f64)> = Vec::new();
    for &n in receivers {
        let lcm = ladder(&binary, &ns, n, smoke);
        let gamecast = throughput::ladder(n, smoke, Sender::Gamecast, &[]);
        let raw = throughput::ladder(n, smoke, Sender::Raw, &[]);
        let (g, r, l) = (
            throughput::best_rate(&gamecast),
            throughput::best_rate(&raw),
            best(&lcm),
        );
        curve.push((n as f64, g, l, r));
        rows.push(format!(
            "| {n} | {g:.0}/s | {l:.0}/s | {r:.0}/s | {} | {} | {} | {} |",
            ratio(g, l),
            ratio(l, r),
            throughput::first_loss(&gamecast),
            first_loss(&lcm),
        ));
    }
    let series = |name: &str, pick: fn(&(f64, f64, f64, f64)) -> f64| {
        Series::new(name, curve.iter().map(|c| (c.0, pick(c))).collect())
    };
    let picture = plot::draw(
        &Chart {
            file: "bench-throughput.svg",
            title: "Best zero-loss rate, ~200-byte events",
            x: "receivers",
            y: "events per second, each receiver",
            log_x: true,
            log_y: false,
        },
        &[
            series("gamecast (player processes)", |c| c.1),
            series("LCM udpm", |c| c.2),
            series("raw socket", |c| c.3),
        ],
        smoke,
    );
    let count = if smoke { 300 } else { 5_000 };
    let lcm_latency = latency(&binary, &ns, count);
    let raw_latency = latency::raw_to_process(count);
    let gamecast_latency = latency::lua_to_player(count);
    let latency_row = |name: &str, s: &Summary| latency::row(name, s, &raw_latency);
    drop(ns);

    let lossy_rows = match Lan::build(2) {
        None => "The LAN needs root, `ip` and `nft`: skipped.\n".to_string(),
        Some(lan) => {
            route_lan(&lan);
            let events = if smoke { 300 } else { 3_000 };
            let players: &[usize] = if smoke { &[1] } else { &[1, 16] };
            let mut rows = String::new();
            for &n in players {
                let (got, packets, bytes) = lossy(&binary, &lan, n, events);
                let gamecast = reliability::lossy_run(&lan, n, events);
                rows.push_str(&format!(
                    "| {n} | LCM | {got} | {:.1}% | {packets:.2} | {bytes:.0} |\n\
                     | {n} | gamecast | {} | {:.1}% | {:.2} | {:.0} |\n",
                    100.0 * (events - got) as f64 / events as f64,
                    gamecast.shown,
                    100.0 * (events - gamecast.shown.min(events)) as f64 / events as f64,
                    gamecast.packets_per_event,
                    gamecast.bytes_per_event,
                ));
            }
            format!(
                "At 10% loss on the namespace LAN: {events} events at 1,000/s from host 0 to N \
                 receivers on host 1, whose input drops 10% of UDP datagrams (nftables); the \
                 fewest events a receiver got, and what host 0's interface sent per event \
                 (frames and bytes with their headers; gamecast's repairs and heartbeats \
                 included, LCM's 5 end-of-run messages too).\n\n\
                 | receivers | system | fewest events got | lost | datagrams/event | bytes/event |\n\
                 | --- | --- | --- | --- | --- | --- |\n{rows}"
            )
        }
    };

    format!(
        "### Side by side with LCM\n\n\
         LCM 1.3 (Debian's liblcm-dev), udpm transport with its defaults (a subscription \
         queues 30 messages; a receiver that falls further behind drops the rest), through \
         benches/lcm/lcm_bench.c: a sender and a receiver of ~200-byte events. LCM runs in a \
         network namespace with only `lo` (it sends by the routing table and cannot be told \
         an interface); gamecast and the raw socket on the machine's loopback, which is the \
         same path through the kernel.\n\n\
         Zero-loss throughput, in the same run: the rates in turn (LCM from 1k/s, gamecast \
         and raw from 10k/s, as in the throughput suite) until one loses events; gamecast's \
         receivers are real `player --json` processes, LCM's print nothing per event (it \
         is LCM's best case), raw's are the throughput suite's raw-socket process.\n\n\
         | receivers | gamecast | LCM | raw socket | gamecast vs LCM | LCM vs raw | gamecast: first loss | LCM: first loss |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n{}\n\n{picture}\n\n\
         One-way latency, {count} events at 1,000/s, to a line read from the receiving \
         process's stdout: LCM's receiver prints each message's send time as it handles it.\n\n\
         | path | n | p50 ms | p99 ms | max ms | p50 vs raw | p99 vs raw |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n{}\n{}\n{}\n\n{lossy_rows}",
        rows.join("\n"),
        latency_row(
            "raw socket → receiving process's line (baseline)",
            &raw_latency
        ),
        latency_row("LCM publish → receiver's line", &lcm_latency),
        latency_row("gamecast: Lua announce → player line", &gamecast_latency),
    )
}
