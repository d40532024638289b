//! Rendering events as text for a person: banners, the ranking table, chat lines, with or
//! without colour. Works only from [`Event`]s; it never sees a datagram.

use owo_colors::OwoColorize;
use unicode_width::UnicodeWidthStr;

use crate::event::{Event, Link};
use crate::protocol::{Announcement, Entry};
pub use crate::text::visible;

/// Where banner text wraps at most: narrow enough for an 80-column terminal with room to spare
/// (a narrower terminal narrows it).
const BANNER_WIDTH: usize = 64;

/// Whether to colour the output: only on a terminal, and never when NO_COLOR is set
/// (https://no-color.org: any non-empty value).
pub fn colour_wanted(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// How to render: with colour or plain, emoji or ASCII, wrapped to a width or not.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Use ANSI colours.
    pub colour: bool,
    /// Only ASCII symbols: no emoji, no box drawing (the game's own words are passed through
    /// [`event_for_screen`] before they reach the style).
    pub ascii: bool,
    /// The terminal's width: text wraps at word boundaries to it. `None` (a pipe): no wrapping.
    pub width: Option<usize>,
}

impl Style {
    /// No colour, emoji, no wrapping: what a pipe gets.
    pub const PLAIN: Style = Style {
        colour: false,
        ascii: false,
        width: None,
    };

