//! NATS as a link: a game's datagrams on one NATS subject instead of a multicast group, so that
//! players beyond one LAN (another campus, home, a Wi-Fi that blocks multicast) meet in one game.
//!
//! The same datagrams travel as on the group, byte for byte: a signed game stays signed end to
//! end, and the NATS server carries bytes it cannot forge. Loss repair and liveness work as on
//! multicast: a NATS server that restarts loses what was in flight, and the protocol repairs it
//! once the connection is back (async-nats reconnects and subscribes again by itself).
//!
//! - The game `NAME` is the subject `gamecast.NAME` ([`subject`]).
//! - Each message's header `Gamecast-Source` says where the datagram came from: the sender's
//!   address as the NATS server sees it (port 0), or, for a datagram a bridge carried over from
//!   a LAN, its address there. It is what the host's view shows, never what a check trusts.
//! - As on a multicast group with IP_MULTICAST_LOOP, a member hears its own datagrams back
//!   (NATS echoes them), which the upper layers skip; only a bridge turns the echo off.
//! - What arrives waits in a bounded queue, as in a socket's receive buffer: a member that
//!   stalls loses what overflows it, and repairs it as it would on a LAN.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, bail};
use async_nats::{HeaderMap, Subject};
use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc};

use super::{Link, Network};

/// The subjects of all games start with this token.
pub const SUBJECT_PREFIX: &str = "gamecast";
/// The header that says where a datagram came from.
pub const SOURCE_HEADER: &str = "Gamecast-Source";
/// The game a process meets when it names none.
pub const DEFAULT_GAME: &str = "default";
/// The longest game name.
pub const MAX_GAME: usize = 64;
/// Datagrams a member may have waiting, as a socket's receive buffer holds them: with the
/// client's own buffer ([`CLIENT_BUFFER`]) at most a few MiB of 1400-byte datagrams per link.
pub const QUEUE: usize = 4096;
/// Messages the NATS client itself may hold for a subscription before it drops them.
pub const CLIENT_BUFFER: usize = 1024;
/// Commands (publications) the NATS client queues, while the server is away too.
pub const CLIENT_QUEUE: usize = 2048;
/// The largest message taken from the subject: a game's largest datagram. Anything bigger is
/// no datagram of a game (a garbage publisher): dropped at once, counted, never queued.
pub const MAX_MESSAGE: usize = crate::protocol::MAX_DATAGRAM;
/// The longest a send waits for the client to take a datagram. While the server is away the
/// client queues what is published until its queue is full, and then a publish would wait
/// for the server's return: the game must not (its loop also reads the keyboard and Ctrl-C).
/// What is dropped is repaired once the server is back, as on a LAN.
pub const SEND_TIMEOUT: Duration = Duration::from_millis(20);
/// How often, at most, the news says that the client dropped messages read too slowly.
pub const SLOW_NEWS_EVERY: Duration = Duration::from_secs(10);
/// The longest a leaving member waits for the server to take its last datagrams.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// Where a message without a (readable) source header came from, as far as we can tell.
pub const UNKNOWN_SOURCE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// How long a game's history is kept (`--nats-history`).
pub const HISTORY_AGE: Duration = Duration::from_secs(6 * 3600);
/// The most a game's history holds, in bytes: the oldest go first.
pub const HISTORY_BYTES: i64 = 64 << 20;
/// The most of a game's history a late player reads.
pub const MAX_HISTORY: usize = 20_000;
/// The longest a late player waits for the history.
pub const HISTORY_TIMEOUT: Duration = Duration::from_secs(10);

/// The JetStream stream that keeps a game's history.
pub fn stream_name(game: &str) -> String {
    format!("GAMECAST_{game}")
}

/// The subject a game's datagrams travel on.
pub fn subject(game: &str) -> String {
    format!("{SUBJECT_PREFIX}.{game}")
}

