//! The namespace LAN (tests/common/lan.rs) itself: multicast crosses its bridge between the
//! real binaries, and its nftables loss drops the share of datagrams it is told to.
//!
//! Both tests need root, `ip` and `nft`; without them they print SKIPPED and why (a failure
//! where `GAMECAST_NO_SKIP` is set, as in CI).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::common::lan::Lan;
use crate::common::*;

#[test]
fn multicast_crosses_the_namespace_lan() {
    let Some(lan) = Lan::build(3) else { return };
    let net = Net::fresh();
    let mut user1 = player_in(&lan, 1, &net, "user1", &[]);
    let mut user2 = player_in(&lan, 2, &net, "user2", &[]);
    // user2's join went from host 2 through the bridge to host 1.
    user1.wait_join("user2");

    let sent_before = lan.tx_packets(1);
    user1.say("Hola desde el host 1");
    let seen = user2.wait_kind("chat");
    assert_eq!(
        (seen["from"].as_str(), text(&seen)),
        (Some("user1"), "Hola desde el host 1")
    );
    assert!(
        lan.tx_packets(1) > sent_before,
        "the chat left host 1 by its veth"
    );

    // `ip netns exec` ran the player in its own place: SIGKILL reaches the player itself and
    // nothing is left running in host 2.
    let status = user2.kill9();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert_eq!(lan.pids(2), Vec::<u32>::new(), "processes left in host 2");
}

/// Datagrams each round sends.
const DATAGRAMS: usize = 1000;

#[test]
fn nftables_drops_a_share_of_datagrams() {
    let Some(lan) = Lan::build(2) else { return };
    let net = Net::fresh();

    let got = send_and_count(&lan, &net);
    assert_eq!(got, DATAGRAMS, "without loss every datagram arrives");
    assert_eq!(lan.dropped_by_loss(1), 0);

    // A second call replaces the first: were the 100% rule still in, nothing would arrive.
    lan.loss(1, 100);
    lan.loss(1, 30);
    let received_before = lan.rx_packets(1);
    let got = send_and_count(&lan, &net);
    let share = got as f64 / DATAGRAMS as f64;
    // 30% of 1000 at random: 700 ± 14.5 (one standard deviation), so ±150 never fails by chance.
    assert!(
        (0.55..=0.85).contains(&share),
        "{got} of {DATAGRAMS} arrived with a loss of 30%"
    );
    // Every datagram reached host 1's interface and the ones missing were the rule's doing.
    assert!(lan.rx_packets(1) - received_before >= DATAGRAMS as u64);
    assert_eq!(
        lan.dropped_by_loss(1),
        (DATAGRAMS - got) as u64,
        "the rule's counter accounts for every missing datagram"
    );

    lan.loss(1, 0);
    let got = send_and_count(&lan, &net);
    assert_eq!(got, DATAGRAMS, "loss 0 removes the loss");
}

/// Sends DATAGRAMS small datagrams to `net`'s group from host 0 and returns how many a socket
/// in the group on host 1 received.
fn send_and_count(lan: &Lan, net: &Net) -> usize {
    let receiver = lan.in_host(1, || group_socket(net, lan.host_addr(1)));
    let sender = lan.in_host(0, || sending_socket(lan.host_addr(0)));
    let counting = std::thread::spawn(move || {
        let mut buffer = [0u8; 64];
        let mut got = 0;
        // Every datagram is sent well within a second of the one before it.
        while receiver.recv(&mut buffer).is_ok() {
            got += 1;
        }
        got
    });
    for n in 0..DATAGRAMS {
        sender
            .send_to(format!("datagram {n}").as_bytes(), (net.group, net.port))
            .unwrap();
        // A pause now and then: we measure the loss rule, not a full receive queue.
        if n % 50 == 49 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    counting.join().unwrap()
}

/// A socket in the group on the interface with address `iface`; reads give up after a second
/// of silence.
fn group_socket(net: &Net, iface: Ipv4Addr) -> UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_recv_buffer_size(1 << 20).unwrap();
    socket
        .bind(&SocketAddr::from((net.group, net.port)).into())
        .unwrap();
    socket.join_multicast_v4(&net.group, &iface).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    socket.into()
}

