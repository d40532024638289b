//! Script errors: a script that does not load, and a handler that fails mid-game.

use crate::common::*;

#[test]
fn a_broken_script_is_reported_with_file_and_line() {
    let net = Net::fresh();
    let cases = [
        (
            "syntax.lua",
            "announce('hi')\n\nlocal x = = 1\n",
            "syntax.lua:3:",
        ),
        (
            "runtime.lua",
            "local t = nil\nprint(t.x)\n",
            "runtime.lua:2:",
        ),
        (
            "badcall.lua",
            "moves{'a'}\n\n\nannounce()\n",
            "badcall.lua:4:",
        ),
    ];
    for (name, source, expected) in cases {
        let path = script_file(name, source);
        let (status, stderr) = announcer_fails(&net, &path, &[]);
        assert!(!status.success(), "{name} loaded");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (status, stderr) = announcer_fails(&net, std::path::Path::new("no/such/game.lua"), &[]);
    assert!(!status.success());
    assert!(stderr.contains("no/such/game.lua"), "{stderr}");
}

#[test]
fn a_handler_error_is_reported_and_the_game_goes_on() {
    let net = Net::fresh();
    let path = script_file(
        "flaky.lua",
        r#"on_message(function(player, text)
  if text == "boom" then
    local missing = nil
    return missing.field
  end
  announce(player .. " said " .. text)
end)
after(0, function() error("a timer fails too") end)
"#,
    );
    let mut host = announcer(&net, &path, &[]);
    host.wait_stderr("flaky.lua:8: a timer fails too");
    let mut alice = welcomed_player(&net, "alice");
    alice.say("boom");
    let error = host.wait_stderr("flaky.lua:4:");
    assert!(error.contains("script error"), "{error}");
    alice.say("hello");
    alice.wait_event("the game goes on", |v| {
        v["kind"] == "announce" && text(v) == "alice said hello"
    });
}

#[test]
fn the_readme_example_game_plays_to_the_end() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let start = readme
        .find("```lua\n-- guess.lua")
        .expect("the example in README.md")
        + 7;
    let end = start + readme[start..].find("```").unwrap();
    let path = script_file("guess.lua", &readme[start..end]);
    let net = Net::fresh();
    let mut host = announcer(&net, &path, &["--bots", "2", "--bot-think", "0.01"]);
    let status = host.wait_exit();
    assert!(status.success(), "{status}: {}", host.stderr());
    assert!(!host.stderr().contains("script error"), "{}", host.stderr());
    let sent = host.events();
    let winner = sent
        .iter()
        .find(|e| e["kind"] == "congratulate")
        .expect("a winner");
    let last = sent.iter().rev().find(|e| e["kind"] == "ranking").unwrap();
    assert_eq!(last["entries"][0]["name"], winner["player"]);
    assert_eq!(last["entries"][0]["score"], 3);
}

/// Every `.lua` file under `dir`, modules included.
pub fn lua_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(lua_files(&path));
        } else if path.extension().is_some_and(|e| e == "lua") {
            files.push(path);
        }
    }
    files
}

fn check(path: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_announcer"))
        .arg("--check")
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn check_passes_every_bundled_script() {
    // The editor's type stubs are not a game: they are checked by the type checker.
    let files: Vec<_> = lua_files(&repo("scripts"))
        .into_iter()
        .filter(|p| !p.starts_with(repo("scripts/types")))
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let output = check(&path);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", path.display());
        // A test file says how many tests it registers.
        assert!(
            stdout.ends_with(": ok\n") || stdout.contains(": ok ("),
            "{stdout}"
        );
    }
}

#[test]
fn check_reports_a_broken_script_with_file_and_line() {
    let path = script_file("broken.lua", "announce('fine')\nlocal = 2\n");
    let output = check(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.lua:2:"), "{stderr}");
}

/// The settings a README table lists for `script`: name and default, in order.
fn readme_settings(script: &str) -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let at = readme
        .find(&format!("**scripts/{script}**"))
        .unwrap_or_else(|| panic!("no {script} in README.md"));
    let mut rows = Vec::new();
    for line in readme[at..]
        .lines()
        .skip_while(|l| !l.starts_with("| setting"))
        .skip(2)
    {
        let cells: Vec<&str> = line.split(" | ").collect();
        if !line.starts_with('|') || cells.len() < 3 {
            break;
        }
        let names = cells[0].trim_start_matches("| ").split(", ");
        let defaults = cells[1].split(", ");
        for (name, default) in names.zip(defaults) {
            rows.push((name.trim_matches('`').to_string(), default.to_string()));
        }
    }
    rows
}

#[test]
fn the_readme_settings_tables_are_what_the_scripts_declare() {
    for script in ["dice.lua", "trivia.lua"] {
        let path = repo(&format!("scripts/{script}"));
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_announcer"))
            .arg("--settings")
            .arg(&path)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let declared: Vec<(String, String)> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                let mut words = line.split_whitespace();
                let name = words.next().unwrap().to_string();
                (name, words.next().unwrap().to_string())
            })
            .collect();
        assert_eq!(
            readme_settings(script),
            declared,
            "README.md's table of {script}"
        );
    }
}

#[test]
fn a_mistyped_or_bad_setting_is_an_error_that_names_it() {
    let dice = repo("scripts/dice.lua");
    let dice = dice.to_str().unwrap();
    for (set, wanted) in [
        ("tagret=3", "--set tagret: "),
        ("target=abc", "dice.lua:"),
        (
            "turn_seconds=1e19",
            "takes a number from 0.1 to 3600, not \"1e19\"",
        ),
        (
            "min_players=0",
            "min_players (players needed before the countdown begins)",
        ),
    ] {
        let (status, stdout, stderr) = announcer_output(&["--check", dice, "--set", set]);
        assert_eq!(status.code(), Some(1), "{set}: {stdout}");
        assert!(stderr.contains(wanted), "{set}: {stderr}");
    }
    let (status, stdout, _) = announcer_output(&["--check", dice, "--set", "target=12"]);
    assert!(status.success(), "{stdout}");
}
