//! The lab's own Python chat (examples/lab/chat.py) meets gamecast both ways, on loopback: it
//! sees the players' chat and the game as readable lines and none of the protocol, its users'
//! lines show in gamecast marked as a text player's, and a lab user plays a whole dice race.
//!
//! Needs python3; without it the tests print SKIPPED and why.

use std::process::Command;

use crate::common::*;

/// The lab chat as `name` on `net`, or `None` (skipped) without python3.
fn lab_chat(net: &Net, name: &str) -> Option<Process> {
    if Command::new("python3").arg("--version").output().is_err() {
        skip("python3 is not installed");
        return None;
    }
    let script = repo("examples/lab/chat.py").display().to_string();
    let args: Vec<String> = [
        script.as_str(),
        "--name",
        name,
        "--group",
        &net.group.to_string(),
        "--port",
        &net.port.to_string(),
        "--iface",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut chat = Process::spawn_env(None, name, "python3", &args, &[("PYTHONUNBUFFERED", "1")]);
    // Its own greeting came back: it is in the group.
    chat.wait_out(&format!("{name}: Entering user"));
    Some(chat)
}

/// Everything the lab chat printed so far.
fn printed(chat: &Process) -> Vec<String> {
    chat.seen
        .iter()
        .filter_map(|l| match l {
            Line::Out(s) => Some(s.clone()),
            Line::Err(_) => None,
        })
        .collect()
}

/// Nothing of the protocol reached a lab terminal: no JSON, no heartbeats, no fragments.
fn assert_no_protocol(chat: &Process) {
    for line in printed(chat) {
        assert!(
            !line.contains("{\"v\"") && !line.contains("heartbeat") && !line.contains("\"kind\""),
            "{}: {line}",
            chat.name
        );
    }
}

#[test]
fn without_an_announcer_the_lab_chat_and_gamecast_players_talk_both_ways() {
    let net = Net::fresh();
    let Some(mut ana) = lab_chat(&net, "ana") else {
        return;
    };
    let Some(mut ben) = lab_chat(&net, "ben") else {
        return;
    };
    let mut alice = player(&net, "alice");
    let mut bob = player(&net, "bob");
    alice.wait_join("bob");
    ana.wait_out("bob: Entering user");

    alice.say("hola desde gamecast");
    ana.wait_out("alice: hola desde gamecast");
    ben.wait_out("alice: hola desde gamecast");
    ana.say("hola desde python");
    for p in [&mut alice, &mut bob] {
        let chat = p.wait_event("ana's line", |v| {
            v["kind"] == "chat" && text(v) == "hola desde python"
        });
        assert_eq!(chat["from"], "~ana", "a lab user is marked: {chat}");
    }
    ben.wait_out("ana: hola desde python");
    // bob saw alice's line once: as protocol, not again from the text channel.
    bob.say("marker");
    bob.wait_event("bob's own marker", |v| {
        v["kind"] == "chat" && text(v) == "marker"
    });
    let alices = bob
        .events()
        .iter()
        .filter(|v| v["kind"] == "chat" && text(v) == "hola desde gamecast")
        .count();
    assert_eq!(alices, 1, "{:?}", bob.events());

    // quit in the lab's chat, and a player's leave, as the lab says them.
    alice.close_input();
    assert!(alice.wait_exit().success());
    ana.wait_out("alice: quit");
    ben.say("quit");
    assert!(ben.wait_exit().success());
    ana.say("quit");
    assert!(ana.wait_exit().success());
    // Heartbeats went on all along on the protocol's port: none reached the lab.
    assert_no_protocol(&ana);
    assert_no_protocol(&ben);
}

#[test]
fn a_lab_user_plays_a_dice_race_to_the_end_with_a_gamecast_player() {
    let net = Net::fresh();
    let Some(mut ana) = lab_chat(&net, "ana") else {
        return;
    };
    let dice = repo("scripts/dice.lua");
    let settings = set(&["countdown=0", "target=12", "turn_seconds=30", "rematch=0"]);
    let mut host = announcer(&net, &dice, &settings);
    let mut alice = welcomed_player(&net, "alice");
    // A gamecast player has the name: the lab's alice is refused, and told why.
    let Some(mut impostor) = lab_chat(&net, "alice") else {
        return;
    };
    impostor.wait_out("announcer: alice: the name \"alice\" is a gamecast player's");
    impostor.say("quit");
    impostor.wait_exit();

    ana.say("Entering user");
    ana.wait_out("announcer: Welcome, ~ana!");
    alice.wait_join("~ana");
    // Two players: the race starts at once; each rolls when a round is announced.
    let mut rounds = 0;
    loop {
        let line = ana.wait_out_any(&["announcer: Round ", "announcer: Game over"]);
        if line.contains("Game over") {
            break;
        }
        ana.say("roll");
        let event = alice.wait_event("a round or the end", |v| {
            (v["kind"] == "countdown" && text(v).contains("type roll")) || v["kind"] == "game_end"
        });
        if event["kind"] == "countdown" {
            alice.say("roll");
        }
        rounds += 1;
        assert!(rounds < 20, "the race never ended");
    }
    let lines = printed(&ana);
    let all = lines.join("\n");
    assert!(all.contains("announcer: === Dice race ==="), "{all}");
    assert!(all.contains("announcer: Ranking:"), "{all}");
    assert!(all.contains(". ~ana "), "ana's row of a ranking: {all}");
    assert!(all.contains("announcer: Congratulations, "), "{all}");
    assert!(all.contains("~ana rolls"), "{all}");
    // The gamecast player's moves never reach the lab; the game shows ana's rolls.
    assert!(!all.contains("alice: roll"), "{all}");
    let ranking = alice
        .events()
        .into_iter()
        .rfind(|v| v["kind"] == "ranking")
        .unwrap();
    assert!(ranking.to_string().contains("~ana"), "{ranking}");
    assert!(host.wait_exit().success(), "{}", host.stderr());
    ana.wait_out("announcer: The announcer closed the game");
    ana.say("quit");
    ana.wait_exit();
    assert_no_protocol(&ana);
}

#[test]
fn gamecast_players_trivia_answers_never_reach_a_lab_terminal() {
    let net = Net::fresh();
    let Some(mut ana) = lab_chat(&net, "ana") else {
        return;
    };
    let trivia = repo("scripts/trivia.lua");
    let settings = set(&[
        "countdown=0",
        "questions=2",
        "question_seconds=30",
        "pause=0",
        "rematch=0",
    ]);
    let mut host = announcer(&net, &trivia, &settings);
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    for _ in 0..2 {
        alice.wait_kind("question");
        bob.wait_kind("question");
        alice.say("b");
        bob.say("c");
        ana.wait_out("announcer: Question ");
    }
    for p in [&mut alice, &mut bob] {
        p.wait_kind("game_end");
    }
    assert!(host.wait_exit().success(), "{}", host.stderr());
    ana.wait_out("announcer: The announcer closed the game");
    let all = printed(&ana).join("\n");
    assert!(
        all.contains("announcer:   a) "),
        "the choices, as rows: {all}"
    );
    assert!(all.contains("announcer: Ranking:"), "{all}");
    for answer in ["alice: b", "bob: c"] {
        assert!(!all.contains(answer), "{answer} reached the lab: {all}");
    }
    ana.say("quit");
    ana.wait_exit();
    assert_no_protocol(&ana);
}

/// The lab report (both languages) cites the lines of src/transport.rs that set each socket
/// option, and shows pictures that exist: a moved line or a lost picture fails here.
#[test]
fn the_lab_reports_cite_real_lines_and_real_pictures() {
    let transport = std::fs::read_to_string(repo("src/transport.rs")).unwrap();
    let lines: Vec<&str> = transport.lines().collect();
    for report in ["docs/lab/report.md", "docs/lab/informe.md"] {
        let text = std::fs::read_to_string(repo(report)).unwrap();
        let mut cited = 0;
        for row in text
            .lines()
            .filter(|l| l.contains("](../../src/transport.rs#L"))
        {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let call = cells[3].trim_matches('`');
            let at = cells[4].split("#L").nth(1).unwrap().trim_end_matches(')');
            let number: usize = at.parse().unwrap();
            let now: Vec<usize> = (1..=lines.len())
                .filter(|n| lines[n - 1].contains(&format!("{call}(")))
                .collect();
            assert!(
                lines[number - 1].contains(call),
                "{report}: src/transport.rs:{number} does not call {call}: {:?}; \
                 {call} is now at line(s) {now:?}: update both reports",
                lines[number - 1]
            );
            cited += 1;
        }
        assert_eq!(cited, 8, "{report}: the socket options' table");
        for picture in text.split("](img/").skip(1) {
            let name = picture.split(')').next().unwrap();
            let path = repo(&format!("docs/lab/img/{name}"));
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(
                size > 1000,
                "{report}: {} is missing or empty",
                path.display()
            );
        }
    }
}
