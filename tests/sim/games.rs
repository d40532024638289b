//! Whole games on the in-memory hub: loss and reordering, a player gone silent, a restarted
//! announcer, a late joiner, a player cut off and taken back.

use std::time::Duration;

use gamecast::player::Options;
use serde_json::Value;

use crate::*;

/// A whole dice race: two bots play, alice and bob watch (the game rolls for them) and chat,
/// through `loss` and reordering. Every player shows what the announcer sent after its
/// welcome, all of it, in order, once; bob shows every line alice typed.
async fn dice_race_through(seed: u64, loss: f64) {
    let hub = lossy_hub(seed, loss);
    let mut host = Host::start_with(
        &hub,
        &repo("scripts/dice.lua"),
        settings(),
        &[
            ("min_players", "4"),
            ("countdown", "0.2"),
            ("turn_seconds", "0.3"),
            ("target", "25"),
        ],
        2,
    )
    .await;
    let mut alice = Seat::join(&hub, "alice");
    let mut bob = Seat::join(&hub, "bob");
    alice.wait_kind("welcome").await;
    bob.wait_kind("welcome").await;
    let lines: Vec<String> = (1..=20).map(|i| format!("line {i} from alice")).collect();
    for line in &lines {
        alice.say(line).await;
    }
    for seat in [&mut alice, &mut bob] {
        seat.wait_kind("game_end").await;
        seat.wait_kind("close").await;
        seat.finish().await;
    }
    host.finish().await;
    let all = host.sent_announcements();
    assert!(
        all.iter().filter(|v| v["kind"] == "ranking").count() >= 3,
        "{all:?}"
    );
    for seat in [&alice, &bob] {
        let welcome = seat.seen.iter().find(|v| v["kind"] == "welcome").unwrap();
        let sent = sent_after_welcome(host.events(), welcome);
        assert_eq!(seat.shown_announcements(), sent, "{} at {loss}", seat.name);
        let lost: Vec<&Value> = seat.seen.iter().filter(|v| v["kind"] == "lost").collect();
        assert!(lost.is_empty(), "{}: {lost:?}", seat.name);
    }
    let heard: Vec<&str> = bob
        .seen
        .iter()
        .filter(|v| v["kind"] == "chat" && v["from"] == "alice")
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    assert_eq!(heard, lines);
}

