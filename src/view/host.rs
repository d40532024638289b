//! The host's full-screen console: the announcer's log, beside it the players with their links
//! (how long silent, repairs asked, datagrams lost), the script (its file, reloads, the last
//! reload's result and the last error at its line) and the counters. It runs the announcer's
//! loop beside the drawing; `q` (or Ctrl-C) stops the game as SIGTERM would.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{Event as Key, KeyCode, KeyModifiers, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};
use tokio::sync::watch;

use super::screen::Theme;
use crate::announcer::{self, Config, Console, End, Status};
use crate::link::Network;

/// Console lines kept for the log panel.
const MAX_LINES: usize = 5000;

/// How many of the last console lines are printed on the normal screen at exit.
const EPILOGUE: usize = 15;

/// The shortest time between two redraws.
const FRAME: Duration = Duration::from_millis(100);

/// The console's lines, as the log panel shows them.
#[derive(Debug, Default, Clone)]
struct Lines(Arc<Mutex<LineLog>>);

#[derive(Debug, Default)]
struct LineLog {
    lines: VecDeque<String>,
    partial: String,
    changed: bool,
}

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        log.partial.push_str(&String::from_utf8_lossy(bytes));
        while let Some(end) = log.partial.find('\n') {
            let line: String = log.partial.drain(..=end).collect();
            if log.lines.len() >= MAX_LINES {
                log.lines.pop_front();
            }
            log.lines.push_back(line.trim_end_matches('\n').to_string());
            log.changed = true;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the host's view draws.
#[derive(Debug, Clone, Default)]
pub struct HostView {
    /// The game's status, as the announcer last told it.
    pub status: Status,
    /// The console's lines, oldest first.
    pub lines: Vec<String>,
    /// Lines scrolled back (0: following the newest).
    pub scroll: usize,
    /// Where the game is: "224.1.1.1:5007 on 127.0.0.1".
    pub place: String,
    /// How to draw.
    pub theme: Theme,
}

/// Runs the game of `config` on `network` in the host's full-screen view until it ends or
/// `shutdown` completes (or the host types `q`); then prints the end of the log.
pub async fn run<N: Network>(
    config: Config,
    network: &N,
    place: String,
    theme: Theme,
    shutdown: impl Future<Output = String>,
) -> anyhow::Result<End> {
    let lines = Lines::default();
    let (status_tx, mut status) = watch::channel(Status::default());
    let console = Console::new(
        config.settings.json,
        false,
        Box::new(lines.clone()),
        Box::new(lines.clone()),
    )
    .with_status(status_tx);
    let (restore, mut terminal, mut keys) = super::terminal::open()?;
    let (quit_tx, quit) = tokio::sync::oneshot::channel::<()>();
    let mut quit_tx = Some(quit_tx);
    let stop = async move {
        tokio::select! {
            why = shutdown => why,
            _ = quit => "the host stopped the announcer".to_string(),
        }
    };
    let game = announcer::run(config, network, console, stop);
    tokio::pin!(game);
    let mut view = HostView {
        place,
        theme,
        ..HostView::default()
    };
    let mut dirty = true;
    let end = loop {
        if dirty {
            {
                let mut log = lines.0.lock().unwrap_or_else(|p| p.into_inner());
                view.lines = log
                    .lines
                    .iter()
                    .map(|line| crate::render::text_for_screen(line, view.theme.ascii))
                    .collect();
                log.changed = false;
            }
            terminal.draw(|frame| draw(frame, &view, Instant::now()))?;
        }
        tokio::select! {
            biased;
            end = &mut game => break end,
            Ok(()) = status.changed() => {
                view.status = status.borrow_and_update().clone();
                dirty = true;
            }
            Some(key) = keys.recv() => {
                let stop = match key {
                    Key::Key(key) => match key.code {
                        KeyCode::Char('q') => true,
                        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => true,
                        KeyCode::PageUp => { view.scroll = view.scroll.saturating_add(10); false }
                        KeyCode::PageDown => { view.scroll = view.scroll.saturating_sub(10); false }
                        KeyCode::End | KeyCode::Esc => { view.scroll = 0; false }
                        _ => false,
                    },
                    Key::Mouse(mouse) => {
                        match mouse.kind {
                            MouseEventKind::ScrollUp => view.scroll = view.scroll.saturating_add(3),
                            MouseEventKind::ScrollDown => view.scroll = view.scroll.saturating_sub(3),
                            _ => {}
                        }
                        false
                    }
                    _ => false,
                };
                if stop && let Some(quit) = quit_tx.take() {
                    let _ = quit.send(());
                }
                dirty = true;
            }
            () = tokio::time::sleep(FRAME) => {
                dirty = lines.0.lock().unwrap_or_else(|p| p.into_inner()).changed;
            }
        }
    };
    drop(terminal);
    drop(restore);
    let log = lines.0.lock().unwrap_or_else(|p| p.into_inner());
    let from = log.lines.len().saturating_sub(EPILOGUE);
    let mut out = std::io::stdout().lock();
    for line in log.lines.iter().skip(from) {
        let _ = writeln!(out, "{line}");
    }
    end
}

fn panel<'a>(theme: Theme, title: String) -> Block<'a> {
    let block = Block::bordered().title(title);
    if theme.ascii {
        block.border_set(super::screen::ASCII_BORDER)
    } else {
        block.border_type(BorderType::Rounded)
    }
}

fn ago(then: Instant, now: Instant) -> String {
    let seconds = now.saturating_duration_since(then).as_secs();
    match seconds {
        0 => "just now".into(),
        s if s < 120 => format!("{s} s ago"),
        s => format!("{} min ago", s / 60),
    }
}

/// Draws the host's view at `now`.
pub fn draw(frame: &mut Frame, view: &HostView, now: Instant) {
    let area = frame.area();
    let theme = view.theme;
    let status = &view.status;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let script = std::path::Path::new(&status.script)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(format!(
            " gamecast host | {script} | {} | {}",
            view.place, status.phase
        ))
        .style(Style::new().add_modifier(Modifier::REVERSED)),
        top,
    );
    let wide = middle.width >= 70;
    let (log_area, side) = if wide {
        let [log, side] =
            Layout::horizontal([Constraint::Min(20), Constraint::Length(34)]).areas(middle);
        (log, side)
    } else {
        let [side, log] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Min(3)]).areas(middle);
        (log, side)
    };
    let players = status.players.len() as u16;
    // The players as many as fit (12 rows at most), the counters their 6, the script the rest.
    if !wide {
        draw_players(frame, view, side);
        draw_log(frame, view, log_area);
        let sent = &status.sent;
        frame.render_widget(
            Paragraph::new(format!(
                " {script} v{} | sent {} | NACKs {} | bad {} | q: stop",
                status.reloads.saturating_add(1),
                sent.datagrams,
                sent.nacks,
                status.bad
            ))
            .style(Style::new().add_modifier(Modifier::DIM)),
            bottom,
        );
        return;
    }
    let [players_area, script_area, counters_area] = Layout::vertical([
        Constraint::Length(players.clamp(1, 10) + 2),
        Constraint::Min(4),
        Constraint::Length(8),
    ])
    .areas(side);

    draw_players(frame, view, players_area);

    // The script.
    let mut script_lines = vec![Line::from(vec![
        Span::styled(script.clone(), bold),
        Span::raw(format!(", version {}", status.reloads.saturating_add(1))),
    ])];
    script_lines.push(Line::from(match &status.last_reload {
        Some((at, said)) => format!("last reload {}: {said}", ago(*at, now)),
        None => "not reloaded (save the file to reload)".into(),
    }));
    if let Some((at, error)) = &status.last_error {
        script_lines.push(Line::from(Span::styled(
            format!("last error {}: {error}", ago(*at, now)),
            theme_style(theme, Color::Red),
        )));
    }
    frame.render_widget(
        Paragraph::new(script_lines)
            .wrap(Wrap { trim: true })
            .block(panel(theme, " Script ".into())),
        script_area,
    );

    // The counters.
    let sent = &status.sent;
    let counters = vec![
        Line::from(format!("datagrams sent {}", sent.datagrams)),
        Line::from(format!("bytes sent     {}", sent.bytes)),
        Line::from(format!("heartbeats     {}", sent.heartbeats)),
        Line::from(format!("NACKs heard    {}", sent.nacks)),
        Line::from(format!("repairs sent   {}", sent.repairs)),
        Line::from(format!("bad datagrams  {}", status.bad)),
    ];
    frame.render_widget(
        Paragraph::new(counters).block(panel(theme, " Counters ".into())),
        counters_area,
    );

    draw_log(frame, view, log_area);
    frame.render_widget(
        Paragraph::new(" q: stop the game | PgUp/PgDn: scroll the log | End: newest")
            .style(Style::new().add_modifier(Modifier::DIM)),
        bottom,
    );
}

