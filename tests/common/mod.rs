//! Shared helpers for the integration tests: start the real binaries on loopback (or in a host
//! of a namespace LAN, see `lan`), each test on a group and port of its own, and read what
//! players show through `player --json`.
//!
//! Every wait has a timeout, and a failed wait prints everything that was seen meanwhile.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod lan;
pub mod nats;

use lan::Lan;

/// How long any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A group and port no other test uses: a random group in 239.0.0.0/8 (organisation-local)
/// and a random port, so that tests running in parallel never hear each other.
#[derive(Debug, Clone, Copy)]
pub struct Net {
    pub group: Ipv4Addr,
    pub port: u16,
    /// The interface address to join and send on: loopback, or a test namespace's own.
    pub iface: Ipv4Addr,
}

impl Net {
    pub fn fresh() -> Net {
        Net {
            group: Ipv4Addr::new(239, 77, fastrand::u8(..), fastrand::u8(1..255)),
            port: fastrand::u16(20000..60000),
            iface: Ipv4Addr::LOCALHOST,
        }
    }

    /// The same group and port, on another interface.
    pub fn on(&self, iface: Ipv4Addr) -> Net {
        Net { iface, ..*self }
    }

    pub fn flags(&self) -> Vec<String> {
        vec![
            "--group".into(),
            self.group.to_string(),
            "--port".into(),
            self.port.to_string(),
            "--iface".into(),
            self.iface.to_string(),
        ]
    }

    /// The port the protocol's datagrams travel on (`--port` is the lab's text channel).
    pub fn protocol_port(&self) -> u16 {
        self.port + 1
    }

    /// Sends raw bytes to the text channel from loopback, as a classmate's Python script would.
    pub fn send_text(&self, bytes: &[u8]) {
        self.send_to_port(bytes, self.port);
    }

    /// Sends raw bytes to the protocol's port from loopback, as a rogue process would.
    pub fn send_protocol(&self, bytes: &[u8]) {
        self.send_to_port(bytes, self.protocol_port());
    }

    fn send_to_port(&self, bytes: &[u8], port: u16) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_multicast_loop_v4(true).unwrap();
        socket.set_multicast_ttl_v4(1).unwrap();
        // Sent from a socket bound to 127.0.0.1, the datagram leaves by loopback.
        socket.send_to(bytes, (self.group, port)).unwrap();
    }
}

/// The variable that makes every skipped test a failure: `.ci/run` sets it, so that a CI
/// machine missing root or a tool fails instead of passing what it did not test.
pub const NO_SKIP: &str = "GAMECAST_NO_SKIP";

