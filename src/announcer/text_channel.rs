//! What the announcer writes on the lab's text channel: each announcement as lines a person
//! reads in the lab's own Python chat (`announcer: Round 3: type roll`, a ranking as rows),
//! and nothing of the protocol. The text players (see `core.rs`) play from there.
//!
//! Everything a script or a player wrote is escaped ([`text::visible`]) before it goes out:
//! the lab's script prints what arrives straight to a terminal.

use crate::protocol::{ANNOUNCER_NAME, Announcement, Entry};
use crate::text;

/// The most bytes in one datagram of the text channel: lines are packed into datagrams up to
/// this, and a ranking of hundreds of players takes several.
pub const MAX_TEXT_DATAGRAM: usize = 1200;

/// The ranking's rows shown on the text channel; text players below them get their own row.
pub const RANKING_ROWS: usize = 10;

/// The longest line sent, in bytes: longer ones are cut (an announcement is at most 512 bytes,
/// a question's choices with it fit a datagram).
const MAX_LINE: usize = MAX_TEXT_DATAGRAM - 16;

/// `text` as the announcer says it on the text channel: `announcer: text`, escaped.
pub fn said(text: &str) -> String {
    let mut line = format!("{ANNOUNCER_NAME}: {}", text::visible(text));
    if line.len() > MAX_LINE {
        let mut end = MAX_LINE;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push('…');
    }
    line
}

/// The datagrams that say `announcement` on the text channel. `text_players` are the players
/// who read the game there: a line for one player is for them only (to anyone else it would
/// be a secret told to the whole room), and they find their own row in a long ranking.
pub fn datagrams(announcement: &Announcement, text_players: &[String]) -> Vec<String> {
    let lines: Vec<String> = match announcement {
        Announcement::Announce { text } => vec![said(text)],
        Announcement::Countdown { seconds, text } => vec![said(&format!(
            "{text} ({})",
            crate::render::seconds_text(*seconds)
        ))],
        Announcement::Tell { to, text } if text_players.contains(to) => {
            vec![said(&format!("(to {to}) {text}"))]
        }
        Announcement::Tell { .. } => Vec::new(),
        Announcement::GameStart { title, text } => {
            let mut lines = vec![said(&format!("=== {title} ==="))];
            if !text.is_empty() {
                lines.push(said(text));
            }
            lines
        }
        Announcement::Ranking { entries } => ranking(entries, text_players),
        // One line an answer would bury the game in a lab terminal: the tally says it all.
        Announcement::Answered { .. } => Vec::new(),
        Announcement::Tally { counts, correct } => {
            vec![said(&crate::render::tally_text(counts, *correct))]
        }
        Announcement::Question {
            number,
            total,
            text,
            choices,
            seconds,
        } => {
            let mut lines = vec![said(&format!(
                "Question {number} of {total} ({seconds} s): {text}"
            ))];
            for (letter, choice) in ('a'..='z').zip(choices) {
                lines.push(said(&format!("  {letter}) {choice}")));
            }
            lines
        }
        Announcement::Congratulate { player, text } => {
            vec![said(&format!("Congratulations, {player}! {text}"))]
        }
        Announcement::GameEnd { text } if text.is_empty() => vec![said("Game over.")],
        Announcement::GameEnd { text } => vec![said(&format!("Game over. {text}"))],
    };
    pack(lines)
}

/// A ranking as rows: the first [`RANKING_ROWS`], then each text player's own if it is lower.
fn ranking(entries: &[Entry], text_players: &[String]) -> Vec<String> {
    let width = entries
        .iter()
        .map(|e| e.rank.to_string().len())
        .max()
        .unwrap_or(1);
    let row = |e: &Entry| {
        said(&format!(
            "  {:>width$}. {} {}",
            e.rank,
            e.name,
            e.score,
            width = width
        ))
    };
    let mut lines = vec![said("Ranking:")];
    lines.extend(entries.iter().take(RANKING_ROWS).map(row));
    if entries.len() > RANKING_ROWS {
        lines.extend(
            entries
                .iter()
                .skip(RANKING_ROWS)
                .filter(|e| text_players.contains(&e.name))
                .map(row),
        );
        lines.push(said(&format!("  ({} players in all)", entries.len())));
    }
    lines
}

