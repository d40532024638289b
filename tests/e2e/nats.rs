//! Games over a real nats-server: a player with `--nats` only plays with a LAN's players through
//! a `bridge`, a game survives its server's restart, and a signed game stays whole with a rogue
//! publishing on its subject. The server runs on loopback here; tests/e2e/lan.rs runs it in a
//! namespace between two LANs.
//!
//! They need nats-server (apt-get install nats-server); without it they print SKIPPED and why
//! (a failure where GAMECAST_NO_SKIP is set, as in CI).

use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::Value;

use crate::common::nats::{NatsServer, RawNats};
use crate::common::*;
use crate::key::{SECRET, key_file, stats};

/// A game name of the test's own, so that tests sharing a server never meet.
pub fn game_name() -> String {
    format!("t{:08x}", fastrand::u32(..))
}

/// The flags that put a process in `game` on `server`.
pub fn nats_flags(server: &NatsServer, game: &str) -> Vec<String> {
    ["--nats", &server.url(), "--game", game]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// `player --json --name NAME --nats … EXTRA…`, in `netns` or here.
pub fn nats_player(
    netns: Option<&str>,
    server: &NatsServer,
    game: &str,
    name: &str,
    extra: &[&str],
) -> Process {
    let mut args = vec!["--json".to_string(), "--name".to_string(), name.to_string()];
    args.extend(nats_flags(server, game));
    args.extend(extra.iter().map(|s| s.to_string()));
    Process::spawn_in(netns, name, env!("CARGO_BIN_EXE_player"), &args)
}

/// `announcer --json SCRIPT --nats … EXTRA…`, started.
fn nats_announcer(
    server: &NatsServer,
    game: &str,
    script: &std::path::Path,
    extra: &[&str],
) -> Process {
    let mut args = vec!["--json".to_string(), script.display().to_string()];
    args.extend(nats_flags(server, game));
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut process = Process::spawn_in(None, "announcer", env!("CARGO_BIN_EXE_announcer"), &args);
    process.wait_stderr("gamecast announcer:");
    process
}

/// A bridge between `net` (in `netns`, or here) and `game` on `server`, relaying.
pub fn bridge(netns: Option<&str>, net: &Net, server: &NatsServer, game: &str) -> Process {
    let mut args = vec![
        "--json".to_string(),
        "--report".to_string(),
        "0.2".to_string(),
    ];
    args.extend(net.flags());
    args.extend(nats_flags(server, game));
    let mut process = Process::spawn_in(netns, "bridge", env!("CARGO_BIN_EXE_bridge"), &args);
    process.wait_stderr("bridge: relaying for this LAN");
    process
}

/// The last counters a bridge printed.
pub fn counters(bridge: &Process) -> Value {
    bridge
        .seen
        .iter()
        .rev()
        .find_map(|line| match line {
            Line::Out(text) => serde_json::from_str::<Value>(text).ok(),
            Line::Err(_) => None,
        })
        .map(|v| v["counters"].clone())
        .unwrap_or_else(|| panic!("the bridge printed no counters: {}", bridge.stderr()))
}

/// A nats-server on loopback, a fresh group and a game name of the test's own.
fn on_loopback() -> Option<(NatsServer, Net, String)> {
    Some((
        NatsServer::start(None, Ipv4Addr::LOCALHOST)?,
        Net::fresh(),
        game_name(),
    ))
}

const DICE: [&str; 4] = ["countdown=0", "target=12", "turn_seconds=30", "rematch=0"];

#[test]
fn a_player_on_nats_alone_plays_a_whole_dice_race_with_a_lan_player_through_a_bridge() {
    let Some((server, net, game)) = on_loopback() else {
        return;
    };
    let mut bridge = bridge(None, &net, &server, &game);
    let mut host = announcer(&net, &repo("scripts/dice.lua"), &set(&DICE));
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed(nats_player(None, &server, &game, "bob", &[]), "bob");
    let welcome = bob
        .events()
        .into_iter()
        .find(|v| v["kind"] == "welcome")
        .unwrap();
    // bob hears where the announcer speaks from on its LAN, carried by the bridge.
    assert_eq!(
        welcome["announcer"]
            .as_str()
            .map(|a| a.starts_with("127.0.0.1:")),
        Some(true),
        "{welcome}"
    );
    let rounds = race(&mut [&mut alice, &mut bob]);
    assert!(rounds >= 2);
    for p in [&mut alice, &mut bob] {
        p.wait_kind("close");
        assert!(p.wait_exit().success(), "{}: {}", p.name, p.stderr());
    }
    assert!(host.wait_exit().success());
    let sent = sent_announcements(&host);
    assert_eq!(
        sent.iter().filter(|v| v["kind"] == "ranking").count(),
        rounds
    );
    assert_all_saw(&[&alice, &bob], &sent);
    bridge.kill9();
    let c = counters(&bridge);
    assert!(c["lan_to_nats"].as_u64().unwrap() > 0, "{c}");
    assert!(c["nats_to_lan"].as_u64().unwrap() > 0, "{c}");
    assert_eq!(c["too_big"], 0, "{c}");
}

#[test]
fn a_nats_server_restarted_mid_game_and_the_game_goes_on() {
    let Some(mut server) = NatsServer::start(None, Ipv4Addr::LOCALHOST) else {
        return;
    };
    let game = game_name();
    let settings = set(&["countdown=0", "target=40", "turn_seconds=30", "rematch=0"]);
    let mut host = nats_announcer(&server, &game, &repo("scripts/dice.lua"), &settings);
    let mut alice = welcomed(nats_player(None, &server, &game, "alice", &[]), "alice");
    let mut bob = welcomed(nats_player(None, &server, &game, "bob", &[]), "bob");
    for p in [&mut alice, &mut bob] {
        p.wait_event("round 1", is_round);
        p.say("roll");
    }
    for p in [&mut alice, &mut bob] {
        p.wait_kind("ranking");
    }
    server.restart();
    // Everyone saw the link go and come back, and says so.
    for p in [&mut alice, &mut bob] {
        p.wait_event("the link lost", |v| {
            v["kind"] == "notice" && text(v).contains("link lost")
        });
        p.wait_event("the link back", |v| {
            v["kind"] == "notice" && text(v).contains("link back")
        });
    }
    host.wait_stderr("link back");
    // The race goes on to its end; nothing is missing, nothing twice.
    let (_, sent) = race_to_the_end(&mut host, &mut [&mut alice, &mut bob]);
    for p in [&alice, &bob] {
        let shown = shown_announcements(p);
        assert_eq!(shown, sent, "{} saw the game once, in order", p.name);
        assert!(
            !p.events()
                .iter()
                .any(|v| v["kind"] == "left" && v["player"] != "bob" && v["player"] != "alice"),
            "nobody else came or went"
        );
    }
}

#[test]
fn a_signed_game_through_a_bridge_shows_nothing_a_rogue_publishes_on_its_subject() {
    let Some((server, net, game)) = on_loopback() else {
        return;
    };
    let subject = format!("gamecast.{game}");
    let key = key_file(SECRET);
    let key_flags = ["--key-file", key.to_str().unwrap()];
    let mut tap = RawNats::connect(server.address());
    tap.subscribe(&subject);
    let mut bridge = bridge(None, &net, &server, &game);
    let script = script_file("keyed.lua", &crate::key::game());
    let mut host = announcer(&net, &script, &key_flags);
    let alice = spawn_player_env(
        None,
        &net,
        "alice",
        &["--stats"],
        &[("GAMECAST_KEY", SECRET)],
    );
    let mut alice = welcomed(alice, "alice");
    let bob = nats_player(
        None,
        &server,
        &game,
        "bob",
        &[&["--stats"][..], &key_flags].concat(),
    );
    let mut bob = welcomed(bob, "bob");
    for p in [&mut alice, &mut bob] {
        p.wait_kind("ranking");
    }
    // What the rogue captured of the real game on the subject: the first ranking.
    let ranking = loop {
        let payload = tap.next(TIMEOUT).expect("the subject carries the game");
        let text = String::from_utf8_lossy(&payload).into_owned();
        if text.contains(r#""kind":"ranking""#) {
            break text;
        }
    };
    let captured: Value = serde_json::from_str(&ranking).unwrap();
    let mut rogue = RawNats::connect(server.address());
    for _ in 0..3 {
        rogue.publish(&subject, ranking.as_bytes());
    }
    let forged = serde_json::json!({
        "v": 1, "from": "announcer", "session": captured["session"],
        "seq": captured["seq"].as_u64().unwrap() + 1,
        "kind": "congratulate", "player": "mallory", "text": "mallory wins",
    })
    .to_string();
    rogue.publish(&subject, forged.as_bytes());
    for garbage in [
        &b""[..],
        b"\xff\xfe\x00",
        b"{",
        &[b'x'; 2000],
        &vec![b'{'; 100_000],
    ] {
        rogue.publish(&subject, garbage);
    }
    alice.say("continue");
    for p in [&mut alice, &mut bob] {
        p.wait_kind("game_end");
        assert!(p.wait_exit().success(), "{}", p.stderr());
    }
    assert!(host.wait_exit().success(), "{}", host.stderr());
    let sent = sent_announcements(&host);
    assert_eq!(sent.iter().filter(|v| v["kind"] == "ranking").count(), 10);
    for p in [&alice, &bob] {
        assert_only_the_real_game(p, &sent, "mallory");
        let rejected = &stats(p)["rejected"];
        assert!(
            rejected["replayed"].as_u64().unwrap() >= 1,
            "{}: {rejected}",
            p.name
        );
        assert!(
            rejected["unsigned"].as_u64().unwrap() >= 1,
            "{}: {rejected}",
            p.name
        );
    }
    // The bridge carried the rogue's oversized publications to nobody.
    bridge.kill9();
    assert_eq!(counters(&bridge)["too_big"], 2, "{}", bridge.stderr());
}

#[test]
fn two_namespace_lans_and_a_remote_player_play_one_game_through_two_bridges_and_one_server() {
    // The WAN: nats-server on host 0, a player with --nats only on host 1.
    let Some(wan) = crate::common::lan::Lan::build(2) else {
        return;
    };
    // LAN A: its bridge, the announcer, alice. LAN B: two bridges (one relays), bob, who loses
    // a tenth of what reaches his host.
    let Some(lan_a) = crate::common::lan::Lan::build(3) else {
        return;
    };
    let Some(lan_b) = crate::common::lan::Lan::build(3) else {
        return;
    };
    lan_a.attach(0, &wan, 101);
    lan_b.attach(0, &wan, 102);
    lan_b.attach(1, &wan, 103);
    let Some(server) = NatsServer::start(Some(wan.netns(0)), wan.host_addr(0)) else {
        return;
    };
    let net = Net::fresh();
    let game = game_name();
    // A tap on the subject, from the WAN: what NATS carried, and where each came from.
    let address = server.address();
    let mut tap = wan.in_host(1, move || RawNats::connect(address));
    tap.subscribe(&format!("gamecast.{game}"));
    let mut bridge_a = bridge(
        Some(lan_a.netns(0)),
        &net.on(lan_a.host_addr(0)),
        &server,
        &game,
    );
    // Everything bridge B's host sends on LAN B from here on is the bridge's.
    let relays_before = lan_b.tx_packets(0);
    let started = std::time::Instant::now();
    let mut bridge_b = bridge(
        Some(lan_b.netns(0)),
        &net.on(lan_b.host_addr(0)),
        &server,
        &game,
    );
    // The second bridge on LAN B hears the first one's beacons: it stands by.
    let mut args = vec![
        "--json".to_string(),
        "--report".to_string(),
        "0.2".to_string(),
    ];
    args.extend(net.on(lan_b.host_addr(1)).flags());
    args.extend(nats_flags(&server, &game));
    let mut standby = Process::spawn_in(
        Some(lan_b.netns(1)),
        "standby",
        env!("CARGO_BIN_EXE_bridge"),
        &args,
    );
    standby.wait_stderr("standing by");
    lan_b.loss(2, 10);

    let dice = repo("scripts/dice.lua");
    let settings = set(&[
        "countdown=0",
        "min_players=3",
        "target=15",
        "turn_seconds=30",
        "rematch=0",
    ]);
    let mut host = announcer_in(&lan_a, 1, &net, &dice, &settings);
    let mut alice = welcomed_player_in(&lan_a, 2, &net, "alice", &[]);
    let mut bob = welcomed_player_in(&lan_b, 2, &net, "bob", &[]);
    let mut dave = welcomed(
        nats_player(Some(wan.netns(1)), &server, &game, "dave", &[]),
        "dave",
    );
    let (_, sent) = race_to_the_end(&mut host, &mut [&mut alice, &mut bob, &mut dave]);
    assert!(sent.iter().filter(|v| v["kind"] == "ranking").count() >= 2);
    assert_all_saw(&[&alice, &bob, &dave], &sent);
    assert!(
        lan_b.dropped_by_loss(2) > 0,
        "bob lost some and had them repaired"
    );

    // Stopped, each bridge prints its last counters.
    for b in [&mut bridge_a, &mut bridge_b, &mut standby] {
        b.interrupt();
        assert!(b.wait_exit().success(), "{}", b.stderr());
    }
    let mut carried = Vec::new();
    while let Some(message) = tap.next_message(Duration::from_millis(500)) {
        carried.push(message);
    }
    let (a, b, idle) = (counters(&bridge_a), counters(&bridge_b), counters(&standby));
    for c in [&a, &b] {
        assert!(
            c["lan_to_nats"].as_u64().unwrap() > 0 && c["nats_to_lan"].as_u64().unwrap() > 0,
            "{c}"
        );
    }
    assert_eq!(
        (&idle["lan_to_nats"], &idle["nats_to_lan"]),
        (&0.into(), &0.into()),
        "{idle}"
    );
    assert!(idle["standing_by"].as_u64().unwrap() > 0, "{idle}");
    // Nothing a bridge carried onto a LAN came back to NATS (its source would be a bridge
    // port), and bridge B put on LAN B each datagram NATS carried from elsewhere, once.
    let bridge_port = format!(":{}", net.port + 2);
    assert!(
        !carried.iter().any(|m| m
            .source
            .as_deref()
            .is_some_and(|s| s.ends_with(&bridge_port))),
        "a bridge's relay went back to NATS"
    );
    let lan_b_prefix = format!("{}.", {
        let [a, b, c, _] = lan_b.host_addr(0).octets();
        format!("{a}.{b}.{c}")
    });
    let from_elsewhere = carried
        .iter()
        .filter(|m| {
            !m.source
                .as_deref()
                .is_some_and(|s| s.starts_with(&lan_b_prefix))
        })
        .count() as u64;
    assert_eq!(b["nats_to_lan"].as_u64().unwrap(), from_elsewhere, "{b}");
    // On LAN B's wire, bridge B's host sent one packet per datagram it relayed, and beacons
    // (two a second), and nothing else worth counting.
    let relayed = b["nats_to_lan"].as_u64().unwrap();
    let packets = lan_b.tx_packets(0) - relays_before;
    let beacons = started.elapsed().as_secs() * 2 + 10;
    assert!(
        (relayed..=relayed + beacons).contains(&packets),
        "{packets} packets for {relayed} datagrams relayed"
    );
}

#[test]
fn a_late_player_reads_the_game_so_far_from_its_history_on_the_server() {
    let Some(server) = NatsServer::start(None, Ipv4Addr::LOCALHOST) else {
        return;
    };
    let game = game_name();
    let settings = set(&["countdown=0", "target=40", "turn_seconds=30", "rematch=0"]);
    let mut host_args = settings.clone();
    host_args.extend(["--nats-history", "--bots", "1", "--bot-think", "0.05"]);
    let mut host = nats_announcer(&server, &game, &repo("scripts/dice.lua"), &host_args);
    let mut alice = welcomed(nats_player(None, &server, &game, "alice", &[]), "alice");
    for _ in 0..2 {
        alice.wait_event("a round", is_round);
        alice.say("roll");
        alice.wait_kind("ranking");
    }
    let mut bob = nats_player(None, &server, &game, "bob", &["--nats-history"]);
    bob.wait_event("the live part", |v| {
        v["kind"] == "notice" && text(v).contains("from here on, live")
    });
    let bob_events = bob.events();
    let story = |events: &[Value]| -> Vec<Value> {
        events
            .iter()
            .filter(|v| ["game_start", "ranking"].contains(&v["kind"].as_str().unwrap_or("")))
            .cloned()
            .collect()
    };
    let cut = bob_events
        .iter()
        .position(|v| text(v).contains("from here on, live"))
        .unwrap();
    let told = story(&bob_events[..cut]);
    assert_eq!(told, story(&alice.events()), "bob read the game so far");
    assert_eq!(told.len(), 3, "the start and two rankings: {told:?}");
    // And then he plays, live.
    welcomed(bob, "bob").interrupt();
    host.interrupt();
    assert!(host.wait_exit().success(), "{}", host.stderr());
}

#[test]
fn sending_while_the_server_is_away_never_blocks_the_game() {
    use gamecast::link::Link;
    use gamecast::link::nats::{Auth, CLIENT_QUEUE, Nats, NatsConfig};
    let Some(mut server) = NatsServer::start(None, Ipv4Addr::LOCALHOST) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = NatsConfig {
            url: server.url(),
            game: game_name(),
            auth: Auth::None,
            ca: None,
            echo: true,
        };
        let nats = Nats::connect(&config).await.unwrap();
        let link = nats.link().await.unwrap();
        server.kill();
        let news = tokio::time::timeout(TIMEOUT, link.news())
            .await
            .expect("news of the loss");
        assert!(news.contains("link lost"), "{news}");
        // The client queues what is published while the server is away, up to its capacity;
        // beyond, a publication would wait for the server. Every send returns at once instead.
        for n in 0..CLIENT_QUEUE + 50 {
            tokio::time::timeout(Duration::from_secs(1), link.send(b"{}"))
                .await
                .unwrap_or_else(|_| panic!("send {n} waited for the server"))
                .unwrap();
        }
        assert!(link.unsent() >= 1, "what could not be queued is counted");
    });
}

