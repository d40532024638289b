//! End-to-end tests: the real `announcer` and `player` binaries on loopback multicast (and, as
//! root, on a LAN of network namespaces), real Lua scripts, asserting on what players show with
//! `--json`.

#[path = "../common/mod.rs"]
mod common;

mod chat;
mod full_screen;
mod games;
mod hostile;
mod key;
mod lab;
mod lan;
mod lint;
mod nats;
mod record;
mod reliable;
mod reload;
mod scoreboard;
mod scripts;
mod signals;
mod simulate;
mod tests_in_lua;