#[tokio::test(start_paused = true)]
async fn a_dice_race_through_10_percent_loss() {
    local(10, dice_race_through(10, 0.1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_dice_race_through_30_percent_loss_and_reordering() {
    local(30, dice_race_through(30, 0.3)).await;
}

/// Says why each player left.
const LEAVES: &str = r#"
on_leave(function(player, why) announce(player .. " left: " .. why) end)
"#;

#[tokio::test(start_paused = true)]
async fn a_player_gone_silent_is_announced_gone() {
    local(1, async {
        let hub = lossy_hub(1, 0.0);
        let _host = Host::start(&hub, &script_file("leaves.lua", LEAVES), settings(), &[]).await;
        let mut alice = Seat::join_with(
            &hub,
            "alice",
            Options {
                heartbeat: Duration::from_millis(200),
                ..Options::default()
            },
        );
        let mut bob = Seat::join(&hub, "bob");
        alice.wait_kind("welcome").await;
        bob.wait_kind("welcome").await;
        // Gone without a word: its task (and its link) dropped, as a crash would.
        alice.task.abort();
        let left = bob.wait_kind("leave").await;
        assert_eq!(
            (left["player"].as_str(), left["reason"].as_str()),
            (Some("alice"), Some("connection lost"))
        );
        let told = bob.wait_kind("announce").await;
        assert_eq!(told["text"], "alice left: timeout");
    })
    .await;
}

/// Announces its version when it starts and to each player who joins.
fn versioned(version: &str) -> String {
    format!("announce('{version} up')\non_join(function(p) announce('{version} for ' .. p) end)\n")
}

#[tokio::test(start_paused = true)]
async fn a_restarted_announcer_is_detected_and_followed() {
    local(2, async {
        let hub = lossy_hub(2, 0.0);
        let first = Host::start(
            &hub,
            &script_file("first.lua", &versioned("v1")),
            settings(),
            &[],
        )
        .await;
        let mut alice = Seat::join(&hub, "alice");
        alice
            .wait("v1's line", |v| v["text"] == "v1 for alice")
            .await;
        first.task.abort();
        let gone = alice.wait_kind("announcer").await;
        assert_eq!(gone["state"], "unreachable");
        let _second = Host::start(
            &hub,
            &script_file("second.lua", &versioned("v2")),
            settings(),
            &[],
        )
        .await;
        let restarted = alice.wait_kind("announcer").await;
        assert_eq!(restarted["state"], "restarted");
        alice.wait_kind("welcome").await;
        alice
            .wait("v2's line", |v| v["text"] == "v2 for alice")
            .await;
        let after: Vec<&Value> = alice
            .seen
            .iter()
            .skip_while(|v| v["state"] != "restarted")
            .filter(|v| v["kind"] == "announce")
            .collect();
        assert!(
            after
                .iter()
                .all(|v| v["text"].as_str().unwrap().starts_with("v2")),
            "{after:?}"
        );
    })
    .await;
}

/// A game in progress: a title and a ranking before anyone joins, then, for each player who
/// joins, a live line.
const IN_PROGRESS: &str = r#"
game_start("Late join", "a game already going")
ranking({ ann = 12, ben = 7, cy = 9 })
on_join(function(player) announce("live for " .. player) end)
"#;

#[tokio::test(start_paused = true)]
async fn a_late_joiner_sees_the_game_in_progress_first() {
    local(3, async {
        let hub = lossy_hub(3, 0.0);
        let _host = Host::start(
            &hub,
            &script_file("in_progress.lua", IN_PROGRESS),
            settings(),
            &[],
        )
        .await;
        let mut late = Seat::join(&hub, "late");
        let welcome = late.wait_kind("welcome").await;
        assert_eq!(welcome["game"]["title"], "Late join");
        let names: Vec<&str> = welcome["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ann", "cy", "ben"]);
        let live = late.wait_kind("announce").await;
        assert_eq!(live["text"], "live for late");
        late.close_input();
        let played = late.finish().await;
        let kinds: Vec<&str> = late
            .seen
            .iter()
            .map(|v| v["kind"].as_str().unwrap_or(""))
            .collect();
        assert!(
            !kinds.iter().any(|k| *k == "game_start" || *k == "ranking"),
            "{kinds:?}"
        );
        assert_eq!((played.stats.nacks, played.stats.gaps), (0, 0));
    })
    .await;
}

/// Counts rounds every 0.1 s, and ends after the 40th.
pub const ROUNDS: &str = r#"
state.round = 0
on_join(function()
  if state.timer then return end
  state.timer = every(0.1, function()
    state.round = state.round + 1
    announce("round " .. state.round)
    if state.round == 40 then game_end("over") stop() end
  end)
end)
"#;

#[tokio::test(start_paused = true)]
async fn a_player_cut_off_and_dropped_shows_the_whole_game_and_is_taken_back() {
    // Row 17: a player dropped by the announcer went on reading the game but showed none of
    // it (the game's end among it) until it was welcomed again.
    local(4, async {
        let hub = lossy_hub(4, 0.0);
        let _host = Host::start(&hub, &script_file("rounds.lua", ROUNDS), settings(), &[]).await;
        let mut alice = Seat::join(&hub, "alice");
        alice.wait_kind("welcome").await;
        alice.wait("round 5", |v| v["text"] == "round 5").await;
        // Her way out is cut: the announcer hears nothing from her and drops her.
        hub.mute(alice.address, true);
        alice
            .wait("being dropped", |v| {
                v["kind"] == "notice" && v["text"].as_str().unwrap_or("").contains("dropped us")
            })
            .await;
        hub.mute(alice.address, false);
        alice.wait_kind("game_end").await;
        alice.finish().await;
        let rounds: Vec<u64> = alice
            .seen
            .iter()
            .filter_map(|v| v["text"].as_str()?.strip_prefix("round ")?.parse().ok())
            .collect();
        assert_eq!(
            rounds,
            (1..=40).collect::<Vec<_>>(),
            "every round, once, in order"
        );
        assert!(
            alice.seen.iter().any(|v| v["kind"] == "notice"
                && v["text"].as_str().unwrap_or("").contains("took us back")),
            "{:?}",
            alice.seen
        );
    })
    .await;
}

/// Three players joining at once are told what the roster says: the lobby counts them after
/// their joins are all in, never "1 of 2 players here" to three players.
#[tokio::test(start_paused = true)]
async fn players_joining_together_are_counted_right() {
    local(3, async {
        let hub = lossy_hub(3, 0.0);
        let mut host = Host::start(
            &hub,
            &repo("scripts/dice.lua"),
            settings(),
            &[("min_players", "4"), ("countdown", "5")],
        )
        .await;
        let mut seats: Vec<Seat> = ["ann", "ben", "cy"]
            .iter()
            .map(|name| Seat::join(&hub, name))
            .collect();
        for seat in &mut seats {
            seat.wait_kind("welcome").await;
        }
        let told = seats[0]
            .wait("the lobby's count", |v| {
                v["kind"] == "announce" && v["text"].as_str().unwrap_or("").contains(" here")
            })
            .await;
        assert_eq!(
            told["text"],
            "3 of 4 players here. Waiting for more, or type start to play now."
        );
        for seat in &seats {
            let counts: Vec<&Value> = seat
                .seen
                .iter()
                .filter(|v| {
                    v["text"]
                        .as_str()
                        .is_some_and(|t| t.contains(" players here"))
                })
                .collect();
            assert!(
                counts
                    .iter()
                    .all(|v| v["text"].as_str().unwrap().starts_with("3 of 4")),
                "{counts:?}"
            );
        }
        host.stop().await;
    })
    .await;
}

/// A spectator (the scoreboard's way in) watches a dice race through loss: it shows every
/// announcement from its first on, in order, repaired, and the game never counts it: it sends
/// nothing but NACKs, so it is in no roster, and it stays when the game closes.
async fn a_spectator_watches_through(seed: u64, loss: f64) {
    let hub = lossy_hub(seed, loss);
    let mut watcher = Seat::join_with(
        &hub,
        "scoreboard",
        Options {
            spectator: true,
            ..Options::default()
        },
    );
    let mut host = Host::start_with(
        &hub,
        &repo("scripts/dice.lua"),
        settings(),
        &[
            ("countdown", "0.2"),
            ("turn_seconds", "0.3"),
            ("target", "40"),
            ("rematch", "0"),
        ],
        2,
    )
    .await;
    // A second one comes in the middle of the race: it asks where the game stands, and shows
    // the game's title and its players at once.
    watcher.wait_kind("ranking").await;
    let mut late = Seat::join_with(
        &hub,
        "scoreboard",
        Options {
            spectator: true,
            ..Options::default()
        },
    );
    let told = late.wait_kind("welcome").await;
    assert_eq!(told["game"]["title"], "Dice race", "{told}");
    assert_eq!(told["players"].as_array().map(Vec::len), Some(2), "{told}");
    watcher.wait_kind("game_end").await;
    watcher.wait_kind("close").await;
    host.finish().await;
    late.close_input();
    late.finish().await;
    let sent = host.sent_announcements();
    let shown = watcher.shown_announcements();
    let first = sent
        .iter()
        .position(|v| Some(v) == shown.first())
        .expect("the spectator shows what was sent");
    assert_eq!(shown, sent[first..].to_vec());
    assert!(shown.iter().any(|v| v["kind"] == "game_start"), "{shown:?}");
    let lost: Vec<&Value> = watcher
        .seen
        .iter()
        .filter(|v| v["kind"] == "lost")
        .collect();
    assert!(lost.is_empty(), "{lost:?}");
    let from_it: Vec<Value> = host
        .events()
        .into_iter()
        .filter(|v| v["dir"] == "received" && v["from"] == "scoreboard")
        .collect();
    assert!(
        from_it
            .iter()
            .all(|v| v["kind"] == "nack" || v["kind"] == "watch"),
        "a spectator sends only NACKs and its requests for the game's state: {from_it:?}"
    );
    assert!(
        !watcher.task.is_finished(),
        "the spectator stays for the next game"
    );
    watcher.close_input();
    watcher.finish().await;
}

#[tokio::test(start_paused = true)]
async fn a_spectator_watches_a_whole_race_through_30_percent_loss() {
    local(31, a_spectator_watches_through(31, 0.3)).await;
}
