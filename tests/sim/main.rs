//! In-process games: the real announcer and player loops, real Lua scripts, on the in-memory
//! hub (`gamecast::link::memory`) with seeded loss and reordering, on tokio's paused clock. A
//! whole dice race takes milliseconds, needs no root and no network, and the same seed plays
//! the same game. The namespace tests under tests/e2e are the real-network proof of the same.

// The helpers the end-to-end tests share: the parts that work on JSON events serve here too.
#[path = "../common/mod.rs"]
mod common;
mod games;
mod hostile;

pub use common::{COMPARED, datagram, sent_after_welcome, without_header};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gamecast::announcer::{self, Config, Console, End, Settings};
use gamecast::event::Event;
use gamecast::link::memory::{Conditions, Hub};
use gamecast::player::{self, Options, Played};
use gamecast::script::{Clock, Limits};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest any wait may take, in virtual time.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// A path under the repository root.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Writes a script into a temporary folder and returns its path.
pub fn script_file(name: &str, source: &str) -> PathBuf {
    let path = common::temp_dir().join(name);
    std::fs::write(&path, source).unwrap();
    path
}

/// A hub with `loss` (0 to 1) and up to 2 ms of delay, so that datagrams overtake each other.
pub fn lossy_hub(seed: u64, loss: f64) -> Hub {
    Hub::new(
        seed,
        Conditions {
            loss,
            shared_loss: 0.0,
            min_delay: Duration::from_micros(100),
            max_delay: Duration::from_millis(2),
        },
    )
}

