//! The full-screen player's input line: the text being typed and its cursor, the history of
//! lines sent (Up/Down), and Tab completion of the game's moves and the local commands. Keys
//! come in, what to do comes out; it draws nothing itself.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Lines kept in the history.
const MAX_HISTORY: usize = 500;

/// The longest line the input takes, in characters (the protocol's limit is in bytes and is
/// checked when sent; this only keeps a paste from growing the line without end).
const MAX_INPUT: usize = 4096;

/// What a key asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond redrawing the line.
    Edited,
    /// Enter: this line was typed.
    Submit(String),
    /// Ctrl-D on an empty line: leave, as `quit` does.
    Leave,
    /// Ctrl-C: leave, interrupted (the other players are told so).
    Interrupt,
    /// Scroll the log back (positive) or forward (negative) by this many lines.
    Scroll(i32),
    /// End: back to the newest lines of the log.
    Live,
    /// A key with no meaning here.
    Ignored,
}

/// The line being typed.
#[derive(Debug, Default, Clone)]
pub struct Input {
    text: Vec<char>,
    /// Where the cursor is, in characters.
    cursor: usize,
    history: VecDeque<String>,
    /// Which history line is shown while browsing it (0 = the newest).
    browsing: Option<usize>,
    /// What was being typed before browsing began.
    draft: Vec<char>,
}

impl Input {
    /// The text typed so far.
    pub fn text(&self) -> String {
        self.text.iter().collect()
    }

