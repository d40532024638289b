//! Processes for the benchmarks: players whose output is counted rather than kept, and an
//! announcer whose console is skimmed for the few lines a benchmark waits for.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{Net, TIMEOUT};
use crate::report::mono_now;

/// What a counted player saw of the benchmark's announcements (`@<n> <sent> …`).
#[derive(Default)]
pub struct Stats {
    pub announces: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    /// One-way latencies in seconds, from the Lua `now()` in the text to the line being read.
    pub latencies: Vec<f64>,
}

/// A `player --json` whose announcements are counted (and timed) as they are printed.
pub struct Counted {
    child: Child,
    stdin: ChildStdin,
    pub stats: Arc<Mutex<Stats>>,
    ready: Receiver<()>,
    /// Told when the player shows its own welcome.
    welcome: Receiver<()>,
    /// Reads stderr to its end and gives its last line (`--stats` prints its JSON there).
    stderr: Option<JoinHandle<Option<String>>>,
}

impl Counted {
    /// Starts a player and waits until it is in the group (its welcome, or without an
    /// announcer its own join).
    pub fn player(net: &Net, name: &str) -> Counted {
        Counted::player_in(&[], net, name)
    }

    /// Starts a player through a command prefix (`ip netns exec NS`).
    pub fn player_in(prefix: &[&str], net: &Net, name: &str) -> Counted {
        Counted::player_with(prefix, net, name, &[])
    }

    /// Starts a player through a command prefix, with more flags (`--stats`).
    pub fn player_with(prefix: &[&str], net: &Net, name: &str, extra: &[&str]) -> Counted {
        let mut player = command(prefix, env!("CARGO_BIN_EXE_player"));
        player
            .args(["--json", "--name", name])
            .args(net.flags())
            .args(extra);
        Counted::start(player, name)
    }

    /// The baselines' receiver: a process with a raw socket in the group that prints each plain
    /// text datagram as the JSON line a player would (no rate limit, no decoding, no repair).
    pub fn raw(net: &Net, name: &str) -> Counted {
        let mut receiver = Command::new(std::env::current_exe().unwrap());
        receiver.args([
            "--raw-receiver",
            &net.group.to_string(),
            &net.port.to_string(),
            name,
        ]);
        Counted::start(receiver, name)
    }