/// A test that cannot run here says so where the person running the tests sees it (straight
/// to the terminal: libtest hides what a passing test prints), and returns; with
/// [`NO_SKIP`] set, it fails instead.
pub fn skip(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if std::env::var_os(NO_SKIP).is_some_and(|v| !v.is_empty()) {
        panic!("{test} cannot run here: {why} ({NO_SKIP} is set, so a skip is a failure)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Whether this process runs as root (tests that build network namespaces need it).
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0")
}

/// A path under the repository root.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

thread_local! {
    static KEPT: std::cell::RefCell<Vec<tempfile::TempDir>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A fresh temporary folder for a test's own scripts, removed when the test ends: it is kept
/// by the test's thread (libtest gives each test its own), since the processes the test starts
/// read it until then.
pub fn temp_dir() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("gamecast-test-")
        .tempdir()
        .expect("a temporary folder");
    let path = dir.path().to_path_buf();
    KEPT.with(|kept| kept.borrow_mut().push(dir));
    path
}

/// A line a process printed, tagged with the stream it came from.
#[derive(Debug, Clone)]
pub enum Line {
    Out(String),
    Err(String),
}

impl Line {
    /// The line's text, whichever stream it came from.
    pub fn text(&self) -> &str {
        match self {
            Line::Out(text) | Line::Err(text) => text,
        }
    }
}

/// A running binary whose stdout and stderr lines are collected by reader threads.
pub struct Process {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    pub seen: Vec<Line>,
}

impl Process {
    fn spawn(name: &str, binary: &str, args: &[String]) -> Process {
        Process::spawn_in(None, name, binary, args)
    }

    /// Starts `binary` in network namespace `netns` (`ip netns exec NETNS BINARY …`), or here.
    /// `ip netns exec` execs the binary in its own place, so the child is the binary itself:
    /// killing and waiting work as without a namespace.
    pub fn spawn_in(netns: Option<&str>, name: &str, binary: &str, args: &[String]) -> Process {
        Process::spawn_env(netns, name, binary, args, &[])
    }

    /// Like [`Process::spawn_in`], with environment variables. A game key in the tests' own
    /// environment (a developer's shell) never reaches the binaries: only what a test gives.
    pub fn spawn_env(
        netns: Option<&str>,
        name: &str,
        binary: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Process {
        let mut command = match netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns, binary]);
                command
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args(args)
            .env_remove("GAMECAST_KEY")
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let (tx, lines) = mpsc::channel();
        forward(child.stdout.take().unwrap(), tx.clone(), Line::Out);
        forward(child.stderr.take().unwrap(), tx, Line::Err);
        Process {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL, as a crash or a pulled plug would end it: no goodbye.
    pub fn kill9(&mut self) -> ExitStatus {
        // Child::kill sends SIGKILL; an already exited child is only reaped.
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        status
    }

    /// Sends SIGINT, as Ctrl-C would.
    pub fn interrupt(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    }

    /// Types a line, as a person (or bot) would.
    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes stdin: the end of input.
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Waits for a line matching `wanted` and returns it.
    pub fn wait_line(&mut self, what: &str, wanted: impl Fn(&Line) -> bool) -> Line {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("timed out waiting for {what}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("exited while waiting for {what}"))
                }
            }
        }
    }

    /// Waits for a stdout line containing `text` (a program that prints text, not events).
    pub fn wait_out(&mut self, text: &str) -> String {
        self.wait_out_any(&[text])
    }

    /// Waits for a stdout line containing any of `texts`, and returns it.
    pub fn wait_out_any(&mut self, texts: &[&str]) -> String {
        match self.wait_line(
            &format!("stdout {texts:?}"),
            |l| matches!(l, Line::Out(s) if texts.iter().any(|t| s.contains(t))),
        ) {
            Line::Out(s) => s,
            Line::Err(_) => unreachable!(),
        }
    }

    /// Waits for a stderr line containing `text`.
    pub fn wait_stderr(&mut self, text: &str) -> String {
        match self.wait_line(
            &format!("stderr {text:?}"),
            |l| matches!(l, Line::Err(s) if s.contains(text)),
        ) {
            Line::Err(s) => s,
            Line::Out(_) => unreachable!(),
        }
    }

    /// Waits until `count` stderr lines in all contain `text`.
    pub fn wait_stderr_count(&mut self, text: &str, count: usize) {
        let seen = |p: &Process| p.stderr().lines().filter(|l| l.contains(text)).count();
        while seen(self) < count {
            self.wait_stderr(text);
        }
    }

    /// Waits for the next JSON event on stdout matching `wanted`.
    pub fn wait_event(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let line = self.wait_line(what, |l| match l {
            Line::Out(s) => serde_json::from_str::<Value>(s).is_ok_and(|v| wanted(&v)),
            Line::Err(_) => false,
        });
        match line {
            Line::Out(s) => serde_json::from_str(&s).unwrap(),
            Line::Err(_) => unreachable!(),
        }
    }

    /// Waits for the next event of `kind`.
    pub fn wait_kind(&mut self, kind: &str) -> Value {
        self.wait_event(&format!("a {kind:?} event"), |v| v["kind"] == kind)
    }

    /// Waits until this player sees `name` enter the group.
    pub fn wait_join(&mut self, name: &str) -> Value {
        self.wait_event(&format!("{name} entering"), |v| {
            v["kind"] == "join" && v["player"] == name
        })
    }

    /// Every JSON event printed on stdout so far, in order.
    pub fn events(&self) -> Vec<Value> {
        self.seen
            .iter()
            .filter_map(|l| match l {
                Line::Out(s) => serde_json::from_str(s).ok(),
                Line::Err(_) => None,
            })
            .collect()
    }

    /// Waits for the process to exit, reading the rest of its output.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            // Drain output first: the process may block on a full pipe otherwise.
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader threads end with the pipes; collect what they still hold.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
                    self.seen.push(line);
                }
                return status;
            }
            if Instant::now() > deadline {
                self.fail("timed out waiting for the process to exit");
            }
            // Wait for the next line or a short while: there is no event for "exited" here.
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(50)) {
                self.seen.push(line);
            }
        }
    }

    /// The whole stderr so far, for error messages.
    pub fn stderr(&self) -> String {
        self.seen
            .iter()
            .filter_map(|l| match l {
                Line::Err(s) => Some(s.as_str()),
                Line::Out(_) => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn fail(&mut self, why: &str) -> ! {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let seen: Vec<String> = self.seen.iter().map(|l| format!("  {l:?}")).collect();
        panic!("{}: {why}; it printed:\n{}", self.name, seen.join("\n"));
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(stream: impl std::io::Read + Send + 'static, tx: Sender<Line>, tag: fn(String) -> Line) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(tag(line)).is_err() {
                break;
            }
        }
    });
}

