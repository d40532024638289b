//! `scale`: games of ten to a thousand players, simulated in one process. The real announcer
//! and script, and every player the real player library, each on its own link of the in-memory
//! group on tokio's paused clock (game time is virtual: a game of a thousand takes the real
//! time its work takes, and nothing of the machine's load shows in its times). What it
//! measures: the join storm, a ranking of everyone, NACKs per gap when all players miss the
//! same 10% of datagrams, repair times, and the announcer's CPU per event as the game grows.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use gamecast::announcer::{self, Config, Console, Settings};
use gamecast::event::Event;
use gamecast::link::memory::{Conditions, Hub, MemoryLink};
use gamecast::link::{Link, Network};
use gamecast::player::{self, Options};
use gamecast::protocol::Announcement;
use gamecast::reliable::ReceiveStats;
use gamecast::script::{Clock, Limits};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::common::repo;
use crate::plot::{self, Chart, Series};
use crate::report::{Summary, summarize};

/// Events of each phase (without loss, then with it), at the script's 200 a second.
const EVENTS: u64 = 400;

/// The share of datagrams every player misses at once in the lossy phase.
const LOSS: f64 = 0.10;

/// The losses of the repair-time curve, at 100 players.
const LOSSES: [f64; 5] = [0.01, 0.02, 0.05, 0.10, 0.20];

/// The most game time each step may take before the run is declared stuck.
const STEP_WITHIN: Duration = Duration::from_secs(60);

/// This thread's CPU time, in nanoseconds.
pub fn thread_cpu() -> u64 {
    cpu_ns(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
}

/// A CPU-time clock's reading (a thread's, a process's), in nanoseconds.
pub fn cpu_ns(clock: nix::time::ClockId) -> u64 {
    let now = nix::time::clock_gettime(clock)
        .unwrap_or_else(|e| panic!("the CPU-time clock {clock:?}: {e}"));
    u64::try_from(now.tv_sec()).unwrap() * 1_000_000_000 + u64::try_from(now.tv_nsec()).unwrap()
}

/// A future whose polls are timed on this thread's CPU clock: the announcer's own work, on a
/// thread where every player runs too.
struct OnCpu<F> {
    inner: Pin<Box<F>>,
    spent: Arc<AtomicU64>,
}

impl<F: Future> Future for OnCpu<F> {
    type Output = F::Output;

    // Never inlined: benches/profile.sh counts the instructions inside it, and only there.
    #[inline(never)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = thread_cpu();
        let polled = self.inner.as_mut().poll(cx);
        self.spent
            .fetch_add(thread_cpu().saturating_sub(before), Ordering::Relaxed);
        polled
    }
}

/// The in-memory group, its sends timed: handing a datagram to a thousand members' queues is
/// the simulation's work (on a LAN the switch does it), taken out of the announcer's CPU.
struct Fanout {
    hub: Hub,
    spent: Arc<AtomicU64>,
}

struct FanoutLink {
    inner: MemoryLink,
    spent: Arc<AtomicU64>,
}

impl Network for Fanout {
    type Link = FanoutLink;

    async fn open(&self) -> anyhow::Result<FanoutLink> {
        Ok(FanoutLink {
            inner: self.hub.link(),
            spent: self.spent.clone(),
        })
    }

    fn describe(&self) -> String {
        self.hub.describe()
    }
}

