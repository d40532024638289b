//! A player's session: join the group, send what is typed (chat or a move), turn what arrives
//! into [`Event`]s, leave. Used by the `player` binary and by the announcer's `--bots`.
//!
//! The logic is a plain state machine ([`Player`]) that takes what arrives or is typed and says
//! what to show and send, so it is tested without a network; [`play`] wires it to a socket.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;

use tokio::sync::mpsc;

use crate::event::Event;
use crate::protocol::{self, Announcement, Body, Decoded, Origin, SessionId};
use crate::transport::{self, Transport};

/// How a player's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The player typed `quit` or their input ended.
    Left,
    /// The announcer closed the game.
    Closed,
    /// The announcer refused the player's join; the reason.
    Refused(String),
    /// The host interrupted the player (Ctrl-C).
    Interrupted,
}

/// What the player should do after something arrived or was typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    /// Show this to the person.
    Show(Event),
    /// Send this to the group.
    Send(Body),
    /// The session is over.
    Exit(Outcome),
}

/// What one player knows: its name and session, the game's moves, who is here.
#[derive(Debug)]
pub struct Player {
    name: String,
    session: SessionId,
    moves: Vec<String>,
    /// The announcer that welcomed us, once one has.
    welcomed_by: Option<SessionId>,
    /// The announcer we last asked to join (again): one join per announcer run is enough.
    asked: Option<SessionId>,
    /// Who is here, by name: the session we saw them join from (none when we only know the
    /// name from a welcome). A second join under a known name is not shown twice.
    roster: HashMap<String, Option<SessionId>>,
    bad_datagrams: u64,
}

impl Player {
    /// A player called `name` whose datagrams carry `session`.
    pub fn new(name: &str, session: SessionId) -> Player {
        Player {
            name: name.to_string(),
            session,
            moves: Vec::new(),
            welcomed_by: None,
            asked: None,
            roster: HashMap::new(),
            bad_datagrams: 0,
        }
    }

    /// How many datagrams were dropped as unreadable.
    pub fn bad_datagrams(&self) -> u64 {
        self.bad_datagrams
    }

    /// What to do with a datagram that arrived from `source`.
    pub fn receive(&mut self, decoded: Decoded, source: SocketAddr) -> Vec<Reaction> {
        let datagram = match decoded {
            Decoded::Datagram(datagram) => datagram,
            Decoded::Text { from, text } => {
                let from = from.unwrap_or_else(|| source.to_string());
                return vec![Reaction::Show(Event::Chat { from, text })];
            }
            Decoded::Invalid(why) => {
                self.bad_datagrams += 1;
                // Say it once; after that, count quietly so that noise cannot flood the screen.
                if self.bad_datagrams == 1 {
                    let text = format!(
                        "ignored a datagram from {source}: {why} (further ones are ignored quietly)"
                    );
                    return vec![Reaction::Show(Event::Notice { text })];
                }
                return vec![];
            }
        };
        let ours = datagram.session == self.session;
        let sender = datagram.session;
        match &datagram.body {
            // Our own chat comes back through the loop, as in the lab: it shows that it went
            // out. Our own join coming back shows that we are in the group.
            Body::Chat { .. } => {}
            body if ours && *body != Body::Join => return vec![],
            Body::Join => {
                if let Some(known) = self.roster.get_mut(&datagram.from) {
                    // Known already (from a welcome, a re-join, or a name taken twice): not news.
                    known.get_or_insert(sender);
                    return vec![];
                }
                self.roster.insert(datagram.from.clone(), Some(sender));
            }
            Body::Leave { .. } => {
                if let Some(Some(session)) = self.roster.get(&datagram.from)
                    && *session != sender
                {
                    // Someone under a name that is already here, leaving: not the one we know.
                    return vec![];
                }
                self.roster.remove(&datagram.from);
            }
            Body::Move { .. } => return vec![],
            Body::Hello { moves } => {
                self.moves = moves.clone();
                // A new announcer does not know us yet.
                if self.welcomed_by != Some(sender) && self.asked != Some(sender) {
                    self.asked = Some(sender);
                    return vec![Reaction::Send(Body::Join)];
                }
                return vec![];
            }
            Body::Welcome {
                player,
                to_session,
                players,
                moves,
            } => {
                // Someone else's welcome, or ours again (after a repeated join): not news.
                if *to_session != self.session || self.welcomed_by == Some(sender) {
                    return vec![];
                }
                self.welcomed_by = Some(sender);
                self.moves = moves.clone();
                for name in players {
                    self.roster.entry(name.clone()).or_insert(None);
                }
                return vec![Reaction::Show(Event::Welcome {
                    player: player.clone(),
                    players: players.clone(),
                    moves: moves.clone(),
                })];
            }
            Body::Refuse {
                player,
                to_session,
                reason,
            } => {
                if *to_session != self.session {
                    return vec![];
                }
                return vec![
                    Reaction::Show(Event::Refused {
                        player: player.clone(),
                        reason: reason.clone(),
                    }),
                    Reaction::Exit(Outcome::Refused(reason.clone())),
                ];
            }
            Body::Announcement(Announcement::Tell { to, .. }) if *to != self.name => return vec![],
            Body::Close { .. } => {
                // Only our announcer can close our game (before one welcomed us, any can).
                if self.welcomed_by.is_some_and(|ours| ours != sender) {
                    return vec![];
                }
                let mut reactions: Vec<Reaction> = Event::from_datagram(&datagram)
                    .map(Reaction::Show)
                    .into_iter()
                    .collect();
                reactions.push(Reaction::Exit(Outcome::Closed));
                return reactions;
            }
            _ => {}
        }
        Event::from_datagram(&datagram)
            .map(Reaction::Show)
            .into_iter()
            .collect()
    }

