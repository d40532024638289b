//! The player's full-screen view: a model of the game built from events ([`board`]), the local
//! commands that never reach the network ([`command`]), the input line ([`input`]), the drawing
//! ([`screen`]) and the loop that runs it all in a real terminal ([`terminal`]).
//!
//! The model, the commands and the drawing know nothing of the terminal, so tests draw on
//! ratatui's `TestBackend`; only [`terminal`] touches the real one.

pub mod board;
pub mod command;
pub mod input;
pub mod screen;
pub mod terminal;
#[cfg(test)]
mod tests;

pub use self::board::Board;
pub use self::screen::{Theme, View};
