//! The flags both binaries take (the group, the game key), and turning them into the library's
//! validated configs with errors that name the flag. The library itself never names a flag.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use gamecast::key::{self, GameKey};
use gamecast::link::nats::{self, Auth, NatsConfig};
use gamecast::transport::{
    self, DEFAULT_GROUP, DEFAULT_IFACE, DEFAULT_PORT, DEFAULT_TTL, Iface, NetConfig,
};

/// The network flags both binaries take.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// Multicast group: IPv4 (224.0.0.0/4), or IPv6 (ff00::/8; a transient one such as ff15::1
    /// for a game of your own, with --iface naming a LAN interface)
    #[arg(long, default_value_t = IpAddr::V4(DEFAULT_GROUP), env = "GAMECAST_GROUP")]
    pub group: IpAddr,
    /// UDP port of the group
    #[arg(long, default_value_t = DEFAULT_PORT, env = "GAMECAST_PORT")]
    pub port: u16,
    /// Interface to use: an interface name such as eth0, or one of its addresses (for an IPv6
    /// group also its index). The default keeps everything on this host (IPv4 only: IPv6
    /// multicast does not work on loopback)
    #[arg(long, default_value = DEFAULT_IFACE, env = "GAMECAST_IFACE")]
    pub iface: String,
    /// Multicast TTL: how many router hops datagrams may cross (1 = this network only)
    #[arg(long, default_value_t = DEFAULT_TTL, env = "GAMECAST_TTL")]
    pub ttl: u32,
}

impl NetArgs {
    /// Checks the flags and resolves the interface, with an error a user can act on.
    pub fn resolve(&self) -> anyhow::Result<NetConfig> {
        if !self.group.is_multicast() {
            bail!(
                "--group {} is not a multicast address (IPv4: 224.0.0.0 to 239.255.255.255; \
                 IPv6: ff00::/8, such as ff15::1)",
                self.group
            );
        }
        if self.port == 0 || self.port == u16::MAX {
            bail!(
                "--port {} is not a port a group can meet on: pick 1 to 65534 (the protocol \
                 takes the next port)",
                self.port
            );
        }
        if self.ttl > 255 {
            bail!(
                "--ttl {} is over 255, the largest TTL an IP header holds",
                self.ttl
            );
        }
        let iface = match self.group {
            IpAddr::V4(_) => Iface::V4(transport::resolve_iface(&self.iface).context("--iface")?),
            IpAddr::V6(_) => transport::resolve_iface_v6(&self.iface).with_context(|| {
                format!("--iface {} for the IPv6 group {}", self.iface, self.group)
            })?,
        };
        Ok(NetConfig {
            group: self.group,
            port: self.port,
            iface,
            ttl: self.ttl,
        })
    }
}

/// The flags that put a game on a NATS server instead of a multicast group.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// Play over the NATS server at URL (nats://HOST:PORT, or tls://HOST:PORT for TLS) instead
    /// of multicast: whoever reaches the server meets in the game (--group, --port, --iface and
    /// --ttl are then not used). Credentials never go here: see --nats-creds
    #[arg(long, value_name = "URL", env = "GAMECAST_NATS")]
    pub nats: Option<String>,
    /// The game's name on the NATS server: its datagrams travel on the subject gamecast.NAME
    #[arg(long, value_name = "NAME", default_value = nats::DEFAULT_GAME, env = "GAMECAST_GAME")]
    pub game: String,
    /// The NATS server's credentials, in a file readable by you alone: a NATS .creds file, or
    /// lines token=... or user=... and password=...; or put them in GAMECAST_NATS_TOKEN, or
    /// GAMECAST_NATS_USER and GAMECAST_NATS_PASSWORD
    #[arg(long, value_name = "PATH", env = "GAMECAST_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// A certificate authority (PEM) to trust for a tls:// server, besides the system's
    #[arg(long, value_name = "PATH")]
    pub nats_ca: Option<PathBuf>,
    /// Keep the game's history on the NATS server (announcer: in a JetStream stream, the last 6
    /// hours at most), or read it on joining (player: the game so far is shown first)
    #[arg(long, requires = "nats")]
    pub nats_history: bool,
}