#[test]
fn a_server_that_wants_a_token_gets_it_from_a_file_or_the_environment_never_the_command_line() {
    use std::os::unix::fs::PermissionsExt;
    const TOKEN: &str = "s3cr3t-token-of-the-night";
    let Some(server) = NatsServer::start_with(None, Ipv4Addr::LOCALHOST, &["--auth", TOKEN]) else {
        return;
    };
    let game = game_name();
    // Without the token: a clear error, at once, and the token is never shown.
    let mut nobody = nats_player(None, &server, &game, "nobody", &[]);
    let status = nobody.wait_exit();
    assert_eq!(status.code(), Some(1));
    assert!(
        nobody
            .stderr()
            .contains("cannot connect to the NATS server"),
        "{}",
        nobody.stderr()
    );
    // The announcer takes it from the environment, alice from a file of her own.
    let mut args = vec![
        "--json".to_string(),
        repo("scripts/hello.lua").display().to_string(),
    ];
    args.extend(nats_flags(&server, &game));
    let binary = env!("CARGO_BIN_EXE_announcer");
    let mut host = Process::spawn_env(
        None,
        "announcer",
        binary,
        &args,
        &[("GAMECAST_NATS_TOKEN", TOKEN)],
    );
    host.wait_stderr("gamecast announcer:");
    let creds = temp_dir().join("nats.creds");
    std::fs::write(&creds, format!("# the server's token\ntoken={TOKEN}\n")).unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let creds_flag = ["--nats-creds", creds.to_str().unwrap()];
    let alice = welcomed(
        nats_player(None, &server, &game, "alice", &creds_flag),
        "alice",
    );
    // A file others can read is refused; so is a URL with the token in it.
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut careless = nats_player(None, &server, &game, "bob", &creds_flag);
    careless.wait_exit();
    assert!(
        careless.stderr().contains("chmod 600"),
        "{}",
        careless.stderr()
    );
    let url = server.url().replace("nats://", &format!("nats://{TOKEN}@"));
    let args: Vec<String> = ["--json", "--name", "eve", "--nats", &url, "--game", &game]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut eve = Process::spawn_in(None, "eve", env!("CARGO_BIN_EXE_player"), &args);
    assert_eq!(eve.wait_exit().code(), Some(1));
    assert!(eve.stderr().contains("--nats-creds"), "{}", eve.stderr());
    for p in [&nobody, &careless, &eve] {
        assert!(!p.stderr().contains(TOKEN), "{}: {}", p.name, p.stderr());
    }
    drop(alice);
    host.interrupt();
    host.wait_exit();
}

