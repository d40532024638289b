//! Recordings: a real game recorded with `--record` and shown again with `player --replay`,
//! the same events in the same order at any speed; a signed recording checked with its key; a
//! committed recording (tests/fixtures) as a fixture; and a broken one said broken, with where.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::key::{SECRET, key_file};

/// `player --replay FILE --json EXTRA…` to its end: its exit status, events and stderr.
fn replay(path: &Path, extra: &[&str]) -> (std::process::ExitStatus, Vec<Value>, String) {
    let mut args = vec![
        "--replay".to_string(),
        path.display().to_string(),
        "--json".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut process = Process::spawn_in(None, "replay", env!("CARGO_BIN_EXE_player"), &args);
    // Nothing typed: the end of input does not end a replay.
    process.close_input();
    let status = process.wait_exit();
    (status, process.events(), process.stderr())
}

/// A dice race against the announcer's bot, alice typing; both record. Returns alice's and
/// the announcer's recordings, alice's events and the announcer's process (exited).
fn recorded_race(extra: &[&str], env: &[(&str, &str)]) -> (PathBuf, PathBuf, Vec<Value>, Process) {
    let net = Net::fresh();
    let dir = temp_dir();
    let (mine, hosts) = (dir.join("alice.rec"), dir.join("announcer.rec"));
    let settings = set(&["countdown=0", "target=10", "turn_seconds=30", "rematch=0"]);
    let mut host_args: Vec<&str> = settings.clone();
    host_args.extend([
        "--bots",
        "1",
        "--bot-think",
        "0.05",
        "--record",
        hosts.to_str().unwrap(),
    ]);
    host_args.extend(extra);
    let mut host = announcer(&net, &repo("scripts/dice.lua"), &host_args);
    let mut alice_args = vec!["--record", mine.to_str().unwrap()];
    alice_args.extend(extra);
    let alice = spawn_player_env(None, &net, "alice", &alice_args, env);
    let mut alice = welcomed(alice, "alice");
    alice.say("hola");
    race(&mut [&mut alice]);
    alice.wait_kind("close");
    assert!(alice.wait_exit().success(), "{}", alice.stderr());
    assert!(host.wait_exit().success(), "{}", host.stderr());
    (mine, hosts, alice.events(), host)
}

#[test]
fn a_recorded_game_replays_with_the_same_events_in_the_same_order_at_any_speed() {
    let (mine, hosts, live, host) = recorded_race(&[], &[]);
    assert!(live.iter().any(|v| v["kind"] == "game_end"), "{live:?}");
    for speed in ["1", "40"] {
        let (status, replayed, stderr) = replay(&mine, &["--speed", speed]);
        assert!(status.success(), "{stderr}");
        assert_eq!(
            replayed, live,
            "--speed {speed}: what alice saw, as she saw it"
        );
    }
    // The announcer's recording is watched as a spectator: the game's course as it was sent.
    let (status, watched, stderr) = replay(&hosts, &["--speed", "40"]);
    assert!(status.success(), "{stderr}");
    let shown: Vec<Value> = watched
        .into_iter()
        .filter(|v| COMPARED.contains(&v["kind"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(shown, sent_announcements(&host));
}

#[test]
fn a_signed_recording_is_shown_with_its_key_and_not_without() {
    let key = key_file(SECRET);
    let (mine, _, live, _) = recorded_race(&["--key-file", key.to_str().unwrap()], &[]);
    let text = std::fs::read_to_string(&mine).unwrap();
    assert!(
        text.contains(r#"\"mac\""#) || text.contains(r#"\"n\""#),
        "signed datagrams"
    );
    let (status, replayed, stderr) = replay(
        &mine,
        &["--speed", "40", "--key-file", key.to_str().unwrap()],
    );
    assert!(status.success(), "{stderr}");
    assert_eq!(replayed, live);
    // Without the key, or with another one, nothing of the game is shown; the viewer is told.
    let other = temp_dir().join("other.key");
    std::fs::write(&other, "somebody else's key, long enough\n").unwrap();
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    for extra in [vec![], vec!["--key-file", other.to_str().unwrap()]] {
        let mut args = vec!["--speed", "40"];
        args.extend(extra);
        let (status, replayed, stderr) = replay(&mine, &args);
        assert!(status.success(), "{stderr}");
        assert!(
            !replayed.iter().any(|v| ["game_start", "ranking", "welcome"]
                .contains(&v["kind"].as_str().unwrap_or(""))),
            "{replayed:?}"
        );
        assert!(
            replayed.iter().any(|v| v["kind"] == "notice"
                && (text_of(v).contains("protected by a game key")
                    || text_of(v).contains("another game key"))),
            "{replayed:?}"
        );
    }
}

fn text_of(v: &Value) -> &str {
    v["text"].as_str().unwrap_or("")
}

#[test]
fn the_recorded_fixture_replays_as_its_player_saw_it() {
    let (status, replayed, stderr) =
        replay(&repo("tests/fixtures/dice-race.rec"), &["--speed", "50"]);
    assert!(status.success(), "{stderr}");
    let expected: Vec<Value> =
        std::fs::read_to_string(repo("tests/fixtures/dice-race.events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(replayed, expected);
}

#[test]
fn a_broken_recording_is_said_broken_with_where() {
    let dir = temp_dir();
    let fixture = std::fs::read_to_string(repo("tests/fixtures/dice-race.rec")).unwrap();
    let mut lines: Vec<&str> = fixture.lines().collect();
    lines[3] = "[1.5,\"i\",\"127.0.0.1:1\",{\"base64\":\"%%%\"}]";
    let broken = dir.join("broken.rec");
    std::fs::write(&broken, lines.join("\n")).unwrap();
    for (path, said) in [
        (
            broken.clone(),
            format!("{}:4: the datagram's base64 is broken", broken.display()),
        ),
        (
            dir.join("missing.rec"),
            "missing.rec: cannot open it".to_string(),
        ),
        (
            repo("scripts/dice.lua"),
            "dice.lua:1: not a gamecast recording".to_string(),
        ),
    ] {
        let (status, events, stderr) = replay(&path, &[]);
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(events.is_empty());
        assert!(stderr.contains(&said), "{stderr}");
    }
}