impl NatsArgs {
    /// The NATS server to play on, or `None` for multicast.
    pub fn config(&self) -> anyhow::Result<Option<NatsConfig>> {
        let Some(url) = &self.nats else {
            return Ok(None);
        };
        if let Some(problem) = nats::url_problem(url) {
            // Not echoed: the URL may hold the very credentials it should not.
            bail!("--nats: {problem}");
        }
        if let Some(problem) = nats::game_problem(&self.game) {
            bail!("--game {}: {problem}", gamecast::text::visible(&self.game));
        }
        let from_env = |name: &str| std::env::var(name).ok();
        let env = (
            from_env(nats::TOKEN_ENV),
            from_env(nats::USER_ENV),
            from_env(nats::PASSWORD_ENV),
        );
        let auth = match &self.nats_creds {
            Some(path) => {
                if env != (None, None, None) {
                    bail!(
                        "both --nats-creds and the environment ({}, {}, {}) give NATS \
                         credentials; keep one",
                        nats::TOKEN_ENV,
                        nats::USER_ENV,
                        nats::PASSWORD_ENV
                    );
                }
                let bytes = key::read_secret_file(path, "credentials", nats::MAX_CREDS_FILE)
                    .context("--nats-creds")?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| anyhow::anyhow!("--nats-creds: the file is not text"))?;
                Auth::from_text(&text, &path.display().to_string()).context("--nats-creds")?
            }
            None => Auth::from_env(env.0, env.1, env.2)?,
        };
        Ok(Some(NatsConfig {
            url: url.clone(),
            game: self.game.clone(),
            auth,
            ca: self.nats_ca.clone(),
            echo: true,
        }))
    }
}

/// Where a game is: a multicast group, or a game on a NATS server.
#[derive(Debug)]
pub enum Place {
    /// The group (`--group`, `--port`, `--iface`, `--ttl`).
    Group(NetConfig),
    /// The NATS server and game (`--nats`, `--game`): the group's flags are not used.
    Nats(NatsConfig),
}

/// The place the flags name, checked.
pub fn place(net: &NetArgs, nats: &NatsArgs) -> anyhow::Result<Place> {
    Ok(match nats.config()? {
        Some(config) => Place::Nats(config),
        None => Place::Group(net.resolve()?),
    })
}

/// The key flags both binaries take.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyArgs {
    /// Sign every datagram with the game key in this file (readable by you alone), and accept
    /// only datagrams signed with it; or put the key in the environment variable GAMECAST_KEY.
    /// Every player needs the same key
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The key from `--key-file` or from `GAMECAST_KEY`, or `None` when neither is given.
    pub fn load(&self) -> anyhow::Result<Option<GameKey>> {
        let from_env = std::env::var_os(key::KEY_ENV);
        if self.key_file.is_some() && from_env.is_some() {
            bail!(
                "both --key-file and {} give a game key; unset {} or drop --key-file",
                key::KEY_ENV,
                key::KEY_ENV
            );
        }
        key::load(self.key_file.as_deref(), from_env).context("--key-file")
    }
}

/// Completes when the host asks the process to stop: Ctrl-C (SIGINT), `kill` (SIGTERM), or
/// the terminal closing (SIGHUP). Each is handled as Ctrl-C is: the game is closed properly.
pub async fn stop_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hangup = signal(SignalKind::hangup()).ok();
    let wait = |s: &mut Option<tokio::signal::unix::Signal>| {
        let s = s.take();
        async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                // Without a handler the default action (ending the process) stays in place.
                None => std::future::pending().await,
            }
        }
    };
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if result.is_err() {
                std::future::pending::<()>().await;
            }
        }
        () = wait(&mut term) => {}
        () = wait(&mut hangup) => {}
    }
}

/// Makes a panic end the whole process at once with its message, instead of unwinding one
/// thread while others (a reader blocked on stdin) keep the process alive.
pub fn exit_on_panic(program: &'static str) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!(
            "{program}: error: an internal error stopped the program (a bug: please report it)"
        );
        std::process::exit(101);
    }));
}

/// Whether the terminal can show the full-screen view: not `TERM=dumb`, and big enough.
pub fn full_screen_fits() -> bool {
    if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        return false;
    }
    crossterm::terminal::size().is_ok_and(|(w, h)| {
        w >= gamecast::view::screen::MIN_SIZE.0 && h >= gamecast::view::screen::MIN_SIZE.1
    })
}

/// Whether the locale says UTF-8 (the first of LC_ALL, LC_CTYPE and LANG that is set, as the C
/// library reads them): without it, emoji and box drawing may show as garbage.
pub fn utf8_locale() -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .is_some_and(|locale| {
            let locale = locale.to_ascii_lowercase();
            locale.contains("utf-8") || locale.contains("utf8")
        })
}