#[test]
fn a_bridge_restarted_mid_game_leaves_a_gap_that_is_repaired() {
    let Some((server, net, game)) = on_loopback() else {
        return;
    };
    let mut first = bridge(None, &net, &server, &game);
    // The bridge's restart must fit in the announcer's patience with a silent player.
    let settings = set(&["countdown=0", "target=40", "turn_seconds=30", "rematch=0"]);
    let mut host_args = settings.clone();
    host_args.extend(["--missed", "20"]);
    let mut host = announcer(&net, &repo("scripts/dice.lua"), &host_args);
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed(
        nats_player(None, &server, &game, "bob", &["--missed", "20"]),
        "bob",
    );
    for p in [&mut alice, &mut bob] {
        p.wait_event("round 1", is_round);
        p.say("roll");
    }
    alice.wait_kind("ranking");
    first.kill9();
    // Round 2's start and alice's roll happen while nothing crosses.
    alice.wait_event("round 2", is_round);
    alice.say("roll");
    let _second = bridge(None, &net, &server, &game);
    bob.wait_event("round 2, repaired", is_round);
    bob.say("roll");
    let (_, sent) = race_to_the_end(&mut host, &mut [&mut alice, &mut bob]);
    assert_all_saw(&[&alice, &bob], &sent);
}

