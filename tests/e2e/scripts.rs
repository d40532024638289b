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
        let (status, stderr) = announcer_fails(&net, &path);
        assert!(!status.success(), "{name} loaded");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (status, stderr) = announcer_fails(&net, std::path::Path::new("no/such/game.lua"));
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

#[test]
fn every_bundled_game_loads() {
    let mut games = 0;
    for entry in std::fs::read_dir(repo("scripts")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "lua") {
            // `announcer` prints its banner only once the script's top level ran.
            let host = announcer(&Net::fresh(), &path, &[]);
            assert!(!host.stderr().contains("error"), "{}", host.stderr());
            games += 1;
        }
    }
    assert!(games >= 3);
}
