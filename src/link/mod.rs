//! The datagram link: what the announcer and player loops move bytes over. They know nothing of
//! how the bytes travel, only that a link sends one datagram to everyone and receives what
//! everyone sends, with its source.
//!
//! Three links exist: the multicast socket ([`crate::transport::Transport`], for real games on
//! a LAN), a NATS subject ([`nats::Nats`], for games beyond one LAN), and an in-memory hub
//! ([`memory::Hub`]) with seeded loss and reordering, which runs whole games inside one test on
//! tokio's paused clock: loss, silence, restarts and late joins are tested in milliseconds,
//! deterministically, without root or a network.
//!
//! A [`Network`] opens links: the announcer opens its own and one for each `--bots` player.

pub mod memory;
pub mod nats;

use std::future::Future;
use std::io;
use std::net::SocketAddr;

/// One member's way onto the group.
pub trait Link: Send + Sync + 'static {
    /// Sends one datagram to the group (this member gets its own copy back, as with
    /// multicast loop).
    fn send(&self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send;

    /// Waits until what was sent has left this process (a NATS client queues what it
    /// publishes; a socket's datagrams are gone when `send` returns). Called before a member
    /// ends, so that its last words (a leave, a game's end) are not lost with the process.
    fn flush(&self) -> impl Future<Output = io::Result<()>> + Send {
        std::future::ready(Ok(()))
    }

    /// Waits for the next datagram: how long it is (in `buf`) and who sent it.
    fn recv(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;

    /// The next datagram if one is queued, `None` when none is. This must really look at the
    /// queue (for a socket, a system call), never at a cached "nothing to read": the loops
    /// judge silence only after it said `None`, and a stale answer after a stall would make
    /// every member look silent.
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>>;

    /// Sends one line to the lab's text channel, where the link has one (elsewhere: nowhere).
    /// Lines there are for people and for the lab's own scripts; nothing there steers a game
    /// except what a text player types.
    fn send_text(&self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send {
        let _ = bytes;
        std::future::ready(Ok(()))
    }

    /// Waits for the next datagram of the lab's scripts on the text channel, where the link has
    /// one (elsewhere: forever). Members' own lines there are not handed over: they came as
    /// protocol too.
    fn recv_text(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        let _ = buf;
        std::future::pending()
    }

    /// Waits for the next thing the person should know about the link itself (the connection
    /// to a server lost, or back). Links without such news wait forever.
    fn news(&self) -> impl Future<Output = String> + Send {
        std::future::pending()
    }

    /// Where this link sends, for messages: `224.1.1.1:5008`.
    fn describe(&self) -> String;

    /// Something the host should know about this link (a receive buffer too small for bursts).
    fn warning(&self) -> Option<String> {
        None
    }
}

/// Where links come from.
pub trait Network {
    /// The links it opens.
    type Link: Link;

    /// Opens a new member's link.
    fn open(&self) -> impl Future<Output = anyhow::Result<Self::Link>> + Send;

    /// Where the game is, for the host's first line: `224.1.1.1:5007 via 127.0.0.1 (ttl 1)`.
    fn describe(&self) -> String;

    /// What the host should know about the lab's own scripts meeting this game, if anything
    /// (see [`crate::transport::lab_hint`]).
    fn lab_hint(&self) -> Option<String> {
        None
    }
}