/// Why `game` cannot name a game (a NATS subject token), or `None` when it can.
pub fn game_problem(game: &str) -> Option<String> {
    if game.is_empty() {
        return Some("a game needs a name".into());
    }
    if game.len() > MAX_GAME {
        return Some(format!("a game's name is at most {MAX_GAME} characters"));
    }
    game.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        .map(|c| {
            format!(
                "{c:?} cannot be in a game's name: use letters, digits, '-' and '_' (it is the \
                 NATS subject {SUBJECT_PREFIX}.NAME)"
            )
        })
}

/// How to prove who we are to the NATS server. Never printed: `Debug` hides the secrets.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// A token.
    Token(String),
    /// A user and password.
    User {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A NATS credentials file's contents (a user JWT and its NKey seed).
    Creds(String),
}

/// The environment variables credentials may come from.
pub const TOKEN_ENV: &str = "GAMECAST_NATS_TOKEN";
/// …the user,
pub const USER_ENV: &str = "GAMECAST_NATS_USER";
/// …and the user's password.
pub const PASSWORD_ENV: &str = "GAMECAST_NATS_PASSWORD";
/// The largest credentials file read.
pub const MAX_CREDS_FILE: u64 = 16 * 1024;

impl Auth {
    /// Credentials from the text of a file (`shown` names it in errors): a NATS credentials
    /// file (a user JWT and an NKey seed, as `nsc` writes it), or lines `token=…`, or `user=…`
    /// and `password=…` (`#` starts a comment). Secrets never appear in an error.
    pub fn from_text(text: &str, shown: &str) -> anyhow::Result<Auth> {
        if text.contains("-----BEGIN NATS USER JWT-----") {
            return Ok(Auth::Creds(text.to_string()));
        }
        let (mut token, mut user, mut password) = (None, None, None);
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Nothing of a line is echoed: a wrong line may well hold a secret.
            let Some((name, value)) = line.split_once('=') else {
                bail!(
                    "{shown}:{}: expected name=value (token, user or password), or a NATS \
                     credentials file",
                    number + 1
                );
            };
            let value = Some(value.trim().to_string());
            match name.trim() {
                "token" => token = value,
                "user" => user = value,
                "password" => password = value,
                _ => bail!(
                    "{shown}:{}: the name before '=' is not token, user or password",
                    number + 1
                ),
            }
        }
        Auth::from_parts(token, user, password, shown)
    }

    /// Credentials from the environment ([`TOKEN_ENV`], [`USER_ENV`], [`PASSWORD_ENV`]).
    pub fn from_env(
        token: Option<String>,
        user: Option<String>,
        password: Option<String>,
    ) -> anyhow::Result<Auth> {
        Auth::from_parts(token, user, password, "the environment")
    }

    fn from_parts(
        token: Option<String>,
        user: Option<String>,
        password: Option<String>,
        shown: &str,
    ) -> anyhow::Result<Auth> {
        if token.as_deref() == Some("") || user.as_deref() == Some("") {
            bail!("{shown}: an empty token or user");
        }
        match (token, user, password) {
            (None, None, None) => Ok(Auth::None),
            (Some(token), None, None) => Ok(Auth::Token(token)),
            (None, Some(user), Some(password)) => Ok(Auth::User { user, password }),
            (Some(_), _, _) => bail!("{shown}: a token, or a user and a password, not both"),
            (None, Some(_), None) => bail!("{shown}: a user needs a password"),
            (None, None, Some(_)) => bail!("{shown}: a password needs a user"),
        }
    }
}

