//! A LAN of network namespaces for tests and benchmarks: hosts on one bridge, each with an
//! address of its own, and packet loss on demand by nftables. Starting the binaries in a host is
//! left to `Process::spawn_in` and the `*_in` helpers in common/mod.rs.
//!
//! Everything here needs root, `ip` (iproute2) and `nft` (nftables); `Lan::build` says why it
//! skips when one is missing. Names and addresses are random per LAN, so tests that each build
//! one run in parallel. No traffic ever leaves these namespaces: the host side of every veth is
//! created directly inside its host, and the bridge lives in a namespace of its own.

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sched::{CloneFlags, setns};
use serde_json::Value;

use super::is_root;

/// Every namespace of ours starts with this, then the id of the process that made it and a
/// dash: a run killed before its `Drop` ran leaves namespaces the next LAN recognises as stale.
const PREFIX: &str = "gcl-";

/// One host on the LAN.
struct Host {
    netns: String,
    /// The host's end of its veth pair (the other end is a port of the bridge).
    veth: String,
    addr: Ipv4Addr,
}

/// Hosts joined by veth pairs to one bridge (`br0`, multicast snooping off, so the bridge floods
/// every group to every port like a plain switch). Host i has the address 10.M.N.(i+1)/24.
///
/// Dropping the LAN kills whatever still runs in its hosts, then deletes its namespaces (which
/// removes the veths and the bridge). Declare the LAN before the processes that run in it:
/// locals drop in reverse order, so the processes are stopped by their own `Drop` first.
pub struct Lan {
    bridge: String,
    hosts: Vec<Host>,
}