    /// What to do with a line the person typed.
    pub fn typed(&mut self, line: &str) -> Vec<Reaction> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return vec![];
        }
        if trimmed.eq_ignore_ascii_case("quit") {
            return vec![
                Reaction::Send(Body::Leave {
                    reason: "quit".into(),
                }),
                Reaction::Exit(Outcome::Left),
            ];
        }
        let body = if self.moves.contains(&trimmed.to_lowercase()) {
            Body::Move {
                text: trimmed.to_string(),
            }
        } else {
            Body::Chat {
                text: line.trim_end_matches(['\r', '\n']).to_string(),
            }
        };
        if let Err(too_large) = protocol::check_fits(&body) {
            let text = format!("not sent: {too_large}");
            return vec![Reaction::Show(Event::Notice { text })];
        }
        vec![Reaction::Send(body)]
    }
}

/// Plays as `name` until the person quits, the input ends, the announcer closes the game or
/// refuses us, or `shutdown` completes. Lines typed arrive on `input`; everything to show goes
/// to `show`.
pub async fn play(
    name: &str,
    transport: Transport,
    mut input: mpsc::Receiver<String>,
    mut show: impl FnMut(Event),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Outcome> {
    if let Some(problem) = protocol::name_problem(name) {
        anyhow::bail!("--name: {problem}");
    }
    let mut origin = Origin::new(name);
    let mut player = Player::new(name, origin.session());
    let mut buf = transport::recv_buffer();
    // The lab's greeting: announce ourselves to the group.
    send(&transport, &mut origin, Body::Join).await?;
    tokio::pin!(shutdown);
    loop {
        let reactions = tokio::select! {
            received = transport.recv(&mut buf) => {
                let (len, source) = received?;
                player.receive(protocol::decode(&buf[..len]), source)
            }
            line = input.recv() => match line {
                Some(line) => player.typed(&line),
                None => vec![
                    Reaction::Send(Body::Leave { reason: "end of input".into() }),
                    Reaction::Exit(Outcome::Left),
                ],
            },
            () = &mut shutdown => vec![
                Reaction::Send(Body::Leave { reason: "interrupted".into() }),
                Reaction::Exit(Outcome::Interrupted),
            ],
        };
        for reaction in reactions {
            match reaction {
                Reaction::Show(event) => show(event),
                Reaction::Send(body) => send(&transport, &mut origin, body).await?,
                Reaction::Exit(outcome) => return Ok(outcome),
            }
        }
    }
}

async fn send(transport: &Transport, origin: &mut Origin, body: Body) -> anyhow::Result<()> {
    // `typed` checked the size of what a person writes; our other bodies are small.
    let bytes = protocol::encode(&origin.stamp(body))?;
    transport
        .send(&bytes)
        .await
        .map_err(|e| anyhow::anyhow!("cannot send to {}: {e}", transport.group()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        5007,
    ));

    fn from(origin: &mut Origin, body: Body) -> Decoded {
        Decoded::Datagram(origin.stamp(body))
    }

    #[test]
    fn moves_are_private_and_the_rest_is_chat() {
        let mut alice = Player::new("alice", 1);
        let mut host = Origin::new("announcer");
        alice.receive(
            from(
                &mut host,
                Body::Hello {
                    moves: vec!["roll".into()],
                },
            ),
            SOURCE,
        );
        assert_eq!(
            alice.typed(" ROLL "),
            vec![Reaction::Send(Body::Move {
                text: "ROLL".into()
            })]
        );
        assert_eq!(
            alice.typed("roll on!"),
            vec![Reaction::Send(Body::Chat {
                text: "roll on!".into()
            })]
        );
        assert_eq!(alice.typed("  "), vec![]);
        assert!(matches!(
            alice.typed("Quit")[1],
            Reaction::Exit(Outcome::Left)
        ));

        // Another player's move is never shown.
        let mut bob = Origin::new("bob");
        assert_eq!(
            alice.receive(from(&mut bob, Body::Move { text: "a".into() }), SOURCE),
            vec![]
        );
    }

    #[test]
    fn a_new_announcer_is_joined_once() {
        let mut alice = Player::new("alice", 1);
        let mut host = Origin::new("announcer");
        let hello = Body::Hello { moves: vec![] };
        assert_eq!(
            alice.receive(from(&mut host, hello.clone()), SOURCE),
            vec![Reaction::Send(Body::Join)]
        );
        let welcome = Body::Welcome {
            player: "alice".into(),
            to_session: 1,
            players: vec!["bob".into(), "alice".into()],
            moves: vec![],
        };
        assert!(matches!(
            alice.receive(from(&mut host, welcome), SOURCE)[0],
            Reaction::Show(Event::Welcome { .. })
        ));
        assert_eq!(alice.receive(from(&mut host, hello), SOURCE), vec![]);
        // bob was in the welcome: his join (again) is not news.
        let mut bob = Origin::new("bob");
        assert_eq!(alice.receive(from(&mut bob, Body::Join), SOURCE), vec![]);
    }

    #[test]
    fn someone_elses_refusal_or_tell_is_not_ours() {
        let mut alice = Player::new("alice", 1);
        let mut host = Origin::new("announcer");
        let refuse = |session| Body::Refuse {
            player: "alice".into(),
            to_session: session,
            reason: "name taken".into(),
        };
        assert_eq!(alice.receive(from(&mut host, refuse(2)), SOURCE), vec![]);
        assert_eq!(
            alice.receive(from(&mut host, refuse(1)), SOURCE)[1],
            Reaction::Exit(Outcome::Refused("name taken".into()))
        );
        let tell = |to: &str| {
            Body::from(Announcement::Tell {
                to: to.into(),
                text: "psst".into(),
            })
        };
        assert_eq!(alice.receive(from(&mut host, tell("bob")), SOURCE), vec![]);
        assert_eq!(
            alice.receive(from(&mut host, tell("alice")), SOURCE).len(),
            1
        );
    }

    #[test]
    fn plain_text_and_garbage() {
        let mut alice = Player::new("alice", 1);
        assert_eq!(
            alice.receive(protocol::decode(b"user1: Hola"), SOURCE),
            vec![Reaction::Show(Event::Chat {
                from: "user1".into(),
                text: "Hola".into()
            })]
        );
        assert_eq!(alice.receive(protocol::decode(&[0xff]), SOURCE).len(), 1);
        assert_eq!(alice.receive(protocol::decode(&[0xfe]), SOURCE), vec![]);
        assert_eq!(alice.bad_datagrams(), 2);
    }
}
