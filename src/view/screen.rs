//! Draws the full-screen player from its [`View`]: a title line (who and where), the event log
//! with scrollback, the ranking and the players beside it (above it on a narrow terminal), a
//! status line with the phase and the countdown, and the input line. Pure drawing on a ratatui
//! `Frame`: tests draw on a `TestBackend`, the terminal loop on the real one.
//!
//! Colours are named ones with bold and the default foreground for what matters most, so that
//! they read on light and dark backgrounds alike; without colour (NO_COLOR) only bold and
//! reverse remain. With `ascii`, no emoji or box-drawing symbol is used.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::board::{Board, Logged, Phase, Presence};
use super::input::Input;
use crate::event::{Event, Link};
use crate::protocol::Announcement;
use crate::render::seconds_text;
use crate::text::visible;

/// The smallest terminal the full-screen view draws in; below, it says how big it must be.
pub const MIN_SIZE: (u16, u16) = (30, 8);

/// From this width on, the ranking and the players sit beside the log.
const SIDE_FROM: u16 = 64;

/// The width of the side column.
const SIDE_WIDTH: u16 = 26;

/// How to draw: colours or not, emoji and box drawing or plain ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Theme {
    /// Named colours (off with NO_COLOR).
    pub colour: bool,
    /// Only ASCII symbols (`--ascii`, or a locale that is not UTF-8).
    pub ascii: bool,
}

impl Theme {
    fn style(&self, colour: Color) -> Style {
        if self.colour {
            Style::new().fg(colour)
        } else {
            Style::new()
        }
    }

    /// The medal beside a ranking's row (see [`crate::render::medal`]).
    pub fn medal(&self, rank: u32) -> &'static str {
        crate::render::medal(rank, self.ascii)
    }

    fn symbol(&self, fancy: &'static str, plain: &'static str) -> &'static str {
        if self.ascii { plain } else { fancy }
    }

    /// What separates the parts of a line.
    fn dot(&self) -> &'static str {
        self.symbol("·", "|")
    }
}

/// Everything the full-screen player draws.
#[derive(Debug, Clone)]
pub struct View {
    /// The player's name as given: the one the session joins with ([`Board::me`] is the name
    /// as the screen shows it).
    pub name: String,
    /// The game as seen so far.
    pub board: Board,
    /// The line being typed.
    pub input: Input,
    /// How many log lines the view is scrolled back (0: following the newest).
    pub scroll: usize,
    /// How to draw.
    pub theme: Theme,
    /// Where this player is: "224.1.1.1:5007 on 127.0.0.1".
    pub place: String,
}

impl View {
    /// A new view for the player named `me` at `place`.
    pub fn new(me: &str, place: &str, theme: Theme) -> View {
        View {
            name: me.to_string(),
            board: Board::new(&crate::render::text_for_screen(me, theme.ascii)),
            input: Input::default(),
            scroll: 0,
            theme,
            place: place.to_string(),
        }
    }
}