    fn start(mut command: Command, name: &str) -> Counted {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        // Drained as it comes, so that a chatty stderr can never block the player.
        let stderr = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .filter(|line| !line.trim().is_empty())
                .last()
        });
        let stats = Arc::new(Mutex::new(Stats::default()));
        let (ready_tx, ready) = mpsc::channel();
        let (welcome_tx, welcome) = mpsc::channel();
        let counted = stats.clone();
        let me = format!("\"player\":\"{name}\"");
        std::thread::spawn(move || count_lines(stdout, &me, [ready_tx, welcome_tx], &counted));
        let player = Counted {
            stdin: child.stdin.take().unwrap(),
            child,
            stats,
            ready,
            welcome,
            stderr: Some(stderr),
        };
        player
            .ready
            .recv_timeout(TIMEOUT)
            .expect("the player joined");
        player
    }

    /// Waits for the player's welcome: its events start there (a player is in the group at
    /// its own join, but an announcer answering a storm of joins welcomes up to 20 ms later,
    /// and what it announced before is not the player's to show).
    pub fn welcomed(self) -> Counted {
        self.welcome
            .recv_timeout(TIMEOUT)
            .expect("the player was welcomed");
        self
    }

    pub fn say(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn count(&self) -> u64 {
        self.stats.lock().unwrap().announces
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the player to exit by itself (the game closed), then gives the
    /// last line of its stderr; None if it was still running (it is killed) or printed nothing.
    pub fn finish(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        // std has no wait with a timeout: poll, which only decides when to stop looking.
        while self.child.try_wait().ok()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stderr.take()?.join().ok().flatten()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts the announcements `stdout` shows; `said[0]` is told of the player's own join or
/// welcome (it is in the group), `said[1]` of its welcome.
fn count_lines(stdout: impl std::io::Read, me: &str, said: [Sender<()>; 2], stats: &Mutex<Stats>) {
    // An announcement, or the baselines' plain text shown as chat.
    const MARK: &str = "{\"kind\":\"announce\",\"text\":\"@";
    const RAW_MARK: &str = "{\"kind\":\"chat\",\"from\":\"raw\",\"text\":\"@";
    for line in BufReader::with_capacity(1 << 16, stdout).lines() {
        let Ok(line) = line else { break };
        let Some(rest) = line
            .strip_prefix(MARK)
            .or_else(|| line.strip_prefix(RAW_MARK))
        else {
            if line.contains(me) && (line.contains("\"welcome\"") || line.contains("\"join\"")) {
                let _ = said[0].send(());
            }
            if line.contains(me) && line.contains("\"welcome\"") {
                let _ = said[1].send(());
            }
            continue;
        };
        let now = Instant::now();
        let sent = rest.split(' ').nth(1).and_then(|t| t.parse::<f64>().ok());
        let latency = sent.map(|sent| mono_now() - sent);
        let mut stats = stats.lock().unwrap();
        stats.announces += 1;
        stats.first.get_or_insert(now);
        stats.last = Some(now);
        if let Some(latency) = latency {
            stats.latencies.push(latency);
        }
    }
}

/// Waits until every player counted `expected` announcements, or until no player made progress
/// for `quiet`; returns the counts.
pub fn wait_counts(players: &[Counted], expected: u64, quiet: Duration) -> Vec<u64> {
    let mut last_total = 0;
    let mut last_progress = Instant::now();
    loop {
        let counts: Vec<u64> = players.iter().map(Counted::count).collect();
        let total: u64 = counts.iter().sum();
        if counts.iter().all(|c| *c >= expected) || last_progress.elapsed() > quiet {
            return counts;
        }
        if total != last_total {
            last_total = total;
            last_progress = Instant::now();
        }
        // A benchmark may poll: this only decides when to stop looking.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An announcer without `--json` (printing every datagram would be part of what we measure);
/// its console lines that contain one of `marks` are kept, the rest dropped.
pub struct Host {
    child: Child,
    lines: Receiver<String>,
}

impl Host {
    pub fn start(net: &Net, script: &Path, extra: &[&str], marks: &[&str]) -> Host {
        Host::start_in(&[], net, script, extra, marks)
    }

    /// Starts the announcer through a command prefix (`ip netns exec NS`).
    pub fn start_in(
        prefix: &[&str],
        net: &Net,
        script: &Path,
        extra: &[&str],
        marks: &[&str],
    ) -> Host {
        let mut child = command(prefix, env!("CARGO_BIN_EXE_announcer"))
            .arg(script)
            .args(net.flags())
            .args(["--no-watch"])
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let mut marks: Vec<String> = marks.iter().map(|m| m.to_string()).collect();
        marks.push("gamecast announcer:".into());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if marks.iter().any(|m| line.contains(m.as_str())) && tx.send(line).is_err() {
                    break;
                }
            }
        });
        let host = Host { child, lines };
        host.wait_line("gamecast announcer:");
        host
    }

    pub fn wait_line(&self, mark: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the announcer never printed {mark:?}"));
            if line.contains(mark) {
                return line;
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program`, run through `prefix` when there is one.
pub fn command(prefix: &[&str], program: &str) -> Command {
    match prefix.split_first() {
        None => Command::new(program),
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
    }
}

/// The peak resident memory of a process so far (VmHWM), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// The script benchmarks load, under benches/lua/.
pub fn bench_script(name: &str) -> std::path::PathBuf {
    crate::common::repo(&format!("benches/lua/{name}"))
}

/// A bare socket in the group on its interface (loopback unless `net` says another), for the raw baselines: what an application would
/// set up with socket2 alone. Reads give up after `timeout` of silence.
pub fn raw_receiver(net: &Net, timeout: Duration) -> std::net::UdpSocket {
    raw_receiver_on(net, net.protocol_port(), timeout)
}

/// [`raw_receiver`] on `port` of the group (the text channel's, for plain text).
pub fn raw_receiver_on(net: &Net, port: u16, timeout: Duration) -> std::net::UdpSocket {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_reuse_port(true).unwrap();
    socket.set_recv_buffer_size(4 << 20).unwrap();
    socket
        .bind(&std::net::SocketAddr::from((net.group, port)).into())
        .unwrap();
    socket.join_multicast_v4(&net.group, &net.iface).unwrap();
    socket.set_read_timeout(Some(timeout)).unwrap();
    socket.into()
}

/// `--raw-receiver GROUP PORT NAME`: the baselines' receiving process ([`Counted::raw`]). It
/// joins the group on loopback, says so as a player's join line, then prints each `raw: …`
/// datagram as a player's chat line, one write a line (as a player's stdout does).
pub fn raw_receiver_main(args: &[String]) {
    let [group, port, name] = args else {
        panic!("--raw-receiver GROUP PORT NAME");
    };
    let net = Net {
        group: group.parse().unwrap(),
        port: port.parse().unwrap(),
        iface: std::net::Ipv4Addr::LOCALHOST,
    };
    // Plain text travels on the text channel, as a player hears it.
    let socket = raw_receiver_on(&net, net.port, Duration::from_secs(3600));
    println!("{{\"kind\":\"join\",\"player\":\"{name}\"}}");
    let mut buf = vec![0u8; 65536];
    while let Ok(len) = socket.recv(&mut buf) {
        if let Some(text) = buf[..len].strip_prefix(b"raw: ") {
            let text = String::from_utf8_lossy(text);
            println!("{{\"kind\":\"chat\",\"from\":\"raw\",\"text\":\"{text}\"}}");
        }
    }
}
