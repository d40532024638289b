//! Hostile datagrams injected into a running game on the in-memory hub: numbers at the edges
//! of a `u64`, reversed ranges, heartbeats claiming far-ahead numbers, a flood of made-up
//! joins, a forged heartbeat for a real player. The game goes on for everyone, whole.

use serde_json::json;

use crate::*;

/// A rogue's port on the hub.
const ROGUE: u16 = 9;

/// Echoes every line, numbered, so that a test sees each one reach the script.
const ECHO: &str = r#"
state.n = 0
on_message(function(player, text)
  state.n = state.n + 1
  announce(player .. " said " .. text .. " #" .. state.n)
  if text == "end" then game_end("over") stop() end
end)
"#;

/// Where a player's own datagrams stand: its session, from its welcome's streams as another
/// player sees them (here: read from the announcer's log of the join it received).
fn session_of(host: &mut Host, name: &str) -> u64 {
    host.events()
        .into_iter()
        .find(|v| v["dir"] == "received" && v["kind"] == "join" && v["from"] == name)
        .and_then(|v| v["session"].as_u64())
        .unwrap_or_else(|| panic!("{name}'s join was received"))
}

#[tokio::test(start_paused = true)]
async fn numbers_at_the_edges_and_reversed_ranges_change_nothing() {
    // Rows 1 and 2: a heartbeat with `last` = 2^64 - 1 hung a process (a wrapped `last + 1`),
    // a reversed range in a NACK or an expiry panicked it.
    local(11, async {
        let hub = lossy_hub(11, 0.0);
        let mut host = Host::start(&hub, &script_file("echo.lua", ECHO), settings(), &[]).await;
        let mut alice = Seat::join(&hub, "alice");
        let mut bob = Seat::join(&hub, "bob");
        alice.wait_kind("welcome").await;
        bob.wait_kind("welcome").await;
        alice.say("one").await;
        bob.wait("alice's first line", |v| v["text"] == "alice said one #1")
            .await;
        let announcer = host
            .events()
            .into_iter()
            .find_map(|v| (v["dir"] == "sent").then(|| v["session"].as_u64()).flatten())
            .unwrap();
        let alice_session = session_of(&mut host, "alice");
        for session in [announcer, alice_session, 77] {
            for last in [u64::MAX, u64::MAX - 1, 1 << 53, (1 << 53) - 1] {
                let beat = json!({"kind": "heartbeat", "last": last, "every_ms": 250, "announcer": session == announcer});
                hub.inject(&datagram(session, 0, "x", beat), ROGUE);
            }
            for ranges in [json!([[5, 3]]), json!([[u64::MAX, 1]]), json!([[0, 0]])] {
                hub.inject(
                    &datagram(77, 0, "x", json!({"kind": "nack", "to": session, "ranges": ranges})),
                    ROGUE,
                );
                hub.inject(
                    &datagram(session, 0, "x", json!({"kind": "expired", "ranges": ranges})),
                    ROGUE,
                );
            }
        }
        // The game goes on: every line reaches the script and every player, in order.
        for i in 2..=5 {
            alice.say(&format!("line {i}")).await;
        }
        alice.say("end").await;
        for seat in [&mut alice, &mut bob] {
            seat.wait_kind("game_end").await;
            seat.finish().await;
        }
        host.finish().await;
        let said: Vec<&str> = bob
            .seen
            .iter()
            .filter_map(|v| v["text"].as_str().filter(|t| t.contains(" said ")))
            .collect();
        assert_eq!(
            said,
            [
                "alice said one #1",
                "alice said line 2 #2",
                "alice said line 3 #3",
                "alice said line 4 #4",
                "alice said line 5 #5",
                "alice said end #6"
            ]
        );
        assert!(!bob.seen.iter().any(|v| v["kind"] == "lost"), "{:?}", bob.seen);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_forged_heartbeat_far_ahead_does_not_silence_a_player() {
    // Row 11: one heartbeat with alice's session and her `last` + 65,536 made every later
    // datagram of hers look old to the announcer: her moves never reached the script again.
    local(12, async {
        let hub = lossy_hub(12, 0.0);
        let mut host = Host::start(&hub, &script_file("echo.lua", ECHO), settings(), &[]).await;
        let mut alice = Seat::join(&hub, "alice");
        alice.wait_kind("welcome").await;
        alice.say("before").await;
        alice
            .wait("her line", |v| v["text"] == "alice said before #1")
            .await;
        let session = session_of(&mut host, "alice");
        let beat =
            json!({"kind": "heartbeat", "last": 2 + 65_536, "every_ms": 500, "announcer": false});
        hub.inject(&datagram(session, 0, "alice", beat), ROGUE);
        alice.say("after").await;
        alice
            .wait("her next line", |v| v["text"] == "alice said after #2")
            .await;
        // And after the claimed numbers were asked for and given up on, still.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        alice.say("later").await;
        alice
            .wait("a later line", |v| v["text"] == "alice said later #3")
            .await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_thousand_made_up_joins_leave_room_for_real_players() {
    // Row 10: a thousand fake joins filled the roster without bound, until no welcome fit in
    // an event and no real player could join. Now three thousand, one a millisecond: more than
    // the joins' budget lets in, and than a game holds.
    local(13, async {
        let hub = lossy_hub(13, 0.0);
        let mut host = Host::start(&hub, &script_file("echo.lua", ECHO), settings(), &[]).await;
        let began = tokio::time::Instant::now();
        for i in 0..3000u64 {
            let name = format!("fake{i:04}-{}", "x".repeat(12));
            hub.inject(
                &datagram(5_000_000 + i, 1, &name, json!({"kind": "join"})),
                ROGUE,
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let flood = began.elapsed();
        let mut alice = Seat::join(&hub, "alice");
        alice.wait_kind("welcome").await;
        alice.say("hi").await;
        alice
            .wait("her line", |v| v["text"] == "alice said hi #1")
            .await;
        let welcomes = host
            .events()
            .into_iter()
            .filter(|v| v["dir"] == "sent" && v["kind"] == "welcome")
            .count();
        // One welcome every 20 ms at most, whatever the joins, and alice's.
        let most = flood.as_millis() / 20 + 2;
        assert!(
            welcomes as u128 <= most,
            "{welcomes} welcomes for a flood of joins over {flood:?}: they come together"
        );
        assert!(
            host.seen.iter().any(|l| l.contains("too many joins")),
            "the host was told"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn heartbeats_claiming_far_ahead_numbers_stall_nobody() {
    // Row 5: 240 heartbeats announcing far-ahead numbers grew each player to 739 MB and
    // stalled it until it was dropped.
    local(14, async {
        let hub = lossy_hub(14, 0.0);
        let mut host = Host::start(
            &hub,
            &script_file("rounds.lua", crate::games::ROUNDS),
            settings(),
            &[],
        )
        .await;
        let mut alice = Seat::join(&hub, "alice");
        alice.wait_kind("welcome").await;
        alice.wait("round 3", |v| v["text"] == "round 3").await;
        let announcer = host
            .events()
            .into_iter()
            .find_map(|v| (v["dir"] == "sent").then(|| v["session"].as_u64()).flatten())
            .unwrap();
        // Half as the announcer (each claiming more numbers), half from made-up senders.
        for i in 0..240u64 {
            let (session, last) = if i % 2 == 0 {
                (announcer, 100 + i * 100_000)
            } else {
                (9_000_000 + i, (1u64 << 53) - 1 - i)
            };
            let beat = json!({"kind": "heartbeat", "last": last, "every_ms": 250, "announcer": i % 2 == 0});
            hub.inject(&datagram(session, 0, "announcer", beat), ROGUE);
        }
        alice.wait_kind("game_end").await;
        let played = alice.finish().await;
        let rounds = alice
            .seen
            .iter()
            .filter(|v| v["text"].as_str().is_some_and(|t| t.starts_with("round ")))
            .count();
        assert_eq!(rounds, 40);
        assert!(!alice.seen.iter().any(|v| v["kind"] == "announcer"), "{:?}", alice.seen);
        // No gap was shown: the claimed numbers were asked for, given up on, and forgotten.
        assert!(!alice.seen.iter().any(|v| v["kind"] == "lost"));
        assert_eq!(played.stats.lost, 0);
    })
    .await;
}