/// A writer that sends each line written to a channel.
struct Lines {
    partial: Vec<u8>,
    tx: mpsc::UnboundedSender<String>,
}

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(bytes);
        while let Some(at) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=at).collect();
            let line = String::from_utf8_lossy(&line[..at]).to_string();
            let _ = self.tx.send(line);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An announcer running on a hub, its console (JSON on one side, the host's lines on the
/// other) collected.
pub struct Host {
    pub task: JoinHandle<anyhow::Result<End>>,
    lines: mpsc::UnboundedReceiver<String>,
    pub seen: Vec<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Settings for a test announcer: JSON on, the rest as the binary's defaults.
pub fn settings() -> Settings {
    Settings {
        json: true,
        ..Settings::default()
    }
}

impl Host {
    /// Starts `script` with `settings` and `set` as its `--set`s, and waits until it plays.
    pub async fn start(hub: &Hub, script: &Path, settings: Settings, set: &[(&str, &str)]) -> Host {
        Host::start_with(hub, script, settings, set, 0).await
    }

    /// [`Host::start`] with `bots` bots.
    pub async fn start_with(
        hub: &Hub,
        script: &Path,
        settings: Settings,
        set: &[(&str, &str)],
        bots: usize,
    ) -> Host {
        let (tx, lines) = mpsc::unbounded_channel();
        let console = Console::new(
            true,
            false,
            Box::new(Lines {
                partial: Vec::new(),
                tx: tx.clone(),
            }),
            Box::new(Lines {
                partial: Vec::new(),
                tx,
            }),
        );
        let config = Config {
            script: script.to_path_buf(),
            args: set
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            settings,
            bots,
            bot_think: Duration::from_millis(50),
            watch: false,
            limits: Limits::default(),
            seed: 1,
            clock: Clock::Game,
            record: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let hub = hub.clone();
        let task = tokio::task::spawn_local(async move {
            announcer::run(config, &hub, console, async {
                let _ = stopped.await;
                "the test stopped the announcer".to_string()
            })
            .await
        });
        let mut host = Host {
            task,
            lines,
            seen: Vec::new(),
            stop: Some(stop),
        };
        host.wait_line("the ready line", |l| l.starts_with("gamecast announcer:"))
            .await;
        host
    }

    /// Waits for a console line matching `wanted`.
    pub async fn wait_line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let found = tokio::time::timeout(TIMEOUT, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if wanted(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "the announcer: no {what}; it printed:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// The JSON lines it printed so far (reading what is waiting).
    pub fn events(&mut self) -> Vec<Value> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// What it sent of the kinds compared between the announcer and its players.
    pub fn sent_announcements(&mut self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|v| v["dir"] == "sent" && COMPARED.contains(&v["kind"].as_str().unwrap_or("")))
            .map(without_header)
            .collect()
    }

    /// Stops it as Ctrl-C would, and waits for it to end.
    pub async fn stop(&mut self) -> End {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.finish().await
    }

    /// Waits for it to end by itself.
    pub async fn finish(&mut self) -> End {
        let end = tokio::time::timeout(TIMEOUT, &mut self.task)
            .await
            .expect("the announcer ends")
            .expect("the announcer's task does not panic")
            .expect("the announcer runs without an error");
        self.events();
        end
    }
}

/// A player running on a hub: what it shows is collected, lines are typed into it.
pub struct Seat {
    pub name: String,
    /// Where its datagrams come from, on the hub.
    pub address: std::net::SocketAddr,
    pub task: JoinHandle<anyhow::Result<Played>>,
    events: mpsc::UnboundedReceiver<Event>,
    pub seen: Vec<Value>,
    input: Option<mpsc::Sender<String>>,
}

impl Seat {
    /// Starts `name` on `hub`.
    pub fn join(hub: &Hub, name: &str) -> Seat {
        Seat::join_with(hub, name, Options::default())
    }

    /// Starts `name` on `hub` with `options`.
    pub fn join_with(hub: &Hub, name: &str, options: Options) -> Seat {
        let link = hub.link();
        let address = link.address();
        let (tx, events) = mpsc::unbounded_channel();
        let (input, lines) = mpsc::channel(64);
        let who = name.to_string();
        let task = tokio::spawn(async move {
            player::play(
                &who,
                link,
                options,
                lines,
                move |event| {
                    let _ = tx.send(event);
                },
                std::future::pending(),
            )
            .await
        });
        Seat {
            name: name.to_string(),
            address,
            task,
            events,
            seen: Vec::new(),
            input: Some(input),
        }
    }

    /// Types a line.
    pub async fn say(&self, line: &str) {
        let input = self.input.as_ref().expect("the input is open");
        input.send(line.to_string()).await.unwrap();
    }

    /// Closes the input: the player leaves.
    pub fn close_input(&mut self) {
        self.input = None;
    }

    /// Waits for an event matching `wanted`, and returns it.
    pub async fn wait(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(TIMEOUT, async {
            while let Some(event) = self.events.recv().await {
                let value: Value = serde_json::from_str(&event.to_json()).unwrap();
                self.seen.push(value.clone());
                if wanted(&value) {
                    return Some(value);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(value)) => value,
            _ => panic!(
                "{}: no {what}; it showed:\n{}",
                self.name,
                self.seen
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    /// Waits for the next event of `kind`.
    pub async fn wait_kind(&mut self, kind: &str) -> Value {
        self.wait(&format!("{kind:?} event"), |v| v["kind"] == kind)
            .await
    }

    /// Waits for the session to end, reading the rest of what it showed.
    pub async fn finish(&mut self) -> Played {
        let played = tokio::time::timeout(TIMEOUT, &mut self.task)
            .await
            .expect("the player ends")
            .expect("the player's task does not panic")
            .expect("the player runs without an error");
        while let Ok(event) = self.events.try_recv() {
            self.seen
                .push(serde_json::from_str(&event.to_json()).unwrap());
        }
        played
    }

    /// What it showed of the compared kinds, in order.
    pub fn shown_announcements(&self) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|v| COMPARED.contains(&v["kind"].as_str().unwrap_or("")))
            .cloned()
            .collect()
    }
}

/// Runs `test` in a `LocalSet` (the announcer's Lua state stays on this thread), with the
/// thread's random numbers seeded so that the game is the same each run.
pub async fn local<F: std::future::Future>(seed: u64, test: F) -> F::Output {
    fastrand::seed(seed);
    tokio::task::LocalSet::new().run_until(test).await
}
