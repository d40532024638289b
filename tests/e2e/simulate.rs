//! `announcer --simulate`: whole games on a simulated group, as an author runs them from a
//! terminal: the transcript, the exit status, the same game for the same seed.

use crate::common::*;

/// The transcript without the last line (it says how long the run took, in real time).
fn transcript(stdout: &str, stderr: &str) -> String {
    let mut lines: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    lines.pop();
    lines.join("\n")
}

#[test]
fn a_simulated_dice_race_plays_to_its_winner() {
    let dice = repo("scripts/dice.lua");
    let (status, stdout, stderr) =
        announcer_output(&["--simulate", dice.to_str().unwrap(), "--seed", "7"]);
    assert!(status.success(), "{stdout}\n{stderr}");
    for wanted in [
        "GAME START: Dice race",
        "Congratulations",
        "GAME OVER",
        "Ada",
    ] {
        assert!(stdout.contains(wanted), "no {wanted:?} in:\n{stdout}");
    }
    assert!(
        stdout.contains("random seed 7 (--seed 7"),
        "the seed is not said:\n{stdout}"
    );
    // The README quotes this run's last line: it must be what the run says.
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let quoted = readme
        .split('`')
        .find(|s| s.starts_with("simulated: the game ended after"))
        .expect("the README quotes the simulated game's last line");
    assert!(
        stderr.contains(quoted),
        "README says {quoted:?}; the run says:\n{stderr}"
    );
}

#[test]
fn the_same_seed_plays_the_same_game_even_through_loss() {
    let dice = repo("scripts/dice.lua");
    let run = |seed: &str| {
        let (status, stdout, stderr) = announcer_output(&[
            "--simulate",
            dice.to_str().unwrap(),
            "--seed",
            seed,
            "--loss",
            "20",
        ]);
        assert!(status.success(), "{stdout}\n{stderr}");
        transcript(&stdout, &stderr)
    };
    let first = run("11");
    assert!(first.contains("repaired"), "{first}");
    assert_eq!(first, run("11"), "seed 11 played two different games");
    assert_ne!(first, run("12"), "seeds 11 and 12 played the same game");
}

#[test]
fn a_simulated_game_that_never_ends_is_an_error_that_says_why() {
    let path = script_file(
        "endless.lua",
        "on_join(function(player) announce('hello ' .. player) end)\n",
    );
    let (status, stdout, stderr) =
        announcer_output(&["--simulate", path.to_str().unwrap(), "--bots", "2"]);
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("has no bot hook: the 2 bots will join and never type"),
        "{stdout}"
    );
    assert!(
        stderr.contains("did not end within 60 minutes of game time")
            && stderr.contains("call stop()"),
        "{stderr}"
    );
}

#[test]
fn simulated_json_is_one_event_per_line() {
    let trivia = repo("scripts/trivia.lua");
    let (status, stdout, stderr) = announcer_output(&[
        "--simulate",
        trivia.to_str().unwrap(),
        "--json",
        "--seed",
        "3",
        "--set",
        "questions=2",
    ]);
    assert!(status.success(), "{stderr}");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let questions = events
        .iter()
        .filter(|v| v["dir"] == "sent" && v["kind"] == "question")
        .count();
    assert_eq!(questions, 2, "{stdout}");
    assert!(
        events.iter().any(|v| v["kind"] == "game_end"),
        "no game end in {stdout}"
    );
}
