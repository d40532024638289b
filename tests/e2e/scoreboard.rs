//! The scoreboard end to end: the real binary watching a real trivia game on loopback, and its
//! page in a real browser (Debian's chromium, headless, driven by playwright-core from
//! tests/browser/scoreboard.mjs): two pages at once, a reload mid-question, players whose
//! names are markup, the answers coming in, their spread, the ranking, the podium.
//!
//! Needs node, tests/browser/node_modules (`npm ci --prefix tests/browser`) and chromium;
//! without them it prints SKIPPED and why.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// Starts `scoreboard` on `net`, on a port of the kernel's choosing; returns it and its URL.
fn scoreboard(net: &Net) -> (Process, String) {
    let binary = env!("CARGO_BIN_EXE_scoreboard");
    let mut args = net.flags();
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    let mut board = Process::spawn_in(None, "scoreboard", binary, &args);
    let line = board.wait_out("scoreboard: open http://");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    (board, url)
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing() -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if !Path::new(&repo("tests/browser/node_modules/playwright-core")).exists() {
        return Some("playwright-core is not installed (npm ci --prefix tests/browser)".into());
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "{chromium} is not installed (apt install chromium)"
        ));
    }
    None
}

#[test]
fn the_scoreboard_shows_a_quiz_to_two_browsers_and_runs_nothing_from_the_network() {
    if let Some(why) = browser_missing() {
        return skip(&why);
    }
    let net = Net::fresh();
    let (mut board, url) = scoreboard(&net);
    let checker = repo("tests/browser/scoreboard.mjs").display().to_string();
    let mut browser = Process::spawn_in(None, "browser", "node", &[checker, url.clone()]);
    browser.wait_out("READY");

    let trivia = repo("scripts/trivia.lua");
    let settings = set(&[
        "countdown=0",
        "questions=2",
        "question_seconds=60",
        "pause=5",
        "rematch=0",
    ]);
    let mut host = announcer(&net, &trivia, &settings);
    let mut first = welcomed_player(&net, "<script>x</script>");
    let mut second = welcomed_player(&net, "<img src=x onerror=1>");
    for p in [&mut first, &mut second] {
        p.wait_kind("question");
    }
    browser.wait_out("QUESTION");
    first.say("b");
    browser.wait_out("RELOADED");
    second.say("c");
    let tally = browser.wait_out("TALLY");
    // One answer on b, one on c, none elsewhere: the spread, not who answered what.
    assert_eq!(tally, "TALLY 0,1,1,0", "{tally}");
    for p in [&mut first, &mut second] {
        p.wait_kind("question");
    }
    first.say("a");
    second.say("a");
    let podium = browser.wait_out("PODIUM");
    assert!(podium.contains("<script>x</script>"), "{podium}");
    browser.wait_out("DONE");
    assert!(browser.wait_exit().success(), "{}", browser.stderr());
    assert!(host.wait_exit().success(), "{}", host.stderr());

    // The scoreboard is no player: the game never counted it.
    let joined: Vec<String> = host
        .events()
        .iter()
        .filter(|v| v["dir"] == "received" && v["kind"] == "join")
        .map(|v| v["from"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!joined.iter().any(|n| n == "scoreboard"), "{joined:?}");
    // It serves its page and its stream, nothing else.
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    for path in ["/etc/passwd", "/../Cargo.toml", "/scoreboard.js/../../x"] {
        let status = http_status(address, path);
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(http_status(address, "/"), 200);
    // Ctrl-C closes it, even with a browser's stream open.
    let _stream = open_stream(address);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(board.pid() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(board.wait_exit().success(), "{}", board.stderr());
}

/// The status of `GET path` on the scoreboard at `address`.
fn http_status(address: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

/// A browser's stream, left open.
fn open_stream(address: &str) -> TcpStream {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET /events HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut first = [0u8; 64];
    let _ = stream.read(&mut first).unwrap();
    stream
}
