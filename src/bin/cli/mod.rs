//! The flags both binaries take (the group, the game key), and turning them into the library's
//! validated configs with errors that name the flag. The library itself never names a flag.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use gamecast::key::{self, GameKey};
use gamecast::transport::{
    self, DEFAULT_GROUP, DEFAULT_IFACE, DEFAULT_PORT, DEFAULT_TTL, NetConfig,
};

/// The network flags both binaries take.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// Multicast group (an IPv4 address in 224.0.0.0/4)
    #[arg(long, default_value_t = DEFAULT_GROUP, env = "GAMECAST_GROUP")]
    pub group: Ipv4Addr,
    /// UDP port of the group
    #[arg(long, default_value_t = DEFAULT_PORT, env = "GAMECAST_PORT")]
    pub port: u16,
    /// Interface to use: an IPv4 address or an interface name such as eth0. The default keeps
    /// everything on this host.
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
                "--group {} is not a multicast address (those are 224.0.0.0 to 239.255.255.255)",
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
        let iface = transport::resolve_iface(&self.iface).context("--iface")?;
        Ok(NetConfig {
            group: self.group,
            port: self.port,
            iface,
            ttl: self.ttl,
        })
    }
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
