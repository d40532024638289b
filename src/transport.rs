//! The multicast sockets: which group, port and interface, and the socket options that make a
//! group work. The only module that touches socket2; it moves bytes and knows nothing of their meaning.
//!
//! What a student should notice, step by step as in the lab's listings:
//! 1. a UDP socket with SO_REUSEADDR and SO_REUSEPORT, so that every player on one host can bind
//!    the same port (each gets its own copy of every multicast datagram);
//! 2. bound to the group's address and port: the kernel then hands us only this group's datagrams;
//! 3. IP_ADD_MEMBERSHIP with the interface's address: join the group on that interface;
//! 4. IP_MULTICAST_IF, IP_MULTICAST_TTL and IP_MULTICAST_LOOP for what we send: out of that
//!    interface, hopping no further than the TTL allows, and looped back to the other
//!    processes of this host (including our own socket, which the upper layers skip).
//!
//! A game has two ports on its group. `--port` (the lab's 5007) is the **text channel**: only
//! lines a person reads (`alice: hola`, `announcer: Round 3: type roll`), so that the lab's
//! own Python chat meets a game and sees nothing else. The protocol's JSON datagrams travel on
//! the next port (5008). A port, not a group, keeps them apart: the lab's socket binds
//! `('', 5007)`, and Linux hands such a socket every group's datagrams to port 5007 that any
//! process of the host joined (IP_MULTICAST_ALL is on by default).
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};

use anyhow::{Context, bail};
use socket2::{Domain, Protocol, Socket, Type};

use crate::link::{Link, Network};

/// The lab's group.
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 1, 1, 1);
/// The lab's port: the game's text channel; the protocol is on the next one.
pub const DEFAULT_PORT: u16 = 5007;
/// Loopback, so that nothing leaves the host unless a user asks for a LAN interface.
pub const DEFAULT_IFACE: &str = "127.0.0.1";
/// One hop: the local network, never beyond a router.
pub const DEFAULT_TTL: u32 = 1;
/// The receive buffer we ask for. The kernel's default holds only ~160 small datagrams,
/// which a burst of announcements to a slow reader overflows.
pub const RECV_BUFFER: usize = 4 << 20;
/// What we require the kernel to grant at least (it caps requests at net.core.rmem_max).
pub const MIN_RECV_BUFFER: usize = 1 << 20;

/// The local interface a group is joined on and sent from. IPv4 multicast names an interface
/// by one of its addresses; IPv6 multicast by its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iface {
    /// An IPv4 interface, by its address.
    V4(Ipv4Addr),
    /// An IPv6 interface, by its index (`ip link` shows it first).
    V6(u32),
}

impl std::fmt::Display for Iface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Iface::V4(address) => write!(f, "{address}"),
            Iface::V6(index) => match interface_name(*index) {
                Some(name) => write!(f, "{name}"),
                None => write!(f, "interface {index}"),
            },
        }
    }
}

/// The name of the interface with `index`, if there is one.
fn interface_name(index: u32) -> Option<String> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .find(|i| i.index == Some(index))
        .map(|i| i.name)
}

/// A validated place on the network: the group, its port and the local interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetConfig {
    /// The multicast group: IPv4 (224.0.0.0/4) or IPv6 (ff00::/8).
    pub group: IpAddr,
    /// The group's UDP port: its text channel ([`NetConfig::protocol_port`] is the protocol's).
    pub port: u16,
    /// The interface we join on and send from, of the group's family.
    pub iface: Iface,
    /// The multicast TTL (IPv4), or hop limit (IPv6).
    pub ttl: u32,
}

impl Default for NetConfig {
    /// The lab's group and port, on loopback, one hop.
    fn default() -> NetConfig {
        NetConfig {
            group: IpAddr::V4(DEFAULT_GROUP),
            port: DEFAULT_PORT,
            iface: Iface::V4(Ipv4Addr::LOCALHOST),
            ttl: DEFAULT_TTL,
        }
    }
}

impl NetConfig {
    /// The group on one of its ports, as a destination (an IPv6 one scoped to our interface).
    pub fn at(&self, port: u16) -> SocketAddr {
        match (self.group, self.iface) {
            (IpAddr::V6(group), Iface::V6(index)) => {
                SocketAddr::V6(SocketAddrV6::new(group, port, 0, index))
            }
            (group, _) => SocketAddr::new(group, port),
        }
    }

