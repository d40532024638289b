//! The full-screen view drawn on ratatui's `TestBackend`: snapshots of a whole game at 80×24
//! and 40×12, in UTF-8 and ASCII, and checks of what snapshots do not show (colours, the
//! countdown moving, scrollback, a terminal too small).

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use super::screen::{self, Theme, View};
use crate::event::Event;
use crate::protocol::{Announcement, Entry, Game};

const UTF8: Theme = Theme {
    colour: true,
    ascii: false,
};

fn said(announcement: Announcement) -> Event {
    Event::Announcement(announcement)
}

/// A dice race as alice saw it, up to its second round.
fn race(theme: Theme, t: Instant) -> View {
    let mut view = View::new("alice", "224.1.1.1:5007 on 127.0.0.1", theme);
    let events = [
        Event::Protection { protected: false },
        Event::Welcome {
            player: "alice".into(),
            announcer: Some("127.0.0.1:5007".into()),
            players: vec!["bob".into(), "carol".into(), "alice".into()],
            moves: vec!["roll".into(), "start".into(), "again".into()],
            game: None,
            ranking: vec![],
        },
        said(Announcement::GameStart {
            title: "Dice race".into(),
            text: "First to 30 wins. Type roll each round.".into(),
        }),
        said(Announcement::Countdown {
            seconds: 15.0,
            text: "Round 1: type roll".into(),
        }),
        said(Announcement::Announce {
            text: "bob rolls 6 → 6".into(),
        }),
        said(Announcement::Announce {
            text: "alice rolls 4 → 4".into(),
        }),
        said(Announcement::Announce {
            text: "carol rolls 4 → 4".into(),
        }),
        said(Announcement::Ranking {
            entries: vec![
                Entry::new(1, "bob", 6),
                Entry::new(2, "alice", 4),
                Entry::new(2, "carol", 4),
            ],
        }),
        Event::Chat {
            from: "bob".into(),
            text: "suerte a todos, this line is long enough to wrap at forty columns".into(),
        },
        Event::Leave {
            player: "carol".into(),
            reason: "connection lost".into(),
        },
        said(Announcement::Tell {
            to: "alice".into(),
            text: "You already rolled this round.".into(),
        }),
        said(Announcement::Countdown {
            seconds: 15.0,
            text: "Round 2: type roll".into(),
        }),
        said(Announcement::Announce {
            text: "alice rolls 6 → 10".into(),
        }),
        said(Announcement::Ranking {
            entries: vec![Entry::new(1, "alice", 10), Entry::new(2, "bob", 6)],
        }),
    ];
    for event in events {
        show(&mut view, event, t);
    }
    view
}

/// What the terminal loop does with an event: as the screen shows it, onto the board.
fn show(view: &mut View, event: Event, t: Instant) {
    let event = crate::render::event_for_screen(event, view.theme.ascii);
    view.board.apply(&event, t);
}

/// The same race to its end: a question, the winner, the podium.
fn race_to_the_end(theme: Theme, t: Instant) -> View {
    let mut view = race(theme, t);
    for event in [
        said(Announcement::Question {
            number: 1,
            total: 3,
            text: "Which IPv4 range is reserved for multicast?".into(),
            choices: vec!["10.0.0.0/8".into(), "224.0.0.0/4".into()],
            seconds: 20,
        }),
        said(Announcement::Congratulate {
            player: "alice".into(),
            text: "alice wins the dice race with 31 in round 7!".into(),
        }),
        said(Announcement::GameEnd {
            text: "Final positions: alice 31, bob 25".into(),
        }),
        Event::Close {
            text: "the game is over".into(),
        },
    ] {
        show(&mut view, event, t);
    }
    view
}

fn drawn(view: &View, size: (u16, u16), now: Instant) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
    terminal
        .draw(|frame| screen::draw(frame, view, now))
        .unwrap();
    terminal
}

fn text(terminal: &Terminal<TestBackend>) -> String {
    terminal.backend().to_string()
}

#[test]
fn a_race_at_80_by_24() {
    let t = Instant::now();
    let view = race(UTF8, t);
    insta::assert_snapshot!(text(&drawn(&view, (80, 24), t + Duration::from_secs(3))));
}

#[test]
fn a_race_at_40_by_12() {
    let t = Instant::now();
    let view = race(UTF8, t);
    insta::assert_snapshot!(text(&drawn(&view, (40, 12), t + Duration::from_secs(3))));
}

#[test]
fn the_end_at_80_by_24_with_the_podium() {
    let t = Instant::now();
    let view = race_to_the_end(UTF8, t);
    insta::assert_snapshot!(text(&drawn(&view, (80, 24), t)));
}

#[test]
fn a_race_in_ascii() {
    let t = Instant::now();
    let view = race_to_the_end(
        Theme {
            colour: false,
            ascii: true,
        },
        t,
    );
    let drawn = text(&drawn(&view, (80, 24), t));
    insta::assert_snapshot!(drawn);
    // The game's own words too: dice.lua's arrow is spelled "->".
    assert!(drawn.contains("alice rolls 6 -> 10"), "{drawn}");
    let other: Vec<char> = drawn.chars().filter(|c| !c.is_ascii()).collect();
    assert!(other.is_empty(), "{other:?}");
}

