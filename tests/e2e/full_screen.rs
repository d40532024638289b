//! The full-screen player in a real terminal: tmux runs two players against a real announcer,
//! its keys play a dice race, and what its panes show is what a person would see. Also: the
//! terminal is given back (no raw mode, no alternate screen) however the player ends.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// A tmux server of this test's own (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
    started: std::cell::Cell<bool>,
}

impl Tmux {
    /// A new server, or `None` (said as a skip) where tmux is missing.
    fn start() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            skip("tmux is not installed (apt install tmux)");
            return None;
        }
        Some(Tmux {
            socket: format!("gamecast-{}", fastrand::u64(..)),
            started: std::cell::Cell::new(false),
        })
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A window named `name`, `width`×`height`, running a plain shell in a UTF-8 locale.
    fn window(&self, name: &str, width: u16, height: u16) {
        let size = [width.to_string(), height.to_string()];
        let shell = "env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 TERM=tmux-256color bash --norc --noprofile";
        if !self.started.replace(true) {
            self.tmux(&[
                "new-session",
                "-d",
                "-s",
                "t",
                "-n",
                name,
                "-x",
                &size[0],
                "-y",
                &size[1],
                shell,
            ]);
        } else {
            self.tmux(&["new-window", "-d", "-t", "t", "-n", name, shell]);
            self.tmux(&[
                "resize-window",
                "-t",
                &format!("t:{name}"),
                "-x",
                &size[0],
                "-y",
                &size[1],
            ]);
        }
    }

    fn keys(&self, window: &str, keys: &[&str]) {
        let target = format!("t:{window}");
        let mut args = vec!["send-keys", "-t", &target];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types `line` and Enter.
    fn type_line(&self, window: &str, line: &str) {
        self.keys(window, &["-l", line]);
        self.keys(window, &["Enter"]);
    }

    fn screen(&self, window: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &format!("t:{window}")])
    }

    /// Whether the window's pane shows its alternate screen (a full-screen program runs).
    fn alternate(&self, window: &str) -> bool {
        self.tmux(&[
            "display",
            "-p",
            "-t",
            &format!("t:{window}"),
            "#{alternate_on}",
        ])
        .trim()
            == "1"
    }

    /// Waits until the window's screen satisfies `wanted`; the screen then. There is no event
    /// for "the screen changed" to wait on, so this looks every 50 ms, up to [`TIMEOUT`].
    fn wait(&self, window: &str, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = self.screen(window);
            if wanted(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("{window} never showed {what}; its screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn player_command(net: &Net, name: &str, extra: &str) -> String {
    format!(
        "{} --name {name} {} {extra}; echo \"exit status $?\"; stty -a | grep -o -- '-\\?icanon'",
        env!("CARGO_BIN_EXE_player"),
        net.flags().join(" "),
    )
}

/// Whether the player exited and the shell said how the terminal was left (`stty`'s icanon).
fn exited(screen: &str) -> bool {
    screen.contains("exit status") && screen.lines().any(|l| l.trim().ends_with("icanon"))
}

/// The status line: the last but one line of the screen.
fn status(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    lines[lines.len().saturating_sub(2)].to_string()
}

#[test]
fn a_dice_race_in_two_full_screen_players() {
    let Some(tmux) = Tmux::start() else { return };
    let net = Net::fresh();
    let dice = repo("scripts/dice.lua");
    let mut host = announcer(
        &net,
        &dice,
        // 20 takes four rounds at least (a roll is 6 at most): the panel changes between them.
        &set(&["countdown=1", "target=20", "turn_seconds=4", "rematch=0"]),
    );
    tmux.window("alice", 80, 24);
    tmux.window("bob", 40, 12);
    tmux.type_line("alice", &player_command(&net, "alice", ""));
    tmux.type_line("bob", &player_command(&net, "bob", ""));

    let screen = tmux.wait("alice", "round 1", |s| s.contains("Round 1: type roll"));
    assert!(
        tmux.alternate("alice"),
        "full screen in a terminal:\n{screen}"
    );
    assert!(screen.contains("Players (2)"), "{screen}");
    assert!(screen.contains("alice (you)"), "{screen}");
    // The countdown moves while nothing else happens.
    let first = status(&screen);
    let moved = tmux.wait("alice", "the countdown moving", |s| {
        let now = status(s);
        now.contains("Round 1") && now != first
    });
    assert!(status(&moved).contains("⏱"), "{moved}");

    // /who is answered by alice's own program, and bob never sees it.
    tmux.type_line("alice", "/who");
    tmux.wait("alice", "the answer to /who", |s| s.contains("2 here:"));
    tmux.type_line("bob", "hola desde bob");
    tmux.wait("alice", "bob's chat", |s| s.contains("bob: hola desde bob"));

    // Both roll each round (Tab completes the move) until the race ends.
    let mut rankings = Vec::new();
    let mut round = 1;
    loop {
        let banner = format!("Round {round}: type roll");
        let screen = tmux.wait("alice", &banner, |s| {
            s.contains(&banner) || !tmux.alternate("alice")
        });
        if !tmux.alternate("alice") {
            break;
        }
        tmux.keys("alice", &["-l", "ro"]);
        tmux.keys("alice", &["Tab", "Enter"]);
        tmux.type_line("bob", "roll");
        let rolled = tmux.wait("alice", "the round's ranking", |s| {
            s.contains(&format!("Round {}: type roll", round + 1)) || !tmux.alternate("alice")
        });
        // The ranking panel is in place: its first line sits where it sat the round before.
        if tmux.alternate("alice")
            && let Some(line) = rolled.lines().nth(2)
        {
            rankings.push(line.to_string());
        }
        assert!(screen.contains("alice"), "{screen}");
        round += 1;
        assert!(round < 40, "the race never ended");
    }
    // The ranking panel's first line, each round: always there, always the leader's medal,
    // and its numbers change as the race goes on.
    let panel: Vec<String> = rankings
        .iter()
        .map(|l| l.chars().skip(54).collect())
        .collect();
    assert!(panel.len() >= 2, "{panel:?}");
    assert!(panel.iter().all(|l| l.contains("🥇")), "{panel:?}");
    assert!(
        panel.windows(2).any(|w| w[0] != w[1]),
        "the panel never changed: {panel:?}"
    );
    assert!(host.wait_exit().success());

    // The game closed: the terminal is given back, and the end stays on the screen.
    for window in ["alice", "bob"] {
        let end = tmux.wait(window, "the player's exit", exited);
        assert!(
            !tmux.alternate(window),
            "{window}: the alternate screen is left"
        );
        assert!(end.contains("exit status 0"), "{window}:\n{end}");
        assert!(end.contains("GAME OVER"), "{window}:\n{end}");
        assert!(end.contains("Podium: 🥇"), "{window}:\n{end}");
        assert!(
            end.lines().any(|l| l.trim() == "icanon"),
            "{window}: raw mode left behind:\n{end}"
        );
    }
    let bob = tmux.screen("bob");
    assert!(
        !bob.contains("/who") && !bob.contains("2 here:"),
        "bob saw alice's /who:\n{bob}"
    );
}

#[test]
fn ctrl_c_and_quit_give_the_terminal_back() {
    let Some(tmux) = Tmux::start() else { return };
    let net = Net::fresh();
    let _host = announcer(&net, &repo("scripts/hello.lua"), &[]);
    tmux.window("carol", 80, 24);
    tmux.window("dan", 80, 24);
    tmux.type_line("carol", &player_command(&net, "carol", ""));
    tmux.type_line("dan", &player_command(&net, "dan", ""));
    tmux.wait("carol", "the greeting", |s| s.contains("Hola carol"));
    tmux.wait("dan", "the greeting", |s| s.contains("Hola dan"));
    tmux.keys("carol", &["C-c"]);
    tmux.wait("dan", "carol leaving, interrupted", |s| {
        s.contains("carol left (interrupted)")
    });
    tmux.type_line("dan", "/quit");
    for window in ["carol", "dan"] {
        let end = tmux.wait(window, "the player's exit", exited);
        assert!(
            !tmux.alternate(window),
            "{window}: alternate screen left:\n{end}"
        );
        assert!(end.contains("exit status 0"), "{window}:\n{end}");
        assert!(
            end.lines().any(|l| l.trim() == "icanon"),
            "{window}: raw mode left behind:\n{end}"
        );
    }
}

#[test]
fn plain_is_the_line_mode_wrapped_at_words_with_local_commands() {
    let Some(tmux) = Tmux::start() else { return };
    let net = Net::fresh();
    let _host = announcer(&net, &repo("scripts/hello.lua"), &[]);
    tmux.window("erin", 40, 12);
    tmux.type_line("erin", &player_command(&net, "erin", "--plain"));
    let screen = tmux.wait("erin", "the greeting", |s| s.contains("everyone."));
    assert!(
        !tmux.alternate("erin"),
        "--plain is the line mode:\n{screen}"
    );
    // "📢 Hola erin! Say Adiós to end for everyone." is wider than 40 columns: it wraps
    // between two words, not where the terminal would cut it.
    assert!(
        screen.lines().any(|l| l.trim_end() == "everyone."),
        "not wrapped at a word:\n{screen}"
    );
    tmux.type_line("erin", "/who");
    tmux.wait("erin", "the answer to /who", |s| {
        s.contains("erin (you): playing")
    });
    tmux.type_line("erin", "quit");
    let end = tmux.wait("erin", "the player's exit", exited);
    assert!(end.contains("Message <quit>:"), "{end}");
}

#[test]
fn a_player_alone_says_where_it_listens_and_how_to_listen_elsewhere() {
    let Some(tmux) = Tmux::start() else { return };
    let net = Net::fresh();
    tmux.window("fay", 80, 24);
    tmux.type_line("fay", &player_command(&net, "fay", ""));
    let place = format!("{}:{} on 127.0.0.1", net.group, net.port);
    let screen = tmux.wait("fay", "that no announcer answers", |s| {
        s.contains("No announcer heard on")
    });
    assert!(
        screen.lines().next().unwrap_or("").contains(&place),
        "{screen}"
    );
    let said: String = screen
        .lines()
        // The log's column only, without its borders.
        .map(|l| l.chars().take(53).collect::<String>())
        .map(|l| l.trim_matches(|c| c == '│' || c == ' ').to_string())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        said.contains(&format!("No announcer heard on {place}")),
        "{screen}"
    );
    tmux.keys("fay", &["C-d"]);
    tmux.wait("fay", "the player's exit", exited);
}

#[test]
fn the_hosts_full_screen_console_shows_the_players_links_and_stops_on_q() {
    let Some(tmux) = Tmux::start() else { return };
    let net = Net::fresh();
    tmux.window("host", 100, 30);
    tmux.type_line(
        "host",
        &format!(
            "{} {} {}; echo \"exit status $?\"; stty -a | grep -o -- '-\\?icanon'",
            env!("CARGO_BIN_EXE_announcer"),
            repo("scripts/dice.lua").display(),
            net.flags().join(" "),
        ),
    );
    tmux.wait("host", "the host's view", |s| s.contains("gamecast host"));
    let mut alice = welcomed_player(&net, "alice");
    let screen = tmux.wait("host", "alice in the players' panel", |s| {
        s.contains("Players (1)") && s.contains("alice")
    });
    assert!(tmux.alternate("host"), "{screen}");
    assert!(screen.contains("dice.lua, version 1"), "{screen}");
    assert!(screen.contains("datagrams sent"), "{screen}");
    tmux.keys("host", &["q"]);
    alice.wait_kind("close");
    let end = tmux.wait("host", "the announcer's exit", exited);
    assert!(!tmux.alternate("host"), "{end}");
    assert!(end.contains("exit status 0"), "{end}");
    assert!(
        end.contains("announcer stopped: the host stopped the announcer"),
        "{end}"
    );
    assert!(
        end.lines().any(|l| l.trim() == "icanon"),
        "raw mode left behind:\n{end}"
    );
}

#[test]
fn a_recording_replays_in_the_full_screen_view() {
    let Some(tmux) = Tmux::start() else { return };
    tmux.window("replay", 80, 24);
    tmux.type_line(
        "replay",
        &format!(
            "{} --replay {}; echo \"exit status $?\"",
            env!("CARGO_BIN_EXE_player"),
            repo("tests/fixtures/dice-race.rec").display()
        ),
    );
    // The recorded player's own view: its name, the chat, the live ranking panel.
    let screen = tmux.wait("replay", "the game in the full-screen view", |s| {
        s.contains("alice (you)") && s.contains("alice: hola, Ada")
    });
    assert!(tmux.alternate("replay"), "{screen}");
    tmux.wait("replay", "round 3's ranking", |s| s.contains("14"));
    let end = tmux.wait("replay", "the replay's end", |s| s.contains("exit status"));
    assert!(end.contains("exit status 0"), "{end}");
}