    /// Where the game is, for people: `224.1.1.1:5007 on 127.0.0.1`, `[ff15::1]:5007 on veth0`.
    pub fn place(&self) -> String {
        format!(
            "{} on {}",
            SocketAddr::new(self.group, self.port),
            self.iface
        )
    }

    /// The port the protocol's datagrams travel on: the one after the text channel's.
    pub fn protocol_port(&self) -> u16 {
        // The command line refuses 65535 for --port; a config made by hand wraps to 0, which
        // binding then refuses with a clear error.
        self.port.wrapping_add(1)
    }
}

impl NetConfig {
    /// The port bridges put what they carry from NATS onto the LAN from, and beacon on: the
    /// one after the protocol's (see [`crate::bridge`]).
    pub fn bridge_port(&self) -> u16 {
        self.port.wrapping_add(2)
    }
}

impl Network for NetConfig {
    type Link = Transport;

    async fn open(&self) -> anyhow::Result<Transport> {
        Transport::open(self)
    }

    fn lab_hint(&self) -> Option<String> {
        lab_hint(self)
    }

    fn describe(&self) -> String {
        format!(
            "{} via {} (ttl {}; the protocol on port {})",
            SocketAddr::new(self.group, self.port),
            self.iface,
            self.ttl,
            self.protocol_port()
        )
    }
}

/// Why IPv6 multicast cannot use a loopback interface: Linux does not deliver it there.
pub const LOOPBACK_V6: &str = "IPv6 multicast does not work on the loopback interface on Linux \
     (sending fails with \"network unreachable\", or succeeds while nothing arrives): give --iface \
     an interface with an IPv6 link (a LAN's, or a veth pair's), or play on loopback with an IPv4 \
     group such as 224.1.1.1";

/// Turns an interface (a name, an index, or one of its addresses) into the interface an IPv6
/// group is joined on; a loopback one is refused with [`LOOPBACK_V6`].
pub fn resolve_iface_v6(iface: &str) -> anyhow::Result<Iface> {
    // Every interface, with or without an address (one with only a link-local IPv6 address is
    // what IPv6 multicast needs, and address listings may leave it out).
    let interfaces: Vec<(String, u32)> = nix::net::if_::if_nameindex()
        .context("cannot list this host's interfaces")?
        .iter()
        .map(|i| (i.name().to_string_lossy().into_owned(), i.index()))
        .collect();
    let name = if let Ok(index) = iface.parse::<u32>() {
        interfaces
            .iter()
            .find(|(_, i)| *i == index)
            .map(|(n, _)| n.clone())
    } else if let Ok(address) = iface.parse::<IpAddr>() {
        if_addrs::get_if_addrs()
            .context("cannot list this host's addresses")?
            .into_iter()
            .find(|i| i.ip() == address)
            .map(|i| i.name)
    } else {
        interfaces
            .iter()
            .find(|(n, _)| n == iface)
            .map(|(n, _)| n.clone())
    };
    let Some(&(ref name, index)) =
        name.and_then(|name| interfaces.iter().find(|(n, _)| *n == name))
    else {
        bail!(
            "{iface:?} is no interface of this host, by name, index or address (interfaces: {})",
            list(interfaces.into_iter().map(|(n, _)| n))
        );
    };
    let loopback = nix::ifaddrs::getifaddrs()
        .context("cannot list this host's interfaces")?
        .any(|i| {
            i.interface_name == *name
                && i.flags
                    .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK)
        });
    if loopback {
        bail!("{name} is loopback: {LOOPBACK_V6}");
    }
    Ok(Iface::V6(index))
}

/// Turns an interface (an IPv4 address or an interface name) into the address of a local one.
pub fn resolve_iface(iface: &str) -> anyhow::Result<Ipv4Addr> {
    let interfaces = if_addrs::get_if_addrs().context("cannot list this host's interfaces")?;
    let ipv4 = |i: &if_addrs::Interface| match i.ip() {
        std::net::IpAddr::V4(a) => Some(a),
        std::net::IpAddr::V6(_) => None,
    };
    if let Ok(address) = iface.parse::<Ipv4Addr>() {
        if interfaces.iter().any(|i| ipv4(i) == Some(address)) {
            return Ok(address);
        }
        bail!(
            "{address}: no interface of this host has that address (it has {})",
            list(interfaces.iter().filter_map(ipv4).map(|a| a.to_string()))
        );
    }
    if let Some(address) = interfaces.iter().filter(|i| i.name == iface).find_map(ipv4) {
        return Ok(address);
    }
    bail!(
        "{iface:?} is neither an IPv4 address nor an interface with one (interfaces: {})",
        list(
            interfaces
                .iter()
                .filter(|i| ipv4(i).is_some())
                .map(|i| i.name.clone())
        )
    )
}

