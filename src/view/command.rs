//! The player's local commands: a typed line that starts with `/` is for the player program
//! itself and never reaches the network (`/who`, `/score`, `/help`, `/quit`). Both the
//! full-screen view and the line mode answer them, from the [`Board`].

use super::board::{Board, Presence};

/// A local command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// What can be typed.
    Help,
    /// Who is here, and how.
    Who,
    /// The ranking now.
    Score,
    /// Leave the game.
    Quit,
    /// A `/word` that is none of these.
    Unknown(String),
}

/// The commands as typed, for completion.
pub const NAMES: [&str; 4] = ["/help", "/who", "/score", "/quit"];

/// The command `line` is, if it is one: it starts with `/` (after spaces). `//text` is not a
/// command but the chat line `/text`, for whoever wants to say something starting with `/`.
pub fn parse(line: &str) -> Option<Command> {
    let line = line.trim();
    let word = line.strip_prefix('/')?;
    if word.starts_with('/') {
        return None;
    }
    let word = word.split_whitespace().next().unwrap_or("").to_lowercase();
    Some(match word.as_str() {
        "help" | "h" | "?" => Command::Help,
        "who" | "w" => Command::Who,
        "score" | "s" | "ranking" => Command::Score,
        "quit" | "q" | "exit" => Command::Quit,
        _ => Command::Unknown(word),
    })
}

/// What to send for a typed line that is not a command: `//text` is sent as `/text`.
pub fn unescape(line: &str) -> &str {
    match line.trim_start().strip_prefix("//") {
        Some(_) => &line.trim_start()[1..],
        None => line,
    }
}

/// Where a typed line goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// To the session: a move, chat, or `quit`.
    Send(String),
    /// Nowhere: these lines answer it here.
    Local(Vec<String>),
}

/// Where the typed `line` goes: a local command is answered from `board`, `/quit` leaves as
/// `quit` does, anything else is sent (`//text` as `/text`).
pub fn route(line: &str, board: &Board) -> Routed {
    match parse(line) {
        Some(Command::Quit) => Routed::Send("quit".to_string()),
        Some(command) => Routed::Local(answer(&command, board)),
        None => Routed::Send(unescape(line).to_string()),
    }
}

/// The lines that answer `command` (for [`Command::Quit`], none: the caller leaves).
pub fn answer(command: &Command, board: &Board) -> Vec<String> {
    match command {
        Command::Help => help(board),
        Command::Who => who(board),
        Command::Score => score(board),
        Command::Quit => Vec::new(),
        Command::Unknown(word) => vec![format!(
            "/{word} is not a command here: /help lists them (//{word} sends \"/{word}\" as chat)"
        )],
    }
}

fn help(board: &Board) -> Vec<String> {
    let mut lines =
        vec!["Type a line and Enter: a move goes to the game, anything else is chat.".to_string()];
    let words = board.words();
    if !words.is_empty() {
        lines.push(format!("Moves in this game: {}.", words.join(", ")));
    }
    lines.push(
        "/who: who is here · /score: the ranking · /help: this · /quit (or quit, Ctrl-D): leave"
            .to_string(),
    );
    lines.push(
        "Keys: Up/Down recall what you typed, Tab completes a move; full screen: PgUp/PgDn or \
         the mouse wheel scroll the log back, End comes back."
            .to_string(),
    );
    lines.push("These never reach the other players.".to_string());
    lines
}

fn who(board: &Board) -> Vec<String> {
    if board.players.is_empty() {
        return vec!["Nobody else is known here yet.".to_string()];
    }
    let mut lines = vec![format!("{} here:", board.here().len())];
    for (name, presence) in &board.players {
        let how = match presence {
            Presence::Here => "playing".to_string(),
            Presence::Rejoined => "playing (rejoined)".to_string(),
            Presence::Left(reason) => format!("left ({reason})"),
            Presence::Lost => "connection lost".to_string(),
        };
        let you = if *name == board.me { " (you)" } else { "" };
        lines.push(format!("  {name}{you}: {how}"));
    }
    lines
}

fn score(board: &Board) -> Vec<String> {
    if board.ranking.is_empty() {
        return vec!["No ranking yet.".to_string()];
    }
    board
        .ranking
        .iter()
        .map(|r| {
            let you = if r.entry.name == board.me {
                " (you)"
            } else {
                ""
            };
            format!(
                "  {:>3}. {}{you}  {}",
                r.entry.rank, r.entry.name, r.entry.score
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_start_with_a_slash_and_a_double_slash_is_chat() {
        assert_eq!(parse("/who"), Some(Command::Who));
        assert_eq!(parse("  /SCORE please"), Some(Command::Score));
        assert_eq!(parse("/q"), Some(Command::Quit));
        assert_eq!(parse("/dance"), Some(Command::Unknown("dance".into())));
        assert_eq!(parse("//who"), None);
        assert_eq!(unescape("//who"), "/who");
        assert_eq!(parse("who"), None);
        assert_eq!(parse("help"), None, "a plain word is chat or a move");
        assert_eq!(parse("/"), Some(Command::Unknown(String::new())));
    }

    #[test]
    fn who_and_score_read_the_board() {
        let mut board = Board::new("alice");
        let t = std::time::Instant::now();
        board.apply(
            &crate::event::Event::Join {
                player: "alice".into(),
            },
            t,
        );
        board.apply(
            &crate::event::Event::Leave {
                player: "bob".into(),
                reason: "quit".into(),
            },
            t,
        );
        assert_eq!(
            answer(&Command::Who, &board),
            ["1 here:", "  alice (you): playing", "  bob: left (quit)"]
        );
        assert_eq!(answer(&Command::Score, &board), ["No ranking yet."]);
    }
}