/// Draws `view` at `now` on `frame`.
pub fn draw(frame: &mut Frame, view: &View, now: Instant) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let text = format!(
            "The terminal is {}×{}: the full-screen view needs {}×{} at least. Make it bigger, \
             or start player with --plain.",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        frame.render_widget(
            Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [top, middle, status, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_top(frame, view, top);
    if middle.width >= SIDE_FROM {
        let [log, side] =
            Layout::horizontal([Constraint::Min(1), Constraint::Length(SIDE_WIDTH)]).areas(middle);
        draw_log(frame, view, log);
        let ranked = u16::try_from(view.board.ranking.len().clamp(1, 10)).unwrap_or(10);
        let [ranking, players] =
            Layout::vertical([Constraint::Length(ranked + 2), Constraint::Min(3)]).areas(side);
        draw_ranking(frame, view, ranking);
        draw_players(frame, view, players);
    } else {
        // Narrow: the top of the ranking above the log (a panel when there is room, else one
        // line), the players on /who.
        let shown = view.board.ranking.len().min(3);
        let height = match shown {
            0 => 0,
            _ if middle.height >= 16 => shown as u16 + 2,
            _ => 1,
        };
        let [ranking, log] =
            Layout::vertical([Constraint::Length(height), Constraint::Min(1)]).areas(middle);
        match height {
            0 => {}
            1 => draw_ranking_line(frame, view, ranking),
            _ => draw_ranking(frame, view, ranking),
        }
        draw_log(frame, view, log);
    }
    draw_status(frame, view, status, now);
    draw_input(frame, view, input);
}

fn draw_top(frame: &mut Frame, view: &View, area: Rect) {
    let board = &view.board;
    let title = board
        .title
        .as_deref()
        .map(visible)
        .unwrap_or_else(|| "gamecast".into());
    let dot = view.theme.dot();
    let mut spans = vec![
        Span::styled(
            format!(" {title} "),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("{dot} {} {dot} {}", visible(&board.me), view.place)),
    ];
    if let Some(state) = board.announcer {
        let said = match state {
            Link::Unreachable => "announcer unreachable",
            Link::Restarted => "announcer restarted",
            Link::HandedOver => "game handed over",
            Link::Back => "",
        };
        spans.push(Span::styled(
            format!(" {dot} {said}"),
            view.theme.style(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    frame.render_widget(
        Paragraph::new(cut(spans, area.width as usize, view.theme))
            .style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
    );
}

/// Panel borders in ASCII.
pub(super) const ASCII_BORDER: ratatui::symbols::border::Set = ratatui::symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

fn panel<'a>(view: &View, title: &'a str) -> Block<'a> {
    let block = Block::bordered().title(title);
    if view.theme.ascii {
        block.border_set(ASCII_BORDER)
    } else {
        block.border_type(BorderType::Rounded)
    }
}

fn draw_ranking(frame: &mut Frame, view: &View, area: Rect) {
    let theme = view.theme;
    let inner = area.width.saturating_sub(2) as usize;
    let rows = area.height.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    let board = &view.board;
    // Our own line is always shown, even when it would fall below the panel's end.
    let mine = board.ranking.iter().position(|r| r.entry.name == board.me);
    let mut shown: Vec<usize> = (0..board.ranking.len().min(rows)).collect();
    if let Some(mine) = mine
        && mine >= rows
        && rows > 0
    {
        shown.pop();
        shown.push(mine);
    }
    for i in shown {
        let ranked = &board.ranking[i];
        let entry = &ranked.entry;
        let moved = match ranked.moved {
            Some(n) if n > 0 => format!("{}{n}", theme.symbol("▲", "^")),
            Some(n) if n < 0 => format!("{}{}", theme.symbol("▼", "v"), n.unsigned_abs()),
            _ => String::new(),
        };
        let score = entry.score.to_string();
        let medal = theme.medal(entry.rank);
        let head = format!("{medal}{:>3} ", entry.rank);
        let tail = format!(
            " {score}{}",
            if moved.is_empty() {
                String::new()
            } else {
                format!(" {moved}")
            }
        );
        let room = inner.saturating_sub(head.width() + tail.width());
        let name = fit(&visible(&entry.name), room);
        let pad = room.saturating_sub(name.width());
        let mut style = Style::new();
        if entry.name == board.me {
            style = style.add_modifier(Modifier::BOLD | Modifier::REVERSED);
        }
        let moved_style = match ranked.moved {
            Some(n) if n > 0 => style.patch(theme.style(Color::Green)),
            Some(n) if n < 0 => style.patch(theme.style(Color::Red)),
            _ => style,
        };
        lines.push(Line::from(vec![
            Span::styled(head, style),
            Span::styled(format!("{name}{}", " ".repeat(pad)), style),
            Span::styled(format!(" {score}"), style),
            Span::styled(
                if moved.is_empty() {
                    String::new()
                } else {
                    format!(" {moved}")
                },
                moved_style,
            ),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::from("no ranking yet"));
    }
    frame.render_widget(Paragraph::new(lines).block(panel(view, " Ranking ")), area);
}

/// The ranking in one line: the leaders, then our own place if it is not among them.
fn draw_ranking_line(frame: &mut Frame, view: &View, area: Rect) {
    let theme = view.theme;
    let board = &view.board;
    let dot = theme.dot();
    let mut spans = Vec::new();
    for ranked in board.ranking.iter().take(3) {
        let entry = &ranked.entry;
        let mut style = Style::new().add_modifier(Modifier::BOLD);
        if entry.name == board.me {
            style = style.add_modifier(Modifier::REVERSED);
        }
        if !spans.is_empty() {
            spans.push(Span::raw(format!(" {dot} ")));
        }
        spans.push(Span::styled(
            format!(
                "{} {} {}",
                crate::render::place(entry.rank, theme.ascii),
                visible(&entry.name),
                entry.score
            ),
            style,
        ));
    }
    if let Some(mine) = board
        .ranking
        .iter()
        .skip(3)
        .find(|r| r.entry.name == board.me)
    {
        spans.push(Span::styled(
            format!(" {dot} you: {}. {}", mine.entry.rank, mine.entry.score),
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ));
    }
    frame.render_widget(Paragraph::new(cut(spans, area.width as usize, theme)), area);
}

fn draw_players(frame: &mut Frame, view: &View, area: Rect) {
    let theme = view.theme;
    let inner = area.width.saturating_sub(2) as usize;
    let board = &view.board;
    let here = board.here().len();
    let title = format!(" Players ({here}) ");
    let lines: Vec<Line> = board
        .players
        .iter()
        .map(|(name, presence)| {
            let (mark, how, style) = match presence {
                Presence::Here => (theme.symbol("●", "*"), "", theme.style(Color::Green)),
                Presence::Rejoined => (theme.symbol("↺", "+"), " back", theme.style(Color::Green)),
                Presence::Left(_) => (
                    theme.symbol("○", "-"),
                    " left",
                    Style::new().add_modifier(Modifier::DIM),
                ),
                Presence::Lost => (theme.symbol("✕", "x"), " lost", theme.style(Color::Red)),
            };
            let you = if *name == board.me { " (you)" } else { "" };
            let text = fit(&format!("{} {}{you}{how}", mark, visible(name)), inner);
            let mut line_style = style;
            if *name == board.me {
                line_style = line_style.add_modifier(Modifier::BOLD);
            }
            Line::from(Span::styled(text, line_style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(panel(view, &title)), area);
}

fn draw_status(frame: &mut Frame, view: &View, area: Rect, now: Instant) {
    let board = &view.board;
    let theme = view.theme;
    let mut spans = vec![Span::styled(
        format!(" {} ", board.phase.word()),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if let Some(countdown) = &board.countdown {
        let left = countdown.left(now);
        if !left.is_zero() {
            let mut style = Style::new().add_modifier(Modifier::BOLD);
            if board.hurry(now) {
                style = theme.style(Color::Red).add_modifier(Modifier::BOLD);
            }
            spans.push(Span::styled(
                format!(
                    "{} {} ",
                    theme.symbol("⏱", "time"),
                    seconds_text(left.as_secs_f64().ceil())
                ),
                style,
            ));
            spans.push(Span::raw(format!("{} ", visible(&countdown.text))));
            if let Some((count, of)) = countdown.answered {
                spans.push(Span::styled(
                    format!("({count}/{of} answered) "),
                    Style::new().add_modifier(Modifier::DIM),
                ));
            }
        }
    }
    let dot = theme.dot();
    let words = board.words();
    if !words.is_empty() && matches!(board.phase, Phase::Lobby | Phase::Playing | Phase::Over) {
        spans.push(Span::styled(
            format!("{dot} moves: {} ", words.join(" ")),
            Style::new().add_modifier(Modifier::DIM),
        ));
    }
    spans.push(Span::styled(
        format!("{dot} /help"),
        Style::new().add_modifier(Modifier::DIM),
    ));
    frame.render_widget(Paragraph::new(cut(spans, area.width as usize, theme)), area);
}

fn draw_input(frame: &mut Frame, view: &View, area: Rect) {
    let prompt = "> ";
    let text = view.input.text();
    let cursor = view.input.cursor();
    // Keep the cursor in sight on a long line: show the end that holds it.
    let room = (area.width as usize)
        .saturating_sub(prompt.len() + 1)
        .max(1);
    let before: String = text.chars().take(cursor).collect();
    let skip = before.width().saturating_sub(room);
    let mut shown = String::new();
    let mut skipped = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if skipped < skip {
            skipped += w;
            continue;
        }
        shown.push(c);
    }
    let line = Line::from(vec![
        Span::styled(prompt, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(visible(&shown)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let x = area.x + prompt.len() as u16 + before.width().saturating_sub(skip) as u16;
    frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

fn draw_log(frame: &mut Frame, view: &View, area: Rect) {
    let width = area.width.saturating_sub(2) as usize;
    let height = area.height.saturating_sub(2) as usize;
    let want = height.saturating_add(view.scroll);
    // Only the newest entries that fill the view are wrapped: the cost of a redraw follows the
    // screen's size, not the game's length.
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut more = false;
    for logged in view.board.log.iter().rev() {
        if lines.len() >= want {
            more = true;
            break;
        }
        let mut entry = match logged {
            Logged::Shown(event) => event_lines(event, view, width),
            Logged::Local(text) => wrapped(None, text, view.theme.style(Color::Magenta), width),
        };
        entry.append(&mut lines);
        lines = entry;
    }
    let scroll = view.scroll.min(lines.len().saturating_sub(height));
    let end = lines.len().saturating_sub(scroll);
    let start = end.saturating_sub(height);
    let title = if scroll > 0 || (more && view.scroll > 0) {
        format!(
            " Log: {scroll} line{} back (End: newest) ",
            if scroll == 1 { "" } else { "s" }
        )
    } else {
        " Log ".to_string()
    };
    let shown: Vec<Line> = lines.drain(start..end).collect();
    frame.render_widget(Paragraph::new(shown).block(panel(view, &title)), area);
}

/// A line of spans cut to `width` columns, ending in "…" (or "~") where it was cut.
fn cut(spans: Vec<Span<'static>>, width: usize, theme: Theme) -> Line<'static> {
    let mut used = 0;
    let mut kept = Vec::new();
    for span in spans {
        let w = span.content.width();
        if used + w <= width {
            used += w;
            kept.push(span);
            continue;
        }
        let room = width.saturating_sub(used);
        let mut text = fit(&span.content, room);
        if theme.ascii && text.ends_with('…') {
            text.pop();
            text.push('~');
        }
        kept.push(Span::styled(text, span.style));
        break;
    }
    Line::from(kept)
}

/// Cuts `text` to `width` columns, ending in "…" when cut.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if out.width() + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) + 1 > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// `text` wrapped at word boundaries to `width`, each line in `style`; `first` (a styled
/// prefix, such as a chat line's name) starts the first line.
fn wrapped(
    first: Option<Span<'static>>,
    text: &str,
    style: Style,
    width: usize,
) -> Vec<Line<'static>> {
    let prefix = first.as_ref().map_or(0, |s| s.content.width());
    let width = width.max(prefix + 4);
    let indent = " ".repeat(prefix);
    // Continued lines start under the text, not under a short prefix (a chat line's name, a
    // choice's letter); under a long one (a question's number), a little in.
    let hang = " ".repeat(if prefix <= 12 { prefix } else { 2 });
    let options = textwrap::Options::new(width)
        .initial_indent(&indent)
        .subsequent_indent(&hang);
    let mut lines = Vec::new();
    for (i, piece) in textwrap::wrap(text, options).into_iter().enumerate() {
        let piece = piece.into_owned();
        match (&first, i) {
            (Some(span), 0) => {
                let body = piece.get(prefix..).unwrap_or("").to_string();
                lines.push(Line::from(vec![span.clone(), Span::styled(body, style)]));
            }
            _ => lines.push(Line::from(Span::styled(piece, style))),
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(first.unwrap_or_default()));
    }
    lines
}

/// A titled box of text in the log (a game's start and end): its width follows the log's.
fn boxed(
    view: &View,
    title: &str,
    body: &[String],
    style: Style,
    width: usize,
) -> Vec<Line<'static>> {
    let ascii = view.theme.ascii;
    let (tl, tr, bl, br, h, v) = if ascii {
        ("+", "+", "+", "+", "-", "|")
    } else {
        ("╭", "╮", "╰", "╯", "─", "│")
    };
    let width = width.clamp(12, 64);
    let inner = width - 4;
    let title = fit(title, inner);
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{tl}{h} {title} {}{tr}",
            h.repeat(width.saturating_sub(title.width() + 5))
        ),
        style.add_modifier(Modifier::BOLD),
    ))];
    for text in body {
        for piece in textwrap::wrap(text, inner) {
            let pad = inner.saturating_sub(piece.width());
            lines.push(Line::from(vec![
                Span::styled(format!("{v} "), style),
                Span::raw(format!("{piece}{}", " ".repeat(pad))),
                Span::styled(format!(" {v}"), style),
            ]));
        }
    }
    lines.push(Line::from(Span::styled(
        format!("{bl}{}{br}", h.repeat(width - 2)),
        style,
    )));
    lines
}

/// What an event says in words shared with the line mode ([`crate::render::sentence`]).
fn said(event: &Event) -> String {
    crate::render::sentence(event).unwrap_or_default()
}

/// How one event reads in the log.
fn event_lines(event: &Event, view: &View, width: usize) -> Vec<Line<'static>> {
    let theme = view.theme;
    let me = &view.board.me;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let dim = Style::new().add_modifier(Modifier::DIM);
    match event {
        Event::Chat { from, text } => {
            let mut name = theme.style(Color::Cyan).add_modifier(Modifier::BOLD);
            if from == me {
                name = name.add_modifier(Modifier::REVERSED);
            }
            wrapped(
                Some(Span::styled(format!("{}: ", visible(from)), name)),
                &visible(text),
                Style::new(),
                width,
            )
        }
        Event::Join { .. } => wrapped(None, &said(event), dim, width),
        Event::Leave { .. } => wrapped(None, &said(event), theme.style(Color::Yellow), width),
        Event::Welcome {
            player,
            announcer,
            players,
            ..
        } => {
            let mut text = crate::render::greeting(player, announcer.as_deref(), players);
            let words = view.board.words();
            if !words.is_empty() {
                text.push_str(&format!(" Moves: {}. /help for more.", words.join(", ")));
            }
            wrapped(None, &text, bold, width)
        }
        Event::Refused { .. } => wrapped(
            None,
            &said(event),
            theme.style(Color::Red).add_modifier(Modifier::BOLD),
            width,
        ),
        Event::Close { .. } => wrapped(None, &said(event), dim, width),
        Event::Lost { .. } => wrapped(None, &said(event), theme.style(Color::Red), width),
        Event::Announcer { .. } => wrapped(None, &said(event), theme.style(Color::Yellow), width),
        Event::Protection { protected } => wrapped(
            None,
            if *protected {
                "[protected: only datagrams signed with the game key are read]"
            } else {
                "[not protected: anyone on the network can send to this game]"
            },
            dim,
            width,
        ),
        Event::Notice { .. } => wrapped(None, &said(event), dim, width),
        Event::Announcement(announcement) => announcement_lines(announcement, view, width),
    }
}

fn announcement_lines(
    announcement: &Announcement,
    view: &View,
    width: usize,
) -> Vec<Line<'static>> {
    let theme = view.theme;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    match announcement {
        Announcement::Announce { text } => wrapped(
            Some(Span::styled(format!("{} ", theme.symbol("📢", "*")), bold)),
            &visible(text),
            bold,
            width,
        ),
        Announcement::Countdown { seconds, text } => wrapped(
            Some(Span::styled(
                format!(
                    "{} {} {} ",
                    theme.symbol("⏱", "(t)"),
                    seconds_text(*seconds),
                    theme.dot()
                ),
                bold,
            )),
            &visible(text),
            bold,
            width,
        ),
        Announcement::Tell { text, .. } => wrapped(
            Some(Span::styled(
                "(to you) ",
                theme.style(Color::Magenta).add_modifier(Modifier::BOLD),
            )),
            &visible(text),
            theme.style(Color::Magenta),
            width,
        ),
        Announcement::GameStart { title, text } => {
            let body: Vec<String> = [visible(title), visible(text)]
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect();
            boxed(view, "GAME START", &body, theme.style(Color::Green), width)
        }
        Announcement::GameEnd { text } => {
            let mut body = Vec::new();
            if !text.is_empty() {
                body.push(visible(text));
            }
            // The podium: the best three ranks of the last ranking.
            for entry in view.board.podium.iter().take_while(|e| e.rank <= 3) {
                body.push(format!(
                    "{} {}  {}",
                    crate::render::place(entry.rank, theme.ascii),
                    visible(&entry.name),
                    entry.score
                ));
            }
            boxed(view, "GAME OVER", &body, theme.style(Color::Red), width)
        }
        Announcement::Answered { count, of } => wrapped(
            None,
            &crate::render::answered_text(*count, *of),
            Style::new().add_modifier(Modifier::DIM),
            width,
        ),
        Announcement::Tally { counts, correct } => wrapped(
            None,
            &crate::render::tally_text(counts, *correct),
            theme.style(Color::Blue),
            width,
        ),
        Announcement::Ranking { entries } => {
            let top: Vec<String> = entries
                .iter()
                .take(5)
                .map(|e| format!("{} {} {}", e.rank, visible(&e.name), e.score))
                .collect();
            let more = entries.len().saturating_sub(5);
            let mut text = format!("Ranking: {}", top.join(&format!(" {} ", theme.dot())));
            if more > 0 {
                text.push_str(&format!(" (and {more} more)"));
            }
            wrapped(None, &text, Style::new().add_modifier(Modifier::DIM), width)
        }
        Announcement::Question {
            number,
            total,
            text,
            choices,
            seconds,
        } => {
            let mut lines = wrapped(
                Some(Span::styled(
                    format!(
                        "{} Question {number}/{total} ({seconds} s): ",
                        theme.symbol("❓", "?")
                    ),
                    theme.style(Color::Blue).add_modifier(Modifier::BOLD),
                )),
                &visible(text),
                bold,
                width,
            );
            for (letter, choice) in ('a'..='z').zip(choices) {
                lines.extend(wrapped(
                    Some(Span::styled(format!("   {letter}) "), bold)),
                    &visible(choice),
                    Style::new(),
                    width,
                ));
            }
            lines
        }
        Announcement::Congratulate { player, text } => wrapped(
            Some(Span::styled(
                format!(
                    "{} Congratulations, {}! ",
                    theme.symbol("🏆", "***"),
                    visible(player)
                ),
                theme.style(Color::Yellow).add_modifier(Modifier::BOLD),
            )),
            &visible(text),
            bold,
            width,
        ),
    }
}
