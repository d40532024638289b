//! Fan-out: the same events delivered to 1 to 64 receivers, gamecast against Redis pub/sub; and,
//! as root, the packets the sender's interface puts on a LAN of network namespaces per event.
//!
//! On loopback both systems' receivers run in this process (gamecast: the player library's loop
//! with its own socket each; Redis: one subscriber connection each), so that neither pays for
//! extra processes. gamecast's events come from a real announcer running
//! benches/lua/announce.lua, Redis's from a publisher in this process sending the same bytes.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use gamecast::event::Event;
use gamecast::protocol::Announcement;
use gamecast::transport::{NetConfig, Transport};

use crate::common::Net;
use crate::common::lan::Lan;
use crate::procs::{Counted, Host, bench_script, command, wait_counts};
use crate::report::{Summary, mono_now, ratio, summarize};
use crate::throughput::RawSender;

const RATE: u64 = 1000;
const CHANNEL: &str = "gamecast";

pub fn run(smoke: bool) -> String {
    let counts: &[usize] = if smoke { &[1, 4] } else { &[1, 4, 16, 64] };
    let events = if smoke { 200 } else { 2_000 };
    let redis = which("redis-server");
    let mut rows = Vec::new();
    for &receivers in counts {
        let (gamecast, gamecast_lost) = gamecast_loopback(receivers, events);
        let redis = match &redis {
            Some(_) => {
                let (summary, lost) = redis_loopback(receivers, events);
                (Some(summary), lost)
            }
            None => (None, 0),
        };
        let (redis_p50, redis_p99, redis_lost, vs50, vs99) = match &redis.0 {
            Some(r) => (
                format!("{:.3}", r.p50),
                format!("{:.3}", r.p99),
                redis.1.to_string(),
                ratio(gamecast.p50, r.p50),
                ratio(gamecast.p99, r.p99),
            ),
            None => ("–".into(), "–".into(), "–".into(), "–".into(), "–".into()),
        };
        rows.push(format!(
            "| {receivers} | {:.3} | {:.3} | {gamecast_lost} | {redis_p50} | {redis_p99} | {redis_lost} | {vs50} | {vs99} |",
            gamecast.p50, gamecast.p99
        ));
    }
    let note = if redis.is_none() {
        "\n(Redis rows skipped: redis-server is not installed; `apt-get install redis-server`.)\n"
    } else {
        ""
    };
    format!(
        "### Fan-out against a broker\n\n{events} events at {RATE} events/s, ~200 bytes each, to \
         N receivers on loopback; latency from send to delivery in each receiver (all receivers' \
         samples together), and events lost. Receivers run in the benchmark process: gamecast's \
         are the player library's loop, Redis's are pub/sub connections (redis-server from \
         Debian, started and stopped by the benchmark).\n\n\
         | receivers | gamecast p50 ms | gamecast p99 ms | gamecast lost | Redis p50 ms | Redis p99 ms | Redis lost | p50 gamecast vs Redis | p99 gamecast vs Redis |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n{}\n{note}\n{}",
        rows.join("\n"),
        lan(smoke, redis.is_some())
    )
}

/// Whether redis-server is installed (its rows are skipped, and say so, where it is not).
pub fn redis_available() -> bool {
    which("redis-server").is_some()
}

fn which(program: &str) -> Option<String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The send time in a benchmark announcement: `@<n> <seconds> …`.
fn sent_at(text: &str) -> Option<f64> {
    let rest = text.split('@').nth(1)?;
    rest.split(' ').nth(1)?.parse().ok()
}

/// Latencies of every delivery, shared by the receivers of one run.
type Samples = Arc<Mutex<Vec<Duration>>>;

fn record(samples: &Samples, text: &str) {
    if let Some(sent) = sent_at(text) {
        let latency = Duration::from_secs_f64((mono_now() - sent).max(0.0));
        samples.lock().unwrap().push(latency);
    }
}

