//! gamecast's benchmarks: the real binaries on loopback (and, as root, on a LAN of network
//! namespaces), each figure beside a baseline measured in the same run.
//!
//! `cargo bench --bench gamecast -- [--smoke] [SUITE…]` runs the suites (all by default), prints
//! a table for each, and rewrites that suite's section of docs/BENCHMARKS.md (not with
//! `--smoke`, which runs a few seconds on small counts so that CI keeps the benchmarks alive).
//!
//! Suites: `throughput` (announce throughput, memory, start-up), `messages` (on_message
//! throughput), `latency`, `fanout` (against Redis pub/sub, and packets per event on a namespace
//! LAN), `reload` (save to new rules), `reliability` (NACK repair at 10% loss on a namespace
//! LAN: delivery, repair time, NACKs, and datagrams on the wire against one per event), `key`
//! (what a game key costs: per datagram, and in announce throughput), `simulate` (whole games
//! on a virtual clock, against the same games in real time), `view` (the full-screen player
//! against the line mode), `nats` (games over a nats-server: with `--nats`, and bridged between
//! two groups, against multicast and Redis pub/sub), `scale` (games of ten to a thousand
//! players in one process: the join storm, a ranking of all, NACKs per gap under shared loss,
//! the announcer's CPU per event as the game grows), `lcm` (LCM's udpm side by side: throughput,
//! latency, and delivery at 10% loss on the namespace LAN).

#[path = "../../tests/common/mod.rs"]
mod common;

mod fanout;
mod key;
mod latency;
mod lcm;
mod messages;
mod nats;
mod plot;
mod procs;
mod reliability;
mod reload;
mod report;
mod scale;
mod scale_wire;
mod simulate;
mod throughput;
mod view;

const SUITES: [&str; 12] = [
    "throughput",
    "messages",
    "latency",
    "fanout",
    "reload",
    "reliability",
    "key",
    "simulate",
    "view",
    "nats",
    "scale",
    "lcm",
];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    // The fan-out suite starts this program again inside network namespaces, as a helper.
    if args.first().is_some_and(|a| a == "--helper") {
        fanout::helper(&args[1..]);
        return;
    }
    // The baselines' receiving process (procs::Counted::raw).
    if args.first().is_some_and(|a| a == "--raw-receiver") {
        procs::raw_receiver_main(&args[1..]);
        return;
    }
    // One game of the scale suite, its row printed and nothing written: for profiling one size
    // (`perf record -g target/release/deps/gamecast-… --scale-game 1000`).
    if args.first().is_some_and(|a| a == "--scale-game") {
        scale::one(&args[1..]);
        return;
    }
    if args.first().is_some_and(|a| a == "--scale-wire") {
        let sizes: Vec<usize> = args[1..].iter().filter_map(|a| a.parse().ok()).collect();
        println!("{}", scale_wire::run(&sizes, false).1);
        return;
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut suites: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if suites.is_empty() {
        suites = SUITES.to_vec();
    }
    for suite in suites {
        let report = match suite {
            "throughput" => throughput::run(smoke),
            "messages" => messages::run(smoke),
            "latency" => latency::run(smoke),
            "fanout" => fanout::run(smoke),
            "reload" => reload::run(smoke),
            "reliability" => reliability::run(smoke),
            "key" => key::run(smoke),
            "simulate" => simulate::run(smoke),
            "view" => view::run(smoke),
            "nats" => nats::run(smoke),
            "scale" => scale::run(smoke),
            "lcm" => lcm::run(smoke),
            other => {
                eprintln!(
                    "unknown suite {other:?}; the suites are: {}",
                    SUITES.join(", ")
                );
                std::process::exit(2);
            }
        };
        println!("{report}");
        if !smoke {
            report::write_section(suite, &report);
        }
    }
}
