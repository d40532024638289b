//! The game key: with one, a rogue process that captures the game's datagrams can neither
//! forge an announcement in the announcer's own session nor replay what it captured, and
//! players without the key see that they cannot join. Without one, the same forgery works:
//! what the README says a key is for.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use socket2::{Domain, Protocol, Socket, Type};

use crate::common::*;

/// Ten rankings, then alice wins: the first once two players are in, the others every 0.05 s
/// once alice says "continue". Until then the announcer sends nothing numbered, so that the
/// rogue knows which number comes next.
pub fn game() -> String {
    format!("{TEN_ROUNDS}{GAME}")
}

const GAME: &str = r#"
on_join(function()
  if #players() < 2 or state.round then return end
  game_start("Keyed game", "ten rankings")
  state.round = 0
  round()
end)

on_message(function(player, text)
  if text == "continue" and not state.timer then state.timer = every(0.05, round) end
end)
"#;

pub const SECRET: &str = "tonight's game key: 7f3a9c2e51";

/// A key file readable by its owner alone.
pub fn key_file(secret: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = temp_dir().join("game.key");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A socket in the group that hears everything, as a rogue process on the host would.
fn sniffer(net: &Net) -> std::net::UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_reuse_port(true).unwrap();
    socket
        .bind(&SocketAddrV4::new(net.group, net.protocol_port()).into())
        .unwrap();
    socket
        .join_multicast_v4(&net.group, &Ipv4Addr::LOCALHOST)
        .unwrap();
    let socket: std::net::UdpSocket = socket.into();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    socket
}