impl Link for FanoutLink {
    async fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        let before = thread_cpu();
        let sent = self.inner.send(bytes).await;
        self.spent
            .fetch_add(thread_cpu().saturating_sub(before), Ordering::Relaxed);
        sent
    }

    async fn recv(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        self.inner.recv(buf).await
    }

    fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<Option<(usize, SocketAddr)>> {
        self.inner.try_recv(buf)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// What one player showed, and when (game time).
#[derive(Default)]
pub struct Seen {
    pub welcomed: Option<Instant>,
    pub ranking: Option<Instant>,
    /// When it showed each phase's last event, and how many `@` events it showed.
    pub done: Vec<Instant>,
    pub events: u64,
    pub lost: u64,
    pub stats: Option<ReceiveStats>,
}

/// One game's figures.
pub struct Row {
    pub players: usize,
    /// From the first join to the last player welcomed.
    pub storm: Duration,
    pub welcome: Summary,
    /// From "rank" to each player showing the ranking of everyone.
    pub ranking: Summary,
    pub ranking_bytes: usize,
    /// The fewest `@` events a player showed, of 2 × EVENTS, and the events shown lost.
    pub shown: u64,
    pub lost: u64,
    pub gaps_per_player: f64,
    pub nacks: u64,
    pub held_back: u64,
    pub repair: Option<Summary>,
    /// The announcer's CPU per event in the lossless phase, µs, and per second when idle.
    pub cpu_per_event_us: f64,
    /// The same without the heartbeats' share.
    pub cpu_net_us: f64,
    /// The same, while no player reads (they hold what arrives until the events are out).
    pub cpu_alone_us: f64,
    pub idle_cpu_ms_per_s: f64,
    /// The whole run's real time.
    pub real: Duration,
}

impl Row {
    pub fn nacks_per_gap(&self) -> f64 {
        if self.gaps_per_player == 0.0 {
            0.0
        } else {
            self.nacks as f64 / self.gaps_per_player
        }
    }
}

/// Plays one game of `players`, `loss` lost for everyone in its lossy phase.
pub fn game(players: usize, seed: u64, loss: f64) -> Row {
    let started = std::time::Instant::now();
    fastrand::seed(seed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let mut row = local.block_on(&runtime, async {
        gamecast::protocol::simulate_session_clock();
        play(players, seed, loss).await
    });
    row.real = started.elapsed();
    row
}

async fn play(players: usize, seed: u64, loss: f64) -> Row {
    let hub = Hub::new(seed, Conditions::default());
    let announcer_cpu = Arc::new(AtomicU64::new(0));
    let fanout_cpu = Arc::new(AtomicU64::new(0));
    let net = Fanout {
        hub: hub.clone(),
        spent: fanout_cpu.clone(),
    };
    let config = Config {
        script: repo("benches/lua/scale.lua"),
        args: BTreeMap::new(),
        settings: Settings::default(),
        bots: 0,
        bot_think: Duration::ZERO,
        watch: false,
        limits: Limits::default(),
        seed,
        clock: Clock::Game,
        record: None,
    };
    let console = Console::new(
        false,
        false,
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    );
    let ended = Rc::new(Notify::new());
    let announcer = {
        let ended = ended.clone();
        let run = async move {
            let end = announcer::run(config, &net, console, std::future::pending()).await;
            ended.notify_waiters();
            end
        };
        tokio::task::spawn_local(OnCpu {
            inner: Box::pin(run),
            spent: announcer_cpu.clone(),
        })
    };
    let cpu = || {
        announcer_cpu
            .load(Ordering::Relaxed)
            .saturating_sub(fanout_cpu.load(Ordering::Relaxed))
    };
    // It listens 0.6 s for another announcer on the group before it plays.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The join storm: every player starts within one second.
    let seen: Rc<RefCell<Vec<Seen>>> = Rc::new(RefCell::new(
        (0..players).map(|_| Seen::default()).collect(),
    ));
    let changed = Rc::new(Notify::new());
    let storm_start = Instant::now();
    let mut inputs = Vec::new();
    let mut addresses = Vec::new();
    for i in 0..players {
        let link = hub.link();
        addresses.push(link.address());
        let at = storm_start + Duration::from_secs(1).mul_f64(i as f64 / players as f64);
        inputs.push(spawn_player(i, players, link, at, &seen, &changed));
    }
    let until = |done: fn(&[Seen]) -> bool, what: &'static str| {
        wait(seen.clone(), changed.clone(), done, what, players)
    };
    let storm = all_welcomed(&seen, &changed, players, storm_start).await;
    let welcomes: Vec<Duration> = seen
        .borrow()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let joined = storm_start + Duration::from_secs(1).mul_f64(i as f64 / players as f64);
            s.welcomed.unwrap().saturating_duration_since(joined)
        })
        .collect();

    // Idle: the players' heartbeats are all the announcer hears.
    tokio::time::sleep(Duration::from_secs(1)).await;
    phase("idle");
    let idle_from = cpu();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_cpu_ms_per_s = (cpu() - idle_from) as f64 / 2.0 / 1e6;

    // A ranking of everyone.
    phase("ranking");
    let asked = Instant::now();
    inputs[0].send("rank".into()).await.unwrap();
    until(
        |seen| seen.iter().all(|s| s.ranking.is_some()),
        "every player showed the ranking of all",
    )
    .await;
    let rankings: Vec<Duration> = seen
        .borrow()
        .iter()
        .map(|s| s.ranking.unwrap().saturating_duration_since(asked))
        .collect();
    let ranking_bytes = ranking_size(players);

    // Events without loss: the announcer's CPU per event, and the same without what the
    // players' heartbeats cost meanwhile (measured idle, above).
    phase("events");
    let before = cpu();
    let began = Instant::now();
    inputs[0].send(format!("go {EVENTS}")).await.unwrap();
    until(
        |seen| seen.iter().all(|s| !s.done.is_empty()),
        "every player showed the events",
    )
    .await;
    let spent = (cpu() - before) as f64 / 1e3;
    let cpu_per_event_us = spent / EVENTS as f64;
    let beats_us = idle_cpu_ms_per_s * 1e3 * began.elapsed().as_secs_f64();
    let cpu_net_us = (spent - beats_us).max(0.0) / EVENTS as f64;

    // The same again, with every player but the first holding what arrives until the events
    // are out: the announcer does the same work, but no player runs between its turns.
    for address in &addresses[1..] {
        hub.hold(*address);
    }
    phase("events, players not reading");
    let before = cpu();
    inputs[0].send(format!("go {EVENTS}")).await.unwrap();
    until(
        |seen| seen[0].done.len() >= 2,
        "the first player showed the events",
    )
    .await;
    let cpu_alone_us = (cpu() - before) as f64 / EVENTS as f64 / 1e3;
    for address in &addresses[1..] {
        hub.release(*address);
    }
    until(
        |seen| seen.iter().all(|s| s.done.len() >= 2),
        "every player showed the events once let go",
    )
    .await;

    // The same with 10% lost for everyone at once.
    phase("events, 10% lost");
    hub.set(Conditions {
        shared_loss: loss,
        ..Conditions::default()
    });
    // Half a second for the loss to be in place (the line itself may be lost: it is repaired).
    tokio::time::sleep(Duration::from_millis(500)).await;
    inputs[0].send(format!("go {EVENTS}")).await.unwrap();
    until(
        |seen| seen.iter().all(|s| s.done.len() >= 3),
        "every player showed the events through 10% loss",
    )
    .await;
    hub.set(Conditions::default());
    phase("end");
    inputs[0].send("end".into()).await.unwrap();
    until(
        |seen| seen.iter().all(|s| s.stats.is_some()),
        "every player ended",
    )
    .await;
    let _ = announcer.await;
    drop(ended);

    let seen = seen.borrow();
    let stats: Vec<&ReceiveStats> = seen.iter().filter_map(|s| s.stats.as_ref()).collect();
    let gaps: u64 = stats.iter().map(|s| s.gaps).sum();
    let repairs: Vec<Duration> = stats
        .iter()
        .flat_map(|s| s.repair_us.iter())
        .map(|&us| Duration::from_micros(u64::from(us)))
        .collect();
    Row {
        players,
        storm,
        welcome: summarize(welcomes),
        ranking: summarize(rankings),
        ranking_bytes,
        shown: seen.iter().map(|s| s.events).min().unwrap_or(0),
        lost: seen.iter().map(|s| s.lost).sum(),
        gaps_per_player: gaps as f64 / players as f64,
        nacks: stats.iter().map(|s| s.nacks).sum(),
        held_back: stats.iter().map(|s| s.held_back).sum(),
        repair: (!repairs.is_empty()).then(|| summarize(repairs)),
        cpu_per_event_us,
        cpu_net_us,
        cpu_alone_us,
        idle_cpu_ms_per_s,
        real: Duration::ZERO,
    }
}