#[test]
fn colour_only_when_wanted_and_never_bright_white() {
    let t = Instant::now();
    let colours = |theme| {
        let terminal = drawn(&race_to_the_end(theme, t), (80, 24), t);
        let buffer = terminal.backend().buffer().clone();
        buffer
            .content()
            .iter()
            .map(|cell| cell.fg)
            .filter(|fg| *fg != Color::Reset)
            .collect::<Vec<Color>>()
    };
    let coloured = colours(UTF8);
    assert!(
        coloured.contains(&Color::Green),
        "the game's start and the players here"
    );
    assert!(!coloured.contains(&Color::White) && !coloured.contains(&Color::Gray));
    let plain = colours(Theme {
        colour: false,
        ascii: false,
    });
    assert!(plain.is_empty(), "NO_COLOR: {plain:?}");
}

#[test]
fn the_countdown_moves_and_warns_near_its_end() {
    let t = Instant::now();
    let view = race(UTF8, t);
    let status = |after: u64| {
        let drawn = text(&drawn(&view, (80, 24), t + Duration::from_secs(after)));
        drawn.lines().nth(22).unwrap().to_string()
    };
    assert!(
        status(3).contains("⏱ 12 s Round 2: type roll"),
        "{}",
        status(3)
    );
    assert!(status(9).contains("⏱ 6 s"), "{}", status(9));
    let late = drawn(&view, (80, 24), t + Duration::from_secs(12));
    let buffer = late.backend().buffer();
    let red = (0..80).any(|x| buffer[(x, 22)].fg == Color::Red);
    assert!(red, "3 s left without a move: the countdown turns red");
    assert!(!status(16).contains("⏱"), "run out: no countdown");
}

#[test]
fn own_name_is_highlighted_in_the_ranking() {
    let t = Instant::now();
    let view = race(UTF8, t);
    let terminal = drawn(&view, (80, 24), t);
    let buffer = terminal.backend().buffer();
    // The ranking panel is the right-hand column; alice leads it, bob is second.
    let cells = |y: u16| {
        (54..80)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect::<String>()
    };
    assert!(
        cells(2).contains("alice") && cells(3).contains("bob"),
        "{}",
        text(&terminal)
    );
    let highlighted = |y: u16| {
        (58..78).all(|x| {
            buffer[(x, y)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
        })
    };
    assert!(highlighted(2), "alice's own line is highlighted");
    assert!(!highlighted(3), "bob's is not");
}

#[test]
fn scrollback_shows_older_lines_and_says_so() {
    let t = Instant::now();
    let mut view = race(UTF8, t);
    for i in 0..30 {
        view.board.apply(
            &Event::Chat {
                from: "bob".into(),
                text: format!("line {i}"),
            },
            t,
        );
    }
    view.scroll = 25;
    let drawn = text(&drawn(&view, (80, 24), t));
    assert!(drawn.contains("lines back (End: newest)"), "{drawn}");
    assert!(drawn.contains("25 lines back"), "{drawn}");
    assert!(drawn.contains("alice rolls 6 → 10"), "{drawn}");
    assert!(
        !drawn.contains("line 29"),
        "the newest are out of sight: {drawn}"
    );
}

#[test]
fn a_terminal_too_small_says_so() {
    let t = Instant::now();
    let drawn = text(&drawn(&race(UTF8, t), (24, 6), t));
    assert!(drawn.contains("needs 30×8"), "{drawn}");
}

#[test]
fn a_late_joiner_sees_the_game_and_its_ranking() {
    let t = Instant::now();
    let mut view = View::new("dan", "224.1.1.1:5007 on 127.0.0.1", UTF8);
    view.board.apply(
        &Event::Welcome {
            announcer: None,
            player: "dan".into(),
            players: vec!["bob".into(), "dan".into()],
            moves: vec!["roll".into()],
            game: Some(Game {
                title: "Dice race".into(),
                text: "First to 30".into(),
            }),
            ranking: vec![Entry::new(1, "bob", 12)],
        },
        t,
    );
    let drawn = text(&drawn(&view, (80, 24), t));
    assert!(drawn.contains(" Dice race "), "{drawn}");
    assert!(
        drawn.contains("bob            12") || drawn.contains("bob "),
        "{drawn}"
    );
}

#[test]
fn the_rarer_events_at_80_by_24() {
    let t = Instant::now();
    let mut view = View::new("alice", "224.1.1.1:5007 on 127.0.0.1", UTF8);
    for event in [
        Event::Join {
            player: "user1".into(),
        },
        Event::Chat {
            from: "user1".into(),
            text: "Hola, soy user1 <script>alert(1)</script>\u{1b}[2J".into(),
        },
        Event::Lost {
            from: "announcer".into(),
            count: 3,
        },
        Event::Announcer {
            state: crate::event::Link::Unreachable,
        },
        Event::Announcer {
            state: crate::event::Link::Back,
        },
        Event::Notice {
            text: "your line is too long to send".into(),
        },
        Event::Refused {
            player: "alice".into(),
            reason: "the name is taken".into(),
        },
    ] {
        view.board.apply(&event, t);
    }
    view.board.note("2 here:".into());
    insta::assert_snapshot!(text(&drawn(&view, (80, 24), t)));
}
