//! Recordings: every datagram a member sent and received, with its time, in a file (`--record
//! FILE`), and the link that plays one back (`player --replay FILE`). A recording is how a game
//! leaves its room (a replay for those who missed it), and a test fixture.
//!
//! The format, as asciicast has it for terminals: one JSON object per line as a header, then
//! one JSON array per datagram (docs/recording.md):
//!
//! ```text
//! {"gamecast_recording":1,"version":"0.1.0","role":"player","name":"alice","link":"224.1.1.1:5008","started":1764622800000}
//! [0.000412,"o","","{\"v\":1,\"from\":\"alice\",…}"]
//! [0.001130,"i","127.0.0.1:5008","{\"v\":1,\"from\":\"announcer\",…}"]
//! ```
//!
//! Each line: seconds since the start, `"o"` (sent) or `"i"` (received), the source (empty for
//! what we sent), and the datagram: its text when it is UTF-8 (every datagram of a game is),
//! else `{"base64":"…"}` (what a hostile sender sent). A replay of a player's recording plays as
//! that player (its name and session come from the first datagram it sent), so that what was
//! for it alone is shown again; a recording without one (an announcer's) is watched as a
//! spectator does.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io::{self, BufRead, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::link::Link;
use crate::protocol::{self, Decoded};

/// The format's version, in every header.
pub const FORMAT: u32 = 1;
/// The largest recording replayed (a two-hour game is a few tens of MiB).
pub const MAX_RECORDING: u64 = 256 << 20;
/// The most datagrams a recording replayed may hold (a two-hour game has under a million).
pub const MAX_ENTRIES: usize = 4_000_000;

/// A recording's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub gamecast_recording: u32,
    /// The gamecast version that recorded it.
    pub version: String,
    /// Who recorded: "player" or "announcer".
    pub role: String,
    /// The player's name, for a player's recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the game was: `224.1.1.1:5008`, or a NATS subject.
    pub link: String,
    /// When it started, in milliseconds since the Unix epoch.
    pub started: u64,
}

impl Header {
    /// A header for `role` (and `name`) on `link`, starting now.
    pub fn new(role: &str, name: Option<&str>, link: &str) -> Header {
        Header {
            gamecast_recording: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            role: role.to_string(),
            name: name.map(str::to_string),
            link: link.to_string(),
            started: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }
}

/// Which way a datagram went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dir {
    /// Sent by the recording member.
    #[serde(rename = "o")]
    Sent,
    /// Received by it.
    #[serde(rename = "i")]
    Received,
}

/// A datagram's bytes as a recording holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum Data {
    Text(String),
    Binary { base64: String },
}

impl Data {
    fn of(bytes: &[u8]) -> Data {
        match std::str::from_utf8(bytes) {
            Ok(text) => Data::Text(text.to_string()),
            Err(_) => Data::Binary {
                base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        }
    }

    fn bytes(self) -> Option<Vec<u8>> {
        match self {
            Data::Text(text) => Some(text.into_bytes()),
            Data::Binary { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .ok(),
        }
    }
}

/// One datagram of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When, from the recording's start.
    pub at: Duration,
    /// Which way.
    pub dir: Dir,
    /// Where it came from (received datagrams).
    pub source: Option<SocketAddr>,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Writes a recording as it happens.
#[derive(Debug)]
struct Writer {
    out: BufWriter<File>,
    start: Instant,
    /// The first write error: the recording stopped there (the game goes on).
    failed: Option<String>,
}

impl Writer {
    fn line(&mut self, dir: Dir, source: Option<SocketAddr>, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        let at = self.start.elapsed().as_secs_f64();
        let source = source.map(|s| s.to_string()).unwrap_or_default();
        let line = serde_json::json!([(at * 1e6).round() / 1e6, dir, source, Data::of(bytes)]);
        // A line at a time, flushed: a recording cut by a crash is whole up to its last line.
        let written = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.failed = Some(e.to_string());
        }
    }
}

/// A link that records what passes through it, or only passes it on (no file).
#[derive(Debug)]
pub struct Recorded<L> {
    inner: L,
    writer: Option<Mutex<Writer>>,
    path: Option<PathBuf>,
}

impl<L: Link> Recorded<L> {
    /// Wraps `inner`, recording into a new file at `path` (if given) after `header`.
    pub fn new(inner: L, path: Option<&Path>, header: &Header) -> anyhow::Result<Recorded<L>> {
        let writer = match path {
            None => None,
            Some(path) => {
                let file = File::create(path)
                    .with_context(|| format!("--record {}: cannot create it", path.display()))?;
                let mut out = BufWriter::new(file);
                writeln!(out, "{}", serde_json::to_string(header)?)
                    .and_then(|()| out.flush())
                    .with_context(|| format!("--record {}: cannot write it", path.display()))?;
                Some(Mutex::new(Writer {
                    out,
                    start: Instant::now(),
                    failed: None,
                }))
            }
        };
        Ok(Recorded {
            inner,
            writer,
            path: path.map(Path::to_path_buf),
        })
    }