/// Starts player `i` of `players` at `at`, on `link`: what it shows goes into `seen[i]`, and
/// `changed` is told. Returns its input (its person's lines).
pub fn spawn_player(
    i: usize,
    players: usize,
    link: impl Link + 'static,
    at: Instant,
    seen: &Rc<RefCell<Vec<Seen>>>,
    changed: &Rc<Notify>,
) -> mpsc::Sender<String> {
    let (input, lines) = mpsc::channel(8);
    let (seen, changed) = (seen.clone(), changed.clone());
    tokio::task::spawn_local(async move {
        tokio::time::sleep_until(at).await;
        let show = {
            let seen = seen.clone();
            let changed = changed.clone();
            move |event: Event| {
                let mut seen = seen.borrow_mut();
                let me = &mut seen[i];
                match event {
                    Event::Welcome { .. } => me.welcomed = Some(Instant::now()),
                    Event::Lost { count, .. } => me.lost += count,
                    Event::Announcement(Announcement::Ranking { entries })
                        if entries.len() == players =>
                    {
                        me.ranking = Some(Instant::now());
                    }
                    Event::Announcement(Announcement::Announce { text })
                        if text.starts_with('@') =>
                    {
                        me.events += 1;
                        if text.ends_with(" done") {
                            me.done.push(Instant::now());
                        }
                    }
                    _ => return,
                }
                drop(seen);
                changed.notify_waiters();
            }
        };
        let name = format!("p{i:04}");
        let played = player::play(
            &name,
            link,
            Options::default(),
            lines,
            show,
            std::future::pending(),
        )
        .await;
        let played = played.unwrap_or_else(|e| panic!("scale: player {name}: {e:#}"));
        seen.borrow_mut()[i].stats = Some(played.stats);
        changed.notify_waiters();
    });
    input
}

