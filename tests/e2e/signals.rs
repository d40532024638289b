//! Stalls and signals with the real binaries: a process stopped (SIGSTOP) and let go
//! (SIGCONT), as a laptop lid or a paused VM does; SIGTERM and SIGHUP, as `kill` and a closed
//! terminal do.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::common::*;

fn signal(process: &Process, signal: Signal) {
    kill(Pid::from_raw(process.pid() as i32), signal).unwrap();
}

/// Rounds every 0.1 s from the first join; the 60th ends the game.
const ROUNDS: &str = r#"
state.round = 0
on_join(function()
  if state.timer then return end
  state.timer = every(0.1, function()
    state.round = state.round + 1
    announce("round " .. state.round)
    if state.round == 60 then game_end("over") stop() end
  end)
end)
on_leave(function(player, why) announce(player .. " left: " .. why) end)
"#;

/// The numbers of the rounds a player showed, in order.
fn rounds(player: &Process) -> Vec<u64> {
    player
        .events()
        .iter()
        .filter_map(|v| v["text"].as_str()?.strip_prefix("round ")?.parse().ok())
        .collect()
}

#[test]
fn an_announcer_stopped_for_three_seconds_loses_nobody() {
    // Row 7: every player was dropped as "connection lost" and the game ended, 5 times of 5.
    let net = Net::fresh();
    let script = script_file("rounds.lua", ROUNDS);
    let mut host = announcer(&net, &script, &[]);
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    alice.wait_event("round 5", |v| text(v) == "round 5");
    signal(&host, Signal::SIGSTOP);
    std::thread::sleep(std::time::Duration::from_secs(3));
    signal(&host, Signal::SIGCONT);
    for player in [&mut alice, &mut bob] {
        player.wait_kind("game_end");
        assert!(player.wait_exit().success());
        assert_eq!(
            rounds(player),
            (1..=60).collect::<Vec<_>>(),
            "{}",
            player.name
        );
        assert!(
            !player.events().iter().any(|v| v["kind"] == "leave"),
            "{}: nobody left: {:?}",
            player.name,
            player.events()
        );
    }
    assert!(host.wait_exit().success());
    assert!(
        host.stderr().contains("did not run for"),
        "{}",
        host.stderr()
    );
}

#[test]
fn a_player_stopped_and_dropped_shows_the_whole_game_and_comes_back() {
    // Row 17: dropped while stopped, the player then skipped ~30 events silently, the game's
    // end among them.
    let net = Net::fresh();
    let script = script_file("rounds.lua", ROUNDS);
    let mut host = announcer(&net, &script, &[]);
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    alice.wait_event("round 5", |v| text(v) == "round 5");
    signal(&alice, Signal::SIGSTOP);
    bob.wait_event("alice dropped", |v| text(v) == "alice left: timeout");
    std::thread::sleep(std::time::Duration::from_millis(500));
    signal(&alice, Signal::SIGCONT);
    alice.wait_kind("game_end");
    assert!(alice.wait_exit().success());
    assert_eq!(rounds(&alice), (1..=60).collect::<Vec<_>>());
    assert!(
        !alice
            .events()
            .iter()
            .any(|v| v["kind"] == "announcer" && v["state"] == "unreachable"),
        "its own stall is not the announcer's silence: {:?}",
        alice.events()
    );
    assert!(host.wait_exit().success());
}

#[test]
fn sigterm_and_sighup_close_the_game_as_ctrl_c_does() {
    // Row 21: after SIGTERM players never heard `close` and waited forever; the last `--json`
    // lines were lost.
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        let net = Net::fresh();
        let script = script_file("rounds.lua", &ROUNDS.replace("60", "100000"));
        let mut host = announcer(&net, &script, &[]);
        let mut alice = welcomed_player(&net, "alice");
        alice.wait_event("round 3", |v| text(v) == "round 3");
        signal(&host, sig);
        let close = alice.wait_kind("close");
        assert_eq!(text(&close), "the host stopped the announcer");
        assert!(alice.wait_exit().success());
        assert!(host.wait_exit().success(), "{sig}: {}", host.stderr());
        // What it said last is in its JSON output: the close went out, and was logged.
        assert!(
            host.events()
                .iter()
                .any(|v| v["dir"] == "sent" && v["kind"] == "close"),
            "{sig}"
        );
        assert!(
            host.stderr()
                .contains("announcer stopped: the host stopped")
        );
    }
    // A player told to stop leaves the game, and says why.
    let net = Net::fresh();
    let script = script_file("rounds.lua", &ROUNDS.replace("60", "100000"));
    let _host = announcer(&net, &script, &[]);
    let alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    signal(&alice, Signal::SIGTERM);
    let left = bob.wait_kind("leave");
    assert_eq!(
        (left["player"].as_str(), left["reason"].as_str()),
        (Some("alice"), Some("interrupted"))
    );
}