/// Why `url` cannot name a NATS server for a game, or `None` when it can: a `nats://` or
/// `tls://` URL (or a bare `host:port`) without credentials in it, which the command line
/// would show to every user of the machine (`ps`).
pub fn url_problem(url: &str) -> Option<String> {
    match url.parse::<async_nats::ServerAddr>() {
        Err(e) => Some(e.to_string()),
        Ok(address) if !matches!(address.scheme(), "nats" | "tls") => Some(format!(
            "{}:// is not a NATS server gamecast speaks to: use nats:// or tls://",
            address.scheme()
        )),
        Ok(address) if address.has_user_pass() => Some(format!(
            "credentials in the URL would show on the command line; put them in a file \
             (--nats-creds) or in {TOKEN_ENV}, or {USER_ENV} and {PASSWORD_ENV}"
        )),
        Ok(_) => None,
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Token(_) => "Auth::Token(..)",
            Auth::User { .. } => "Auth::User(..)",
            Auth::Creds(_) => "Auth::Creds(..)",
        })
    }
}

/// Where a game on NATS is: the server, the game, and how we log in.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// The server's URL (`nats://host:4222`, `tls://host:4222`), without credentials.
    pub url: String,
    /// The game's name: its subject is [`subject`]`(game)`.
    pub game: String,
    /// The credentials.
    pub auth: Auth,
    /// A certificate authority to trust for `tls://` besides the system's (PEM).
    pub ca: Option<PathBuf>,
    /// Whether to hear our own messages back, as a group member does (a bridge does not).
    pub echo: bool,
}

/// A connection to a NATS server for one game: the [`Network`] its members' links open on.
#[derive(Debug, Clone)]
pub struct Nats {
    client: async_nats::Client,
    game: String,
    subject: Subject,
    url: String,
    /// Where our own datagrams come from, as the server sees us.
    source: SocketAddr,
    /// What happens to the connection (lost, back), for each link to say.
    news: broadcast::Sender<String>,
}