    /// The cursor's position, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Takes a key; `words` are what Tab completes (the game's moves, the local commands).
    pub fn key(&mut self, key: KeyEvent, words: &[&str]) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Ignored;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => Action::Interrupt,
            KeyCode::Char('d') if ctrl && self.text.is_empty() => Action::Leave,
            KeyCode::Char('d') if ctrl => self.delete(),
            KeyCode::Char('a') if ctrl => self.moved(0),
            KeyCode::Char('e') if ctrl => self.moved(self.text.len()),
            KeyCode::Char('u') if ctrl => {
                self.text.drain(..self.cursor);
                self.moved(0)
            }
            KeyCode::Char('k') if ctrl => {
                self.text.truncate(self.cursor);
                Action::Edited
            }
            KeyCode::Char('w') if ctrl => self.delete_word(),
            KeyCode::Char(c) if !ctrl => {
                if self.text.len() < MAX_INPUT {
                    self.text.insert(self.cursor, c);
                    self.cursor += 1;
                }
                Action::Edited
            }
            KeyCode::Enter => self.submit(),
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.text.remove(self.cursor);
                Action::Edited
            }
            KeyCode::Delete => self.delete(),
            KeyCode::Left => self.moved(self.cursor.saturating_sub(1)),
            KeyCode::Right => self.moved((self.cursor + 1).min(self.text.len())),
            KeyCode::Home => self.moved(0),
            KeyCode::End if self.text.is_empty() => Action::Live,
            KeyCode::End => self.moved(self.text.len()),
            KeyCode::Up => self.browse(1),
            KeyCode::Down => self.browse(-1),
            KeyCode::Tab => self.complete(words),
            KeyCode::PageUp => Action::Scroll(10),
            KeyCode::PageDown => Action::Scroll(-10),
            KeyCode::Esc => Action::Live,
            _ => Action::Ignored,
        }
    }

    /// Pasted text: inserted as typed, line breaks as spaces (a paste is never sent unseen).
    pub fn paste(&mut self, text: &str) -> Action {
        for c in text.chars() {
            if self.text.len() >= MAX_INPUT {
                break;
            }
            let c = if c.is_control() { ' ' } else { c };
            self.text.insert(self.cursor, c);
            self.cursor += 1;
        }
        Action::Edited
    }

    fn moved(&mut self, to: usize) -> Action {
        self.cursor = to.min(self.text.len());
        Action::Edited
    }

    fn delete(&mut self) -> Action {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
        }
        Action::Edited
    }

    fn delete_word(&mut self) -> Action {
        let mut start = self.cursor;
        while start > 0 && self.text[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && self.text[start - 1] != ' ' {
            start -= 1;
        }
        self.text.drain(start..self.cursor);
        self.moved(start)
    }

    fn submit(&mut self) -> Action {
        let line: String = self.text.drain(..).collect();
        self.cursor = 0;
        self.browsing = None;
        if !line.trim().is_empty() && self.history.front() != Some(&line) {
            if self.history.len() >= MAX_HISTORY {
                self.history.pop_back();
            }
            self.history.push_front(line.clone());
        }
        Action::Submit(line)
    }

    /// Up (`step` 1) shows an older line, Down (-1) a newer one, and past the newest the draft.
    fn browse(&mut self, step: i32) -> Action {
        let next = match (self.browsing, step > 0) {
            (None, true) if !self.history.is_empty() => {
                self.draft = self.text.clone();
                Some(0)
            }
            (None, _) => return Action::Ignored,
            (Some(i), true) => Some((i + 1).min(self.history.len() - 1)),
            (Some(0), false) => None,
            (Some(i), false) => Some(i - 1),
        };
        self.browsing = next;
        self.text = match next {
            Some(i) => self.history[i].chars().collect(),
            None => std::mem::take(&mut self.draft),
        };
        self.cursor = self.text.len();
        Action::Edited
    }

    /// Completes the word before the cursor with the one of `words` it starts (or, when several
    /// do, with what they share).
    fn complete(&mut self, words: &[&str]) -> Action {
        let start = self.text[..self.cursor]
            .iter()
            .rposition(|c| *c == ' ')
            .map_or(0, |i| i + 1);
        let typed: String = self.text[start..self.cursor]
            .iter()
            .collect::<String>()
            .to_lowercase();
        let matching: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| w.to_lowercase().starts_with(&typed))
            .collect();
        let Some(first) = matching.first() else {
            return Action::Ignored;
        };
        let mut shared: Vec<char> = first.chars().collect();
        for word in &matching[1..] {
            let same = shared
                .iter()
                .zip(word.chars())
                .take_while(|(a, b)| **a == *b)
                .count();
            shared.truncate(same);
        }
        if matching.len() == 1 {
            shared.push(' ');
        }
        self.text.splice(start..self.cursor, shared.iter().copied());
        self.cursor = start + shared.len();
        Action::Edited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(input: &mut Input, code: KeyCode) -> Action {
        input.key(
            KeyEvent::new(code, KeyModifiers::NONE),
            &["roll", "start", "/score", "/who"],
        )
    }

    fn typed(input: &mut Input, text: &str) {
        for c in text.chars() {
            press(input, KeyCode::Char(c));
        }
    }

    #[test]
    fn tab_completes_a_move_and_history_comes_back() {
        let mut input = Input::default();
        typed(&mut input, "ro");
        press(&mut input, KeyCode::Tab);
        assert_eq!(input.text(), "roll ");
        assert_eq!(
            press(&mut input, KeyCode::Enter),
            Action::Submit("roll ".into())
        );
        typed(&mut input, "/");
        press(&mut input, KeyCode::Tab);
        assert_eq!(input.text(), "/", "two commands share only the slash");
        typed(&mut input, "w");
        press(&mut input, KeyCode::Tab);
        assert_eq!(input.text(), "/who ");
        press(&mut input, KeyCode::Enter);
        press(&mut input, KeyCode::Up);
        assert_eq!(input.text(), "/who ");
        press(&mut input, KeyCode::Up);
        assert_eq!(input.text(), "roll ");
        press(&mut input, KeyCode::Down);
        press(&mut input, KeyCode::Down);
        assert_eq!(input.text(), "");
    }

    #[test]
    fn editing_keys_and_leaving() {
        let mut input = Input::default();
        typed(&mut input, "héllo wörld");
        press(&mut input, KeyCode::Left);
        press(&mut input, KeyCode::Backspace);
        assert_eq!(input.text(), "héllo wörd");
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        input.key(ctrl('w'), &[]);
        assert_eq!(input.text(), "héllo d");
        input.key(ctrl('u'), &[]);
        assert_eq!(input.text(), "d");
        assert_eq!(
            input.key(ctrl('d'), &[]),
            Action::Edited,
            "not empty: deletes"
        );
        input.key(ctrl('e'), &[]);
        press(&mut input, KeyCode::Backspace);
        assert_eq!(input.key(ctrl('d'), &[]), Action::Leave);
        assert_eq!(input.key(ctrl('c'), &[]), Action::Interrupt);
        assert_eq!(press(&mut input, KeyCode::PageUp), Action::Scroll(10));
        input.paste("a\nb");
        assert_eq!(input.text(), "a b");
    }
}