    fn symbol(&self, fancy: &'static str, plain: &'static str) -> &'static str {
        if self.ascii { plain } else { fancy }
    }

    /// [`Style::event`], wrapped to the width: each line at word boundaries, ANSI colours not
    /// counted.
    pub fn wrapped(&self, event: &Event) -> String {
        let text = self.event(event);
        let Some(width) = self.width else {
            return text;
        };
        let width = width.max(20);
        text.lines()
            .flat_map(|line| {
                if textwrap::core::display_width(line) <= width {
                    vec![line.to_string()]
                } else {
                    textwrap::wrap(line, width)
                        .into_iter()
                        .map(|l| l.into_owned())
                        .collect()
                }
            })
            .collect::<Vec<String>>()
            .join("\n")
    }

    fn paint(&self, text: &str, how: fn(&str) -> String) -> String {
        if self.colour {
            how(text)
        } else {
            text.to_string()
        }
    }

    /// Renders one event as one or more lines (without a final newline).
    pub fn event(&self, event: &Event) -> String {
        match event {
            Event::Welcome {
                player,
                announcer,
                players,
                moves,
                game,
                ranking,
            } => {
                let mut line = greeting(player, announcer.as_deref(), players);
                // Patterns (entries that start with `^`) are for the program, not the person.
                let words: Vec<&str> = moves
                    .iter()
                    .map(String::as_str)
                    .filter(|m| !m.starts_with('^'))
                    .collect();
                if !words.is_empty() {
                    line.push_str(&format!(
                        " Moves: {} (anything else you type is chat; quit leaves).",
                        visible(&words.join(", "))
                    ));
                }
                let mut out = self.paint(&line, |s| s.bold().to_string());
                // A late joiner sees where the game stands before the live events.
                if let Some(game) = game {
                    out.push('\n');
                    out.push_str(&self.banner(
                        &format!("GAME IN PROGRESS: {}", visible(&game.title)),
                        &game.text,
                        |s| s.green().bold().to_string(),
                    ));
                }
                if !ranking.is_empty() {
                    out.push('\n');
                    out.push_str(&self.table(ranking));
                }
                out
            }
            Event::Refused { .. } => self.paint(&said(event), |s| s.red().bold().to_string()),
            Event::Join { .. } => self.paint(&said(event), |s| s.dimmed().to_string()),
            Event::Leave { .. } => self.paint(&said(event), |s| s.yellow().to_string()),
            Event::Chat { from, text } => format!(
                "{}: {}",
                self.paint(&visible(from), |s| s.cyan().bold().to_string()),
                visible(text)
            ),
            Event::Close { .. } => self.paint(&said(event), |s| s.dimmed().to_string()),
            Event::Lost { .. } => self.paint(&said(event), |s| s.red().to_string()),
            Event::Announcer { .. } => self.paint(&said(event), |s| s.yellow().to_string()),
            Event::Protection { protected: true } => self.paint(
                "[protected: with the game key, only datagrams signed with it are read]",
                |s| s.dimmed().to_string(),
            ),
            Event::Protection { protected: false } => self.paint(
                "[not protected: without a game key, anyone on the network can send to this \
                 game, even as the announcer]",
                |s| s.yellow().to_string(),
            ),
            Event::Notice { .. } => self.paint(&said(event), |s| s.dimmed().to_string()),
            Event::Announcement(announcement) => self.announcement(announcement),
        }
    }

    /// Renders what a game script announced.
    pub fn announcement(&self, announcement: &Announcement) -> String {
        match announcement {
            // Bold in the terminal's own colour: readable on light and dark backgrounds alike.
            Announcement::Announce { text } => self.paint(
                &format!("{} {}", self.symbol("📢", "*"), visible(text)),
                |s| s.bold().to_string(),
            ),
            Announcement::Countdown { seconds, text } => self.paint(
                &format!(
                    "{} {} {} {}",
                    self.symbol("⏱", "(t)"),
                    seconds_text(*seconds),
                    self.symbol("·", "-"),
                    visible(text)
                ),
                |s| s.bold().to_string(),
            ),
            Announcement::Tell { to, text } => self
                .paint(&format!("(to {}) {}", visible(to), visible(text)), |s| {
                    s.magenta().to_string()
                }),
            Announcement::GameStart { title, text } => {
                self.banner(&format!("GAME START: {}", visible(title)), text, |s| {
                    s.green().bold().to_string()
                })
            }
            Announcement::GameEnd { text } => {
                self.banner("GAME OVER", text, |s| s.red().bold().to_string())
            }
            Announcement::Ranking { entries } => self.table(entries),
            Announcement::Answered { count, of } => {
                self.paint(&answered_text(*count, *of), |s| s.dimmed().to_string())
            }
            Announcement::Tally { counts, correct } => {
                self.paint(&tally_text(counts, *correct), |s| s.blue().to_string())
            }
            Announcement::Question {
                number,
                total,
                text,
                choices,
                seconds,
            } => {
                let mut out = self.paint(
                    &format!(
                        "{} Question {number}/{total} ({seconds} s): {}",
                        self.symbol("❓", "?"),
                        visible(text)
                    ),
                    |s| s.blue().bold().to_string(),
                );
                for (letter, choice) in ('a'..='z').zip(choices) {
                    out.push_str(&format!("\n     {letter}) {}", visible(choice)));
                }
                out
            }
            Announcement::Congratulate { player, text } => self.paint(
                &format!(
                    "{} Congratulations, {}! {}",
                    self.symbol("🏆", "***"),
                    visible(player),
                    visible(text)
                ),
                |s| s.yellow().bold().to_string(),
            ),
        }
    }

    /// A title between two rules, the text under it wrapped so that a banner fits a terminal.
    fn banner(&self, title: &str, text: &str, how: fn(&str) -> String) -> String {
        let text = visible(text);
        // The banner fits the terminal: its rules are its text's width plus 4.
        let room = self.width.map_or(BANNER_WIDTH, |w| {
            w.saturating_sub(4).clamp(16, BANNER_WIDTH)
        });
        let lines = match text.is_empty() {
            true => Vec::new(),
            false => textwrap::wrap(&text, room),
        };
        let widest = lines.iter().map(|l| l.width()).max().unwrap_or(0);
        let title_width = title.width().min(room);
        let rule = self.symbol("═", "=").repeat(title_width.max(widest) + 4);
        let mut out = format!("{}\n  {}", self.paint(&rule, how), self.paint(title, how));
        for line in lines {
            out.push_str(&format!("\n  {line}"));
        }
        out.push_str(&format!("\n{}", self.paint(&rule, how)));
        out
    }

    /// The ranking as an aligned table: rank, name, score, and a medal for the top three ranks.
    fn table(&self, entries: &[Entry]) -> String {
        let names: Vec<String> = entries.iter().map(|e| visible(&e.name)).collect();
        let name_width = names.iter().map(|n| n.width()).max().unwrap_or(0).max(6);
        let score_width = entries
            .iter()
            .map(|e| e.score.to_string().len())
            .max()
            .unwrap_or(0)
            .max(5);
        let mut out = self.paint(
            &format!(
                "   Rank  {}  {:>score_width$}",
                pad("Player", name_width),
                "Score"
            ),
            |s| s.bold().underline().to_string(),
        );
        for (entry, name) in entries.iter().zip(&names) {
            let medal = medal(entry.rank, self.ascii);
            out.push_str(&format!(
                "\n{medal} {:>4}  {}  {:>score_width$}",
                entry.rank,
                pad(name, name_width),
                entry.score
            ));
        }
        if entries.is_empty() {
            out.push_str("\n   (nobody is ranked)");
        }
        out
    }
}