/// Waits until every player is welcomed: the time from `start` to the last welcome.
pub async fn all_welcomed(
    seen: &Rc<RefCell<Vec<Seen>>>,
    changed: &Rc<Notify>,
    players: usize,
    start: Instant,
) -> Duration {
    wait(
        seen.clone(),
        changed.clone(),
        |seen| seen.iter().all(|s| s.welcomed.is_some()),
        "every player welcomed",
        players,
    )
    .await;
    seen.borrow()
        .iter()
        .filter_map(|s| s.welcomed)
        .max()
        .map_or(Duration::ZERO, |last| last.saturating_duration_since(start))
}

/// Where a phase of the game starts: benches/profile.sh's `scale` mode has callgrind count
/// each phase's instructions apart by dumping its counts when this is called.
#[inline(never)]
fn phase(name: &str) {
    std::hint::black_box(name);
}

/// Lets time pass (game time in the simulation, real time on the wire) until `done` holds for
/// what the players showed: a run that does not get there within [`STEP_WITHIN`] is stuck, and
/// says at what.
pub async fn wait(
    seen: Rc<RefCell<Vec<Seen>>>,
    changed: Rc<Notify>,
    done: fn(&[Seen]) -> bool,
    what: &str,
    players: usize,
) {
    let deadline = Instant::now() + STEP_WITHIN;
    loop {
        let wake = changed.notified();
        if done(&seen.borrow()) {
            return;
        }
        tokio::select! {
            () = wake => {}
            () = tokio::time::sleep_until(deadline) => {
                panic!("{players} players: not {what} within {STEP_WITHIN:?}")
            }
        }
    }
}

