//! The scale suite on the wire: the real announcer process on host 0 of a namespace LAN, and N
//! real players (the player library, each with its own sockets) as tasks of one process on
//! host 1. What the simulation cannot show: the announcer's CPU per event as the kernel counts
//! it (/proc), with the group's fan-out done by the kernel and a switch, and the players'
//! work in another process, not between the announcer's turns on the same thread. Each player
//! holds three descriptors: a few hundred fit the usual limit of 1024.

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use gamecast::transport::{Iface, NetConfig, Transport};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::common::Net;
use crate::common::lan::Lan;
use crate::procs::{Host, raw_receiver_on};
use crate::scale::{Seen, all_welcomed, spawn_player, wait};

/// Events announced in the measured phase, at the script's 200 a second (a smoke run's).
const EVENTS: u64 = 1_000;
const SMOKE_EVENTS: u64 = 200;

/// The announcer's host and the players' on the LAN.
const ANNOUNCER: usize = 0;
const PLAYERS: usize = 1;

/// CPU a process has used so far: all of it in nanoseconds (its CPU-time clock, which counts
/// every thread, gone or not), and the user and system shares in clock ticks
/// (`/proc/PID/stat`).
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    ns: u64,
    user_ticks: u64,
    system_ticks: u64,
}

impl Cpu {
    fn of(pid: u32) -> Cpu {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a process id"));
        let clock = nix::time::clock_getcpuclockid(pid)
            .unwrap_or_else(|e| panic!("the announcer's CPU clock: {e}"));
        let ns = crate::scale::cpu_ns(clock);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_else(|e| panic!("the announcer's /proc/{pid}/stat: {e}"));
        // The fields after the command's closing parenthesis start with the third (state):
        // utime and stime, the 14th and 15th, are the 12th and 13th of these.
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        Cpu {
            ns,
            user_ticks: fields.get(11).copied().unwrap_or(0),
            system_ticks: fields.get(12).copied().unwrap_or(0),
        }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            ns: self.ns.saturating_sub(before.ns),
            user_ticks: self.user_ticks.saturating_sub(before.user_ticks),
            system_ticks: self.system_ticks.saturating_sub(before.system_ticks),
        }
    }

    /// The user share of the span, from its ticks (10 ms each): none when too few fell in it
    /// to say.
    fn user_share(self) -> Option<f64> {
        let ticks = self.user_ticks + self.system_ticks;
        (ticks >= 20).then(|| self.user_ticks as f64 / ticks as f64)
    }
}

/// The baseline: what the kernel charges a bare socket on host 0 for sending one ~200-byte
/// datagram to the group that `players` bare sockets on host 1 have joined (its thread's CPU
/// clock, which counts the system time of its sends: on this LAN of namespaces, the delivery
/// to every socket of host 1 runs in the sender's system call), per datagram, in µs.
fn raw_fanout(lan: &Lan, players: usize, events: u64) -> f64 {
    let net = Net::fresh();
    let payload = vec![b'x'; 200];
    let (ready, joined) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let receivers = scope.spawn(|| {
            lan.in_host(PLAYERS, || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let sockets: Vec<tokio::net::UdpSocket> = (0..players)
                        .map(|_| {
                            let socket = raw_receiver_on(
                                &net.on(lan.host_addr(PLAYERS)),
                                net.port,
                                Duration::from_secs(5),
                            );
                            socket.set_nonblocking(true).unwrap();
                            tokio::net::UdpSocket::from_std(socket).unwrap()
                        })
                        .collect();
                    ready.send(()).unwrap();
                    let mut reads = tokio::task::JoinSet::new();
                    for socket in sockets {
                        reads.spawn(async move {
                            let mut buf = [0u8; 512];
                            let mut got = 0;
                            // Until the sender's last datagram, or a second of silence.
                            while got < events
                                && tokio::time::timeout(
                                    Duration::from_secs(1),
                                    socket.recv(&mut buf),
                                )
                                .await
                                .is_ok_and(|r| r.is_ok())
                            {
                                got += 1;
                            }
                            got
                        });
                    }
                    reads.join_all().await
                })
            })
        });
        joined
            .recv_timeout(Duration::from_secs(30))
            .expect("the baseline's receivers joined");
        let spent = lan.in_host(ANNOUNCER, || {
            let socket = std::net::UdpSocket::bind((lan.host_addr(ANNOUNCER), 0)).unwrap();
            socket2::SockRef::from(&socket)
                .set_multicast_if_v4(&lan.host_addr(ANNOUNCER))
                .unwrap();
            let to = (net.group, net.port);
            let started = std::time::Instant::now();
            let mut spent = Duration::ZERO;
            for i in 0..events {
                // At the game's 200 a second.
                let at = started + Duration::from_millis(i * 5);
                std::thread::sleep(at.saturating_duration_since(std::time::Instant::now()));
                let before = crate::scale::thread_cpu();
                socket.send_to(&payload, to).unwrap();
                spent += Duration::from_nanos(crate::scale::thread_cpu() - before);
            }
            spent
        });
        let got = receivers.join().unwrap();
        let fewest = got.iter().copied().min().unwrap_or(0);
        if fewest < events {
            eprintln!("scale on the wire: a bare receiver of {players} got {fewest} of {events}");
        }
        spent.as_secs_f64() * 1e6 / events as f64
    })
}

