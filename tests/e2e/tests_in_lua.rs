//! `announcer --test`: the bundled games' own tests pass, and a failing test says where.

use crate::common::*;
use crate::scripts::lua_files;

#[test]
fn every_bundled_game_has_tests_and_they_pass() {
    let tests: Vec<_> = lua_files(&repo("scripts"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with("_test.lua"))
        .collect();
    for game in ["dice", "trivia", "hello"] {
        assert!(
            tests
                .iter()
                .any(|p| p.ends_with(format!("tests/{game}_test.lua"))),
            "no tests for {game}.lua in {tests:?}"
        );
    }
    for path in tests {
        let (status, stdout, stderr) = announcer_output(&["--test", path.to_str().unwrap()]);
        assert!(status.success(), "{}:\n{stdout}\n{stderr}", path.display());
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
        assert!(!stdout.contains("FAIL"), "{stdout}");
    }
}

/// Writes `game` (as game.lua) and `tests` (as `name`) into a fresh folder and runs
/// `announcer --test` on the tests: their path, and what the run printed.
fn lua_tests(
    game: &str,
    name: &str,
    tests: &str,
) -> (std::path::PathBuf, std::process::ExitStatus, String, String) {
    let dir = temp_dir();
    std::fs::write(dir.join("game.lua"), game).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, tests).unwrap();
    let (status, stdout, stderr) = announcer_output(&["--test", path.to_str().unwrap()]);
    (path, status, stdout, stderr)
}

#[test]
fn a_failing_test_names_its_file_and_line_and_the_others_still_run() {
    let (tests, status, stdout, stderr) = lua_tests(
        "on_join(function(p) announce('welcome ' .. p) end)\n\
         on_message(function(p, text) if text == 'boom' then error('it broke') end end)\n",
        "game_test.lua",
        r#"test("greets", function()
  local g = game("game.lua")
  local alice = g:join("alice")
  alice:wait_for("welcome alice")
end)

test("waits for what never comes", function()
  local g = game("game.lua")
  local alice = g:join("alice")
  alice:wait_for({ kind = "ranking" }, 5)
end)

test("compares", function()
  expect_eq(1 + 1, 3, "arithmetic")
end)

test("a script error fails the test", function()
  local g = game("game.lua")
  local alice = g:join("alice")
  alice:say("boom")
  g:wait(1)
end)

test("unless the test expects it", function()
  local g = game("game.lua")
  local alice = g:join("alice")
  alice:say("boom")
  g:wait(1)
  expect_eq(#g:errors(), 1)
end)
"#,
    );
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    let file = tests.display().to_string();
    assert!(stdout.contains("ok    greets"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{file}:10: alice saw nothing like {{\"kind\":\"ranking\"}} within 5 s of game time"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{file}:14: arithmetic: expected 3, got 2")),
        "{stdout}"
    );
    assert!(
        stdout.contains("the game's script failed") && stdout.contains("game.lua:2: it broke"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    unless the test expects it"),
        "{stdout}"
    );
    assert!(stdout.contains("5 tests: 2 passed, 3 failed"), "{stdout}");
}

#[test]
fn a_broken_test_file_is_an_error_at_its_line() {
    let dir = temp_dir();
    let broken = dir.join("broken_test.lua");
    std::fs::write(&broken, "test('x', function()\n  local = 1\nend)\n").unwrap();
    let (status, _, stderr) = announcer_output(&["--test", broken.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("broken_test.lua:2:"), "{stderr}");
    let empty = dir.join("empty_test.lua");
    std::fs::write(&empty, "-- nothing yet\n").unwrap();
    let (status, _, stderr) = announcer_output(&["--test", empty.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("no tests"), "{stderr}");
    let (status, _, stderr) = announcer_output(&["--check", empty.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
}

/// The Lua block of README.md that starts with `first_line`.
fn readme_block(first_line: &str) -> String {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let start = readme
        .find(&format!("```lua\n{first_line}"))
        .unwrap_or_else(|| panic!("no {first_line:?} example in README.md"))
        + "```lua\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

#[test]
fn the_readme_test_example_passes_against_the_readme_game() {
    let dir = temp_dir();
    std::fs::write(dir.join("guess.lua"), readme_block("-- guess.lua")).unwrap();
    let tests = dir.join("guess_test.lua");
    std::fs::write(&tests, readme_block("-- guess_test.lua")).unwrap();
    let (status, stdout, stderr) = announcer_output(&["--test", tests.to_str().unwrap()]);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 test: 1 passed, 0 failed"), "{stdout}");
}

#[test]
fn the_host_sees_what_a_handler_did_before_its_error_in_that_order() {
    let (_, status, stdout, stderr) = lua_tests(
        "on_message(function(p, text)\n  print('before ' .. text)\n  announce('said ' .. text)\n  \
         error('after ' .. text)\nend)\n\
         every(1, function() print('tick') error('tock') end)\n",
        "order_test.lua",
        r#"test("order", function()
  local g = game("game.lua")
  local alice = g:join("alice")
  alice:say("x")
  alice:wait_for("said x")
  g:wait(1.5)
  local lines = {}
  for _, line in ipairs(g:host()) do
    if line:find("before x") or line:find("after x") or line:find("tick") or line:find("tock") then
      lines[#lines + 1] = line:gsub("^.-game%.lua:%d+: ", "")
    end
  end
  expect_eq(lines[1], "[script] before x")
  expect_eq(lines[2]:match("after x$"), "after x", lines[2])
  local tick
  for i, line in ipairs(lines) do
    if line == "[script] tick" then tick = i break end
  end
  expect(tick and lines[tick + 1]:find("tock$"), "tock right after tick")
  expect(#g:errors() >= 2, "the handler's error and the timer's")
end)
"#,
    );
    assert!(status.success(), "{stdout}\n{stderr}");
}

#[test]
fn a_player_the_script_refuses_is_told_why_and_leaves() {
    let (_, status, stdout, stderr) = lua_tests(
        "on_join(function(p)\n  if p == 'mallory' then return false, 'no mallories tonight' end\n  \
         announce('welcome ' .. p)\nend)\n",
        "refuse_test.lua",
        r#"test("refused", function()
  local g = game("game.lua")
  local alice = g:join("alice")
  local mallory = g:join("mallory")
  g:wait(1)
  expect_eq(mallory:outcome(), "refused: no mallories tonight")
  expect(not alice:saw("welcome mallory"), "mallory is not in the game")
end)
"#,
    );
    assert!(status.success(), "{stdout}\n{stderr}");
}