/// The encoded size of the script's ranking of `players` (names `p0000`…).
fn ranking_size(players: usize) -> usize {
    let entries: Vec<serde_json::Value> = (0..players)
        .map(|i| serde_json::json!({"rank": i + 1, "name": format!("p{i:04}"), "score": i}))
        .collect();
    serde_json::to_vec(&serde_json::json!({"kind": "ranking", "entries": entries}))
        .unwrap()
        .len()
}

/// `--scale-game PLAYERS [LOSS]`: one game, its row printed.
pub fn one(args: &[String]) {
    let players = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let loss = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(LOSS);
    let row = game(players, 1, loss);
    println!("{}", report(std::slice::from_ref(&row)));
}

/// The suite: games of growing size, then 100 players at growing loss; `smoke` plays small
/// ones (and draws its curves into target/).
pub fn run(smoke: bool) -> String {
    let sizes: &[usize] = if smoke {
        &[10, 50]
    } else {
        &[10, 100, 300, 1000]
    };
    let rows: Vec<Row> = sizes
        .iter()
        .map(|&players| {
            let row = game(players, 1, LOSS);
            eprintln!(
                "scale: {players} players in {:.1} s: storm {:?}, {:.2} NACKs/gap",
                row.real.as_secs_f64(),
                row.storm,
                row.nacks_per_gap()
            );
            row
        })
        .collect();
    let (sweep_players, losses): (usize, &[f64]) = if smoke {
        (10, &[0.05, 0.2])
    } else {
        (100, &LOSSES)
    };
    let sweep: Vec<(f64, Row)> = losses
        .iter()
        .map(|&loss| (loss, game(sweep_players, 2, loss)))
        .collect();
    // On the wire, as many players as one process on one core keeps up with here.
    let wire_sizes: &[usize] = if smoke { &[10] } else { &[10, 100, 200] };
    let (wire, wire_report) = crate::scale_wire::run(wire_sizes, smoke);
    let mut out = report(&rows);
    out.push_str(&sweep_report(sweep_players, &sweep));
    out.push_str(&wire_report);
    out.push_str(&curves(&rows, &wire, sweep_players, &sweep, smoke));
    out
}

fn sweep_report(players: usize, sweep: &[(f64, Row)]) -> String {
    let mut out = format!(
        "\nRepair against loss, {players} players (the same game, the lossy phase's loss \
         changed):\n\n| loss | events shown (of 1200) | lost | gaps/player | NACKs / gap | repair p50 ms | repair p99 ms |\n| --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for (loss, r) in sweep {
        let (p50, p99) = r.repair.as_ref().map_or(("–".into(), "–".into()), |s| {
            (format!("{:.1}", s.p50), format!("{:.1}", s.p99))
        });
        out.push_str(&format!(
            "| {:.0}% | {} | {} | {:.1} | {:.2} | {p50} | {p99} |\n",
            loss * 100.0,
            r.shown,
            r.lost,
            r.gaps_per_player,
            r.nacks_per_gap(),
        ));
    }
    out
}

