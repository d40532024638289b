//! The full-screen player in a real terminal: raw mode and the alternate screen (given back on
//! every way out, a panic included), keys and mouse read on their own thread, the player's
//! session running beside the drawing, and a redraw at most [`FRAME`] apart, never per event.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event as Key, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use super::board::Logged;
use super::command::{self, Routed};
use super::input::Action;
use super::screen::{self, View};
use crate::event::Event;
use crate::link::Link;
use crate::player::{self, Options, Played};
use crate::protocol::Announcement;

/// The shortest time between two redraws: a flood of events costs one frame per interval.
pub const FRAME: Duration = Duration::from_millis(50);

/// While a countdown runs, the screen is redrawn this often even when nothing arrives.
const TICK: Duration = Duration::from_millis(250);

/// How many of the last events are printed on the normal screen at exit, so that the end of
/// the game stays in the terminal's scrollback.
const EPILOGUE: usize = 12;

/// Gives the terminal back as it was: whatever ends the view (the game closed, `quit`, Ctrl-C,
/// an error, a panic), no raw mode or alternate screen is left behind.
pub(super) struct Restore;

impl Restore {
    pub(super) fn take() -> anyhow::Result<Restore> {
        enable_raw_mode()?;
        let guard = Restore;
        execute!(
            std::io::stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            EnableBracketedPaste
        )?;
        // A panic prints its message on the normal screen, not into the alternate one.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            give_back();
            previous(info);
        }));
        Ok(guard)
    }
}

fn give_back() {
    let _ = execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
}

impl Drop for Restore {
    fn drop(&mut self) {
        give_back();
    }
}

/// The terminal taken over for a full-screen view: raw mode and the alternate screen (given
/// back when the [`Restore`] drops), a ratatui terminal on it, and the keys and the mouse, read
/// on a thread of their own.
pub(super) type Opened = (
    Restore,
    Terminal<CrosstermBackend<std::io::Stdout>>,
    mpsc::Receiver<Key>,
);

/// Takes the terminal over (see [`Opened`]).
pub(super) fn open() -> anyhow::Result<Opened> {
    let restore = Restore::take()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    let (keys_tx, keys) = mpsc::channel::<Key>(256);
    std::thread::spawn(move || {
        // Blocks in read(); when the view is gone the send fails and the thread ends (or the
        // process exits under it).
        while let Ok(key) = crossterm::event::read() {
            if keys_tx.blocking_send(key).is_err() {
                break;
            }
        }
    });
    Ok((restore, terminal, keys))
}

/// What the full-screen player does beyond the view.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Ring the terminal's bell when a turn or a question begins.
    pub bell: bool,
    /// What to say if no announcer has welcomed us after [`super::ALONE_AFTER`].
    pub alone: String,
}