impl Lan {
    /// Builds a LAN of `hosts` hosts, or prints why it cannot and returns None.
    pub fn build(hosts: usize) -> Option<Lan> {
        assert!((1..=254).contains(&hosts), "a /24 holds 1 to 254 hosts");
        if let Some(why) = missing() {
            super::skip(&why);
            return None;
        }
        remove_stale();
        let id = format!("{}-{:04x}", std::process::id(), fastrand::u16(..));
        // Interface names are at most 15 bytes: a short random tag, not the namespace's name.
        let tag = format!("{:06x}", fastrand::u32(..0x100_0000));
        let net = (fastrand::u8(1..255), fastrand::u8(..));
        let lan = Lan {
            bridge: format!("{PREFIX}{id}-br"),
            hosts: (0..hosts)
                .map(|i| Host {
                    netns: format!("{PREFIX}{id}-h{i}"),
                    veth: format!("v{tag}-{i}"),
                    addr: Ipv4Addr::new(10, net.0, net.1, i as u8 + 1),
                })
                .collect(),
        };
        // From here on a failing step panics and `lan`'s Drop removes what was made.
        let br = lan.bridge.as_str();
        ip(&["netns", "add", br]);
        ip(&["-n", br, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            br,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", br, "link", "set", "br0", "up"]);
        for (i, host) in lan.hosts.iter().enumerate() {
            let ns = host.netns.as_str();
            let port = format!("b{tag}-{i}");
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            // IPv6: the link-local address at once, not after ~2 s of duplicate detection (no
            // IPv6 multicast is sent before an interface has an address). Before the veth is
            // made, which takes the namespace's default.
            run_with_input(
                &["ip", "netns", "exec", ns],
                "sh",
                &["-c", "echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad"],
                "",
            );
            // Both ends are born in their namespaces: nothing is ever created beside the
            // machine's real interfaces.
            ip(&[
                "-n", ns, "link", "add", &host.veth, "mtu", "1500", "type", "veth", "peer", "name",
                &port, "netns", br,
            ]);
            ip(&["-n", br, "link", "set", &port, "master", "br0"]);
            ip(&["-n", br, "link", "set", &port, "up"]);
            let cidr = format!("{}/24", host.addr);
            ip(&["-n", ns, "addr", "add", &cidr, "dev", &host.veth]);
            ip(&["-n", ns, "link", "set", &host.veth, "up"]);
            // No multicast route: a socket that sets IP_MULTICAST_IF to the host's address is
            // routed by that address alone, as the kernel does for multicast. A sender that
            // forgets IP_MULTICAST_IF gets "Network is unreachable" here instead of picking some
            // interface by chance, which is the bug these tests should catch.
        }
        Some(lan)
    }

    /// Gives host `i` a second interface, on `other`'s bridge, with the address `other`'s
    /// host number `slot` would have (above `other`'s own hosts), and returns that address.
    /// Host `i` is then on both LANs, as a router or a bridge's machine is; the veth goes with
    /// host `i`'s namespace.
    pub fn attach(&self, i: usize, other: &Lan, slot: u8) -> Ipv4Addr {
        assert!(
            usize::from(slot) > other.hosts.len() && slot < 255,
            "slot {slot} is a host of the other LAN"
        );
        let [a, b, c, _] = other.hosts[0].addr.octets();
        let addr = Ipv4Addr::new(a, b, c, slot);
        let tag = format!("{:06x}", fastrand::u32(..0x100_0000));
        let (inside, outside) = (format!("a{tag}-{slot}"), format!("o{tag}-{slot}"));
        let ns = self.netns(i);
        ip(&[
            "-n",
            ns,
            "link",
            "add",
            &inside,
            "mtu",
            "1500",
            "type",
            "veth",
            "peer",
            "name",
            &outside,
            "netns",
            &other.bridge,
        ]);
        ip(&[
            "-n",
            &other.bridge,
            "link",
            "set",
            &outside,
            "master",
            "br0",
        ]);
        ip(&["-n", &other.bridge, "link", "set", &outside, "up"]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            &inside,
        ]);
        ip(&["-n", ns, "link", "set", &inside, "up"]);
        addr
    }

    /// The address of host `i`.
    pub fn host_addr(&self, i: usize) -> Ipv4Addr {
        self.hosts[i].addr
    }

    /// The network namespace of host `i`.
    pub fn netns(&self, i: usize) -> &str {
        &self.hosts[i].netns
    }

    /// The name of host `i`'s interface on the LAN.
    pub fn veth(&self, i: usize) -> &str {
        &self.hosts[i].veth
    }

    /// The command prefix that runs a program in host `i`: `ip netns exec NETNS`.
    pub fn prefix(&self, i: usize) -> [&str; 4] {
        ["ip", "netns", "exec", self.netns(i)]
    }

    /// Runs `f` on a thread of its own inside host `i`'s namespace and returns what it returns.
    /// Sockets made there stay in that namespace wherever they are used later, so the test
    /// process can send and receive as any host without starting a program there.
    pub fn in_host<T: Send>(&self, i: usize, f: impl FnOnce() -> T + Send) -> T {
        let path = Path::new("/run/netns").join(self.netns(i));
        let netns = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    // setns moves only the calling thread, and this thread ends with `f`.
                    setns(&netns, CloneFlags::CLONE_NEWNET).expect("setns into a host");
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Drops `percent` of the UDP datagrams host `i` receives, at random (nftables'
    /// `numgen random`, on the input hook: after the wire, before any socket). A new call
    /// replaces the last one; 0 removes the loss.
    pub fn loss(&self, i: usize, percent: u32) {
        assert!(percent <= 100, "a loss of {percent}%");
        // One nft script is one transaction: the old rule and the new one are never both in.
        let mut script = String::from(
            "add table inet loss\n\
             add chain inet loss in { type filter hook input priority 0; policy accept; }\n\
             flush chain inet loss in\n",
        );
        // numgen's values are 0 to 99: nft refuses `< 100`, so all-out loss needs no numgen.
        let rule = match percent {
            0 => None,
            100 => Some("meta l4proto udp counter drop".to_string()),
            _ => Some(format!(
                "meta l4proto udp numgen random mod 100 < {percent} counter drop"
            )),
        };
        if let Some(rule) = rule {
            script.push_str(&format!("add rule inet loss in {rule}\n"));
        }
        run_with_input(&self.prefix(i), "nft", &["-f", "-"], &script);
    }

    /// Datagrams host `i`'s loss rule has dropped since the last `loss` call (0 without one).
    pub fn dropped_by_loss(&self, i: usize) -> u64 {
        let output = Command::new("ip")
            .args(["netns", "exec", self.netns(i)])
            .args(["nft", "-j", "list", "chain", "inet", "loss", "in"])
            .stderr(Stdio::null())
            .output()
            .expect("nft runs");
        if !output.status.success() {
            return 0; // no loss was ever set on this host
        }
        let listing: Value = serde_json::from_slice(&output.stdout).expect("nft -j prints JSON");
        let items = listing["nftables"].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .filter_map(|item| item["rule"]["expr"].as_array())
            .flatten()
            .filter_map(|expr| expr["counter"]["packets"].as_u64())
            .sum()
    }

    /// Packets host `i`'s interface has sent (the kernel's tx_packets).
    pub fn tx_packets(&self, i: usize) -> u64 {
        self.statistic(i, "tx_packets")
    }

    /// Packets host `i`'s interface has received (rx_packets), loss rule or not: nftables drops
    /// after the interface counted them.
    pub fn rx_packets(&self, i: usize) -> u64 {
        self.statistic(i, "rx_packets")
    }

    /// One of host `i`'s interface statistics, as /sys/class/net/IFACE/statistics/NAME has it.
    pub fn statistic(&self, i: usize, name: &str) -> u64 {
        // /sys shows the namespace of whoever mounted it; `ip netns exec` mounts the host's.
        let file = format!("/sys/class/net/{}/statistics/{name}", self.veth(i));
        let output = Command::new("ip")
            .args(["netns", "exec", self.netns(i), "cat", &file])
            .output()
            .expect("ip netns exec cat runs");
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{file} in {}: {text:?}", self.netns(i)))
    }

    /// The ids of the processes running in host `i`.
    pub fn pids(&self, i: usize) -> Vec<u32> {
        pids(self.netns(i))
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // A process left in a host would keep its namespace, and so its veth, alive after the
        // namespace's name is gone. Only our own programs can be in these namespaces.
        for host in &self.hosts {
            let pids: Vec<String> = pids(&host.netns).iter().map(u32::to_string).collect();
            if !pids.is_empty() {
                let _ = Command::new("kill").arg("-9").args(&pids).status();
            }
        }
        for ns in self.hosts.iter().map(|h| &h.netns).chain([&self.bridge]) {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Why a LAN cannot be built here, if it cannot.
fn missing() -> Option<String> {
    if !is_root() {
        return Some("a namespace LAN needs root".into());
    }
    for (tool, package) in [("ip", "iproute2"), ("nft", "nftables")] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!(
                "a namespace LAN needs `{tool}` (apt-get install {package})"
            ));
        }
    }
    None
}

/// Deletes the namespaces of LANs whose process died without dropping them (a test run
/// killed by a timeout): they hold nothing anyone can use and would pile up.
fn remove_stale() {
    let Ok(output) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        // The name goes on with the creator's pid.
        let pid = rest.split('-').next().unwrap_or("");
        // A pid that is alive may be our creator, or a reuse of its number: leave those.
        let is_pid = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
        if is_pid && !Path::new("/proc").join(pid).exists() {
            let _ = Command::new("ip")
                .args(["netns", "del", name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn pids(netns: &str) -> Vec<u32> {
    let output = Command::new("ip")
        .args(["netns", "pids", netns])
        .stderr(Stdio::null())
        .output();
    let Ok(output) = output else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// Runs `ip ARGS`, panicking with its stderr if it fails.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// Runs `PREFIX PROGRAM ARGS` with `input` on stdin, panicking with its stderr if it fails.
fn run_with_input(prefix: &[&str], program: &str, args: &[&str], input: &str) {
    use std::io::Write as _;
    let mut child = Command::new(prefix[0])
        .args(&prefix[1..])
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{program} {}: {}\n{input}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}