/// `--set` flags for the announcer: `set(&["target=12"])` is `--set target=12`.
pub fn set<'a>(settings: &[&'a str]) -> Vec<&'a str> {
    settings.iter().flat_map(|s| ["--set", s]).collect()
}

/// Starts `announcer --json SCRIPT` on `net` and waits until it is listening.
pub fn announcer(net: &Net, script: &Path, extra: &[&str]) -> Process {
    start_announcer(None, net, script, extra)
}

/// Starts `announcer --json SCRIPT` in host `host` of `lan`, on `net`'s group and port and the
/// host's address, and waits until it is listening.
pub fn announcer_in(lan: &Lan, host: usize, net: &Net, script: &Path, extra: &[&str]) -> Process {
    let net = net.on(lan.host_addr(host));
    start_announcer(Some(lan.netns(host)), &net, script, extra)
}

fn start_announcer(netns: Option<&str>, net: &Net, script: &Path, extra: &[&str]) -> Process {
    let mut args = vec!["--json".to_string(), script.display().to_string()];
    args.extend(net.flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    let binary = env!("CARGO_BIN_EXE_announcer");
    let mut process = Process::spawn_in(netns, "announcer", binary, &args);
    process.wait_stderr("gamecast announcer:");
    process
}

/// Starts `announcer SCRIPT EXTRA…` expecting it to fail; returns its exit status and stderr.
pub fn announcer_fails(net: &Net, script: &Path, extra: &[&str]) -> (ExitStatus, String) {
    let mut args = vec![script.display().to_string()];
    args.extend(net.flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut process = Process::spawn("announcer", env!("CARGO_BIN_EXE_announcer"), &args);
    let status = process.wait_exit();
    (status, process.stderr())
}

/// What a run of `announcer ARGS…` printed, once it exited: its status, stdout and stderr.
pub fn announcer_output(args: &[&str]) -> (ExitStatus, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut process = Process::spawn("announcer", env!("CARGO_BIN_EXE_announcer"), &args);
    let status = process.wait_exit();
    let stdout: Vec<&str> = process
        .seen
        .iter()
        .filter_map(|l| match l {
            Line::Out(s) => Some(s.as_str()),
            Line::Err(_) => None,
        })
        .collect();
    (status, stdout.join("\n"), process.stderr())
}

fn spawn_player(netns: Option<&str>, net: &Net, name: &str, extra: &[&str]) -> Process {
    spawn_player_env(netns, net, name, extra, &[])
}

/// Starts `player --json --name NAME EXTRA…` on `net` with environment variables `env`.
pub fn spawn_player_env(
    netns: Option<&str>,
    net: &Net,
    name: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Process {
    let mut args = vec!["--json".to_string(), "--name".to_string(), name.to_string()];
    args.extend(net.flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    Process::spawn_env(netns, name, env!("CARGO_BIN_EXE_player"), &args, env)
}

/// Waits until a player's own join came back from the group: from then on it hears everything
/// the group says.
fn joined(mut p: Process, name: &str) -> Process {
    p.wait_event("our own join", |v| {
        v["kind"] == "join" && v["player"] == name
    });
    p
}

/// Waits for the announcer's welcome of a player started by hand.
pub fn welcomed(mut p: Process, name: &str) -> Process {
    p.wait_event("our welcome", |v| {
        v["kind"] == "welcome" && v["player"] == name
    });
    p
}

/// Starts `player --json --name NAME` on `net` and waits until its own join came back from the
/// group: from then on it hears everything the group says.
pub fn player(net: &Net, name: &str) -> Process {
    joined(spawn_player(None, net, name, &[]), name)
}

/// Starts `player --json --name NAME EXTRA…` in host `host` of `lan`, on `net`'s group and port
/// and the host's address, and waits until its own join came back from the group.
pub fn player_in(lan: &Lan, host: usize, net: &Net, name: &str, extra: &[&str]) -> Process {
    let net = net.on(lan.host_addr(host));
    joined(spawn_player(Some(lan.netns(host)), &net, name, extra), name)
}

/// Starts a player and waits for the announcer's welcome.
pub fn welcomed_player(net: &Net, name: &str) -> Process {
    welcomed(spawn_player(None, net, name, &[]), name)
}

/// Starts a player in host `host` of `lan` and waits for the announcer's welcome.
pub fn welcomed_player_in(
    lan: &Lan,
    host: usize,
    net: &Net,
    name: &str,
    extra: &[&str],
) -> Process {
    let net = net.on(lan.host_addr(host));
    welcomed(spawn_player(Some(lan.netns(host)), &net, name, extra), name)
}

/// Starts a player whose join the announcer is expected to refuse.
pub fn refused_player(net: &Net, name: &str) -> Process {
    spawn_player(None, net, name, &[])
}

/// The text of an event, or "".
pub fn text(event: &Value) -> &str {
    event["text"].as_str().unwrap_or("")
}

/// A copy of the bundled dice race and its module in a folder of its own, to edit; returns
/// the copy's path and its text.
pub fn dice_copy() -> (PathBuf, String) {
    let folder = temp_dir();
    std::fs::create_dir_all(folder.join("lib")).unwrap();
    std::fs::copy(repo("scripts/lib/lobby.lua"), folder.join("lib/lobby.lua")).unwrap();
    let dice = std::fs::read_to_string(repo("scripts/dice.lua")).unwrap();
    let path = folder.join("dice.lua");
    std::fs::write(&path, &dice).unwrap();
    (path, dice)
}

/// Writes a script into a temporary folder and returns its path.
pub fn script_file(name: &str, source: &str) -> PathBuf {
    let path = temp_dir().join(name);
    std::fs::write(&path, source).unwrap();
    path
}

/// A Lua `round()` for test games: the next ranking, each player scoring the round number
/// times its place in join order; the tenth congratulates alice, ends the game, and cancels
/// `state.timer`.
pub const TEN_ROUNDS: &str = r#"
local function round()
  state.round = state.round + 1
  local scores = {}
  for i, p in ipairs(players()) do scores[p] = state.round * i end
  ranking(scores)
  if state.round == 10 then
    state.timer:cancel()
    congratulate("alice", "alice wins")
    game_end("over")
    stop()
  end
end
"#;

/// Whether `event` is the countdown of a dice race's round.
pub fn is_round(event: &Value) -> bool {
    event["kind"] == "countdown" && text(event).starts_with("Round ")
}

/// Rolls whenever a round is announced, until the game ends; returns the rounds played.
pub fn race(players: &mut [&mut Process]) -> usize {
    let mut rounds = 0;
    loop {
        let mut over = false;
        for p in players.iter_mut() {
            let event = p.wait_event("a round or the end", |v| {
                is_round(v) || v["kind"] == "game_end"
            });
            if event["kind"] == "game_end" {
                over = true;
            } else {
                p.say("roll");
            }
        }
        if over {
            return rounds;
        }
        rounds += 1;
    }
}

/// Plays a dice race to its end ([`race`]): every player sees the game closed and exits 0, and
/// so does the announcer. Returns the rounds played and what the announcer sent of the
/// [`COMPARED`] kinds, for the players' views to be checked against.
pub fn race_to_the_end(host: &mut Process, players: &mut [&mut Process]) -> (usize, Vec<Value>) {
    let rounds = race(players);
    for p in players.iter_mut() {
        p.wait_kind("close");
        assert!(p.wait_exit().success(), "{}: {}", p.name, p.stderr());
    }
    assert!(host.wait_exit().success(), "{}", host.stderr());
    (rounds, sent_announcements(host))
}

/// That each of `players` showed the game `sent` (see [`sent_announcements`]), once and in order.
pub fn assert_all_saw(players: &[&Process], sent: &[Value]) {
    for p in players {
        assert_eq!(
            shown_announcements(p),
            sent,
            "{} saw the game once, in order",
            p.name
        );
    }
}

/// The kinds of announcements tests compare between an announcer and its players: the game's
/// course, which every player must show all of, in order, once.
pub const COMPARED: [&str; 4] = ["game_start", "ranking", "congratulate", "game_end"];

/// A datagram the announcer logged with `--json`, as a player shows it: without the header.
pub fn without_header(mut v: Value) -> Value {
    let object = v.as_object_mut().unwrap();
    for header in ["v", "from", "session", "seq", "dir"] {
        object.remove(header);
    }
    v
}

/// What an announcer sent of the [`COMPARED`] kinds after the welcome a player showed (the
/// last welcome sent to that player with the same contents), from its `--json` `events`.
pub fn sent_after_welcome(events: Vec<Value>, welcome: &Value) -> Vec<Value> {
    let sent: Vec<Value> = events.into_iter().filter(|v| v["dir"] == "sent").collect();
    // The player shows the welcome as its own: it may have come in one that let several in,
    // naming it among `also`.
    let names = |v: &Value| {
        let also = v["also"].as_array().cloned().unwrap_or_default();
        std::iter::once(v["player"].clone())
            .chain(also.into_iter().map(|n| n["player"].clone()))
            .any(|name| name == welcome["player"])
    };
    let same = |v: &Value| {
        v["kind"] == "welcome"
            && names(v)
            && ["players", "moves", "game", "ranking"]
                .iter()
                .all(|field| v[*field] == welcome[*field])
    };
    let at = sent
        .iter()
        .rposition(same)
        .unwrap_or_else(|| panic!("no welcome like {welcome} among {sent:?}"));
    sent[at + 1..]
        .iter()
        .filter(|v| COMPARED.contains(&v["kind"].as_str().unwrap_or("")))
        .cloned()
        .map(without_header)
        .collect()
}

/// A datagram of ours as a rogue writes it: the header's fields, then `body`'s, as JSON.
pub fn datagram(session: u64, seq: u64, from: &str, body: Value) -> Vec<u8> {
    let mut object = serde_json::json!({"v": 1, "from": from, "session": session, "seq": seq});
    object
        .as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    serde_json::to_vec(&object).unwrap()
}

/// What `announcer --json` sent of the [`COMPARED`] kinds, in order, without the header.
pub fn sent_announcements(announcer: &Process) -> Vec<Value> {
    announcer
        .events()
        .into_iter()
        .filter(|v| v["dir"] == "sent" && COMPARED.contains(&v["kind"].as_str().unwrap_or("")))
        .map(without_header)
        .collect()
}

/// That `player` showed the game `sent` (see [`sent_announcements`]) once and in order, and
/// nothing about `forged`, the name a rogue's forgeries are about.
pub fn assert_only_the_real_game(player: &Process, sent: &[Value], forged: &str) {
    assert_eq!(
        shown_announcements(player),
        sent,
        "{} saw the real game, once, in order",
        player.name
    );
    assert!(
        !player.events().iter().any(|v| v["player"] == forged),
        "{}: nothing forged",
        player.name
    );
}

/// What a player showed of the [`COMPARED`] kinds, in order.
pub fn shown_announcements(player: &Process) -> Vec<Value> {
    player
        .events()
        .into_iter()
        .filter(|v| COMPARED.contains(&v["kind"].as_str().unwrap_or("")))
        .collect()
}
