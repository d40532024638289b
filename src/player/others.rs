//! The announcers a player hears on its group but does not follow: each is named once, with
//! its title and address, so that a player can tell which game it is in and which it is not.
//!
//! An announcer's datagrams do not carry its title; its `game_start` and the welcomes it sends
//! do. So a newly heard announcer is named when its title arrives, or after [`NAME_WITHIN`]
//! without one. Anyone can pose as an announcer: the list is bounded, each is named once, and
//! a title is cut short, so that forged announcers cannot flood the screen.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::protocol::{Announcement, Body, SessionId};

/// How long a player waits for a newly heard announcer's title before naming it without one.
pub const NAME_WITHIN: Duration = Duration::from_secs(2);

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

#[derive(Debug)]
struct Heard {
    other: Other,
    since: Instant,
    named: bool,
}

/// The announcers heard and not followed.
#[derive(Debug, Default)]
pub struct Others {
    heard: HashMap<SessionId, Heard>,
}

impl Others {
    /// A datagram of announcer `session` from `address`, which we do not follow, at `now`:
    /// the announcer to name now, if its title just arrived.
    pub fn heard(
        &mut self,
        session: SessionId,
        body: &Body,
        address: SocketAddr,
        now: Instant,
    ) -> Option<Other> {
        if !self.heard.contains_key(&session) && self.heard.len() >= MAX_OTHERS {
            return None;
        }
        let heard = self.heard.entry(session).or_insert_with(|| Heard {
            other: Other {
                address,
                title: None,
                closing: is_closing(body),
            },
            since: now,
            named: false,
        });
        if heard.named {
            return None;
        }
        heard.other.title = Some(title(body)?);
        heard.named = true;
        Some(heard.other.clone())
    }

    /// The announcers to name at `now`: heard [`NAME_WITHIN`] ago, their title still unknown.
    pub fn due(&mut self, now: Instant) -> Vec<Other> {
        let mut due: Vec<(Instant, Other)> = self
            .heard
            .values_mut()
            .filter(|h| !h.named && now.saturating_duration_since(h.since) >= NAME_WITHIN)
            .map(|h| {
                h.named = true;
                (h.since, h.other.clone())
            })
            .collect();
        due.sort_by_key(|(since, _)| *since);
        due.into_iter().map(|(_, other)| other).collect()
    }

    /// When [`Others::due`] has something next, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heard
            .values()
            .filter(|h| !h.named)
            .map(|h| h.since.checked_add(NAME_WITHIN).unwrap_or(h.since))
            .min()
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
    fn named_once_when_the_title_arrives() {
        let t = Instant::now();
        let mut others = Others::default();
        let at: SocketAddr = AT.parse().unwrap();
        assert_eq!(others.heard(7, &beat(), at, t), None);
        let named = others.heard(7, &start("Trivia"), at, t).unwrap();
        assert_eq!(named.title.as_deref(), Some("Trivia"));
        assert_eq!(named.address, at);
        assert_eq!(others.heard(7, &start("Other"), at, t), None);
        assert!(others.due(t + NAME_WITHIN).is_empty());
        assert_eq!(others.next_deadline(), None);
    }

    #[test]
    fn named_without_a_title_after_a_while() {
        let t = Instant::now();
        let mut others = Others::default();
        let at: SocketAddr = AT.parse().unwrap();
        others.heard(7, &beat(), at, t);
        assert_eq!(others.next_deadline(), Some(t + NAME_WITHIN));
        assert!(others.due(t + NAME_WITHIN / 2).is_empty());
        let due = others.due(t + NAME_WITHIN);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].title, None);
        assert!(others.due(t + NAME_WITHIN * 2).is_empty());
    }

    #[test]
    fn a_flood_of_announcers_is_named_a_bounded_number_of_times() {
        let t = Instant::now();
        let mut others = Others::default();
        let at: SocketAddr = AT.parse().unwrap();
        let named = (0..10_000u64)
            .filter(|s| others.heard(*s, &start(&"x".repeat(5000)), at, t).is_some())
            .count();
        assert_eq!(named, MAX_OTHERS);
        assert!(others.due(t + NAME_WITHIN).is_empty());
        // A long title is cut short.
        let mut others = Others::default();
        let title = others
            .heard(1, &start(&"é".repeat(500)), at, t)
            .unwrap()
            .title;
        assert_eq!(title.unwrap().chars().count(), MAX_TITLE + 1);
    }

    #[test]
    fn boundary_sessions_and_clocks_do_not_panic() {
        let t = Instant::now();
        let mut others = Others::default();
        let at: SocketAddr = AT.parse().unwrap();
        for session in [0, 1 << 53, u64::MAX] {
            others.heard(session, &beat(), at, t);
        }
        // A clock read earlier than the first hearing (reordered turns) names nobody.
        assert!(
            others
                .due(t.checked_sub(Duration::from_secs(1)).unwrap_or(t))
                .is_empty()
        );
        assert_eq!(others.due(t + NAME_WITHIN).len(), 3);
    }
}
