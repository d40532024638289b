//! Reload latency: from saving a script to the new rules being active, as a player sees it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::report::{Summary, summarize};

/// A game that says which version of its file is running, and echoes what players say.
fn versioned(version: usize) -> String {
    format!(
        "VERSION = {version}\non_reload(function() announce('version ' .. VERSION) end)\n\
         on_message(function(p, t) announce('echo ' .. t) end)\n"
    )
}

fn save(path: &Path, text: &str, style: usize) {
    match style % 3 {
        0 => std::fs::write(path, text).unwrap(),
        1 => {
            let temporary = path.with_extension("lua.tmp~");
            std::fs::write(&temporary, text).unwrap();
            std::fs::rename(&temporary, path).unwrap();
        }
        _ => {
            std::fs::remove_file(path).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
}

/// Save → new rules active, seen by a player; against the same player's round trip through
/// the script (a line typed, the script's answer shown) with no reload in it.
pub fn run(smoke: bool) -> String {
    let rounds = if smoke { 10 } else { 200 };
    let net = Net::fresh();
    let path = temp_dir().join("game.lua");
    std::fs::write(&path, versioned(0)).unwrap();
    // The probe types a line and saves the file 50 times a second, over the 20 lines a second
    // a player may send: no limit here, where the reload is measured, not the flood guard.
    let mut host = announcer(&net, &path, &["--rate-limit", "0"]);
    let mut probe = welcomed_player(&net, "probe");

    let mut baseline = Vec::new();
    let mut reloads = Vec::new();
    for round in 1..=rounds {
        let line = format!("ping {round}");
        let started = Instant::now();
        probe.say(&line);
        let echo = format!("echo {line}");
        probe.wait_event("the echo", |v| text(v) == echo);
        baseline.push(started.elapsed());

        let text_of_version = format!("version {round}");
        save(&path, &versioned(round), round);
        let saved = Instant::now();
        probe.wait_event("the new version", |v| text(v) == text_of_version);
        reloads.push(saved.elapsed());
    }
    // The announcer's own figure: compiling and running the new version.
    host.wait_stderr_count("reloaded ", rounds);
    let inside = reload_times(&host);
    assert_eq!(
        inside.len(),
        rounds,
        "one reload per save: {}",
        host.stderr()
    );

    let dice = reload_dice(if smoke { 5 } else { 50 });
    let (base, save, run) = (summarize(baseline), summarize(reloads), summarize(inside));
    let row = |name: &str, s: &Summary, ratio: bool| {
        let vs = |a: f64, b: f64| {
            if ratio {
                format!("{:.1}×", a / b)
            } else {
                "".into()
            }
        };
        format!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
            s.n,
            s.p50,
            s.p99,
            s.max,
            vs(s.p50, base.p50),
            vs(s.p99, base.p99)
        )
    };
    format!(
        "### Reload latency\n\n\
         From the end of a save (in place, rename-over and delete-recreate in turn) to a player \
         showing what the new version announces from `on_reload`. Baseline: the same player's \
         line answered by the script (player → announcer → Lua → player), no reload involved.\n\n\
         | measure | n | p50 ms | p99 ms | max ms | p50 vs baseline | p99 vs baseline |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n\
         {}\n{}\n{}\n{}\n\n\
         The reload path includes the {} ms debounce (the files must stay quiet that long after \
         a change, so that one save makes one reload).\n",
        row("baseline: a line answered", &base, false),
        row("save → new rules active", &save, true),
        row("inside the announcer: compile and run", &run, false),
        row(
            "inside the announcer: scripts/dice.lua and its module",
            &dice,
            false
        ),
        20
    )
}

/// How long the announcer takes to compile and run the bundled dice race and its module.
fn reload_dice(saves: usize) -> Summary {
    let net = Net::fresh();
    let (path, dice) = dice_copy();
    let mut host = announcer(&net, &path, &[]);
    for save in 1..=saves {
        std::fs::write(&path, format!("{dice}\n-- save {save}\n")).unwrap();
        host.wait_stderr_count("reloaded ", save);
    }
    summarize(reload_times(&host))
}

/// The times the announcer's console gives for its reloads (`reloaded FILE in 0.3 ms`).
fn reload_times(host: &Process) -> Vec<Duration> {
    host.stderr()
        .lines()
        .filter_map(|l| {
            l.split(" in ")
                .nth(1)?
                .strip_suffix(" ms")?
                .parse::<f64>()
                .ok()
        })
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect()
}