/// The first datagram heard that contains every one of `parts`.
fn capture(socket: &std::net::UdpSocket, parts: &[&str]) -> String {
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = vec![0; 65536];
    while Instant::now() < deadline {
        let Ok(len) = socket.recv(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if parts.iter().all(|part| text.contains(part)) {
            return text;
        }
    }
    panic!("no datagram with {parts:?} within {TIMEOUT:?}");
}

/// What a player printed with `--stats` when it exited.
pub fn stats(player: &Process) -> Value {
    let stderr = player.stderr();
    let line = stderr.lines().rev().find(|l| l.starts_with('{'));
    serde_json::from_str(line.unwrap_or_else(|| panic!("{}: no --stats: {stderr}", player.name)))
        .unwrap()
}

/// Plays the game while a rogue captures the announcer's first ranking and sends: that
/// datagram again, three times; a congratulation of mallory in the announcer's own session,
/// with the number the announcer will use next; and the same with the captured signature
/// glued on. Returns the announcer and the two players, exited.
fn game_with_a_rogue(net: &Net, key: Option<&PathBuf>) -> (Process, Process, Process) {
    let sniff = sniffer(net);
    let script = script_file("keyed.lua", &game());
    let key_flags: Vec<&str> = match key {
        Some(path) => vec!["--key-file", path.to_str().unwrap()],
        None => vec![],
    };
    let mut host = announcer(net, &script, &key_flags);
    // alice takes the key from the environment, bob from the file.
    let alice_env: Vec<(&str, &str)> = match key {
        Some(_) => vec![("GAMECAST_KEY", SECRET)],
        None => vec![],
    };
    let alice = spawn_player_env(None, net, "alice", &["--stats"], &alice_env);
    let mut alice = welcomed(alice, "alice");
    let bob = spawn_player_env(
        None,
        net,
        "bob",
        &[&["--stats"], key_flags.as_slice()].concat(),
        &[],
    );
    let mut bob = welcomed(bob, "bob");

    // Both players have shown the first ranking: what the rogue sends comes after it.
    for player in [&mut alice, &mut bob] {
        player.wait_kind("ranking");
    }
    let ranking = capture(&sniff, &[r#""from":"announcer""#, r#""kind":"ranking""#]);
    let captured: Value = serde_json::from_str(&ranking).unwrap();
    for _ in 0..3 {
        net.send_protocol(ranking.as_bytes());
    }
    let forged = serde_json::json!({
        "v": 1, "from": "announcer", "session": captured["session"],
        "seq": captured["seq"].as_u64().unwrap() + 1,
        "kind": "congratulate", "player": "mallory", "text": "mallory wins",
    })
    .to_string();
    net.send_protocol(forged.as_bytes());
    if let Some(at) = ranking.find(r#","n":"#) {
        let signature = &ranking[at..];
        net.send_protocol(format!("{}{signature}", &forged[..forged.len() - 1]).as_bytes());
    }
    // Loopback delivers as it sends: the forgeries are queued at every player before the
    // real next ranking exists.
    alice.say("continue");

    for player in [&mut alice, &mut bob] {
        player.wait_kind("game_end");
        assert!(player.wait_exit().success(), "{}", player.stderr());
    }
    assert!(host.wait_exit().success(), "{}", host.stderr());
    (host, alice, bob)
}

#[test]
fn with_a_key_nothing_forged_or_replayed_is_shown_and_keyless_players_are_told() {
    let net = Net::fresh();
    let key = key_file(SECRET);
    // Before the game: a player without the key, and one with another key.
    let mut eve = spawn_player_env(None, &net, "eve", &[], &[]);
    let mut trudy = spawn_player_env(
        None,
        &net,
        "trudy",
        &["--stats"],
        &[("GAMECAST_KEY", "somebody else's key, long enough")],
    );
    let (host, alice, bob) = game_with_a_rogue(&net, Some(&key));
    eve.wait_event("eve told the game is protected", |v| {
        v["kind"] == "notice" && text(v).contains("protected by a game key")
    });
    trudy.wait_event("trudy told of the wrong key", |v| {
        v["kind"] == "notice" && text(v).contains("another game key")
    });
    assert_eq!(eve.events()[0]["protected"], false, "eve has no key");
    for outsider in [&mut eve, &mut trudy] {
        outsider.close_input();
        outsider.wait_exit();
        assert!(
            !outsider
                .events()
                .iter()
                .any(|v| v["kind"] == "welcome" || v["kind"] == "game_start"),
            "{}: read nothing of the game",
            outsider.name
        );
    }

    let sent = sent_announcements(&host);
    assert_eq!(sent.iter().filter(|v| v["kind"] == "ranking").count(), 10);
    for player in [&alice, &bob] {
        assert_eq!(
            player.events()[0],
            serde_json::json!({"kind": "protection", "protected": true})
        );
        assert_only_the_real_game(player, &sent, "mallory");
        let rejected = &stats(player)["rejected"];
        for reason in ["unsigned", "forged", "replayed"] {
            assert!(
                rejected[reason].as_u64().unwrap() >= 1,
                "{}: {reason} datagrams counted: {rejected}",
                player.name
            );
        }
    }
    assert!(stats(&trudy)["rejected"]["forged"].as_u64().unwrap() >= 1);
    // eve's and trudy's heartbeats, and the rogue's forgeries, counted by the announcer too.
    let stderr = host.stderr();
    let stopped = stderr
        .lines()
        .find(|l| l.contains("announcer stopped"))
        .unwrap_or_else(|| panic!("no stop line: {stderr}"));
    assert!(
        !stopped.contains("dropped 0 unsigned") && !stopped.contains(" 0 forged"),
        "{stopped}"
    );
    assert!(
        stderr.contains("every player needs the same key"),
        "{stderr}"
    );
    for process in [&host, &alice, &bob, &eve, &trudy] {
        let printed: Vec<String> = process.seen.iter().map(|l| format!("{l:?}")).collect();
        assert!(
            !printed.join("\n").contains("7f3a9c2e51"),
            "{} never prints the key",
            process.name
        );
    }
}

#[test]
fn without_a_key_the_same_forgery_is_believed() {
    let net = Net::fresh();
    let (_host, alice, bob) = game_with_a_rogue(&net, None);
    for player in [&alice, &bob] {
        assert_eq!(
            player.events()[0],
            serde_json::json!({"kind": "protection", "protected": false})
        );
        assert!(
            player
                .events()
                .iter()
                .any(|v| v["kind"] == "congratulate" && v["player"] == "mallory"),
            "{}: the forgery in the announcer's session is shown, as the README warns",
            player.name
        );
    }
}

#[test]
fn key_files_others_can_read_and_short_keys_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let net = Net::fresh();
    let script = script_file("keyed.lua", &game());
    let key = key_file(SECRET);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, stderr) = announcer_fails(&net, &script, &["--key-file", key.to_str().unwrap()]);
    assert!(!status.success());
    assert!(
        stderr.contains("mode 644") && stderr.contains("chmod 600"),
        "{stderr}"
    );

    let mut short = spawn_player_env(None, &net, "alice", &[], &[("GAMECAST_KEY", "hunter2")]);
    assert!(!short.wait_exit().success());
    assert!(short.stderr().contains("at least 16"), "{}", short.stderr());
    assert!(!short.stderr().contains("hunter2"), "{}", short.stderr());

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut both = spawn_player_env(
        None,
        &net,
        "alice",
        &["--key-file", key.to_str().unwrap()],
        &[("GAMECAST_KEY", SECRET)],
    );
    assert!(!both.wait_exit().success());
    assert!(
        both.stderr().contains("both --key-file and GAMECAST_KEY"),
        "{}",
        both.stderr()
    );
}