/// "15 s", "0.5 s": a duration as a person reads it.
pub fn seconds_text(seconds: f64) -> String {
    if seconds >= 10.0 || seconds.fract() == 0.0 {
        format!("{:.0} s", seconds)
    } else {
        format!("{seconds:.1} s")
    }
}

/// What the events that read the same in every view say (the line mode and the full screen
/// only colour them their own way); `None` for the others (chat, the welcome, the protection
/// notice, what the game's script announced), which each view lays out itself.
pub fn sentence(event: &Event) -> Option<String> {
    Some(match event {
        Event::Refused { player, reason } => format!(
            "The announcer refused {}: {}",
            visible(player),
            visible(reason)
        ),
        // The lab's console line, word for word.
        Event::Join { player } => format!("{}: Entering user", visible(player)),
        Event::Leave { player, reason } => {
            format!("{} left ({})", visible(player), visible(reason))
        }
        Event::Close { text } => format!("The announcer closed the game: {}", visible(text)),
        Event::Lost { from, count } => format!(
            "[{count} message{} from {} lost]",
            if *count == 1 { "" } else { "s" },
            visible(from)
        ),
        Event::Announcer { state } => match state {
            Link::Unreachable => "[announcer unreachable: waiting for it]",
            Link::Back => "[announcer back]",
            Link::Restarted => "[the announcer restarted: joining its new game]",
            Link::HandedOver => {
                "[the announcer handed the game over to another announcer: joining it]"
            }
        }
        .to_string(),
        Event::Notice { text } => format!("[{}]", visible(text)),
        Event::Welcome { .. }
        | Event::Chat { .. }
        | Event::Protection { .. }
        | Event::Announcement(_) => return None,
    })
}

/// [`sentence`], for the kinds that have one.
fn said(event: &Event) -> String {
    sentence(event).unwrap_or_default()
}

/// "Welcome, alice! Announcer: 192.168.1.20:5007. Also here: bob, carol.": a welcome's first
/// words, in every view (the announcer's address tells whose game this is).
pub fn greeting(player: &str, announcer: Option<&str>, players: &[String]) -> String {
    let others: Vec<String> = players
        .iter()
        .filter(|p| *p != player)
        .map(|p| visible(p))
        .collect();
    let mut line = format!("Welcome, {}!", visible(player));
    if let Some(announcer) = announcer {
        line.push_str(&format!(" Announcer: {}.", visible(announcer)));
    }
    if others.is_empty() {
        line.push_str(" You are the first one here.");
    } else {
        line.push_str(&format!(" Also here: {}.", others.join(", ")));
    }
    line
}

/// `text` in ASCII only, for `--ascii`: accents dropped ("Zoë" is "Zoe"), symbols and emoji
/// spelled out ("→" is "->", "🎲" is "game die"), what has no spelling a "?".
pub fn ascii(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    text.chars()
        .map(|c| match c {
            // deunicode spells arrows as "-": a game's "rolls 6 → 10" needs its direction.
            '→' => "->",
            '←' => "<-",
            '⇒' => "=>",
            '↔' => "<->",
            c => deunicode::deunicode_char(c).unwrap_or("?"),
        })
        .collect()
}

