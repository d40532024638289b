//! The full-screen player's cost: taking an event into its model, and drawing a frame (80×24,
//! through the real crossterm backend into memory), against the line mode's cost of formatting
//! and writing one event, measured in the same run. The view redraws at most every
//! `view::terminal::FRAME`, so its cost per event is one model update plus its share of the
//! frames; the line mode pays per event.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use gamecast::event::Event;
use gamecast::protocol::{Announcement, Entry};
use gamecast::render::Style;
use gamecast::view::screen::{self, Theme, View};
use gamecast::view::terminal::FRAME;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::report::{ratio, summarize};

/// Counts the bytes the backend writes (what a terminal would be sent).
#[derive(Default)]
struct Counted(u64);

impl Write for Counted {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The events of a busy game: announcements of about 200 bytes (as the throughput suite sends),
/// a ranking of 16 every 20, and chat.
fn events(count: usize) -> Vec<Event> {
    let padding = "x".repeat(160);
    (0..count)
        .map(|i| match i % 20 {
            0 => Event::Announcement(Announcement::Ranking {
                entries: (0..16)
                    .map(|p| Entry {
                        rank: p + 1,
                        name: format!("player{p}"),
                        score: i64::from(100 - p) + i as i64,
                    })
                    .collect(),
            }),
            7 => Event::Chat {
                from: "bob".into(),
                text: format!("line {i} from bob, who has something to say"),
            },
            _ => Event::Announcement(Announcement::Announce {
                text: format!("@{i} 1234.567890 {padding}"),
            }),
        })
        .collect()
}

pub fn run(smoke: bool) -> String {
    let count = if smoke { 2_000 } else { 200_000 };
    let frames = if smoke { 20 } else { 400 };
    let stream = events(count);
    let theme = Theme {
        colour: true,
        ascii: false,
    };

    // The line mode: format each event for an 80-column terminal and write it.
    let style = Style {
        colour: true,
        ascii: false,
        width: Some(80),
    };
    let mut out = std::io::sink();
    let started = Instant::now();
    for event in &stream {
        writeln!(out, "{}", style.wrapped(event)).unwrap();
    }
    let line_per_event = started.elapsed() / count as u32;

    // The full-screen view: every event into the model...
    let mut view = View::new("alice", "224.1.1.1:5007 on 127.0.0.1", theme);
    let now = Instant::now();
    let started = Instant::now();
    for event in &stream {
        view.board.apply(event, now);
    }
    let apply_per_event = started.elapsed() / count as u32;

    // ...and frames drawn with the log full, each after a few more events (a frame redraws
    // what changed: the log scrolls, so most of it changes).
    let backend = CrosstermBackend::new(Counted::default());
    let mut terminal = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
        },
    )
    .unwrap();
    let mut samples = Vec::new();
    for (i, event) in stream.iter().cycle().take(frames * 50).enumerate() {
        view.board.apply(event, now);
        if i % 50 == 49 {
            let started = Instant::now();
            terminal
                .draw(|frame| screen::draw(frame, &view, now))
                .unwrap();
            samples.push(black_box(started.elapsed()));
        }
    }
    let frame = summarize(samples);
    let frames_per_second = 1.0 / FRAME.as_secs_f64();
    let frame_share = frame.p50 / 1000.0 * frames_per_second;
    let keeps_up = (1.0 - frame_share).max(0.0) / apply_per_event.as_secs_f64().max(1e-12);
    let line_keeps_up = 1.0 / line_per_event.as_secs_f64().max(1e-12);

    let mut out = String::from(
        "## The full-screen player\n\n\
         What the full-screen view costs on one core, against the line mode in the same run: \
         a stream of ~200-byte announcements with a ranking of 16 every 20 events and some chat. \
         Line mode: each event formatted for 80 columns and written. Full screen: each event \
         taken into the model, and a frame (80×24, through crossterm's backend into memory) at \
         most every 50 ms whatever the rate, so it keeps up as long as its frames leave time \
         for the events.\n\n\
         | | per event | per frame (p50 / p99) | events/s one core keeps up with |\n\
         | --- | --- | --- | --- |\n",
    );
    out.push_str(&format!(
        "| line mode | {:.2} µs | — | {:.0} |\n",
        line_per_event.as_secs_f64() * 1e6,
        line_keeps_up
    ));
    out.push_str(&format!(
        "| full screen | {:.2} µs | {:.2} / {:.2} ms | {:.0} |\n",
        apply_per_event.as_secs_f64() * 1e6,
        frame.p50,
        frame.p99,
        keeps_up
    ));
    out.push_str("\nCPU per event, full screen against the line mode, at a given rate:\n\n| events/s | full screen | line mode | full / line |\n| --- | --- | --- | --- |\n");
    for rate in [100.0, 1_000.0, 10_000.0, 100_000.0] {
        let full = apply_per_event.as_secs_f64() + frame_share / rate;
        let line = line_per_event.as_secs_f64();
        out.push_str(&format!(
            "| {rate:.0} | {:.2} µs | {:.2} µs | {} |\n",
            full * 1e6,
            line * 1e6,
            ratio(full, line)
        ));
    }
    out.push_str(&format!(
        "\n{count} events, {frames} frames. Reproduce: `cargo bench --bench gamecast -- view`. \
         The frames' cost does not grow with the game: only the newest log entries that fill \
         the screen are wrapped (20 frames a second cost {:.1} % of a core).\n",
        frame_share * 100.0
    ));
    out
}
