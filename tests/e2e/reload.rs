//! Hot reload: edit a running game's files and see the next event use the new rules.
//!
//! Every test edits real files in a folder of its own, the way editors save them, and waits
//! for the announcer's console to say that it reloaded (or why it did not).

use std::path::{Path, PathBuf};

use crate::common::*;

/// A game whose every answer names the version of the file that gave it.
fn versioned(version: u32) -> String {
    format!(
        r#"VERSION = {version}
state.lines = (state.lines or 0)
on_message(function(player, text)
  state.lines = state.lines + 1
  announce("v" .. VERSION .. " " .. text .. " #" .. state.lines)
end)
on_reload(function() print("now at v" .. VERSION) end)
"#
    )
}

/// Saves as vim, VS Code and JetBrains do: write a temporary file, rename it over the original.
fn save_by_rename(path: &Path, text: &str) {
    let temporary = path.with_extension("lua.tmp~");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// Saves by deleting the file and creating it again.
fn save_by_recreate(path: &Path, text: &str) {
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Says `line` as `player` and waits for the game's answer.
fn answer(player: &mut Process, line: &str) -> String {
    player.say(line);
    let event = player.wait_event("the game's answer", |v| {
        v["kind"] == "announce" && text(v).contains(&format!(" {line} #"))
    });
    text(&event).to_string()
}

fn reloads(host: &Process) -> usize {
    host.stderr().matches("reloaded ").count()
}

fn game_in_folder() -> PathBuf {
    let path = temp_dir().join("game.lua");
    std::fs::write(&path, versioned(1)).unwrap();
    path
}

#[test]
fn every_kind_of_save_reloads_once_and_the_game_goes_on() {
    let net = Net::fresh();
    let path = game_in_folder();
    let mut host = announcer(&net, &path, &[]);
    let mut alice = welcomed_player(&net, "alice");
    assert_eq!(answer(&mut alice, "a"), "v1 a #1");

    // Writing in place.
    std::fs::write(&path, versioned(2)).unwrap();
    host.wait_stderr("now at v2");
    assert_eq!(answer(&mut alice, "b"), "v2 b #2", "new rules, state kept");

    save_by_rename(&path, &versioned(3));
    host.wait_stderr("now at v3");
    assert_eq!(answer(&mut alice, "c"), "v3 c #3");

    save_by_recreate(&path, &versioned(4));
    host.wait_stderr("now at v4");
    assert_eq!(answer(&mut alice, "d"), "v4 d #4");

    assert_eq!(reloads(&host), 3, "one reload per save: {}", host.stderr());
    assert!(
        !host.stderr().contains("reload failed"),
        "{}",
        host.stderr()
    );
}

#[test]
fn a_broken_save_changes_nothing_and_the_next_good_one_is_taken() {
    let net = Net::fresh();
    let path = game_in_folder();
    let mut host = announcer(&net, &path, &[]);
    let mut alice = welcomed_player(&net, "alice");
    assert_eq!(answer(&mut alice, "a"), "v1 a #1");

    // A syntax error on line 3.
    std::fs::write(
        &path,
        "VERSION = 2\non_message(function(p, t)\n  announce(\n",
    )
    .unwrap();
    let failed = host.wait_stderr("reload failed");
    assert!(failed.contains("game.lua:"), "{failed}");
    assert_eq!(
        answer(&mut alice, "b"),
        "v1 b #2",
        "the previous version goes on"
    );

    // An error while the new top level runs, after it replaced the handler: rolled back too.
    let half = format!("{}\nerror('not ready yet')\n", versioned(3));
    std::fs::write(&path, half).unwrap();
    let failed = host.wait_stderr("not ready yet");
    assert!(failed.contains("game.lua:9:"), "{failed}");
    assert_eq!(
        answer(&mut alice, "c"),
        "v1 c #3",
        "the previous version goes on"
    );

    std::fs::write(&path, versioned(4)).unwrap();
    host.wait_stderr("now at v4");
    assert_eq!(answer(&mut alice, "d"), "v4 d #4");
}

#[test]
fn a_burst_of_saves_ends_on_the_last_version() {
    let net = Net::fresh();
    let path = game_in_folder();
    let mut host = announcer(&net, &path, &[]);
    let mut alice = welcomed_player(&net, "alice");
    assert_eq!(answer(&mut alice, "a"), "v1 a #1");

    // 20 saves within 100 ms, as an editor's auto-save or a formatter might make.
    for version in 2..=21 {
        save_by_rename(&path, &versioned(version));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    host.wait_stderr("now at v21");
    assert_eq!(answer(&mut alice, "b"), "v21 b #2");
    assert!(
        reloads(&host) < 10,
        "the burst was debounced: {}",
        host.stderr()
    );
    assert!(
        !host.stderr().contains("reload failed"),
        "{}",
        host.stderr()
    );
}

#[test]
fn an_edited_module_reloads_too() {
    let net = Net::fresh();
    let folder = temp_dir();
    std::fs::create_dir_all(folder.join("lib")).unwrap();
    std::fs::write(folder.join("lib/rules.lua"), "return { points = 1 }\n").unwrap();
    let path = folder.join("game.lua");
    std::fs::write(
        &path,
        "local rules = require 'lib.rules'\non_message(function(p, t)\n  announce('m ' .. t .. ' #' .. rules.points)\nend)\n",
    )
    .unwrap();
    let mut host = announcer(&net, &path, &[]);
    let mut alice = welcomed_player(&net, "alice");
    assert_eq!(answer(&mut alice, "a"), "m a #1");

    save_by_rename(&folder.join("lib/rules.lua"), "return { points = 5 }\n");
    host.wait_stderr("reloaded");
    assert_eq!(answer(&mut alice, "b"), "m b #5");
}

#[test]
fn mid_game_the_dice_target_changes_and_the_scores_stay() {
    let net = Net::fresh();
    // A copy of the bundled game, edited as its author would.
    let (path, dice) = dice_copy();
    let mut host = announcer(&net, &path, &set(&["countdown=0", "turn_seconds=60"]));
    let mut alice = welcomed_player(&net, "alice");
    let mut bob = welcomed_player(&net, "bob");
    for p in [&mut alice, &mut bob] {
        p.wait_event("round 1", |v| text(v) == "Round 1: type roll");
        p.say("roll");
    }
    let first = alice.wait_kind("ranking");

    // The author lowers the target from 30 to 1: the next round ends the race.
    let edited = dice.replace(r#""target", 30,"#, r#""target", 1,"#);
    assert_ne!(
        edited, dice,
        "dice.lua reads its target with setting(GAME, \"target\", 30, …)"
    );
    save_by_rename(&path, &edited);
    host.wait_stderr("reloaded");
    for p in [&mut alice, &mut bob] {
        p.wait_event("round 2", |v| text(v) == "Round 2: type roll");
        p.say("roll");
    }
    let second = alice.wait_kind("ranking");
    alice.wait_kind("congratulate");
    alice.wait_kind("game_end");
    // Everyone kept their first-round position and moved on from it.
    for entry in second["entries"].as_array().unwrap() {
        let before = first["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == entry["name"])
            .unwrap();
        let (then, now) = (
            before["score"].as_i64().unwrap(),
            entry["score"].as_i64().unwrap(),
        );
        assert!(
            (then + 1..=then + 6).contains(&now),
            "{first} then {second}"
        );
    }
}

#[test]
fn no_watch_means_no_reload() {
    let net = Net::fresh();
    let path = game_in_folder();
    // The first version also announces, half a second after alice joins, that time has passed:
    // by then a watching announcer would long have reloaded (it waits 20 ms after a save).
    let later = "on_join(function() after(0.5, function() announce('later') end) end)\n";
    std::fs::write(&path, format!("{}{later}", versioned(1))).unwrap();
    let host = announcer(&net, &path, &["--no-watch"]);
    let mut alice = welcomed_player(&net, "alice");
    std::fs::write(&path, versioned(2)).unwrap();
    alice.wait_event("half a second later", |v| text(v) == "later");
    assert_eq!(answer(&mut alice, "a"), "v1 a #1");
    assert_eq!(reloads(&host), 0, "{}", host.stderr());
}

#[test]
fn hundreds_of_saves_keep_working() {
    let net = Net::fresh();
    let path = game_in_folder();
    let mut host = announcer(&net, &path, &[]);
    for version in 2..=151 {
        match version % 3 {
            0 => std::fs::write(&path, versioned(version)).unwrap(),
            1 => save_by_rename(&path, &versioned(version)),
            _ => save_by_recreate(&path, &versioned(version)),
        }
        host.wait_stderr(&format!("now at v{version}"));
    }
    let mut alice = welcomed_player(&net, "alice");
    assert_eq!(answer(&mut alice, "a"), "v151 a #1");
    assert_eq!(reloads(&host), 150);
}
