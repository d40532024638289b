//! Games beyond one LAN: one-way latency and zero-loss throughput over a real nats-server on
//! loopback, three ways (announcer and player with `--nats`; LAN → bridge → NATS → bridge → LAN,
//! the two "LANs" being two groups on loopback), against direct multicast and Redis pub/sub in
//! the same run; the datagrams bridge B put on its LAN per event, and the bridges' CPU per event.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::Net;
use crate::common::nats::NatsServer;
use crate::procs::{Counted, Host, bench_script, command, wait_counts};
use crate::report::{Summary, ratio, summarize};

const RATE: u64 = 1000;

/// Where the game runs: a group, a NATS game, or a group bridged to another group.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    Multicast,
    Nats,
    Bridged,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Multicast => "multicast (baseline)",
            Path::Nats => "announcer and player with --nats",
            Path::Bridged => "LAN → bridge → NATS → bridge → LAN",
        }
    }
}

/// A bridge process, killed when dropped.
struct Bridge(Child);

impl Bridge {
    fn start(net: &Net, url: &str, game: &str) -> Bridge {
        let mut child = command(&[], env!("CARGO_BIN_EXE_bridge"))
            .args(net.flags())
            .args(["--nats", url, "--game", game, "--report", "3600", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Relaying once it has listened for other bridges (a second).
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("relaying for this LAN") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the bridge relays");
        Bridge(child)
    }

    /// The CPU time the bridge has used.
    fn cpu(&self) -> Duration {
        cpu_of(self.0.id())
    }

    /// Stops the bridge (Ctrl-C) and returns the counters it printed last.
    fn finish(mut self) -> serde_json::Value {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let mut out = String::new();
        use std::io::Read;
        let _ = self.0.stdout.take().unwrap().read_to_string(&mut out);
        let _ = self.0.wait();
        out.lines()
            .rev()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["counters"].clone())
            .unwrap_or_default()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The user and system time of process `pid` (/proc/PID/stat, in clock ticks of 1/100 s).
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// One run: `count` events at `rate` (0: as fast as it goes) from an announcer to one player
/// over `path`. Returns the player's count, its latencies, its receive rate, and for the bridged
/// path the bridges' CPU time.
struct Run {
    received: u64,
    latencies: Vec<Duration>,
    rate: f64,
    bridges_cpu: Option<Duration>,
    /// For the bridged path: what bridge A published and bridge B put on its LAN.
    carried: Option<(u64, u64)>,
}

fn run_once(server: &NatsServer, path: Path, count: u64, rate: u64) -> Run {
    let lan_a = Net::fresh();
    let lan_b = Net::fresh();
    let game = format!("bench{:08x}", fastrand::u32(..));
    let url = server.url();
    let nats = ["--nats", url.as_str(), "--game", game.as_str()];
    let bridges = (path == Path::Bridged).then(|| {
        (
            Bridge::start(&lan_a, &url, &game),
            Bridge::start(&lan_b, &url, &game),
        )
    });
    let settings = [format!("count={count}"), format!("rate={rate}")];
    let mut args: Vec<&str> = settings
        .iter()
        .flat_map(|s| ["--set", s.as_str()])
        .collect();
    if path == Path::Nats {
        args.extend(nats);
    }
    let _host = Host::start(&lan_a, &bench_script("announce.lua"), &args, &[]);
    let (player_net, extra): (&Net, &[&str]) = match path {
        Path::Multicast => (&lan_a, &[]),
        Path::Nats => (&lan_a, &nats),
        Path::Bridged => (&lan_b, &[]),
    };
    let mut players = [Counted::player_with(&[], player_net, "p0", extra).welcomed()];
    let cpu_before = bridges.as_ref().map(|(a, b)| a.cpu() + b.cpu());
    players[0].say("go");
    let counts = wait_counts(&players, count, Duration::from_secs(3));
    let bridges_cpu = bridges
        .as_ref()
        .zip(cpu_before)
        .map(|((a, b), before)| (a.cpu() + b.cpu()).saturating_sub(before));
    let carried = bridges.map(|(a, b)| {
        let (a, b) = (a.finish(), b.finish());
        let get = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or(0);
        (get(&a, "lan_to_nats"), get(&b, "nats_to_lan"))
    });
    let stats = players[0].stats.lock().unwrap();
    let rate = match (stats.first, stats.last) {
        (Some(first), Some(last)) if last > first => {
            stats.announces as f64 / (last - first).as_secs_f64()
        }
        _ => 0.0,
    };
    Run {
        received: counts[0],
        latencies: stats
            .latencies
            .iter()
            .map(|s| Duration::from_secs_f64(s.max(0.0)))
            .collect(),
        rate,
        bridges_cpu,
        carried,
    }
}

/// The best rate without loss, trying faster ones until one loses events: (rate, first rate
/// that lost, if any).
fn zero_loss(server: &NatsServer, path: Path, smoke: bool) -> (f64, Option<u64>) {
    let rates: &[u64] = if smoke {
        &[2_000]
    } else {
        &[5_000, 10_000, 25_000, 50_000, 0]
    };
    let mut best = 0.0f64;
    for &rate in rates {
        let count = if smoke {
            1_000
        } else {
            rate.clamp(10_000, 50_000)
        };
        let count = if rate == 0 { 50_000 } else { count };
        let run = run_once(server, path, count, rate);
        if run.received < count {
            return (best, Some(rate));
        }
        best = best.max(run.rate);
    }
    (best, None)
}

/// A row of the latency table: `s` against the multicast baseline `base`.
fn latency_row(name: &str, s: &Summary, lost: u64, base: &Summary) -> String {
    format!(
        "| {name} | {} | {lost} | {:.3} | {:.3} | {:.3} | {} | {} |",
        s.n,
        s.p50,
        s.p99,
        s.max,
        ratio(s.p50, base.p50),
        ratio(s.p99, base.p99)
    )
}

pub fn run(smoke: bool) -> String {
    let Some(server) = NatsServer::start(None, std::net::Ipv4Addr::LOCALHOST) else {
        return "### Over NATS\n\n(skipped: nats-server is not installed; `apt-get install \
                nats-server`.)\n"
            .to_string();
    };
    let count = if smoke { 200 } else { 3_000 };
    let mut latency_rows = Vec::new();
    let mut baseline: Option<Summary> = None;
    let mut per_event = String::new();
    for path in [Path::Multicast, Path::Nats, Path::Bridged] {
        let run = run_once(&server, path, count, RATE);
        let lost = count.saturating_sub(run.received);
        if let Some((published, put)) = run.carried {
            per_event.push_str(&format!(
                "Bridge A published {:.3} datagrams per event on NATS, and bridge B put {:.3} per \
                 event on its LAN (every datagram of the game: the events, and the heartbeats, \
                 joins and welcomes around them; one per event is the floor). ",
                published as f64 / count as f64,
                put as f64 / count as f64
            ));
        }
        let s = summarize(run.latencies);
        let base = baseline.get_or_insert_with(|| s.clone()).clone();
        latency_rows.push(latency_row(path.name(), &s, lost, &base));
        if let Some(cpu) = run.bridges_cpu {
            per_event += &format!(
                "The two bridges used {:.1} µs of CPU per event together ({} ms for {count} \
                 events, from /proc, in 10 ms ticks).",
                cpu.as_secs_f64() * 1e6 / count as f64,
                cpu.as_millis()
            );
        }
    }
    let redis =
        crate::fanout::redis_available().then(|| crate::fanout::redis_loopback(1, count as usize));
    if let (Some((s, lost)), Some(base)) = (&redis, &baseline) {
        let name = "Redis pub/sub (a publisher and a subscriber in the benchmark)";
        latency_rows.push(latency_row(name, s, *lost as u64, base));
    }
    let mut throughput_rows = Vec::new();
    let mut multicast_best = 0.0;
    for path in [Path::Multicast, Path::Nats, Path::Bridged] {
        let (best, lost_at) = zero_loss(&server, path, smoke);
        if path == Path::Multicast {
            multicast_best = best;
        }
        let lost_at = match lost_at {
            None => "none".to_string(),
            Some(0) => "as fast as it goes".to_string(),
            Some(rate) => format!("{}k/s", rate / 1000),
        };
        throughput_rows.push(format!(
            "| {} | {best:.0}/s | {} | {lost_at} |",
            path.name(),
            ratio(best, multicast_best)
        ));
    }
    format!(
        "### Over NATS\n\nA real nats-server 2.9 on loopback. Latency: {count} events at {RATE} \
         events/s, ~200 bytes each, from the Lua `announce` call to the player's JSON line, one \
         player. The bridged path is two groups on loopback standing for two LANs, a bridge on \
         each. Baseline: the same announcer and player on one multicast group, in the same run; \
         Redis: a publisher and a subscriber in the benchmark itself (no player process), the \
         fan-out suite's.\n\n\
         | path | n | lost | p50 ms | p99 ms | max ms | p50 vs multicast | p99 vs multicast |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n{}\n\n{per_event}\n\n\
         Zero-loss throughput to one player: the rates 5k, 10k, 25k, 50k events/s and as fast \
         as the announcer goes, in turn, until one loses events; the best received rate \
         without loss.\n\n\
         | path | best zero-loss rate | vs multicast | first rate with loss |\n\
         | --- | --- | --- | --- |\n{}\n",
        latency_rows.join("\n"),
        throughput_rows.join("\n"),
    )
}