/// Plays as `name` on `link` in the full-screen view until the person leaves, the game closes,
/// or `shutdown` completes; then prints the end of the game on the normal screen.
pub async fn play(
    mut view: View,
    link: impl Link,
    options: Options,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Played> {
    let name = view.name.clone();
    let (restore, mut terminal, mut keys) = open()?;
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let (lines_tx, lines) = mpsc::channel::<String>(64);
    let ascii = view.theme.ascii;
    let show = move |event: Event| {
        let _ = events_tx.send(crate::render::event_for_screen(event, ascii));
    };
    // Ctrl-C leaves as an interrupted player does (the others see "interrupted").
    let (interrupt_tx, interrupted) = tokio::sync::oneshot::channel::<()>();
    let mut interrupt_tx = Some(interrupt_tx);
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            _ = interrupted => {}
        }
    };
    let session = player::play(&name, link, options, lines, show, shutdown);
    tokio::pin!(session);

    let mut dirty = true;
    let mut drawn = tokio::time::Instant::now();
    let alone = tokio::time::sleep(super::ALONE_AFTER);
    tokio::pin!(alone);
    let mut alone_said = false;
    let played = loop {
        let now = tokio::time::Instant::now();
        if dirty && now >= drawn + FRAME {
            terminal.draw(|frame| screen::draw(frame, &view, now.into_std()))?;
            drawn = now;
            dirty = false;
        }
        let next_draw = if dirty {
            drawn + FRAME
        } else if view.board.countdown.is_some() {
            now + TICK
        } else {
            now + Duration::from_secs(3600)
        };
        tokio::select! {
            biased;
            played = &mut session => break played?,
            Some(event) = events.recv() => {
                if settings.bell && starts_a_turn(&event) {
                    let _ = std::io::stdout().write_all(b"\x07");
                }
                view.board.apply(&event, Instant::now());
                // Drain what else came meanwhile: one frame for the lot.
                while let Ok(event) = events.try_recv() {
                    view.board.apply(&event, Instant::now());
                }
                dirty = true;
            }
            Some(key) = keys.recv() => {
                match on_key(&mut view, key) {
                    // The session may have ended meanwhile: then the loop ends with it.
                    Some(Typed::Line(line)) => {
                        let _ = lines_tx.send(line).await;
                    }
                    Some(Typed::Interrupt) => {
                        if let Some(interrupt) = interrupt_tx.take() {
                            let _ = interrupt.send(());
                        }
                    }
                    None => {}
                }
                dirty = true;
            }
            () = &mut alone, if !alone_said => {
                alone_said = true;
                if view.board.phase == super::board::Phase::Chat {
                    view.board.note(settings.alone.clone());
                    dirty = true;
                }
            }
            () = tokio::time::sleep_until(next_draw) => dirty = true,
        }
    };
    // What arrived last (the game's end, the close) is in the board: print it after the view.
    while let Ok(event) = events.try_recv() {
        view.board.apply(&event, Instant::now());
    }
    drop(terminal);
    drop(restore);
    let style = crate::render::Style {
        colour: view.theme.colour,
        ascii: view.theme.ascii,
        width: crossterm::terminal::size()
            .ok()
            .map(|(w, _)| usize::from(w)),
    };
    let from = view.board.log.len().saturating_sub(EPILOGUE);
    let mut out = std::io::stdout().lock();
    for logged in view.board.log.iter().skip(from) {
        let line = match logged {
            Logged::Shown(event) => style.wrapped(event),
            Logged::Local(text) => match style.width {
                Some(width) => textwrap::fill(text, width.max(20)),
                None => text.clone(),
            },
        };
        let _ = writeln!(out, "{}", line);
    }
    if !view.board.podium.is_empty() {
        let places: Vec<String> = view
            .board
            .podium
            .iter()
            .take_while(|entry| entry.rank <= 3)
            .map(|entry| {
                let medal = crate::render::place(entry.rank, view.theme.ascii);
                format!(
                    "{medal} {} {}",
                    crate::text::visible(&entry.name),
                    entry.score
                )
            })
            .collect();
        let _ = writeln!(out, "Podium: {}", places.join("  "));
    }
    Ok(played)
}

/// Whether `event` begins something the person must act on now.
fn starts_a_turn(event: &Event) -> bool {
    matches!(
        event,
        Event::Announcement(Announcement::Countdown { .. } | Announcement::Question { .. })
    )
}

/// A key or mouse event; the line to hand to the session, if any.
/// What a key gives the session.
enum Typed {
    /// A line to send (or `quit`).
    Line(String),
    /// Ctrl-C.
    Interrupt,
}

fn on_key(view: &mut View, key: Key) -> Option<Typed> {
    let action = match key {
        Key::Key(key) => {
            // The game's moves and the local commands (the board and the input are apart).
            let mut words: Vec<&str> = view.board.words();
            words.extend(command::NAMES);
            view.input.key(key, &words)
        }
        Key::Paste(text) => view.input.paste(&text),
        Key::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Action::Scroll(3),
            MouseEventKind::ScrollDown => Action::Scroll(-3),
            _ => Action::Ignored,
        },
        Key::Resize(..) | Key::FocusGained | Key::FocusLost => Action::Ignored,
    };
    match action {
        Action::Submit(line) => submit(view, &line).map(Typed::Line),
        Action::Leave => Some(Typed::Line("quit".to_string())),
        Action::Interrupt => Some(Typed::Interrupt),
        Action::Scroll(lines) => {
            view.scroll = if lines > 0 {
                view.scroll.saturating_add(lines.unsigned_abs() as usize)
            } else {
                view.scroll.saturating_sub(lines.unsigned_abs() as usize)
            };
            None
        }
        Action::Live => {
            view.scroll = 0;
            None
        }
        Action::Edited | Action::Ignored => None,
    }
}

/// A line typed: a local command is answered here; anything else goes to the session.
fn submit(view: &mut View, line: &str) -> Option<String> {
    view.scroll = 0;
    if line.trim().is_empty() {
        return None;
    }
    match command::route(line, &view.board) {
        Routed::Local(answer) => {
            for text in answer {
                view.board.note(text);
            }
            None
        }
        Routed::Send(line) => {
            let is_move = player::core::is_move(&view.board.moves, line.trim());
            view.board.typed(is_move);
            Some(line)
        }
    }
}