/// Waits until `expected` deliveries were recorded, or nothing came for two seconds.
fn wait_samples(samples: &Samples, expected: usize) -> Vec<Duration> {
    let mut seen = 0;
    let mut last_progress = Instant::now();
    loop {
        let now = samples.lock().unwrap().len();
        if now >= expected || last_progress.elapsed() > Duration::from_secs(2) {
            return samples.lock().unwrap().clone();
        }
        if now != seen {
            seen = now;
            last_progress = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn gamecast_loopback(receivers: usize, events: usize) -> (Summary, usize) {
    let net = Net::fresh();
    let settings = [format!("count={events}"), format!("rate={RATE}")];
    let args: Vec<&str> = settings
        .iter()
        .flat_map(|s| ["--set", s.as_str()])
        .collect();
    let _host = Host::start(&net, &bench_script("announce.lua"), &args, &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let samples: Samples = Arc::default();
    let (ready_tx, ready) = mpsc::channel();
    let mut inputs = Vec::new();
    let config = NetConfig {
        group: std::net::IpAddr::V4(net.group),
        port: net.port,
        iface: gamecast::transport::Iface::V4(Ipv4Addr::LOCALHOST),
        ttl: 1,
    };
    for i in 0..receivers {
        let (input, lines) = tokio::sync::mpsc::channel(4);
        inputs.push(input);
        let samples = samples.clone();
        let ready_tx = ready_tx.clone();
        runtime.spawn(async move {
            let transport = Transport::open(&config).unwrap();
            let show = move |event: Event| match event {
                Event::Welcome { .. } => ready_tx.send(()).unwrap(),
                Event::Announcement(Announcement::Announce { text }) => record(&samples, &text),
                _ => {}
            };
            let name = format!("r{i}");
            let options = gamecast::player::Options::default();
            let never = std::future::pending();
            let _ = gamecast::player::play(&name, transport, options, lines, show, never).await;
        });
    }
    for _ in 0..receivers {
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("a receiver was welcomed");
    }
    inputs[0].blocking_send("go".into()).unwrap();
    let got = wait_samples(&samples, receivers * events);
    runtime.shutdown_background();
    let lost = receivers * events - got.len().min(receivers * events);
    (summarize(got), lost)
}

/// A redis-server on loopback for one run, stopped when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start(prefix: &[&str], bind: Ipv4Addr) -> RedisServer {
        let port = fastrand::u16(20000..60000);
        let child = command(prefix, "redis-server")
            .args(["--port", &port.to_string(), "--bind", &bind.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            // Reachable only on loopback or inside the benchmark's own namespaces.
            .args(["--protected-mode", "no"])
            // Slow subscribers must not be disconnected: we measure delivery, not policy.
            .args(["--client-output-buffer-limit", "pubsub 0 0 0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        RedisServer { child, port }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to a Redis server, trying for a few seconds while it starts.
async fn connect(url: &str) -> redis::Client {
    let client = redis::Client::open(url).unwrap();
    for _ in 0..500 {
        if client.get_multiplexed_async_connection().await.is_ok() {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("redis-server did not answer at {url}");
}

async fn subscribe(
    client: redis::Client,
    samples: Samples,
    ready: mpsc::Sender<()>,
    events: usize,
) {
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(CHANNEL).await.unwrap();
    ready.send(()).unwrap();
    let mut stream = pubsub.on_message();
    for _ in 0..events {
        let Some(message) = stream.next().await else {
            break;
        };
        record(
            &samples,
            &String::from_utf8_lossy(message.get_payload_bytes()),
        );
    }
}

/// Publishes `events` benchmark announcements, encoded as gamecast sends them, at RATE.
async fn publish(client: &redis::Client, events: usize) {
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut encoder = RawSender::new(&Net::fresh());
    let padding = "x".repeat(100);
    let start = Instant::now();
    for n in 1..=events as u64 {
        let due = start + Duration::from_secs_f64(n as f64 / RATE as f64);
        tokio::time::sleep_until(due.into()).await;
        let bytes = encoder.encode(n, &padding);
        let _: () = redis::cmd("PUBLISH")
            .arg(CHANNEL)
            .arg(bytes)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}

pub fn redis_loopback(receivers: usize, events: usize) -> (Summary, usize) {
    let server = RedisServer::start(&[], Ipv4Addr::LOCALHOST);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let client = runtime.block_on(connect(&url));
    let samples: Samples = Arc::default();
    let (ready_tx, ready) = mpsc::channel();
    for _ in 0..receivers {
        runtime.spawn(subscribe(
            client.clone(),
            samples.clone(),
            ready_tx.clone(),
            events,
        ));
    }
    for _ in 0..receivers {
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("a subscriber subscribed");
    }
    runtime.block_on(publish(&client, events));
    let got = wait_samples(&samples, receivers * events);
    runtime.shutdown_background();
    drop(server);
    let lost = receivers * events - got.len().min(receivers * events);
    (summarize(got), lost)
}

/// Runs inside a namespace as `BENCH --helper redis-subscribe|redis-publish ADDRESS PORT EVENTS`
/// (this benchmark, started again by `ip netns exec`): a subscriber prints `ready`, then `got N`.
pub fn helper(args: &[String]) {
    let [role, address, port, events] = args else {
        panic!("--helper ROLE ADDRESS PORT EVENTS, not {args:?}")
    };
    let events: usize = events.parse().unwrap();
    let url = format!("redis://{address}:{port}/");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = connect(&url).await;
        match role.as_str() {
            "redis-publish" => publish(&client, events).await,
            "redis-subscribe" => {
                let samples: Samples = Arc::default();
                let (ready_tx, ready) = mpsc::channel();
                let task = tokio::spawn(subscribe(client, samples.clone(), ready_tx, events));
                ready.recv().unwrap();
                println!("ready");
                let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
                println!("got {}", samples.lock().unwrap().len());
            }
            other => panic!("unknown helper {other}"),
        }
    });
}

/// The LAN's hosts: the sender (announcer, or redis-server and its publisher) and the receivers.
const SENDER: usize = 0;
const RECEIVERS: usize = 1;

/// Packets per event on the sender's interface, on a namespace LAN, for 1 and 16 receivers.
fn lan(smoke: bool, with_redis: bool) -> String {
    let title = "### Packets per event on a LAN\n\n";
    let Some(lan) = Lan::build(2) else {
        return format!("{title}Skipped: no LAN of network namespaces here (stderr says why).\n");
    };
    let events = if smoke { 50 } else { 1_000 };
    // The publisher helper's rate is RATE; the LAN figures do not depend on it.
    let mut rows = Vec::new();
    for receivers in [1usize, 16] {
        let gamecast = lan_gamecast(&lan, receivers, events);
        let redis = if with_redis {
            format!("{:.2}", lan_redis(&lan, receivers, events))
        } else {
            "–".into()
        };
        rows.push(format!("| {receivers} | {gamecast:.2} | {redis} |"));
    }
    format!(
        "{title}Announcer (or redis-server and its publisher) in one namespace, receivers in \
         another, joined by veth pairs on a bridge; packets counted by the kernel on the sender's \
         interface (tx_packets) while {events} events are sent (gamecast at 200/s, Redis at 1,000/s), divided by the \
         events.\n\n\
         | receivers | gamecast packets/event | Redis packets/event |\n| --- | --- | --- |\n{}\n",
        rows.join("\n")
    )
}

fn lan_gamecast(lan: &Lan, receivers: usize, events: usize) -> f64 {
    let net = Net::fresh();
    let settings = [format!("count={events}"), "rate=200".to_string()];
    let args: Vec<&str> = settings
        .iter()
        .flat_map(|s| ["--set", s.as_str()])
        .collect();
    let _host = Host::start_in(
        &lan.prefix(SENDER),
        &net.on(lan.host_addr(SENDER)),
        &bench_script("announce.lua"),
        &args,
        &[],
    );
    let mut players: Vec<Counted> = (0..receivers)
        .map(|i| {
            let net = net.on(lan.host_addr(RECEIVERS));
            Counted::player_in(&lan.prefix(RECEIVERS), &net, &format!("p{i}")).welcomed()
        })
        .collect();
    let before = lan.tx_packets(SENDER);
    players[0].say("go");
    let counts = wait_counts(&players, events as u64, Duration::from_secs(2));
    let after = lan.tx_packets(SENDER);
    assert!(
        counts.iter().all(|c| *c == events as u64),
        "every player got every event: {counts:?}"
    );
    (after - before) as f64 / events as f64
}

fn lan_redis(lan: &Lan, receivers: usize, events: usize) -> f64 {
    let server = RedisServer::start(&lan.prefix(SENDER), lan.host_addr(SENDER));
    let me = std::env::current_exe().unwrap();
    let me = me.to_str().unwrap();
    let args = |role: &str| {
        vec![
            "--helper".to_string(),
            role.to_string(),
            lan.host_addr(SENDER).to_string(),
            server.port.to_string(),
            events.to_string(),
        ]
    };
    let mut subscribers: Vec<(
        Child,
        std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    )> = (0..receivers)
        .map(|_| {
            let mut child = command(&lan.prefix(RECEIVERS), me)
                .args(args("redis-subscribe"))
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let lines =
                std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
            (child, lines)
        })
        .collect();
    for (_, lines) in subscribers.iter_mut() {
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
    }
    let before = lan.tx_packets(SENDER);
    let status = command(&lan.prefix(SENDER), me)
        .args(args("redis-publish"))
        .status()
        .unwrap();
    assert!(status.success());
    for (child, lines) in subscribers.iter_mut() {
        let got = lines.next().unwrap().unwrap();
        assert_eq!(
            got,
            format!("got {events}"),
            "every subscriber got every event"
        );
        let _ = child.wait();
    }
    let after = lan.tx_packets(SENDER);
    drop(server);
    (after - before) as f64 / events as f64
}