/// `event` as the screen shows it: with `ascii`, every text in it in ASCII only ([`ascii`]).
pub fn event_for_screen(event: Event, ascii: bool) -> Event {
    if ascii {
        event.map_text(self::ascii)
    } else {
        event
    }
}

/// A text of ours (a name, a console line) as the screen shows it: in ASCII only with `ascii`.
pub fn text_for_screen(name: &str, ascii: bool) -> String {
    if ascii {
        self::ascii(name)
    } else {
        name.to_string()
    }
}

/// "3 of 4 have answered": an `answered` announcement, in every view.
pub fn answered_text(count: u32, of: u32) -> String {
    let verb = if count == 1 { "has" } else { "have" };
    format!("{count} of {of} {verb} answered")
}

/// "Answers: a) 3 (right), b) 1, c) 0, d) 0": a `tally` announcement, in every view.
pub fn tally_text(counts: &[u32], correct: Option<u32>) -> String {
    let parts: Vec<String> = ('a'..='z')
        .zip(counts)
        .enumerate()
        .map(|(i, (letter, count))| {
            let right = correct.is_some_and(|c| c as usize == i + 1);
            format!("{letter}) {count}{}", if right { " (right)" } else { "" })
        })
        .collect();
    format!("Answers: {}", parts.join(", "))
}

/// The medal of `rank` beside a ranking's row: 🥇 🥈 🥉, two blank columns below the podium
/// and in ASCII (the row's rank says it already).
pub fn medal(rank: u32, ascii: bool) -> &'static str {
    match (ascii, rank) {
        (false, 1) => "🥇",
        (false, 2) => "🥈",
        (false, 3) => "🥉",
        _ => "  ",
    }
}

/// A podium's place: the medal, or in ASCII "1st", "2nd", "3rd".
pub fn place(rank: u32, ascii: bool) -> &'static str {
    match (ascii, rank) {
        (true, 1) => "1st",
        (true, 2) => "2nd",
        (true, 3) => "3rd",
        (ascii, rank) => medal(rank, ascii),
    }
}

/// Pads to a display width, counting wide characters (CJK, emoji) as two columns.
fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Style = Style::PLAIN;

    #[test]
    fn ranking_is_an_aligned_table_with_medals() {
        let entries = crate::ranking::rank(vec![
            ("alice".into(), 17),
            ("bob".into(), 17),
            ("carolina".into(), 9),
            ("dan".into(), 100),
            ("eve".into(), 1),
        ]);
        let text = PLAIN.event(&Event::Announcement(Announcement::Ranking { entries }));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "   Rank  Player    Score");
        assert_eq!(lines[1], "🥇    1  dan         100");
        assert_eq!(lines[2], "🥈    2  alice        17");
        assert_eq!(lines[3], "🥈    2  bob          17");
        assert_eq!(lines[4], "      4  carolina      9");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn banners_wrap_long_text() {
        let text = PLAIN.announcement(&Announcement::GameStart {
            title: "Trivia".into(),
            text: "word ".repeat(40),
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "  GAME START: Trivia");
        assert!(lines.len() > 4, "{text}");
        assert!(
            lines.iter().all(|l| l.width() <= BANNER_WIDTH + 4),
            "{text}"
        );
        assert_eq!(lines.first(), lines.last());
    }

    #[test]
    fn chat_is_name_colon_text_like_the_lab() {
        let line = PLAIN.event(&Event::Chat {
            from: "user1".into(),
            text: "Hola, soy user1".into(),
        });
        assert_eq!(line, "user1: Hola, soy user1");
        let join = PLAIN.event(&Event::Join {
            player: "user2".into(),
        });
        assert_eq!(join, "user2: Entering user");
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let line = PLAIN.event(&Event::Chat {
            from: "x\u{1b}[2J".into(),
            text: "bell\u{7}".into(),
        });
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("\\u{1b}[2J"));
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = PLAIN.announcement(&Announcement::Announce { text: "hi".into() });
        assert!(!plain.contains('\u{1b}'));
        let coloured = Style {
            colour: true,
            ..Style::PLAIN
        }
        .announcement(&Announcement::Announce { text: "hi".into() });
        assert!(coloured.contains('\u{1b}'));
    }
}
