//! A rogue process on the group while a real game runs: forged announcements from another
//! session, floods, replayed datagrams, chat signed with a player's name, escape codes in
//! names and text. Every honest player still sees the real game, and nothing forged.

use std::net::UdpSocket;

use serde_json::{Value, json};

use crate::common::*;

/// Rankings every 0.1 s once carol, alice and bob are in, ten of them, then alice wins.
fn honest() -> String {
    format!(
        "{TEN_ROUNDS}{}",
        r#"
on_join(function()
  if #players() < 3 or state.timer then return end
  game_start("Honest game", "ten rankings")
  state.round = 0
  state.timer = every(0.1, round)
end)
"#
    )
}

/// A socket that sends to the group from loopback, as a rogue process on the host would.
fn rogue(net: &Net) -> impl Fn(&[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_multicast_loop_v4(true).unwrap();
    let to = (net.group, net.protocol_port());
    move |bytes: &[u8]| {
        // A full buffer drops the datagram, as the network would: fine for a flood.
        let _ = socket.send_to(bytes, to);
    }
}

#[test]
fn a_rogue_process_forges_floods_and_replays_and_nobody_is_fooled() {
    let net = Net::fresh();
    let script = script_file("honest.lua", &honest());
    let mut host = announcer(&net, &script, &[]);
    let send = rogue(&net);
    // carol shows text, as in a terminal: nothing raw from the network may reach it.
    let mut carol = Process::spawn_in(
        None,
        "carol",
        env!("CARGO_BIN_EXE_player"),
        &[
            ["--name".to_string(), "carol".to_string()].to_vec(),
            net.flags(),
        ]
        .concat(),
    );
    // Its first line comes once its sockets are in the group: from then on it hears the rogue.
    carol.wait_out("[carol joining");
    let mut alice = welcomed_player(&net, "alice");

    // Before the game: escape codes in a name and in a text, and chat signed "alice" from
    // another session.
    let evil = 7_000_000_000_001;
    send(&datagram(
        evil,
        1,
        "\u{1b}[2Jevil\u{202e}",
        json!({"kind": "chat", "text": "\u{1b}]0;pwned\u{7}"}),
    ));
    send(b"mallory: \x1b[31mred\x1b[0m");
    let mut bob = welcomed_player(&net, "bob");
    send(&datagram(
        evil + 1,
        1,
        "alice",
        json!({"kind": "chat", "text": "I am alice, trust me"}),
    ));

    // During the game: forged announcements from another session, a flood, replays.
    let forger = 7_000_000_000_002;
    for seq in 1..=50 {
        send(&datagram(
            forger,
            seq,
            "announcer",
            json!({"kind": "congratulate", "player": "mallory", "text": "mallory wins"}),
        ));
        send(&datagram(
            forger,
            seq + 100,
            "announcer",
            json!({"kind": "hello", "moves": []}),
        ));
    }
    for i in 0..3000u64 {
        send(&datagram(
            evil + 10 + i % 7,
            i + 1,
            "mallory",
            json!({"kind": "chat", "text": "spam"}),
        ));
        send(&[0xff, 0xfe, i as u8]);
    }
    host.wait_event("a ranking sent", |v| {
        v["dir"] == "sent" && v["kind"] == "ranking"
    });
    let captured: Vec<Value> = host
        .events()
        .into_iter()
        .filter(|v| v["dir"] == "sent")
        .collect();
    for mut old in captured {
        old.as_object_mut().unwrap().remove("dir");
        send(&serde_json::to_vec(&old).unwrap());
    }

    for player in [&mut alice, &mut bob] {
        player.wait_kind("game_end");
        assert!(player.wait_exit().success());
    }
    assert!(host.wait_exit().success(), "{}", host.stderr());
    let sent = sent_announcements(&host);
    assert_eq!(sent.iter().filter(|v| v["kind"] == "ranking").count(), 10);
    for player in [&alice, &bob] {
        assert_only_the_real_game(player, &sent, "mallory");
    }
    assert!(
        !bob.events()
            .iter()
            .any(|v| v["kind"] == "chat" && v["text"] == "I am alice, trust me"),
        "chat signed alice from another session is not alice's"
    );
    assert!(bob.events().iter().any(|v| {
        v["kind"] == "notice"
            && v["text"]
                .as_str()
                .unwrap_or("")
                .contains("another announcer")
    }));

    carol.close_input();
    carol.wait_exit();
    let printed: String = carol
        .seen
        .iter()
        .filter_map(|l| match l {
            Line::Out(s) => Some(s.as_str()),
            Line::Err(_) => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        printed.contains("evil"),
        "carol saw the evil line, escaped: {printed}"
    );
    assert!(
        !printed
            .chars()
            .any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{202e}'),
        "nothing raw reached carol's screen: {printed:?}"
    );
}

/// A game that echoes what players type, saying which announcer answered.
const ECHO: &str = r#"
on_message(function(player, text) announce("echo " .. text) end)
"#;

#[test]
fn a_second_announcer_leaves_the_group_to_the_first_unless_it_takes_over() {
    // Row 12: two announcers on one group split the players between two games.
    let net = Net::fresh();
    let script = script_file("echo.lua", ECHO);
    let mut first = announcer(&net, &script, &[]);
    let mut alice = welcomed_player(&net, "alice");
    // A second one hears the first before it says anything, and leaves with an error.
    let (status, stderr) = announcer_fails(&net, &script, &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another announcer") && stderr.contains("--take-over"),
        "{stderr}"
    );
    alice.say("one");
    alice.wait_event("the first's echo", |v| text(v) == "echo one");
    // Started to take over, it gets the group: the first hands its players over and leaves.
    let mut second = announcer(&net, &script, &["--take-over"]);
    alice.wait_event("handed over", |v| {
        v["kind"] == "announcer" && v["state"] == "handed_over"
    });
    alice.wait_kind("welcome");
    assert!(first.wait_exit().success(), "{}", first.stderr());
    assert!(
        first.stderr().contains("took this group over"),
        "{}",
        first.stderr()
    );
    alice.say("two");
    alice.wait_event("the second's echo", |v| text(v) == "echo two");
    second.wait_event("the second sent it", |v| {
        v["dir"] == "sent" && v["text"] == "echo two"
    });
    assert!(
        !alice.events().iter().any(|v| v["kind"] == "close"),
        "alice never saw the game close: {:?}",
        alice.events()
    );
}

#[test]
fn a_player_who_floods_is_slowed_down_and_told_while_the_game_goes_on() {
    const COUNTING: &str = r#"
state.seen = 0
on_message(function(player, text)
  if player == "mallory" then state.seen = state.seen + 1 return end
  if text == "count" then announce("mallory got through " .. state.seen .. " times") end
  if text == "end" then game_end("over") stop() end
end)
"#;
    let net = Net::fresh();
    let script = script_file("counting.lua", COUNTING);
    let mut host = announcer(&net, &script, &[]);
    let mut alice = welcomed_player(&net, "alice");
    let mut mallory = welcomed_player(&net, "mallory");
    for i in 0..500 {
        mallory.say(&format!("spam {i}"));
    }
    mallory.wait_event("mallory told to slow down", |v| {
        v["kind"] == "tell" && text(v).contains("too fast")
    });
    alice.say("count");
    let count = alice.wait_event("the count", |v| text(v).starts_with("mallory got through"));
    let through: u64 = text(&count).split(' ').nth(3).unwrap().parse().unwrap();
    // A burst of 40, then 20 a second: however slow this machine, far fewer than 500.
    assert!(
        (40..200).contains(&through),
        "{through} of 500 reached the script"
    );
    alice.say("end");
    alice.wait_kind("game_end");
    assert!(host.wait_exit().success());
    assert!(
        host.stderr().contains("mallory sends too fast"),
        "{}",
        host.stderr()
    );
}

#[test]
fn bots_never_type_faster_than_the_rate_limit() {
    // The bot answers every reply at once (--bot-think 0): unpaced, it would outrun the limit
    // of 50 lines a second after its burst of 100, its lines would be dropped, and the game,
    // waiting for its next move, would never end.
    const PING_PONG: &str = r#"
moves{"go"}
state.n = 0
on_join(function() announce("start") end)
on_message(function(player, text)
  state.n = state.n + 1
  if state.n == 110 then game_end("done") stop() return end
  tell(player, "again")
end)
bot(function(name, event)
  if event.kind == "announce" or event.kind == "tell" then return "go" end
end)
"#;
    let net = Net::fresh();
    let script = script_file("ping_pong.lua", PING_PONG);
    let mut host = announcer(
        &net,
        &script,
        &["--bots", "1", "--bot-think", "0", "--rate-limit", "50"],
    );
    assert!(host.wait_exit().success(), "{}", host.stderr());
    assert!(!host.stderr().contains("too fast"), "{}", host.stderr());
}
