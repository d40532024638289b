//! Delivery across hosts with real loss: the announcer and players on different network
//! namespaces of a LAN, nftables dropping datagrams at random on the players' receive paths.
//! What every player shows must be what the announcer sent: all of it, in order, once.
//!
//! These need root, `ip` and `nft` (CI has them); without them each test prints SKIPPED and
//! why, or fails where `GAMECAST_NO_SKIP` is set (in CI).

use serde_json::Value;

use crate::common::lan::Lan;
use crate::common::*;

/// A whole dice race: two bots on the announcer's host play, two players on lossy hosts watch
/// (the game rolls for them) and chat with each other.
fn whole_game_through_loss(percent: u32) {
    let Some(lan) = Lan::build(3) else { return };
    let net = Net::fresh();
    let mut host = announcer_in(
        &lan,
        0,
        &net,
        &repo("scripts/dice.lua"),
        &[
            "--bots",
            "2",
            "--bot-think",
            "0.05",
            "--set",
            "min_players=4",
            "--set",
            "countdown=0.2",
            "--set",
            "turn_seconds=0.3",
            "--set",
            "target=25",
            "--set",
            "rematch=0",
        ],
    );
    lan.loss(1, percent);
    lan.loss(2, percent);
    let mut alice = welcomed_player_in(&lan, 1, &net, "alice", &[]);
    let mut bob = welcomed_player_in(&lan, 2, &net, "bob", &[]);
    // Chat between players is repaired too: bob gets every line, in order, once.
    let lines: Vec<String> = (1..=20).map(|i| format!("line {i} from alice")).collect();
    for line in &lines {
        alice.say(line);
    }
    for player in [&mut alice, &mut bob] {
        player.wait_kind("game_end");
        player.wait_kind("close");
        assert!(player.wait_exit().success(), "{}", player.stderr());
    }
    assert!(host.wait_exit().success(), "{}", host.stderr());

    let all = sent_announcements(&host);
    assert!(
        all.iter().filter(|v| v["kind"] == "ranking").count() >= 3,
        "a race has rankings: {all:?}"
    );
    assert_eq!(
        all.iter().filter(|v| v["kind"] == "congratulate").count(),
        1
    );
    for player in [&alice, &bob] {
        // A player whose first welcome was lost is welcomed again when it asks again; what
        // came between is in that welcome's snapshot (the game, the latest ranking).
        let welcome = player
            .events()
            .into_iter()
            .find(|v| v["kind"] == "welcome")
            .unwrap();
        let sent = sent_after_welcome(host.events(), &welcome);
        assert_eq!(
            shown_announcements(player),
            sent,
            "{} at {percent}% loss",
            player.name
        );
        assert!(
            sent.iter().any(|v| v["kind"] == "game_start") || welcome["game"].is_object(),
            "{} saw the game start, live or in its welcome",
            player.name
        );
        let lost: Vec<Value> = player
            .events()
            .into_iter()
            .filter(|v| v["kind"] == "lost")
            .collect();
        assert!(lost.is_empty(), "{}: {lost:?}", player.name);
    }
    let heard: Vec<String> = bob
        .events()
        .into_iter()
        .filter(|v| v["kind"] == "chat" && v["from"] == "alice")
        .map(|v| text(&v).to_string())
        .collect();
    assert_eq!(heard, lines);
    // The loss was real: the rules dropped datagrams on both players' hosts.
    assert!(lan.dropped_by_loss(1) > 0 && lan.dropped_by_loss(2) > 0);
}

#[test]
fn a_whole_game_through_10_percent_loss() {
    whole_game_through_loss(10);
}

#[test]
fn a_whole_game_through_30_percent_loss() {
    whole_game_through_loss(30);
}

/// A script that says when a player leaves and why (the reason the script gets).
const LEAVES: &str = r#"
on_leave(function(player, why) announce(player .. " left: " .. why) end)
"#;

#[test]
fn a_killed_player_is_announced_gone() {
    let Some(lan) = Lan::build(3) else { return };
    let net = Net::fresh();
    let script = script_file("leaves.lua", LEAVES);
    let _host = announcer_in(&lan, 0, &net, &script, &[]);
    // alice beats every 0.2 s when quiet: gone after three silent beats, 0.6 s.
    let mut alice = welcomed_player_in(&lan, 1, &net, "alice", &["--heartbeat", "0.2"]);
    let mut bob = welcomed_player_in(&lan, 2, &net, "bob", &[]);
    alice.kill9();
    let left = bob.wait_kind("leave");
    assert_eq!(
        (left["player"].as_str(), left["reason"].as_str()),
        (Some("alice"), Some("connection lost"))
    );
    let told = bob.wait_kind("announce");
    assert_eq!(text(&told), "alice left: timeout");
}

