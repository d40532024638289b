//! Text from the network and from scripts, made safe for people: which names can be played
//! under, when two names look the same, and how text is shown so that nothing in it can steer a
//! terminal. Unicode properties come from `icu_properties` and confusables from
//! `unicode-security` (UTS #39); nothing here is a hand-made list of characters.

use icu_properties::props::{
    BidiControl, BinaryProperty, DefaultIgnorableCodePoint, EnumeratedProperty, GeneralCategory,
    WhiteSpace,
};

/// The longest name a player may take, in characters.
pub const MAX_NAME_CHARS: usize = 24;

/// Whether `c` must never reach a terminal as it is: control characters (escape sequences start
/// with one), bidi controls that reorder what follows, line and paragraph separators, and the
/// other format characters (zero-width spaces, the byte-order mark, tags). Two format characters
/// are let through: the zero-width joiner and non-joiner, which emoji sequences and several
/// scripts need and which move nothing. Names are stricter still ([`name_problem`]).
pub fn is_unprintable(c: char) -> bool {
    if c.is_ascii() {
        // The common case, without a table look-up.
        return c.is_ascii_control();
    }
    if matches!(c, '\u{200C}' | '\u{200D}') {
        return false;
    }
    c.is_control()
        || BidiControl::for_char(c)
        || matches!(
            GeneralCategory::for_char(c),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
                | GeneralCategory::Surrogate
        )
}

/// Whether `c` cannot be part of a name: what [`is_unprintable`] escapes, every default-ignorable
/// code point (variation selectors, joiners, the combining grapheme joiner, Hangul fillers:
/// characters that show as nothing, so that a name with one looks like a name without), what
/// shows as anything or nothing (private use, unassigned), and white space other than a plain
/// space (a no-break space looks like a space but makes another name).
fn unfit_for_names(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    is_unprintable(c)
        || DefaultIgnorableCodePoint::for_char(c)
        || WhiteSpace::for_char(c)
        || matches!(
            GeneralCategory::for_char(c),
            GeneralCategory::PrivateUse | GeneralCategory::Unassigned
        )
}

/// A name quoted for a message, every character unfit for names escaped: the reason a name is
/// refused must show what is wrong with it.
fn quoted_name(name: &str) -> String {
    let escaped: String = name
        .chars()
        .map(|c| {
            if unfit_for_names(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    format!("\"{escaped}\"")
}

/// What marks a text player (someone playing from the lab's own scripts, on the text
/// channel): `~bob`. No gamecast player's name starts with it, so nobody can pass for one.
pub const TEXT_MARK: char = '~';

/// The name a text player is shown and played under: `bob` is `~bob`.
pub fn text_player(name: &str) -> String {
    format!("{TEXT_MARK}{name}")
}

/// Why a name cannot be played under, or `None` when it can.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Some(format!(
            "a name has 1 to {MAX_NAME_CHARS} characters, {} has {chars}",
            quoted_name(name)
        ));
    }
    if let Some(bad) = name.chars().find(|&c| unfit_for_names(c)) {
        return Some(format!(
            "{} has an invisible, control or unusual character (U+{:04X})",
            quoted_name(name),
            u32::from(bad)
        ));
    }
    if skeleton(name) == skeleton(crate::protocol::ANNOUNCER_NAME) {
        return Some(format!(
            "{} is the announcer's name; pick another",
            quoted_name(name)
        ));
    }
    if name.starts_with(TEXT_MARK) {
        return Some(format!(
            "{} starts with {TEXT_MARK}, which marks the players of the lab's text channel",
            quoted_name(name)
        ));
    }
    if name.trim() != name {
        return Some(format!(
            "{} starts or ends with white space",
            quoted_name(name)
        ));
    }
    None
}

/// What a name looks like, for telling names apart: two names with the same skeleton (UTS #39:
/// a Cyrillic `а` for a Latin `a`, `rn` for `m`, `I` for `l`) look the same on a screen, and
/// count as one name in a game.
pub fn skeleton(name: &str) -> String {
    unicode_security::skeleton(name).collect()
}

/// Makes text safe for a terminal: every character [`is_unprintable`] says is unsafe is shown
/// escaped (`\u{1b}`), never sent raw.
pub fn visible(text: &str) -> String {
    if !text.chars().any(is_unprintable) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if is_unprintable(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Tabs (what Lua's `print` puts between its values) as the spaces up to the next column that
/// is a multiple of 8, as a terminal shows them: a line escaped by [`visible`] then reads as
/// columns, not `\t`.
pub fn expand_tabs(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut column = 0usize;
    for c in line.chars() {
        if c == '\t' {
            let fill = 8 - column % 8;
            out.extend(std::iter::repeat_n(' ', fill));
            column = column.saturating_add(fill);
        } else {
            out.push(c);
            column = column.saturating_add(unicode_width::UnicodeWidthChar::width(c).unwrap_or(0));
        }
    }
    out
}

/// [`visible`], in double quotes: for a name or a word inside a sentence.
pub fn visible_quoted(text: &str) -> String {
    format!("\"{}\"", visible(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_become_columns() {
        assert_eq!(expand_tabs("a\tb"), "a       b");
        assert_eq!(expand_tabs("abcdefgh\tb"), "abcdefgh        b");
        assert_eq!(expand_tabs("é\t1\t"), "é       1       ");
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(name_problem("alice"), None);
        assert_eq!(name_problem("ålice 🎲"), None);
        assert_eq!(name_problem("José María"), None);
        assert_eq!(name_problem("李小龙"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem(&"a".repeat(25)).is_some());
        assert!(name_problem("a\u{1b}[31m").is_some());
        assert!(name_problem(" alice").is_some());
        assert!(name_problem("ali\u{a0}ce").is_some(), "a no-break space");
        assert!(name_problem("announcer").is_some(), "the announcer's own");
    }

    #[test]
    fn invisible_characters_are_refused_by_property_not_by_list() {
        // The ones a hand-written list missed, then the classic ones.
        for c in [
            '\u{034F}',
            '\u{17B4}',
            '\u{180B}',
            '\u{1D173}',
            '\u{E0100}',
            '\u{200B}',
            '\u{202E}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{3164}',
            '\u{E000}',
            '\u{2028}',
        ] {
            let name = format!("ali{c}ce");
            let problem = name_problem(&name);
            assert!(problem.is_some(), "U+{:04X} accepted", u32::from(c));
            // The reason quotes the name escaped: the invisible character is shown.
            assert!(
                !problem.unwrap().contains(c),
                "U+{:04X} echoed raw",
                u32::from(c)
            );
        }
    }

    #[test]
    fn look_alikes_have_one_skeleton() {
        assert_eq!(skeleton("alice"), skeleton("\u{0430}lice"), "Cyrillic a");
        assert_eq!(skeleton("bob"), skeleton("b\u{043E}b"), "Cyrillic o");
        assert_eq!(skeleton("lily"), skeleton("Iily"), "capital i for l");
        assert_ne!(skeleton("alice"), skeleton("bob"));
    }

    #[test]
    fn control_and_format_characters_are_escaped() {
        assert_eq!(visible("a\u{202E}b\u{200B}"), "a\\u{202e}b\\u{200b}");
        assert_eq!(visible("x\u{1b}[2J\u{7}"), "x\\u{1b}[2J\\u{7}");
        assert_eq!(visible("plain é 🎲 李"), "plain é 🎲 李");
        // Emoji sequences keep their joiners and variation selectors.
        assert_eq!(visible("👨\u{200D}👩 ❤\u{FE0F}"), "👨\u{200D}👩 ❤\u{FE0F}");
    }
}
