//! The bundled scripts pass the type checker (emmylua_check, against scripts/types) and the
//! linter (luacheck, with the sandbox's standard library), and both catch what they are there
//! to catch: a wrong call, `io`, `os.execute`, a misspelled global.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// Runs `tool ARGS…` in `dir`, or `None` (the test skipped, saying why) when it is missing.
fn run(tool: &str, install: &str, dir: &Path, args: &[&str]) -> Option<(bool, String)> {
    match Command::new(tool).args(args).current_dir(dir).output() {
        Ok(output) => Some((
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )),
        Err(e) => {
            skip(&format!("{tool} cannot run ({e}): {install}"));
            None
        }
    }
}

/// A workspace with the repository's editor configuration and stubs, and `bad.lua`.
fn workspace_with(bad: &str) -> std::path::PathBuf {
    let dir = temp_dir();
    std::fs::create_dir_all(dir.join("scripts/types")).unwrap();
    for file in [
        ".emmyrc.json",
        ".luarc.json",
        ".luacheckrc",
        "scripts/types/gamecast.lua",
    ] {
        std::fs::copy(repo(file), dir.join(file)).unwrap();
    }
    std::fs::write(dir.join("scripts/bad.lua"), bad).unwrap();
    dir
}

#[test]
fn luacheck_passes_the_bundled_scripts_and_refuses_what_the_sandbox_lacks() {
    const INSTALL: &str = "apt install lua-check";
    let Some((ok, out)) = run("luacheck", INSTALL, &repo(""), &["--no-color", "scripts"]) else {
        return;
    };
    assert!(ok, "luacheck scripts:\n{out}");
    let dir = workspace_with(
        "local f = io.open('x')\nos.execute('ls')\nanounce('hi')\nplayers = {}\nreturn f\n",
    );
    let (ok, out) = run(
        "luacheck",
        INSTALL,
        &dir,
        &["--no-color", "scripts/bad.lua"],
    )
    .unwrap();
    assert!(!ok, "{out}");
    for wanted in [
        "bad.lua:1:11: accessing undefined variable 'io'",
        "bad.lua:2:1: accessing undefined field 'execute' of global 'os'",
        "bad.lua:3:1: accessing undefined variable 'anounce'",
        "bad.lua:4:1: setting read-only global variable 'players'",
    ] {
        assert!(out.contains(wanted), "no {wanted:?} in:\n{out}");
    }
}

#[test]
fn emmylua_check_passes_the_bundled_scripts_and_refuses_a_wrong_call() {
    const INSTALL: &str = "cargo install emmylua_check --locked";
    let Some((ok, out)) = run("emmylua_check", INSTALL, &repo(""), &["."]) else {
        return;
    };
    assert!(ok, "emmylua_check .:\n{out}");
    let dir = workspace_with("after('soon', function() end)\nannounce('a', 'b')\nanounce('x')\n");
    let (ok, out) = run("emmylua_check", INSTALL, &dir, &["."]).unwrap();
    assert!(!ok, "{out}");
    for wanted in [
        "param-type-mismatch",
        "redundant-parameter",
        "undefined global variable: anounce",
    ] {
        assert!(out.contains(wanted), "no {wanted:?} in:\n{out}");
    }
}