/// One game on the wire.
pub struct WireRow {
    pub players: usize,
    pub storm: Duration,
    /// The fewest `@` events a player showed (of the phase's), and the events shown lost.
    pub shown: u64,
    pub lost: u64,
    /// The announcer's CPU per event, µs: all of it, and without the heartbeats' share (its
    /// idle rate over the phase's length); the user share of the phase's CPU.
    pub cpu_per_event_us: f64,
    pub cpu_net_us: f64,
    pub user_share: Option<f64>,
    pub idle_cpu_ms_per_s: f64,
    /// The baseline: a bare socket's send of one datagram to as many bare sockets, µs.
    pub raw_us: f64,
}

/// Plays one game of `players` players on `lan`.
fn game(lan: &Lan, players: usize, events: u64) -> WireRow {
    let net = Net::fresh();
    let host = Host::start_in(
        &lan.prefix(ANNOUNCER),
        &net.on(lan.host_addr(ANNOUNCER)),
        &crate::common::repo("benches/lua/scale.lua"),
        &[],
        &["announcer stopped"],
    );
    let pid = host.pid();
    let config = NetConfig {
        group: IpAddr::V4(net.group),
        port: net.port,
        iface: Iface::V4(lan.host_addr(PLAYERS)),
        ttl: 1,
    };
    let row = lan.in_host(PLAYERS, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, play(players, events, config, pid))
    });
    drop(host);
    row
}

async fn play(players: usize, events: u64, config: NetConfig, announcer: u32) -> WireRow {
    let seen: Rc<RefCell<Vec<Seen>>> = Rc::new(RefCell::new(
        (0..players).map(|_| Seen::default()).collect(),
    ));
    let changed = Rc::new(Notify::new());
    let storm_start = Instant::now();
    let inputs: Vec<_> = (0..players)
        .map(|i| {
            let link = Transport::open(&config)
                .unwrap_or_else(|e| panic!("player {i}'s sockets on {}: {e:#}", config.place()));
            let at = storm_start + Duration::from_secs(1).mul_f64(i as f64 / players as f64);
            spawn_player(i, players, link, at, &seen, &changed)
        })
        .collect();
    let until = |done: fn(&[Seen]) -> bool, what: &'static str| {
        wait(seen.clone(), changed.clone(), done, what, players)
    };
    let storm = all_welcomed(&seen, &changed, players, storm_start).await;

    // Idle: the players' heartbeats are all the announcer hears.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_from = Cpu::of(announcer);
    let idle_began = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_ns_per_s =
        Cpu::of(announcer).since(idle_from).ns as f64 / idle_began.elapsed().as_secs_f64();

    let before = Cpu::of(announcer);
    let began = Instant::now();
    inputs[0].send(format!("go {events}")).await.unwrap();
    until(
        |seen| seen.iter().all(|s| !s.done.is_empty()),
        "every player showed the events",
    )
    .await;
    let spent = Cpu::of(announcer).since(before);
    let beats_ns = idle_ns_per_s * began.elapsed().as_secs_f64();
    inputs[0].send("end".into()).await.unwrap();
    until(
        |seen| seen.iter().all(|s| s.stats.is_some()),
        "every player ended",
    )
    .await;
    let seen = seen.borrow();
    WireRow {
        players,
        storm,
        shown: seen.iter().map(|s| s.events).min().unwrap_or(0),
        lost: seen.iter().map(|s| s.lost).sum(),
        cpu_per_event_us: spent.ns as f64 / events as f64 / 1e3,
        cpu_net_us: (spent.ns as f64 - beats_ns).max(0.0) / events as f64 / 1e3,
        user_share: spent.user_share(),
        idle_cpu_ms_per_s: idle_ns_per_s / 1e6,
        raw_us: 0.0,
    }
}