/// A game in progress: a title and a ranking before anyone joins, then, for each player who
/// joins, a live line.
const IN_PROGRESS: &str = r#"
game_start("Late join", "a game already going")
ranking({ ann = 12, ben = 7, cy = 9 })
on_join(function(player) announce("live for " .. player) end)
"#;

#[test]
fn a_late_joiner_sees_the_game_in_progress_first() {
    let Some(lan) = Lan::build(2) else { return };
    let net = Net::fresh();
    let script = script_file("in_progress.lua", IN_PROGRESS);
    let mut host = announcer_in(&lan, 0, &net, &script, &[]);
    let mut late = player_in(&lan, 1, &net, "late", &["--stats"]);
    let welcome = late.wait_kind("welcome");
    assert_eq!(welcome["game"]["title"], "Late join");
    let names: Vec<&str> = welcome["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "cy", "ben"]);
    let live = late.wait_kind("announce");
    assert_eq!(text(&live), "live for late");
    // Nothing from before the join was shown or asked for again.
    let kinds: Vec<String> = late
        .events()
        .iter()
        .map(|v| v["kind"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        !kinds.iter().any(|k| k == "game_start" || k == "ranking"),
        "{kinds:?}"
    );
    late.close_input();
    assert!(late.wait_exit().success());
    let stats: Value = serde_json::from_str(late.stderr().lines().last().unwrap()).unwrap();
    assert_eq!(
        (stats["nacks"].as_u64(), stats["gaps"].as_u64()),
        (Some(0), Some(0))
    );
    host.kill9();
}

/// Announces its version when it starts and to each player who joins.
fn versioned(version: &str) -> String {
    format!("announce('{version} up')\non_join(function(p) announce('{version} for ' .. p) end)\n")
}

#[test]
fn a_restarted_announcer_is_detected_and_followed() {
    let Some(lan) = Lan::build(2) else { return };
    let net = Net::fresh();
    let first = script_file("first.lua", &versioned("v1"));
    let second = script_file("second.lua", &versioned("v2"));
    let mut host = announcer_in(&lan, 0, &net, &first, &[]);
    let mut alice = welcomed_player_in(&lan, 1, &net, "alice", &[]);
    alice.wait_event("v1's line", |v| text(v) == "v1 for alice");
    host.kill9();
    let gone = alice.wait_kind("announcer");
    assert_eq!(gone["state"], "unreachable");

    let _host = announcer_in(&lan, 0, &net, &second, &[]);
    let restarted = alice.wait_kind("announcer");
    assert_eq!(restarted["state"], "restarted");
    alice.wait_kind("welcome");
    alice.wait_event("v2's line", |v| text(v) == "v2 for alice");
    let after: Vec<Value> = alice
        .events()
        .into_iter()
        .skip_while(|v| v["state"] != "restarted")
        .filter(|v| v["kind"] == "announce")
        .collect();
    assert!(
        after.iter().all(|v| text(v).starts_with("v2")),
        "nothing of the old run after the restart: {after:?}"
    );
}

/// A ranking of 300 players, three times, to each player who joins.
const BIG_RANKING: &str = r#"
on_join(function(player)
  local scores = {}
  for i = 1, 300 do scores["player-" .. i] = i * 7 % 1000 end
  for _ = 1, 3 do ranking(scores) end
  announce("done")
end)
"#;

#[test]
fn a_ranking_of_300_players_arrives_whole_through_loss() {
    let Some(lan) = Lan::build(2) else { return };
    let net = Net::fresh();
    let script = script_file("big.lua", BIG_RANKING);
    let mut host = announcer_in(&lan, 0, &net, &script, &[]);
    lan.loss(1, 10);
    let mut alice = welcomed_player_in(&lan, 1, &net, "alice", &[]);
    alice.wait_event("the line after the rankings", |v| text(v) == "done");
    host.wait_event("the line after the rankings, sent", |v| {
        v["dir"] == "sent" && text(v) == "done"
    });
    let rankings: Vec<Value> = alice
        .events()
        .into_iter()
        .filter(|v| v["kind"] == "ranking")
        .collect();
    assert_eq!(rankings.len(), 3, "each once");
    let sent = sent_announcements(&host);
    for ranking in &rankings {
        assert_eq!(ranking["entries"].as_array().unwrap().len(), 300);
        assert_eq!(*ranking, sent[0]);
    }
    assert!(lan.dropped_by_loss(1) > 0, "the loss was real");
    host.kill9();
}
