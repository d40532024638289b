//! gamecast: a game announcer over IP multicast whose game rules are Lua scripts.
//!
//! The modules, from the wire up:
//! - [`link`]: what the loops move datagrams over: the multicast socket, or an in-memory
//!   group with seeded loss for tests.
//! - [`transport`]: the multicast socket (group, interface, TTL, socket options).
//! - [`protocol`]: what one datagram carries, encoded as JSON; large events split in pieces;
//!   with a game key, every datagram signed and replays refused ([`protocol::seal`]).
//! - [`key`]: where the game key comes from (a private file or the environment).
//! - [`reliable`]: numbered datagrams, loss repair with NACKs, order, heartbeats.
//! - [`event`]: what a player sees, built from datagrams; `player --json` prints these.
//! - [`ranking`]: ranking order with shared ranks.
//! - [`text`]: names, look-alike names, and text made safe for a terminal.
//! - [`render`]: events as text for a terminal.
//! - [`script`]: the Lua runtime and the game API.
//! - [`budget`]: per-sender token buckets against floods.
//! - [`announcer`]: the announcer: a state machine (roster, script, timers, liveness) and the
//!   loop that drives it over a link, with its console and bots.
//! - [`patterns`]: Lua's pattern matching, with a budget: the sandbox's string functions, and
//!   the moves a player recognises.
//! - [`player`]: a player's session: a state machine (join, send what is typed, turn datagrams
//!   into events) and its loop.
//! - [`simulate`]: a whole game on the in-memory group under a virtual clock, in milliseconds.
//! - [`view`]: the full-screen player: a model of the game from its events, local commands,
//!   the drawing (ratatui) and its terminal loop.
//!
//! The binaries `announcer` and `player` only parse flags and call into here.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod announcer;
pub mod bridge;
pub mod budget;
pub mod event;
pub mod key;
pub mod link;
pub mod patterns;
pub mod player;
pub mod protocol;
pub mod ranking;
pub mod record;
pub mod reliable;
pub mod render;
pub mod scoreboard;
#[cfg(test)]
mod scratch;
pub mod script;
pub mod simulate;
pub mod text;
pub mod transport;
pub mod view;
pub mod watch;