/// This host's interfaces other than loopback, with their IPv4 addresses ("eth0 10.0.0.5"): what
/// `--iface` can name to play on a LAN.
pub fn lan_interfaces() -> Vec<String> {
    let Ok(interfaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut found: Vec<String> = interfaces
        .iter()
        .filter(|i| !i.is_loopback())
        .filter_map(|i| match i.ip() {
            std::net::IpAddr::V4(address) => Some(format!("{} {address}", i.name)),
            std::net::IpAddr::V6(_) => None,
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

fn list(items: impl Iterator<Item = String>) -> String {
    let mut items: Vec<String> = items.collect();
    items.sort();
    items.dedup();
    items.join(", ")
}

/// The sockets of one member of the group: the protocol's, which sends to the group and
/// receives what the group says, and the text channel's, which only listens (lines to the text
/// channel leave by the protocol's socket: see [`Link::send_text`]).
#[derive(Debug)]
pub struct Transport {
    socket: tokio::net::UdpSocket,
    /// The same socket, for reads that must reach the kernel: after a stall, tokio's cached
    /// readiness can say "nothing to read" while datagrams are queued.
    direct: std::net::UdpSocket,
    text: tokio::net::UdpSocket,
    group: SocketAddr,
    text_group: SocketAddr,
    recv_buffer: usize,
}

/// A socket that is a member of the group of `net` on its interface, bound to the group's
/// address and `port`.
fn member_socket(net: &NetConfig, port: u16) -> anyhow::Result<Socket> {
    let domain = match net.group {
        IpAddr::V4(_) => Domain::IPV4,
        IpAddr::V6(_) => Domain::IPV6,
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
        .context("cannot create a UDP socket")?;
    if domain == Domain::IPV6 {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    // Ask for a large receive buffer; the kernel silently caps it at net.core.rmem_max, so read
    // back what we got: callers warn when it is under MIN_RECV_BUFFER rather than refuse to run.
    socket.set_recv_buffer_size(RECV_BUFFER)?;
    // Binding the group address (not 0.0.0.0) and turning IP_MULTICAST_ALL off both keep
    // out datagrams of other groups that some other program joined on the same port.
    // An IPv6 group of link scope (ff02::…) is bound on its interface: the scope id says which.
    let bound = net.at(port);
    socket
        .bind(&bound.into())
        .with_context(|| format!("cannot bind {bound}"))?;
    let joined = match (net.group, net.iface) {
        (IpAddr::V4(group), Iface::V4(iface)) => {
            #[cfg(target_os = "linux")]
            socket.set_multicast_all_v4(false)?;
            socket.join_multicast_v4(&group, &iface)
        }
        (IpAddr::V6(group), Iface::V6(index)) => {
            #[cfg(target_os = "linux")]
            socket.set_multicast_all_v6(false)?;
            socket.join_multicast_v6(&group, index)
        }
        _ => bail!(
            "the group {} and the interface {} are of two families",
            net.group,
            net.iface
        ),
    };
    joined
        .with_context(|| format!("cannot join group {} on interface {}", net.group, net.iface))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Sets up `socket` for sending to the group of `net`: out of its interface, no further than
/// its TTL (hop limit), and looped back to this host's other members.
fn sender(socket: &Socket, net: &NetConfig) -> anyhow::Result<()> {
    match net.iface {
        Iface::V4(iface) => {
            socket
                .set_multicast_if_v4(&iface)
                .with_context(|| format!("cannot send multicast from interface {iface}"))?;
            socket.set_multicast_ttl_v4(net.ttl)?;
            socket.set_multicast_loop_v4(true)?;
        }
        Iface::V6(index) => {
            socket
                .set_multicast_if_v6(index)
                .with_context(|| format!("cannot send multicast from interface {}", net.iface))?;
            socket.set_multicast_hops_v6(net.ttl)?;
            socket.set_multicast_loop_v6(true)?;
        }
    }
    Ok(())
}

impl Transport {
    /// Opens the sockets, joins the group on the interface and sets everything up for sending.
    /// Must be called inside a tokio runtime.
    pub fn open(net: &NetConfig) -> anyhow::Result<Transport> {
        let protocol_port = net.protocol_port();
        if protocol_port == 0 {
            bail!(
                "--port {}: the protocol takes the next port, and there is none",
                net.port
            );
        }
        let group = net.at(protocol_port);
        let text_group = net.at(net.port);
        let socket = member_socket(net, protocol_port)?;
        let recv_buffer = socket.recv_buffer_size()?;
        sender(&socket, net)?;
        let direct: std::net::UdpSocket = socket
            .try_clone()
            .context("cannot duplicate the socket")?
            .into();
        let socket = tokio::net::UdpSocket::from_std(socket.into())
            .context("cannot hand the socket to tokio")?;
        let text = member_socket(net, net.port)?;
        let text = tokio::net::UdpSocket::from_std(text.into())
            .context("cannot hand the socket to tokio")?;
        Ok(Transport {
            socket,
            direct,
            text,
            group,
            text_group,
            recv_buffer,
        })
    }

    /// A warning for the console when the kernel granted a receive buffer too small for bursts.
    fn buffer_warning(&self) -> Option<String> {
        (self.recv_buffer < MIN_RECV_BUFFER).then(|| {
            format!(
                "the kernel granted a {} KiB receive buffer, under the {} KiB gamecast wants; bursts \
                 may be lost (raise it with: sysctl -w net.core.rmem_max={RECV_BUFFER})",
                self.recv_buffer >> 10,
                MIN_RECV_BUFFER >> 10
            )
        })
    }

    /// The group and port the protocol's datagrams go to.
    pub fn group(&self) -> SocketAddr {
        self.group
    }
}

impl Link for Transport {
    async fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.socket.send_to(bytes, self.group).await.map(|_| ())
    }

    async fn recv(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await
    }

    fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<Option<(usize, SocketAddr)>> {
        // The duplicate is non-blocking: a system call that answers at once.
        match self.direct.recv_from(buf) {
            Ok(received) => Ok(Some(received)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Tell tokio too: the readiness it keeps from the datagram that woke us would
                // cost the next `recv` a system call that finds nothing. (It clears only the
                // readiness it had seen: a datagram that came since still wakes `recv`.)
                let _ = self.socket.try_io(tokio::io::Interest::READABLE, || {
                    Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn send_text(&self, bytes: &[u8]) -> std::io::Result<()> {
        // From the protocol's socket: the text channel's readers tell a member's lines (from
        // the protocol's port) from those of the lab's scripts (from the text port, or any
        // other), without waiting to hear the member's protocol first.
        self.socket
            .send_to(bytes, self.text_group)
            .await
            .map(|_| ())
    }

    async fn recv_text(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        loop {
            let (len, source) = self.text.recv_from(buf).await?;
            // A member's line (sent from the protocol's port, see `send_text`) came as
            // protocol too, numbered and repaired: only the lab's scripts' lines are news.
            if source.port() != self.group.port() {
                return Ok((len, source));
            }
        }
    }

    fn describe(&self) -> String {
        self.group.to_string()
    }

    fn warning(&self) -> Option<String> {
        self.buffer_warning()
    }
}

/// A bridge's sockets on its LAN: the protocol's, where it hears the game (as a member does),
/// and the bridge port's, which it sends from (what it carries, and its beacons) and where it
/// hears other bridges' beacons.
#[derive(Debug)]
pub struct BridgeSockets {
    /// Bound to the group and the protocol's port: what the LAN says.
    pub protocol: tokio::net::UdpSocket,
    /// Bound to the group and the bridge port: what bridges say, and how this one speaks.
    pub relay: tokio::net::UdpSocket,
    /// Where the protocol's datagrams go.
    pub protocol_group: SocketAddr,
    /// Where beacons go.
    pub bridge_group: SocketAddr,
}

impl BridgeSockets {
    /// Opens both sockets and joins the group with each. Must be called inside a tokio runtime.
    pub fn open(net: &NetConfig) -> anyhow::Result<BridgeSockets> {
        let (protocol_port, bridge_port) = (net.protocol_port(), net.bridge_port());
        if protocol_port == 0 || bridge_port < 2 {
            bail!(
                "--port {}: a bridge takes the next two ports, and there are none",
                net.port
            );
        }
        let protocol = member_socket(net, protocol_port)?;
        let relay = member_socket(net, bridge_port)?;
        // Members on this host hear what the bridge carries (loop on); the bridge skips its own
        // copy by its source port, as it skips every bridge's.
        sender(&relay, net)?;
        let into_tokio = |socket: Socket| {
            tokio::net::UdpSocket::from_std(socket.into())
                .context("cannot hand the socket to tokio")
        };
        Ok(BridgeSockets {
            protocol: into_tokio(protocol)?,
            relay: into_tokio(relay)?,
            protocol_group: net.at(protocol_port),
            bridge_group: net.at(bridge_port),
        })
    }
}

/// The interface the kernel sends `group` out of when a program does not say (no
/// IP_MULTICAST_IF, as in the lab's listings): the most specific route of /proc/net/route
/// that holds it. `None` where there is no such route, or no such file.
pub fn default_route_for(group: Ipv4Addr) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    route_in(&table, group)
}

/// [`default_route_for`] over the text of a route table.
fn route_in(table: &str, group: Ipv4Addr) -> Option<String> {
    let address = u32::from(group);
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (name, destination, mask) = (fields.first()?, fields.get(1)?, fields.get(7)?);
            // The kernel prints each address's bytes (network order) as one number in the
            // host's byte order: its native bytes are the address's.
            let parse = |hex: &str| {
                u32::from_str_radix(hex, 16)
                    .ok()
                    .map(|n| u32::from_be_bytes(n.to_ne_bytes()))
            };
            let (destination, mask) = (parse(destination)?, parse(mask)?);
            (address & mask == destination & mask).then(|| (mask.count_ones(), name.to_string()))
        })
        .max_by_key(|(bits, _)| *bits)
        .map(|(_, name)| name)
}

/// What to tell a host whose game is on loopback while the lab's listings, as written, send
/// the group by another interface (the default route's): they would never meet. `None` when
/// they meet, or the game is not on loopback.
pub fn lab_hint(net: &NetConfig) -> Option<String> {
    // The lab's listings are IPv4 only.
    let (IpAddr::V4(group), Iface::V4(iface)) = (net.group, net.iface) else {
        return None;
    };
    if !iface.is_loopback() {
        return None;
    }
    let how = "examples/lab/chat.py sets IP_MULTICAST_IF and joins on 127.0.0.1, and meets it";
    match default_route_for(group) {
        Some(name) if name == "lo" => None,
        Some(name) => Some(format!(
            "the lab's Python listings as written send to {} by {name} (the default route) and \
             do not reach this game on loopback; {how}",
            group
        )),
        None => Some(format!(
            "this machine has no route for {}: the lab's Python listings as written cannot send \
             to it; {how}",
            group
        )),
    }
}

/// A receive buffer big enough for any UDP datagram, so that nothing is silently cut.
pub fn recv_buffer() -> Vec<u8> {
    vec![0; 65536]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_interfaces_get_clear_errors() {
        let err = resolve_iface("nosuch0").unwrap_err().to_string();
        assert!(err.contains("\"nosuch0\""), "{err}");
        assert!(err.contains("lo"), "{err}");
        let err = resolve_iface("192.0.2.77").unwrap_err().to_string();
        assert!(err.contains("no interface of this host"), "{err}");
    }

    #[test]
    fn the_route_a_group_takes_is_the_most_specific() {
        let table = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                     eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let group = Ipv4Addr::new(224, 1, 1, 1);
        assert_eq!(route_in(table, group).as_deref(), Some("eth0"));
        let with_lo = format!("{table}lo\t000000E0\t00000000\t0001\t0\t0\t0\t000000F0\t0\t0\t0\n");
        assert_eq!(route_in(&with_lo, group).as_deref(), Some("lo"));
        assert_eq!(route_in("Iface\n", group), None);
        assert_eq!(route_in("Iface\nbroken line\n", group), None);
    }

    #[test]
    fn loopback_by_name_and_address() {
        assert_eq!(resolve_iface("lo").unwrap(), Ipv4Addr::LOCALHOST);
        assert_eq!(resolve_iface("127.0.0.1").unwrap(), Ipv4Addr::LOCALHOST);
    }
}