impl Nats {
    /// Connects to the server. Fails (with what the server or the network said) when it cannot
    /// be reached or refuses us; once connected, a lost connection is tried again for ever.
    pub async fn connect(config: &NatsConfig) -> anyhow::Result<Nats> {
        if let Some(problem) = game_problem(&config.game) {
            bail!("the game {:?}: {problem}", config.game);
        }
        let (news, _) = broadcast::channel(16);
        let url = config.url.clone();
        let mut options = match &config.auth {
            Auth::None => async_nats::ConnectOptions::new(),
            Auth::Token(token) => async_nats::ConnectOptions::with_token(token.clone()),
            Auth::User { user, password } => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            Auth::Creds(creds) => async_nats::ConnectOptions::with_credentials(creds)
                .context("the NATS credentials file is not one (a user JWT and an NKey seed)")?,
        };
        if let Some(ca) = &config.ca {
            options = options.add_root_certificates(ca.clone());
        }
        if !config.echo {
            options = options.no_echo();
        }
        let told = news.clone();
        let told_url = url.clone();
        let slow_told: Arc<Mutex<Option<std::time::Instant>>> = Arc::default();
        options = options
            .name("gamecast")
            .subscription_capacity(CLIENT_BUFFER)
            .client_capacity(CLIENT_QUEUE)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            // Back soon after a server restart: a game waits for it.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64 * 100).min(2_000))
            })
            .event_callback(move |event| {
                let said = match event {
                    async_nats::Event::Disconnected => Some(format!(
                        "link lost: the NATS server {told_url} cannot be reached; trying again"
                    )),
                    async_nats::Event::Connected => Some(format!(
                        "link back: connected to the NATS server {told_url}"
                    )),
                    async_nats::Event::SlowConsumer(_) => {
                        // Once per burst, not once per message dropped.
                        let mut last = slow_told.lock().unwrap_or_else(|p| p.into_inner());
                        let now = std::time::Instant::now();
                        (last.is_none_or(|at| now.duration_since(at) >= SLOW_NEWS_EVERY)).then(
                            || {
                                *last = Some(now);
                                "messages arrived faster than this process read them, and some \
                                 were dropped (a flood on the subject?); the game's are repaired"
                                    .to_string()
                            },
                        )
                    }
                    async_nats::Event::ServerError(e) => {
                        Some(format!("the NATS server {told_url} says: {e}"))
                    }
                    _ => None,
                };
                let told = told.clone();
                async move {
                    if let Some(said) = said {
                        // Nobody listening (no link open yet) is fine.
                        let _ = told.send(said);
                    }
                }
            });
        let client = options
            .connect(&url)
            .await
            .with_context(|| format!("cannot connect to the NATS server {url}"))?;
        let info = client.server_info();
        let ip = info
            .client_ip
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(Nats {
            client,
            game: config.game.clone(),
            subject: Subject::from(subject(&config.game)),
            url,
            source: SocketAddr::new(ip, 0),
            news,
        })
    }

    /// Where the game is, for people: `gamecast.friday on nats://127.0.0.1:4222`.
    pub fn place(&self) -> String {
        format!("{} on {}", self.subject, self.url)
    }

    /// The subject of the game.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Keeps the game's history in a JetStream stream (made if missing, [`stream_name`]), so
    /// that a late player can read it: the last [`HISTORY_AGE`], [`HISTORY_BYTES`] at most.
    pub async fn keep_history(&self) -> anyhow::Result<()> {
        let jetstream = async_nats::jetstream::new(self.client.clone());
        jetstream
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: stream_name(&self.game),
                subjects: vec![self.subject.to_string()],
                max_age: HISTORY_AGE,
                max_bytes: HISTORY_BYTES,
                storage: async_nats::jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .with_context(|| {
                format!(
                    "cannot keep the game's history on {} (is JetStream on? nats-server -js)",
                    self.url
                )
            })?;
        Ok(())
    }

    /// The game's history as its stream holds it, oldest first: every datagram and where it
    /// came from, the last [`MAX_HISTORY`] at most. `None` when no history is kept.
    pub async fn history(&self) -> anyhow::Result<Option<Vec<(Vec<u8>, SocketAddr)>>> {
        let jetstream = async_nats::jetstream::new(self.client.clone());
        let mut stream = match jetstream.get_stream(stream_name(&self.game)).await {
            Ok(stream) => stream,
            Err(e) if e.to_string().contains("not found") => return Ok(None),
            Err(e) => bail!("cannot read the game's history on {}: {e}", self.url),
        };
        let state = stream
            .info()
            .await
            .context("cannot read the game's history")?
            .state
            .clone();
        if state.messages == 0 {
            return Ok(Some(Vec::new()));
        }
        let first = state
            .first_sequence
            .max(state.last_sequence.saturating_sub(MAX_HISTORY as u64 - 1));
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
                deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: first,
                },
                ..Default::default()
            })
            .await
            .context("cannot read the game's history")?;
        let mut messages = consumer
            .messages()
            .await
            .context("cannot read the game's history")?;
        let mut history = Vec::new();
        let read = async {
            while let Some(message) = messages.next().await {
                let message = message.context("cannot read the game's history")?;
                let sequence = message.info().map_or(u64::MAX, |i| i.stream_sequence);
                if message.payload.len() <= MAX_MESSAGE {
                    history.push((
                        message.payload.to_vec(),
                        source_of(message.headers.as_ref()),
                    ));
                }
                if sequence >= state.last_sequence || history.len() >= MAX_HISTORY {
                    break;
                }
            }
            anyhow::Ok(())
        };
        tokio::time::timeout(HISTORY_TIMEOUT, read)
            .await
            .map_err(|_| {
                anyhow::anyhow!("the game's history did not come within {HISTORY_TIMEOUT:?}")
            })??;
        Ok(Some(history))
    }

    /// A member's link on the game's subject: subscribed (the server knows it when this
    /// returns, so that nothing sent after it is missed).
    pub async fn link(&self) -> anyhow::Result<NatsLink> {
        let mut subscriber = self
            .client
            .subscribe(self.subject.clone())
            .await
            .with_context(|| format!("cannot subscribe to {} on {}", self.subject, self.url))?;
        self.client
            .flush()
            .await
            .with_context(|| format!("the NATS server {} does not answer", self.url))?;
        let (queue, received) = mpsc::channel(QUEUE);
        let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = dropped.clone();
        let reader = tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                if message.payload.len() > MAX_MESSAGE {
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                let source = source_of(message.headers.as_ref());
                // A full queue is a full receive buffer: the datagram is lost, and repaired.
                if let Err(mpsc::error::TrySendError::Closed(_)) =
                    queue.try_send((message.payload, source))
                {
                    break;
                }
            }
        });
        let mut headers = HeaderMap::new();
        headers.insert(SOURCE_HEADER, self.source.to_string().as_str());
        Ok(NatsLink {
            client: self.client.clone(),
            subject: self.subject.clone(),
            headers,
            received: Mutex::new(received),
            news: tokio::sync::Mutex::new(self.news.subscribe()),
            _reader: Reader(reader),
            describe: format!("{} on {}", self.subject, self.url),
            dropped,
            unsent: Default::default(),
        })
    }
}