fn curves(
    rows: &[Row],
    wire: &[crate::scale_wire::WireRow],
    players: usize,
    sweep: &[(f64, Row)],
    smoke: bool,
) -> String {
    let by_players = |f: &dyn Fn(&Row) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.players as f64, f(r))).collect()
    };
    let nacks = plot::draw(
        &Chart {
            file: "bench-nacks-per-gap.svg",
            title: "NACKs per gap, all players missing the same 10%",
            x: "players in the game",
            y: "NACKs per gap",
            log_x: true,
            log_y: false,
        },
        &[
            Series::new(
                "gamecast (NORM backoff)",
                by_players(&|r| r.nacks_per_gap()),
            ),
            Series::new("target: 3", by_players(&|_| 3.0)),
        ],
        smoke,
    );
    let cpu = plot::draw(
        &Chart {
            file: "bench-cpu-per-event.svg",
            title: "The announcer's CPU per event",
            x: "players in the game",
            y: "µs per event",
            log_x: true,
            log_y: false,
        },
        &[
            Series::new("all of it", by_players(&|r| r.cpu_per_event_us)),
            Series::new(
                "without the heartbeats' share",
                by_players(&|r| r.cpu_net_us),
            ),
            Series::new(
                "players not reading meanwhile",
                by_players(&|r| r.cpu_alone_us),
            ),
            Series::new(
                "on the wire, without heartbeats",
                wire.iter()
                    .map(|r| (r.players as f64, r.cpu_net_us))
                    .collect(),
            ),
            Series::new(
                "on the wire, less a bare socket's send",
                wire.iter()
                    .map(|r| (r.players as f64, (r.cpu_net_us - r.raw_us).max(0.0)))
                    .collect(),
            ),
        ],
        smoke,
    );
    let point = |f: &dyn Fn(&Summary) -> f64| -> Vec<(f64, f64)> {
        sweep
            .iter()
            .filter_map(|(loss, r)| Some((loss * 100.0, f(r.repair.as_ref()?))))
            .collect()
    };
    let repair = plot::draw(
        &Chart {
            file: "bench-repair-vs-loss.svg",
            title: &format!("Repair time against loss, {players} players"),
            x: "datagrams lost for everyone (%)",
            y: "gap noticed → repaired (ms)",
            log_x: false,
            log_y: false,
        },
        &[
            Series::new("p50", point(&|s| s.p50)),
            Series::new("p99", point(&|s| s.p99)),
        ],
        smoke,
    );
    format!("\n{nacks}\n\n{cpu}\n\n{repair}\n")
}

fn report(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "### A thousand players\n\nOne game of N players simulated in one process: the real announcer and \
         benches/lua/scale.lua, each player the real player library on its own link of the \
         in-memory group (0.1 ms from anyone to anyone), on a virtual clock. All N start \
         within one second (the join storm); one asks for a ranking of everyone; the script \
         announces {EVENTS} events of ~200 bytes at 200/s without loss, then {EVENTS} more \
         while {:.0}% of the datagrams are lost for every player at once (the case NACK \
         suppression is for: everyone misses the same datagram).\n\n",
        LOSS * 100.0
    ));
    out.push_str(
        "| players | join storm: last welcomed | welcome p50 / p99 ms | ranking of all: bytes | ranking p99 ms | events shown (of 1200) | lost | gaps/player | NACKs (held back) | NACKs / gap | repair p50 / p99 ms | announcer CPU per event: all, without heartbeats, players not reading | announcer CPU idle | real time |\n",
    );
    out.push_str(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let repair = r
            .repair
            .as_ref()
            .map_or("–".into(), |s| format!("{:.1} / {:.1}", s.p50, s.p99));
        out.push_str(&format!(
            "| {} | {:.2} s | {:.1} / {:.1} | {} | {:.1} | {} | {} | {:.1} | {} ({}) | {:.2} | {} | {:.1} / {:.1} / {:.1} µs | {:.2} ms/s | {:.1} s |\n",
            r.players,
            r.storm.as_secs_f64(),
            r.welcome.p50,
            r.welcome.p99,
            r.ranking_bytes,
            r.ranking.p99,
            r.shown,
            r.lost,
            r.gaps_per_player,
            r.nacks,
            r.held_back,
            r.nacks_per_gap(),
            repair,
            r.cpu_per_event_us,
            r.cpu_net_us,
            r.cpu_alone_us,
            r.idle_cpu_ms_per_s,
            r.real.as_secs_f64(),
        ));
    }
    out.push_str(
        "\n*NACKs / gap*: the NACKs all players sent over the datagrams each missed (they miss \
         the same ones): 1 is perfect suppression, N none. The announcer's CPU is its task's \
         time on the thread's CPU clock, without the in-memory group's fan-out (on a LAN the \
         switch does that); *idle* is per second of game time with only the players' \
         heartbeats coming in. Times are game time, which is virtual: they leave out the \
         machine's load, and show what the protocol's timers and the delays on the link make \
         of them.\n",
    );
    out
}