/// The players and their links.
fn draw_players(frame: &mut Frame, view: &HostView, players_area: Rect) {
    let theme = view.theme;
    let status = &view.status;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut rows: Vec<Line> = status
        .players
        .iter()
        .map(|p| {
            let silent = p.silent.as_secs_f64();
            let style = if silent >= 1.5 {
                theme_style(theme, Color::Red)
            } else {
                Style::new()
            };
            Line::from(vec![
                Span::styled(format!("{:<10.10}", crate::text::visible(&p.name)), bold),
                Span::styled(format!(" {silent:>5.1}s"), style),
                Span::raw(format!(" {:>5} {:>5}", p.asked, p.lost)),
            ])
        })
        .collect();
    if rows.is_empty() {
        rows.push(Line::from("nobody has joined yet"));
    }
    frame.render_widget(
        Paragraph::new(rows).block(panel(
            theme,
            format!(" Players ({}): silent asked lost ", status.players.len()),
        )),
        players_area,
    );
}

fn theme_style(theme: Theme, colour: Color) -> Style {
    if theme.colour {
        Style::new().fg(colour)
    } else {
        Style::new()
    }
}

fn draw_log(frame: &mut Frame, view: &HostView, area: Rect) {
    let width = usize::from(area.width.saturating_sub(2)).max(10);
    let height = usize::from(area.height.saturating_sub(2));
    let want = height.saturating_add(view.scroll);
    let mut shown: Vec<String> = Vec::new();
    for line in view.lines.iter().rev() {
        if shown.len() >= want {
            break;
        }
        let mut wrapped: Vec<String> = textwrap::wrap(line, width)
            .into_iter()
            .map(|l| l.into_owned())
            .collect();
        wrapped.append(&mut shown);
        shown = wrapped;
    }
    let scroll = view.scroll.min(shown.len().saturating_sub(height));
    let end = shown.len().saturating_sub(scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = shown[start..end]
        .iter()
        .map(|l| {
            if l.starts_with("script error") || l.starts_with("reload failed") {
                Line::from(Span::styled(l.clone(), theme_style(view.theme, Color::Red)))
            } else {
                Line::from(l.clone())
            }
        })
        .collect();
    let title = if scroll > 0 {
        format!(" Log: {scroll} lines back ")
    } else {
        " Log ".to_string()
    };
    frame.render_widget(Paragraph::new(lines).block(panel(view.theme, title)), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::announcer::PlayerLink;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    #[test]
    fn the_host_sees_links_the_script_and_counters() {
        let now = Instant::now();
        let view = HostView {
            status: Status {
                phase: "running",
                players: vec![
                    PlayerLink {
                        name: "alice".into(),
                        silent: Duration::from_millis(200),
                        asked: 3,
                        lost: 0,
                    },
                    PlayerLink {
                        name: "bob".into(),
                        silent: Duration::from_secs(2),
                        asked: 0,
                        lost: 2,
                    },
                ],
                script: "scripts/dice.lua".into(),
                reloads: 2,
                last_reload: Some((now, "reloaded in 1.20 ms".into())),
                last_error: Some((
                    now,
                    "scripts/dice.lua:42: attempt to index a nil value".into(),
                )),
                sent: crate::reliable::SendStats {
                    datagrams: 120,
                    bytes: 9000,
                    ..Default::default()
                },
                bad: 1,
            },
            lines: (1..=30).map(|i| format!("line {i}")).collect(),
            scroll: 0,
            place: "224.1.1.1:5007 on 127.0.0.1".into(),
            theme: Theme {
                colour: true,
                ascii: false,
            },
        };
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| draw(f, &view, now)).unwrap();
        insta::assert_snapshot!(terminal.backend().to_string());
        let mut narrow = Terminal::new(TestBackend::new(40, 12)).unwrap();
        narrow.draw(|f| draw(f, &view, now)).unwrap();
        insta::assert_snapshot!("narrow", narrow.backend().to_string());
    }
}
