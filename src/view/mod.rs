//! The player's full-screen view: a model of the game built from events ([`board`]), the local
//! commands that never reach the network ([`command`]), the input line ([`input`]), the drawing
//! ([`screen`]) and the loop that runs it all in a real terminal ([`terminal`]).
//!
//! The model, the commands and the drawing know nothing of the terminal, so tests draw on
//! ratatui's `TestBackend`; only [`terminal`] touches the real one.

pub mod board;
pub mod command;
pub mod host;
pub mod input;
pub mod screen;
pub mod terminal;
#[cfg(test)]
mod tests;

pub use self::board::Board;

/// How long a player waits for an announcer before it says that none is there.
pub const ALONE_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// What a player with no announcer after [`ALONE_AFTER`] says: where it listened, and how to
/// listen elsewhere (`interfaces`: this host's, as `--iface` names them).
pub fn alone(place: &str, interfaces: &[String]) -> String {
    let mut text = format!(
        "No announcer heard on {place} after {} s: this is a plain chat with whoever is in the \
         group (the lab's second exercise).",
        ALONE_AFTER.as_secs()
    );
    if interfaces.is_empty() {
        text.push_str(" This machine has no network interface but loopback.");
    } else {
        text.push_str(&format!(
            " If the game runs on another machine, start player with --iface and this \
             machine's interface on that network: {}.",
            interfaces.join(", ")
        ));
    }
    text
}

/// What a player on a NATS server says when no announcer answered on its subject.
pub fn alone_on_nats(place: &str) -> String {
    format!(
        "No announcer heard on {place} after {} s: this is a plain chat with whoever is on the \
         subject. Is the announcer on the same server with the same --game?",
        ALONE_AFTER.as_secs()
    )
}

pub use self::screen::{Theme, View};