/// Games of `sizes` players on a LAN of two hosts, and their table; or why there is none.
pub fn run(sizes: &[usize], smoke: bool) -> (Vec<WireRow>, String) {
    let events = if smoke { SMOKE_EVENTS } else { EVENTS };
    let Some(lan) = Lan::build(2) else {
        return (
            Vec::new(),
            "\nOn the wire: the LAN needs root, `ip` and `nft`: skipped.\n".into(),
        );
    };
    let rows: Vec<WireRow> = sizes
        .iter()
        .map(|&players| {
            let mut row = game(&lan, players, events);
            row.raw_us = raw_fanout(&lan, players, events);
            eprintln!(
                "scale on the wire: {players} players: storm {:?}, {:.1} µs/event",
                row.storm, row.cpu_per_event_us
            );
            row
        })
        .collect();
    let mut out = format!(
        "\nOn the wire: the real announcer process on host 0 of a namespace LAN, and N real \
         players (the player library, each with its own two sockets) as tasks of one process \
         on host 1, which the switch and the kernel deliver to. All N join within one second; \
         the script announces {events} events of ~200 bytes at 200/s. The announcer's CPU is \
         its process's CPU-time clock, user and system together (the user share from \
         /proc/PID/stat's 10 ms ticks, – when under 20 fell in the phase); *without \
         heartbeats* takes off its idle rate, measured for 2 s before, over the phase's length \
         (that rate includes its own heartbeats, which it does not send while it announces: \
         a little too much comes off). The baseline is a bare socket on host 0 sending as many \
         datagrams of 200 bytes at the same rate to as many bare sockets on host 1: its \
         thread's CPU per send. Without CONFIG_IRQ_TIME_ACCOUNTING (unset on the VM of the \
         runs below), the softirq that delivers a datagram to every socket of host 1 is charged to the task \
         that sent it, the baseline's and the announcer's alike (on a real LAN the receivers' \
         machines do that work; the announcer also sends the text channel's datagram every \
         50 ms, to as many sockets, which the baseline does not).\n\n\
         | players | join storm: last welcomed | events shown (of {events}) | lost | announcer CPU per event | without heartbeats | user share | bare socket per datagram (baseline) | without heartbeats, less the baseline | announcer CPU idle |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for r in &rows {
        out.push_str(&format!(
            "| {} | {:.2} s | {} | {} | {:.1} µs | {:.1} µs | {} | {:.1} µs | {:.1} µs | {:.2} ms/s |\n",
            r.players,
            r.storm.as_secs_f64(),
            r.shown,
            r.lost,
            r.cpu_per_event_us,
            r.cpu_net_us,
            r.user_share
                .map_or("–".into(), |share| format!("{:.0}%", share * 100.0)),
            r.raw_us,
            r.cpu_net_us - r.raw_us,
            r.idle_cpu_ms_per_s,
        ));
    }
    (rows, out)
}