#[test]
fn a_tls_server_is_played_on_with_its_certificate_checked() {
    let has_openssl = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_openssl {
        skip("needs openssl to make the server's certificate (apt-get install openssl)");
        return;
    }
    // A certificate authority of the test's own, and the server's certificate signed by it
    // (rustls takes no self-signed certificate as a server's).
    let dir = temp_dir();
    let path = |name: &str| dir.join(name).display().to_string();
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=gamecast test CA",
            "-keyout",
            &path("ca.key"),
            "-out",
            &path("ca.pem"),
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &path("key.pem"),
            "-out",
            &path("req.csr"),
        ],
        &[
            "x509",
            "-req",
            "-in",
            &path("req.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &path("ext"),
            "-out",
            &path("cert.pem"),
        ],
    ];
    for step in steps {
        let made = std::process::Command::new("openssl")
            .args(step)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    let (cert, key, ca) = (path("cert.pem"), path("key.pem"), path("ca.pem"));
    let tls = ["--tls", "--tlscert", &cert, "--tlskey", &key];
    let Some(server) = NatsServer::start_with(None, Ipv4Addr::LOCALHOST, &tls) else {
        return;
    };
    let url = server.url().replace("nats://", "tls://");
    let game = game_name();
    let flags = |extra: &[&str]| -> Vec<String> {
        ["--nats", url.as_str(), "--game", game.as_str()]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let mut args = vec![
        "--json".to_string(),
        repo("scripts/hello.lua").display().to_string(),
    ];
    args.extend(flags(&["--nats-ca", &ca]));
    let mut host = Process::spawn_in(None, "announcer", env!("CARGO_BIN_EXE_announcer"), &args);
    host.wait_stderr("gamecast announcer:");
    let mut args = vec![
        "--json".to_string(),
        "--name".to_string(),
        "alice".to_string(),
    ];
    args.extend(flags(&["--nats-ca", &ca]));
    let alice = welcomed(
        Process::spawn_in(None, "alice", env!("CARGO_BIN_EXE_player"), &args),
        "alice",
    );
    // Without the certificate's authority the server is not trusted: a clear error.
    let mut args = vec![
        "--json".to_string(),
        "--name".to_string(),
        "bob".to_string(),
    ];
    args.extend(flags(&[]));
    let mut bob = Process::spawn_in(None, "bob", env!("CARGO_BIN_EXE_player"), &args);
    assert_eq!(bob.wait_exit().code(), Some(1));
    assert!(
        bob.stderr().contains("cannot connect to the NATS server"),
        "{}",
        bob.stderr()
    );
    drop(alice);
    host.interrupt();
    host.wait_exit();
}
