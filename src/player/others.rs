//! The announcers a player hears on its group but does not follow: each is named, with its
//! address and, once known, its title, so that a player can tell which game it is in and which
//! it is not.
//!
//! An announcer's datagrams do not carry its title; its `game_start` and the welcomes it sends
//! do. So a newly heard announcer is named at once, and named again when its title arrives.
//! Anyone can pose as an announcer: the list is bounded, each is named twice at most, and a
//! title is cut short, so that forged announcers cannot flood the screen.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::protocol::{Announcement, Body, SessionId};

/// How many announcers a player names in its whole run; beyond that, it stays quiet.
const MAX_OTHERS: usize = 16;

/// The longest title shown, in characters.
const MAX_TITLE: usize = 60;

/// An announcer heard but not followed, as the player names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Other {
    /// Where its datagrams come from.
    pub address: SocketAddr,
    /// Its game's title, if heard.
    pub title: Option<String>,
    /// It was closing its game when first heard (no game to join).
    pub closing: bool,
}

/// The announcers heard and not followed.
#[derive(Debug, Default)]
pub struct Others {
    heard: HashMap<SessionId, Other>,
}

impl Others {
    /// A datagram of announcer `session` from `address`, which we do not follow: the
    /// announcer to name now, if it is new, or its title just arrived.
    pub fn heard(&mut self, session: SessionId, body: &Body, address: SocketAddr) -> Option<Other> {
        let title = title(body);
        let full = self.heard.len() >= MAX_OTHERS;
        match self.heard.get_mut(&session) {
            Some(other) if other.title.is_none() && title.is_some() => {
                other.title = title;
                Some(other.clone())
            }
            Some(_) => None,
            None if full => None,
            None => {
                let other = Other {
                    address,
                    title,
                    closing: is_closing(body),
                };
                self.heard.insert(session, other.clone());
                Some(other)
            }
        }
    }
}

fn is_closing(body: &Body) -> bool {
    matches!(
        body,
        Body::Heartbeat { closing: true, .. } | Body::Close { .. }
    )
}

/// The game's title, where `body` tells it, cut to [`MAX_TITLE`] characters.
fn title(body: &Body) -> Option<String> {
    let title = match body {
        Body::Announcement(Announcement::GameStart { title, .. }) => title,
        Body::Welcome {
            game: Some(game), ..
        } => &game.title,
        _ => return None,
    };
    let mut short: String = title.chars().take(MAX_TITLE).collect();
    if short.len() < title.len() {
        short.push('…');
    }
    Some(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(title: &str) -> Body {
        Body::Announcement(Announcement::GameStart {
            title: title.into(),
            text: String::new(),
        })
    }

    fn beat() -> Body {
        Body::Heartbeat {
            last: 3,
            every_ms: 1000,
            announcer: true,
            closing: false,
        }
    }

    const AT: &str = "10.0.0.2:5007";

    #[test]
    fn named_at_once_and_again_when_the_title_arrives() {
        let mut others = Others::default();
        let at: SocketAddr = AT.parse().unwrap();
        let first = others.heard(7, &beat(), at).unwrap();
        assert_eq!((first.address, first.title), (at, None));
        assert_eq!(others.heard(7, &beat(), at), None);
        let named = others.heard(7, &start("Trivia"), at).unwrap();
        assert_eq!(named.title.as_deref(), Some("Trivia"));
        assert_eq!(others.heard(7, &start("Other"), at), None);
        // Heard first with its title: named once.
        assert!(others.heard(8, &start("Quiz"), at).unwrap().title.is_some());
        assert_eq!(others.heard(8, &beat(), at), None);
    }

    #[test]
    fn a_flood_of_announcers_is_named_a_bounded_number_of_times() {
        let mut others = Others::default();
        let at: SocketAddr = AT.parse().unwrap();
        let named = (0..10_000u64)
            .filter(|s| others.heard(*s, &start(&"x".repeat(5000)), at).is_some())
            .count();
        assert_eq!(named, MAX_OTHERS);
        // A long title is cut short.
        let mut others = Others::default();
        let title = others.heard(1, &start(&"é".repeat(500)), at).unwrap().title;
        assert_eq!(title.unwrap().chars().count(), MAX_TITLE + 1);
    }

    #[test]
    fn boundary_sessions_do_not_panic() {
        let mut others = Others::default();
        let at: SocketAddr = AT.parse().unwrap();
        for session in [0, 1 << 53, u64::MAX] {
            assert!(others.heard(session, &beat(), at).is_some());
        }
    }
}