impl Network for Nats {
    type Link = NatsLink;

    async fn open(&self) -> anyhow::Result<NatsLink> {
        self.link().await
    }

    fn describe(&self) -> String {
        format!("subject {} on the NATS server {}", self.subject, self.url)
    }
}

/// Ends the subscription's reader with the link.
#[derive(Debug)]
struct Reader(tokio::task::JoinHandle<()>);

impl Drop for Reader {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One member's way onto a game's subject.
#[derive(Debug)]
pub struct NatsLink {
    client: async_nats::Client,
    subject: Subject,
    headers: HeaderMap,
    received: Mutex<mpsc::Receiver<(bytes::Bytes, SocketAddr)>>,
    news: tokio::sync::Mutex<broadcast::Receiver<String>>,
    /// Held for its drop: the reader ends with the link.
    _reader: Reader,
    describe: String,
    /// Messages too big to be a datagram.
    dropped: Arc<std::sync::atomic::AtomicU64>,
    /// Datagrams dropped while the server was away.
    unsent: std::sync::atomic::AtomicU64,
}

impl NatsLink {
    fn queue(&self) -> MutexGuard<'_, mpsc::Receiver<(bytes::Bytes, SocketAddr)>> {
        // Held only to take one message, never across an await: nothing can poison it.
        self.received
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends a datagram that came from `source` (a bridge's, carried over from a LAN).
    pub async fn send_from(&self, bytes: &[u8], source: SocketAddr) -> io::Result<()> {
        let mut headers = HeaderMap::new();
        headers.insert(SOURCE_HEADER, source.to_string().as_str());
        self.publish(headers, bytes).await
    }

    async fn publish(&self, headers: HeaderMap, bytes: &[u8]) -> io::Result<()> {
        let publish = self.client.publish_with_headers(
            self.subject.clone(),
            headers,
            bytes::Bytes::copy_from_slice(bytes),
        );
        match tokio::time::timeout(SEND_TIMEOUT, publish).await {
            Ok(published) => published.map_err(io::Error::other),
            // The server is away and the client's queue is full: lost, as a datagram into a
            // network that is down is lost (the news said "link lost"; repair does the rest).
            Err(_) => {
                self.unsent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Messages dropped for being too big to be a datagram.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Datagrams not sent because the server was away and the client's queue full.
    pub fn unsent(&self) -> u64 {
        self.unsent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Where a message says it came from, or [`UNKNOWN_SOURCE`].
fn source_of(headers: Option<&HeaderMap>) -> SocketAddr {
    headers
        .and_then(|h| h.get(SOURCE_HEADER))
        .and_then(|v| v.as_str().parse().ok())
        .unwrap_or(UNKNOWN_SOURCE)
}

/// Copies a message into the caller's buffer, as a socket cuts a datagram to its buffer.
fn deliver(buf: &mut [u8], (bytes, source): (bytes::Bytes, SocketAddr)) -> (usize, SocketAddr) {
    let len = bytes.len().min(buf.len());
    buf[..len].copy_from_slice(&bytes[..len]);
    (len, source)
}

impl Link for NatsLink {
    async fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.publish(self.headers.clone(), bytes).await
    }

    async fn flush(&self) -> io::Result<()> {
        // Bounded: a server that is away must not keep a leaving member from leaving.
        match tokio::time::timeout(FLUSH_TIMEOUT, self.client.flush()).await {
            Ok(flushed) => flushed.map_err(io::Error::other),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the NATS server did not confirm what was sent",
            )),
        }
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match std::future::poll_fn(|cx| self.queue().poll_recv(cx)).await {
            Some(message) => Ok(deliver(buf, message)),
            // The subscription ended (the client was closed): nothing more will come, and
            // the loops' silence checks say so; answering at once would make them spin.
            None => std::future::pending().await,
        }
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        match self.queue().try_recv() {
            Ok(message) => Ok(Some(deliver(buf, message))),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Ok(None),
        }
    }

    async fn news(&self) -> String {
        let mut news = self.news.lock().await;
        loop {
            match news.recv().await {
                Ok(said) => return said,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_names_are_subject_tokens() {
        assert_eq!(game_problem("dice-night_2"), None);
        assert_eq!(subject("dice"), "gamecast.dice");
        for bad in ["", "a.b", "a b", "*", ">", "dé", &"x".repeat(MAX_GAME + 1)] {
            assert!(game_problem(bad).is_some(), "{bad:?}");
        }
        assert!(game_problem("a.b").unwrap().contains("'.'"));
    }

    #[test]
    fn credentials_come_from_a_file_or_the_environment_and_urls_carry_none() {
        let token = Auth::from_text("# ours\ntoken = s3cr3t\n", "f").unwrap();
        assert!(matches!(token, Auth::Token(t) if t == "s3cr3t"));
        let user = Auth::from_text("user=ana\npassword=pw=x\n", "f").unwrap();
        assert!(
            matches!(user, Auth::User { user, password } if user == "ana" && password == "pw=x")
        );
        let creds = "-----BEGIN NATS USER JWT-----\neyJ0\n------END NATS USER JWT------\n";
        assert!(matches!(
            Auth::from_text(creds, "f").unwrap(),
            Auth::Creds(_)
        ));
        for (bad, said) in [
            ("s3cr3t\n", "f:1: expected name=value"),
            ("token=a\nuser=b\npassword=c\n", "not both"),
            ("user=ana\n", "needs a password"),
            ("password=s3cr3t\n", "needs a user"),
            ("pass=s3cr3t\n", "f:1: the name before '=' is not"),
            ("token: s3cr3t=x\n", "f:1: the name before '=' is not"),
            ("token=\n", "empty"),
        ] {
            let err = Auth::from_text(bad, "f").unwrap_err().to_string();
            assert!(err.contains(said), "{bad:?}: {err}");
            assert!(!err.contains("s3cr3t"), "{err}");
        }
        assert!(matches!(
            Auth::from_env(None, None, None).unwrap(),
            Auth::None
        ));
        assert_eq!(url_problem("nats://127.0.0.1:4222"), None);
        assert_eq!(url_problem("tls://nats.example:4222"), None);
        assert_eq!(url_problem("127.0.0.1:4222"), None);
        assert!(
            url_problem("nats://ana:pw@127.0.0.1")
                .unwrap()
                .contains("--nats-creds")
        );
        assert!(
            url_problem("nats://t0k3n@127.0.0.1")
                .unwrap()
                .contains("command line")
        );
        assert!(url_problem("http://127.0.0.1").unwrap().contains("http"));
        assert!(
            url_problem("ws://127.0.0.1")
                .unwrap()
                .contains("nats:// or tls://")
        );
        assert!(url_problem("nats://[::1").is_some());
    }

    #[test]
    fn secrets_are_never_printed() {
        let auth = Auth::User {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Token("t0k3n".into())).contains("t0k3n"));
    }
}