/// A socket that sends to groups from the interface with address `iface`.
fn sending_socket(iface: Ipv4Addr) -> UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.bind(&SocketAddr::from((iface, 0)).into()).unwrap();
    // The hosts have no multicast route: the group is reached by the interface named here.
    socket.set_multicast_if_v4(&iface).unwrap();
    socket.set_multicast_ttl_v4(1).unwrap();
    socket.into()
}

/// The flags that put a process on the IPv6 `group` and `port` by `iface`.
fn v6_flags(group: &str, port: &str, iface: &str) -> Vec<String> {
    ["--group", group, "--port", port, "--iface", iface]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn an_ipv6_dice_race_on_a_namespace_lan() {
    let Some(lan) = Lan::build(3) else { return };
    let group = format!("ff15::77:{:x}", fastrand::u16(1..));
    let port = fastrand::u16(20000..60000).to_string();
    let flags = |host: usize| v6_flags(&group, &port, lan.veth(host));
    let mut args = vec![
        "--json".to_string(),
        repo("scripts/dice.lua").display().to_string(),
    ];
    args.extend(flags(0));
    args.extend(
        set(&["countdown=0", "target=12", "turn_seconds=30", "rematch=0"])
            .iter()
            .map(|s| s.to_string()),
    );
    let binary = env!("CARGO_BIN_EXE_announcer");
    let mut host = Process::spawn_in(Some(lan.netns(0)), "announcer", binary, &args);
    let banner = host.wait_stderr("gamecast announcer:");
    assert!(
        banner.contains(&format!("[{group}]:{port} via {}", lan.veth(0))),
        "{banner}"
    );
    let player = |host: usize, name: &str| {
        let mut args = vec!["--json".to_string(), "--name".to_string(), name.to_string()];
        args.extend(flags(host));
        welcomed(
            Process::spawn_in(
                Some(lan.netns(host)),
                name,
                env!("CARGO_BIN_EXE_player"),
                &args,
            ),
            name,
        )
    };
    let mut alice = player(1, "alice");
    let mut bob = player(2, "bob");
    let welcome = alice
        .events()
        .into_iter()
        .find(|v| v["kind"] == "welcome")
        .unwrap();
    // The announcer speaks from its link-local address on the LAN.
    assert!(
        welcome["announcer"]
            .as_str()
            .unwrap()
            .starts_with("[fe80::"),
        "{welcome}"
    );
    let (_, sent) = race_to_the_end(&mut host, &mut [&mut alice, &mut bob]);
    assert!(sent.iter().any(|v| v["kind"] == "ranking"));
    for p in [&alice, &bob] {
        assert_eq!(shown_announcements(p), sent, "{}", p.name);
    }
    // A group of link scope (ff02::…) is bound on its interface and heard across the LAN too.
    let link_local = format!("ff02::77:{:x}", fastrand::u16(1..));
    let chat = |host: usize, name: &str| {
        let mut args = vec!["--json".to_string(), "--name".to_string(), name.to_string()];
        args.extend(v6_flags(&link_local, &port, lan.veth(host)));
        Process::spawn_in(
            Some(lan.netns(host)),
            name,
            env!("CARGO_BIN_EXE_player"),
            &args,
        )
    };
    let mut carol = chat(1, "carol");
    carol.wait_join("carol");
    let mut dave = chat(2, "dave");
    carol.wait_join("dave");
    dave.say("hola por ff02");
    let heard = carol.wait_kind("chat");
    assert_eq!(text(&heard), "hola por ff02");
}

#[test]
fn ipv6_multicast_on_loopback_is_refused_and_says_why() {
    for iface in ["lo", "127.0.0.1", "::1"] {
        let (status, _, stderr) =
            announcer_output(&["scripts/dice.lua", "--group", "ff15::1", "--iface", iface]);
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("IPv6 multicast does not work on the loopback interface"),
            "{iface}: {stderr}"
        );
    }
    // The default interface is loopback: an IPv6 group alone says the same, and what to do.
    let (_, _, stderr) = announcer_output(&["scripts/dice.lua", "--group", "ff15::1"]);
    assert!(
        stderr.contains("give --iface an interface with an IPv6 link"),
        "{stderr}"
    );
}
