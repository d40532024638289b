//! Whole games with real players: the dice race, trivia, the lab's hello, and `--bots`.

use serde_json::Value;

use crate::common::*;

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

fn position(events: &[Value], kind: &str) -> usize {
    events
        .iter()
        .position(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
}

fn names(ranking: &Value) -> Vec<&str> {
    ranking["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect()
}

#[test]
fn a_dice_race_with_two_players_to_the_end() {
    let net = Net::fresh();
    let dice = repo("scripts/dice.lua");
    let settings = set(&["countdown=0", "target=12", "turn_seconds=30", "rematch=0"]);
    let mut host = announcer(&net, &dice, &settings);
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    for p in [&mut alice, &mut bob] {
        let start = p.wait_kind("game_start");
        assert_eq!(start["title"], "Dice race");
    }
    let rounds = race(&mut [&mut alice, &mut bob]);
    for p in [&mut alice, &mut bob] {
        p.wait_kind("close");
        assert!(
            p.wait_exit().success(),
            "a closed game ends the player with 0"
        );
    }
    assert!(host.wait_exit().success());

    let events = alice.events();
    let rankings = of_kind(&events, "ranking");
    assert_eq!(rankings.len(), rounds, "a ranking after every round");
    assert!(rankings.iter().all(|r| {
        let mut n = names(r);
        n.sort();
        n == ["alice", "bob"]
    }));
    let last = rankings.last().unwrap();
    assert!(
        last["entries"][0]["score"].as_i64().unwrap() >= 12,
        "{last}"
    );
    let winner = &of_kind(&events, "congratulate")[0]["player"];
    assert!(
        last["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["rank"] == 1 && e["name"] == *winner),
        "the congratulated {winner} is ranked first in {last}"
    );
    // The lab's order: start, rankings, the winner congratulated, the end.
    let order: Vec<usize> = ["game_start", "ranking", "congratulate", "game_end", "close"]
        .iter()
        .map(|k| position(&events, k))
        .collect();
    assert!(order.is_sorted(), "{order:?} in {events:?}");
    // Both players saw the same game.
    assert_eq!(of_kind(&bob.events(), "ranking"), rankings);
    // Moves are never shown as chat to anyone.
    assert!(of_kind(&events, "chat").is_empty(), "{events:?}");
}

#[test]
fn a_player_quits_mid_game_and_the_game_goes_on() {
    let net = Net::fresh();
    let dice = repo("scripts/dice.lua");
    let settings = set(&[
        "countdown=0",
        "min_players=3",
        "target=14",
        "turn_seconds=1",
        "rematch=0",
    ]);
    let _host = announcer(&net, &dice, &settings);
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    let mut carol = welcomed_player(&net, "carol");
    for p in [&mut alice, &mut bob, &mut carol] {
        p.wait_event("round 1", is_round);
    }
    carol.say("quit");
    assert!(carol.wait_exit().success());
    for p in [&mut alice, &mut bob] {
        let left = p.wait_kind("leave");
        assert_eq!(
            (left["player"].as_str(), left["reason"].as_str()),
            (Some("carol"), Some("quit"))
        );
        p.wait_event("carol's leaving announced", |v| {
            v["kind"] == "announce" && text(v).contains("carol") && text(v).contains("left")
        });
    }
    // Nobody rolls in round 1: after turn_seconds the game rolls for alice and bob.
    let first = alice.wait_kind("ranking");
    assert_eq!(
        names(&first).len(),
        2,
        "carol is dropped from the ranking: {first}"
    );
    assert!(names(&first).iter().all(|n| *n != "carol"));
    assert!(
        alice
            .events()
            .iter()
            .any(|e| text(e).contains("didn't roll in time"))
    );
    // The rest of the race is played to the end by the two who stayed.
    race(&mut [&mut alice, &mut bob]);
    for p in [&mut alice, &mut bob] {
        p.wait_kind("close");
        assert!(p.wait_exit().success());
        assert!(
            of_kind(&p.events(), "ranking")
                .iter()
                .all(|r| !names(r).contains(&"carol"))
        );
    }
}

/// After the end, `again` from one player starts a new race for everyone there, in the same
/// processes; when they all quit after it, the announcer stops at once.
#[test]
fn again_after_the_end_plays_a_rematch_in_the_same_processes() {
    let net = Net::fresh();
    let dice = repo("scripts/dice.lua");
    let settings = set(&["countdown=0", "target=6", "turn_seconds=30"]);
    let mut host = announcer(&net, &dice, &settings);
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    race(&mut [&mut alice, &mut bob]);
    for p in [&mut alice, &mut bob] {
        p.wait_event("the rematch offer", |v| {
            text(v).starts_with("Type again within 30 seconds")
        });
    }
    alice.say("again");
    for p in [&mut alice, &mut bob] {
        p.wait_event("alice's call", |v| text(v) == "alice wants a rematch.");
        let start = p.wait_kind("game_start");
        assert_eq!(start["title"], "Dice race");
    }
    // The second race, from 0: its first ranking has nobody past one roll of the die.
    let second = race(&mut [&mut alice, &mut bob]);
    assert!(second >= 1);
    let events = alice.events();
    let starts = of_kind(&events, "game_start");
    assert_eq!(starts.len(), 2, "two races in one process: {events:?}");
    let after = events
        .iter()
        .rposition(|e| e["kind"] == "game_start")
        .unwrap();
    let first_ranking = events[after..]
        .iter()
        .find(|e| e["kind"] == "ranking")
        .unwrap();
    assert!(
        first_ranking["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["score"].as_i64().unwrap() <= 6),
        "the rematch starts from 0: {first_ranking}"
    );
    assert_eq!(of_kind(&events, "game_end").len(), 2);
    assert!(
        of_kind(&events, "chat").is_empty(),
        "again is a move: {events:?}"
    );
    // Nobody wants a third: both leave, and with nobody left the announcer stops.
    for p in [&mut alice, &mut bob] {
        p.wait_event("the second offer", |v| {
            text(v).starts_with("Type again within")
        });
        p.say("quit");
        assert!(p.wait_exit().success());
    }
    assert!(host.wait_exit().success(), "{}", host.stderr());
    assert!(
        host.stderr().contains("Nobody left for another race"),
        "{}",
        host.stderr()
    );
}

#[test]
fn trivia_with_two_players() {
    let net = Net::fresh();
    let trivia = repo("scripts/trivia.lua");
    let settings = set(&[
        "countdown=0",
        "questions=3",
        "question_seconds=20",
        "pause=0",
        "rematch=0",
    ]);
    let _host = announcer(&net, &trivia, &settings);
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    // trivia.lua asks its questions in file order; the first three are answered c, a, d.
    // alice knows them all, bob answers wrong every time.
    let right = ["c", "a", "d"];
    let wrong = ["a", "b", "a"];
    for (number, (good, bad)) in right.iter().zip(wrong).enumerate() {
        let q = alice.wait_kind("question");
        assert_eq!(q["number"], number + 1);
        assert_eq!(q["total"], 3);
        assert_eq!(q["choices"].as_array().unwrap().len(), 4);
        alice.say(good);
        let q = bob.wait_kind("question");
        assert_eq!(q["number"], number + 1);
        bob.say(bad);
        for p in [&mut alice, &mut bob] {
            let answer = p.wait_event("the answer", |v| {
                v["kind"] == "announce" && text(v).starts_with("Answer")
            });
            assert!(
                text(&answer).starts_with(&format!("Answer: {good})")),
                "{answer}"
            );
            let ranking = p.wait_kind("ranking");
            assert_eq!(ranking["entries"][0]["name"], "alice");
            // Faster right answers score more than the 500 points of a last-second one.
            let score = ranking["entries"][0]["score"].as_i64().unwrap();
            assert!(score > 500 * (number as i64 + 1), "{ranking}");
            assert_eq!(ranking["entries"][1]["score"], 0, "{ranking}");
        }
    }
    for p in [&mut alice, &mut bob] {
        let winner = p.wait_kind("congratulate");
        assert_eq!(winner["player"], "alice");
        p.wait_kind("game_end");
        p.wait_kind("close");
        assert!(p.wait_exit().success());
    }
    // Nobody's answer is ever shown to anyone else: no chat, and private lines stay private.
    for (p, me) in [(&alice, "alice"), (&bob, "bob")] {
        let events = p.events();
        assert!(of_kind(&events, "chat").is_empty(), "{events:?}");
        assert!(
            of_kind(&events, "tell").iter().all(|t| t["to"] == me),
            "{events:?}"
        );
    }
}

#[test]
fn hello_ends_for_everyone_when_someone_says_adios() {
    let net = Net::fresh();
    let mut host = announcer(&net, &repo("scripts/hello.lua"), &[]);
    let mut alice = welcomed_player(&net, "alice");
    alice.wait_event("alice greeted", |v| {
        v["kind"] == "announce" && text(v).contains("alice")
    });
    let mut bob = welcomed_player(&net, "bob");
    alice.wait_join("bob");
    alice.say("Hola, soy alice");
    bob.wait_event("alice's greeting", |v| {
        v["kind"] == "chat" && v["from"] == "alice"
    });
    bob.say("Adiós");
    for p in [&mut alice, &mut bob] {
        let end = p.wait_kind("game_end");
        assert!(text(&end).contains("bob"), "{end}");
        p.wait_kind("close");
        assert!(
            p.wait_exit().success(),
            "every player leaves together, exiting 0"
        );
    }
    assert!(host.wait_exit().success());
}

/// `announcer --bots N` plays a whole game by itself; its `--json` output is what the host sees.
fn bots_finish(script: &str, settings: &[&str]) -> Vec<Value> {
    let net = Net::fresh();
    let mut args = vec!["--bots", "3", "--bot-think", "0.05"];
    args.extend_from_slice(settings);
    let mut host = announcer(&net, &repo(script), &args);
    let status = host.wait_exit();
    assert!(status.success(), "{status}: {}", host.stderr());
    let sent: Vec<Value> = host
        .events()
        .into_iter()
        .filter(|e| e["dir"] == "sent")
        .collect();
    let joined = host
        .events()
        .iter()
        .filter(|e| e["dir"] == "received" && e["kind"] == "join")
        .count();
    assert!(joined >= 3, "the bots joined over the group");
    sent
}

#[test]
fn bots_finish_a_dice_race() {
    let sent = bots_finish(
        "scripts/dice.lua",
        &set(&["countdown=0", "min_players=3", "target=15"]),
    );
    let kinds: Vec<&str> = sent.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in ["game_start", "ranking", "congratulate", "game_end", "close"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}

#[test]
fn bots_finish_trivia() {
    let settings = set(&["countdown=0", "min_players=3", "questions=2", "pause=0"]);
    let sent = bots_finish("scripts/trivia.lua", &settings);
    let questions = sent.iter().filter(|e| e["kind"] == "question").count();
    assert_eq!(questions, 2);
    assert!(sent.iter().any(|e| e["kind"] == "game_end"));
}

/// The line mode warns a player who has not moved before the game moves for them, once, and
/// only on their own screen.
#[test]
fn the_line_mode_warns_before_the_game_rolls_for_you() {
    let net = Net::fresh();
    let dice = repo("scripts/dice.lua");
    let _host = announcer(
        &net,
        &dice,
        &set(&["countdown=0", "turn_seconds=6", "rematch=0"]),
    );
    let mut bob = welcomed_player(&net, "bob");
    let mut args = vec!["--name".to_string(), "alice".to_string()];
    args.extend(net.flags());
    let mut alice = Process::spawn_env(None, "alice", env!("CARGO_BIN_EXE_player"), &args, &[]);
    alice.wait_line(
        "round 1",
        |l| matches!(l, Line::Out(s) if s.contains("Round 1: type roll")),
    );
    bob.wait_event("round 1", is_round);
    bob.say("roll");
    let warned = alice.wait_line(
        "the warning",
        |l| matches!(l, Line::Out(s) if s.contains(" s left: Round 1: type roll")),
    );
    assert!(
        matches!(&warned, Line::Out(s) if s.starts_with("[5 s left") || s.starts_with("[4 s left")),
        "{warned:?}"
    );
    alice.wait_line(
        "the game rolling for alice",
        |l| matches!(l, Line::Out(s) if s.contains("alice didn't roll in time")),
    );
    assert!(
        bob.events().iter().all(|e| !text(e).contains(" s left:")),
        "the warning is alice's own"
    );
}