    fn record(&self, dir: Dir, source: Option<SocketAddr>, bytes: &[u8]) {
        if let Some(writer) = &self.writer {
            lock(writer).line(dir, source, bytes);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Held for one line, never across an await: nothing can poison it but a bug.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<L: Link> Link for Recorded<L> {
    async fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.record(Dir::Sent, None, bytes);
        self.inner.send(bytes).await
    }

    async fn flush(&self) -> io::Result<()> {
        self.inner.flush().await
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (len, source) = self.inner.recv(buf).await?;
        self.record(Dir::Received, Some(source), &buf[..len]);
        Ok((len, source))
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        let received = self.inner.try_recv(buf)?;
        if let Some((len, source)) = received {
            self.record(Dir::Received, Some(source), &buf[..len]);
        }
        Ok(received)
    }

    fn send_text(&self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send {
        self.inner.send_text(bytes)
    }

    fn recv_text(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        self.inner.recv_text(buf)
    }

    async fn news(&self) -> String {
        self.inner.news().await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn warning(&self) -> Option<String> {
        let failed = self
            .writer
            .as_ref()
            .and_then(|w| lock(w).failed.clone())
            .map(|e| {
                format!(
                    "the recording {} stopped: {e}",
                    self.path.as_deref().unwrap_or(Path::new("")).display()
                )
            });
        failed.or_else(|| self.inner.warning())
    }
}

/// A recording read back.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Its header.
    pub header: Header,
    /// Its datagrams, in order.
    pub entries: Vec<Entry>,
    /// What was wrong with its end, if anything (a line cut by a crash): replayed up to there.
    pub warning: Option<String>,
}

impl Recording {
    /// Reads the recording at `path`, with errors that say where (FILE:LINE).
    pub fn read(path: &Path) -> anyhow::Result<Recording> {
        let shown = path.display();
        let file = File::open(path).with_context(|| format!("{shown}: cannot open it"))?;
        let metadata = file.metadata()?;
        // A device or a FIFO never ends, or blocks: a recording is a file.
        if !metadata.is_file() {
            bail!("{shown}: not a regular file, so not a recording");
        }
        if metadata.len() > MAX_RECORDING {
            bail!(
                "{shown}: {} bytes, over the {MAX_RECORDING} a recording may have",
                metadata.len()
            );
        }
        // What is read is bounded too, whatever the file grows to meanwhile.
        let mut lines = io::BufReader::new(io::Read::take(file, MAX_RECORDING)).lines();
        let first = match lines.next() {
            Some(line) => line.with_context(|| format!("{shown}:1: cannot read it"))?,
            None => bail!("{shown}: empty, not a gamecast recording"),
        };
        let header: Header = serde_json::from_str(&first)
            .map_err(|e| anyhow::anyhow!("{shown}:1: not a gamecast recording's header ({e})"))?;
        if header.gamecast_recording != FORMAT {
            bail!(
                "{shown}:1: a recording in format {}, and this gamecast reads format {FORMAT}",
                header.gamecast_recording
            );
        }
        let mut entries = Vec::new();
        let mut warning = None;
        let mut lines = lines.enumerate().peekable();
        while let Some((index, line)) = lines.next() {
            let number = index + 2;
            let line = line.with_context(|| format!("{shown}:{number}: cannot read it"))?;
            if line.trim().is_empty() {
                continue;
            }
            match parse_entry(&line) {
                Ok(entry) => {
                    if entries
                        .last()
                        .is_some_and(|last: &Entry| last.at > entry.at)
                    {
                        bail!("{shown}:{number}: goes back in time");
                    }
                    if entries.len() >= MAX_ENTRIES {
                        bail!(
                            "{shown}:{number}: over {MAX_ENTRIES} datagrams, more than a game has"
                        );
                    }
                    entries.push(entry);
                }
                // The last line, cut: the recorder was killed while writing it.
                Err(why) if lines.peek().is_none() => {
                    warning = Some(format!("{shown}:{number}: {why}; replayed up to there"));
                }
                Err(why) => bail!("{shown}:{number}: {why}"),
            }
        }
        Ok(Recording {
            header,
            entries,
            warning,
        })
    }

    /// The name and session the recording member sent as (its first datagram's), if it sent
    /// any: a replay of a player's recording plays as them.
    pub fn identity(&self) -> Option<(String, protocol::SessionId)> {
        self.entries
            .iter()
            .filter(|e| e.dir == Dir::Sent)
            .find_map(|e| match protocol::decode_own(&e.bytes) {
                Decoded::Datagram(d) => Some((d.from, d.session)),
                _ => None,
            })
    }
}

fn parse_entry(line: &str) -> Result<Entry, String> {
    let (at, dir, source, data): (f64, Dir, String, Data) =
        serde_json::from_str(line).map_err(|e| format!("not a datagram's line ({e})"))?;
    if !(at.is_finite() && (0.0..=1e9).contains(&at)) {
        return Err(format!("{at} is no time from the start"));
    }
    let source = match source.as_str() {
        "" => None,
        text => Some(
            text.parse()
                .map_err(|_| format!("{text:?} is no address"))?,
        ),
    };
    let bytes = data.bytes().ok_or("the datagram's base64 is broken")?;
    Ok(Entry {
        at: Duration::from_secs_f64(at),
        dir,
        source,
        bytes,
    })
}

/// A link that plays a recording's received datagrams back at their times (divided by the
/// speed), and sends nowhere. After the last one it waits forever: see [`Replay::end`].
#[derive(Debug)]
pub struct Replay {
    queue: Mutex<VecDeque<Entry>>,
    start: Instant,
    speed: f64,
    /// When the last datagram is due.
    end: Duration,
    describe: String,
}

impl Replay {
    /// A replay of `recording` from now, `speed` times as fast (0.01 to 1000).
    pub fn new(recording: Recording, speed: f64) -> Replay {
        let describe = format!("a recording of {}", recording.header.link);
        let queue: VecDeque<Entry> = recording
            .entries
            .into_iter()
            .filter(|e| e.dir == Dir::Received)
            .collect();
        let end = queue.back().map_or(Duration::ZERO, |e| e.at);
        Replay {
            queue: Mutex::new(queue),
            start: Instant::now(),
            speed: speed.clamp(0.01, 1000.0),
            end,
            describe,
        }
    }

    /// When `entry` is due.
    fn due(&self, at: Duration) -> Instant {
        self.start + at.div_f64(self.speed)
    }

    /// A moment after the last datagram is played: when the recording has ended (the player
    /// shows what it said, and is not left to find its announcer silent).
    pub fn end(&self) -> Instant {
        self.due(self.end) + Duration::from_millis(200)
    }

    fn take_due(&self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let mut queue = lock(&self.queue);
        let entry = queue.front()?;
        if self.due(entry.at) > Instant::now() {
            return None;
        }
        let entry = queue.pop_front()?;
        let len = entry.bytes.len().min(buf.len());
        buf[..len].copy_from_slice(&entry.bytes[..len]);
        let source = entry.source.unwrap_or(crate::link::nats::UNKNOWN_SOURCE);
        Some((len, source))
    }
}

impl Link for Replay {
    async fn send(&self, _bytes: &[u8]) -> io::Result<()> {
        Ok(())
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            if let Some(received) = self.take_due(buf) {
                return Ok(received);
            }
            let next = lock(&self.queue).front().map(|e| self.due(e.at));
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        }
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        Ok(self.take_due(buf))
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Network;
    use crate::link::memory::{Conditions, Hub};

    #[tokio::test(start_paused = true)]
    async fn what_is_recorded_is_replayed_at_its_times_divided_by_the_speed() {
        let dir = crate::scratch::folder("record");
        let path = dir.join("game.rec");
        let hub = Hub::new(1, Conditions::default());
        let other = hub.open().await.unwrap();
        let recorded = Recorded::new(
            hub.open().await.unwrap(),
            Some(&path),
            &Header::new("player", Some("ana"), "an in-memory group"),
        )
        .unwrap();
        recorded.send(br#"{"sent":1}"#).await.unwrap();
        let mut buf = vec![0; 2048];
        for (wait, bytes) in [(2, &b"one"[..]), (3, b"\xff\x00not utf-8")] {
            tokio::time::sleep(Duration::from_secs(wait)).await;
            other.send(bytes).await.unwrap();
            loop {
                let (len, _) = recorded.recv(&mut buf).await.unwrap();
                if &buf[..len] == bytes {
                    break;
                }
            }
        }
        drop(recorded);
        let recording = Recording::read(&path).unwrap();
        assert_eq!(recording.header.name.as_deref(), Some("ana"));
        let received: Vec<&Entry> = recording
            .entries
            .iter()
            .filter(|e| e.dir == Dir::Received)
            .collect();
        // Its own datagram came back too, as on a group.
        assert_eq!(received.len(), 3, "{:?}", recording.entries);
        assert_eq!(received[2].bytes, b"\xff\x00not utf-8");
        assert!(std::fs::read_to_string(&path).unwrap().contains("base64"));

        let replay = Replay::new(recording, 2.0);
        let began = Instant::now();
        let mut got = Vec::new();
        for _ in 0..3 {
            let (len, _) = replay.recv(&mut buf).await.unwrap();
            got.push((buf[..len].to_vec(), began.elapsed()));
        }
        assert_eq!(got[1].0, b"one");
        // Recorded after 2 s and 5 s: replayed after 1 s and 2.5 s (the timer's millisecond
        // and the hub's delay aside).
        let ms = |d: Duration| d.as_millis();
        assert!((1000..=1002).contains(&ms(got[1].1)), "{got:?}");
        assert!((2500..=2502).contains(&ms(got[2].1)), "{got:?}");
        assert!(replay.try_recv(&mut buf).unwrap().is_none());
    }

    proptest::proptest! {
        /// Whatever a recording's lines hold (boundary times, any bytes), reading it never
        /// panics, and what it refuses names its line; what it takes is in order.
        #[test]
        fn any_recording_is_read_or_refused_with_its_line(
            times in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(0.0f64),
                proptest::strategy::Just(9007199254740992.0),
                proptest::strategy::Just(18446744073709551615.0),
                proptest::strategy::Just(-1.0),
                proptest::strategy::Just(1e9),
                0.0f64..100.0,
            ], 0..8),
            noise in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 0..3),
        ) {
            let dir = crate::scratch::folder("record");
            let path = dir.join("any.rec");
            let mut text = serde_json::to_string(&Header::new("player", None, "x")).unwrap();
            for (i, t) in times.iter().enumerate() {
                text.push_str(&format!("\n[{t},\"i\",\"127.0.0.1:{i}\",\"d\"]"));
            }
            let mut bytes = text.into_bytes();
            for line in &noise {
                bytes.push(b'\n');
                bytes.extend_from_slice(line);
            }
            std::fs::write(&path, &bytes).unwrap();
            match Recording::read(&path) {
                Ok(recording) => {
                    proptest::prop_assert!(recording.entries.windows(2).all(|w| w[0].at <= w[1].at));
                    proptest::prop_assert!(recording.entries.iter().all(|e| e.at.as_secs_f64() <= 1e9));
                }
                Err(e) => proptest::prop_assert!(e.to_string().contains("any.rec:"), "{e}"),
            }
        }
    }

    #[test]
    fn a_broken_recording_says_where() {
        let dir = crate::scratch::folder("record");
        let header = serde_json::to_string(&Header::new("player", None, "x")).unwrap();
        let cases = [
            ("", "empty"),
            ("not json\n", ":1: not a gamecast recording"),
            (
                r#"{"gamecast_recording":2,"version":"9","role":"player","link":"x","started":0}"#,
                ":1: a recording in format 2",
            ),
            (
                &format!("{header}\n[1,\"i\",\"\",\"a\"]\n[0.5,\"i\",\"\",\"b\"]\n"),
                ":3: goes back",
            ),
            (
                &format!("{header}\n[1,\"x\",\"\",\"a\"]\n[2,\"i\",\"\",\"b\"]\n"),
                ":2: not a datagram",
            ),
            (
                &format!("{header}\n[-1,\"i\",\"\",\"a\"]\n[2,\"i\",\"\",\"b\"]\n"),
                ":2: -1 is no time",
            ),
            (
                &format!("{header}\n[1,\"i\",\"nowhere\",\"a\"]\n[2,\"i\",\"\",\"b\"]\n"),
                ":2: \"nowhere\"",
            ),
            (
                &format!("{header}\n[1,\"i\",\"\",{{\"base64\":\"!!\"}}]\n[2,\"i\",\"\",\"b\"]\n"),
                ":2: the datagram's base64",
            ),
        ];
        for (index, (text, said)) in cases.iter().enumerate() {
            let path = dir.join(format!("{index}.rec"));
            std::fs::write(&path, text).unwrap();
            let err = Recording::read(&path).unwrap_err().to_string();
            assert!(err.contains(said), "{text:?}: {err}");
        }
        // A last line cut short (the recorder killed while writing): replayed up to there.
        let path = dir.join("cut.rec");
        std::fs::write(
            &path,
            format!("{header}\n[1,\"i\",\"\",\"a\"]\n[2,\"i\",\"\",\"b"),
        )
        .unwrap();
        let recording = Recording::read(&path).unwrap();
        assert_eq!(recording.entries.len(), 1);
        // Not a file: refused before anything is read.
        let err = Recording::read(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(recording.warning.unwrap().contains("cut.rec:3:"));
    }
}