/// Lines packed into as few datagrams as fit [`MAX_TEXT_DATAGRAM`], one line per row.
pub fn pack(lines: Vec<String>) -> Vec<String> {
    let mut datagrams: Vec<String> = Vec::new();
    for line in lines {
        match datagrams.last_mut() {
            Some(last) if last.len() + 1 + line.len() <= MAX_TEXT_DATAGRAM => {
                last.push('\n');
                last.push_str(&line);
            }
            _ => datagrams.push(line),
        }
    }
    datagrams
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_read_as_the_lab_would_print_them() {
        let round = Announcement::Countdown {
            seconds: 15.0,
            text: "Round 3: type roll".into(),
        };
        assert_eq!(
            datagrams(&round, &[]),
            vec!["announcer: Round 3: type roll (15 s)".to_string()]
        );
        let question = Announcement::Question {
            number: 1,
            total: 3,
            text: "Which range is multicast?".into(),
            choices: vec!["10.0.0.0/8".into(), "224.0.0.0/4".into()],
            seconds: 20,
        };
        assert_eq!(
            datagrams(&question, &[]),
            vec![
                "announcer: Question 1 of 3 (20 s): Which range is multicast?\n\
                 announcer:   a) 10.0.0.0/8\n\
                 announcer:   b) 224.0.0.0/4"
                    .to_string()
            ]
        );
        // What a script or a player wrote cannot drive the lab's terminal.
        let sneaky = Announcement::Announce {
            text: "\u{1b}[2Jgone".into(),
        };
        assert_eq!(
            datagrams(&sneaky, &[]),
            vec!["announcer: \\u{1b}[2Jgone".to_string()]
        );
    }

    #[test]
    fn a_line_for_one_player_goes_only_to_a_text_player() {
        let tell = |to: &str| Announcement::Tell {
            to: to.into(),
            text: "You already rolled this round.".into(),
        };
        assert!(datagrams(&tell("alice"), &["~bob".into()]).is_empty());
        assert_eq!(
            datagrams(&tell("~bob"), &["~bob".into()]),
            vec!["announcer: (to ~bob) You already rolled this round.".to_string()]
        );
    }

    #[test]
    fn a_long_ranking_is_its_top_and_the_text_players_rows_in_several_datagrams() {
        let entries: Vec<Entry> = (1..=300)
            .map(|i| Entry::new(i, &format!("player{i:03}"), 1000 - i64::from(i)))
            .collect();
        let mut entries = entries;
        entries[250].name = "~bob".into();
        let sent = datagrams(&Announcement::Ranking { entries }, &["~bob".into()]);
        let text = sent.join("\n");
        assert!(
            text.starts_with("announcer: Ranking:\nannouncer:     1. player001 999"),
            "{text}"
        );
        assert!(text.contains("announcer:   251. ~bob 749"), "{text}");
        assert!(!text.contains("player012"), "{text}");
        assert!(
            text.ends_with("announcer:   (300 players in all)"),
            "{text}"
        );
        assert!(sent.iter().all(|d| d.len() <= MAX_TEXT_DATAGRAM));
        // A ranking of long rows takes several datagrams, none over the limit.
        let wide: Vec<Entry> = (1..=10)
            .map(|i| Entry::new(i, &"w".repeat(24), i64::MAX))
            .collect();
        let mut lines = ranking(&wide, &[]);
        lines.extend((0..40).map(|_| said(&"x".repeat(100))));
        let packed = pack(lines);
        assert!(packed.len() > 1);
        assert!(packed.iter().all(|d| d.len() <= MAX_TEXT_DATAGRAM));
    }

    #[test]
    fn an_overlong_line_is_cut_on_a_character() {
        let line = said(&"é".repeat(2000));
        assert!(line.len() <= MAX_LINE + '…'.len_utf8());
        assert!(line.ends_with('…'));
    }
}
