//! The player's state machine driven by hand: datagrams made with an [`Origin`], the time
//! moved by the test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::core::*;
use crate::event::{Event, Link};
use crate::protocol::{self, Announcement, Body, Datagram, Decoded, Origin, SessionId};
use crate::reliable;

const SOURCE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    5007,
));

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `body` as `origin` sends it, as bytes on the wire.
fn from(origin: &mut Origin, body: Body) -> Vec<u8> {
    protocol::encode(&origin.stamp(body)).unwrap()
}

fn bytes_of(datagram: &Datagram) -> Vec<u8> {
    protocol::encode(datagram).unwrap()
}

fn announce(text: &str) -> Body {
    Announcement::Announce { text: text.into() }.into()
}

fn hello() -> Body {
    Body::Hello {
        moves: vec![],
        take_over: false,
    }
}

/// An announcer's heartbeat: its latest number is `last`.
fn heartbeat(last: u64) -> Body {
    Body::Heartbeat {
        last,
        every_ms: 250,
        announcer: true,
        closing: false,
    }
}

fn welcome(session: SessionId, players: &[&str]) -> Body {
    Body::Welcome {
        player: "alice".into(),
        to_session: session,
        players: players.iter().map(|p| p.to_string()).collect(),
        moves: vec!["roll".into()],
        game: None,
        ranking: vec![],
        streams: vec![],
        also: vec![],
    }
}

fn alice(t0: Instant) -> Player {
    let mut alice = Player::new(Origin::with_session("alice", 1), Options::default(), t0);
    alice.start(t0);
    alice
}

/// What was shown, as the texts of announcements and the kinds of everything else.
fn shown(reactions: Vec<Reaction>) -> Vec<String> {
    reactions
        .into_iter()
        .filter_map(|r| match r {
            Reaction::Show(Event::Announcement(Announcement::Announce { text })) => Some(text),
            Reaction::Show(Event::Lost { count, .. }) => Some(format!("lost {count}")),
            Reaction::Show(event) => Some(event.to_json()),
            _ => None,
        })
        .collect()
}

/// What was sent, decoded, heartbeats left out.
fn sent(reactions: &[Reaction]) -> Vec<Body> {
    reactions
        .iter()
        .filter_map(|r| match r {
            Reaction::Transmit(bytes) => match protocol::decode(bytes) {
                Decoded::Datagram(d) if !matches!(d.body, Body::Heartbeat { .. }) => Some(d.body),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// alice, welcomed at `t0` by `host` (its hello is number 1, the welcome number 2).
fn welcomed(t0: Instant) -> (Player, Origin) {
    let mut alice = alice(t0);
    let mut host = Origin::new("announcer");
    alice.receive(&from(&mut host, hello()), SOURCE, t0);
    let reactions = alice.receive(&from(&mut host, welcome(1, &["alice"])), SOURCE, t0);
    assert!(
        matches!(reactions[0], Reaction::Show(Event::Welcome { .. })),
        "{reactions:?}"
    );
    // The announcer says where our events start after every welcome: we listen already.
    let admit = Body::Admit {
        to_session: 1,
        at: 2,
    };
    assert_eq!(alice.receive(&from(&mut host, admit), SOURCE, t0), vec![]);
    (alice, host)
}

#[test]
fn moves_are_private_and_the_rest_is_chat() {
    let t0 = Instant::now();
    let (mut alice, _) = welcomed(t0);
    assert_eq!(
        sent(&alice.typed(" ROLL ", t0)),
        vec![Body::Move {
            text: "ROLL".into()
        }]
    );
    assert_eq!(
        sent(&alice.typed("roll on!", t0)),
        vec![Body::Chat {
            text: "roll on!".into()
        }]
    );
    assert_eq!(alice.typed("  ", t0), vec![]);
    assert!(matches!(
        alice.typed("Quit", t0).last(),
        Some(Reaction::Exit(Outcome::Left))
    ));

    // Another player's move is never shown.
    let mut bob = Origin::new("bob");
    assert_eq!(
        alice.receive(&from(&mut bob, Body::Move { text: "a".into() }), SOURCE, t0),
        vec![]
    );
}

#[test]
fn a_line_over_the_limit_is_not_sent_and_the_player_is_told() {
    let t0 = Instant::now();
    let (mut alice, _) = welcomed(t0);
    let reactions = alice.typed(&"x".repeat(protocol::MAX_LINE + 1), t0);
    assert!(sent(&reactions).is_empty());
    assert!(shown(reactions)[0].contains("at most 512"));
    assert_eq!(
        sent(&alice.typed(&"x".repeat(protocol::MAX_LINE), t0)).len(),
        1
    );
}

#[test]
fn a_player_joins_an_announcer_until_it_is_welcomed() {
    let t0 = Instant::now();
    let mut alice = alice(t0);
    let mut host = Origin::new("announcer");
    // Right after our own join, the announcer is answering it: no second join yet.
    assert_eq!(alice.receive(&from(&mut host, hello()), SOURCE, t0), vec![]);
    assert_eq!(alice.next_deadline(), t0 + JOIN_RETRY);
    // Our join or its welcome was lost: ask again.
    assert_eq!(sent(&alice.tick(t0 + JOIN_RETRY)), vec![Body::Join]);
    let reactions = alice.receive(
        &from(&mut host, welcome(1, &["bob", "alice"])),
        SOURCE,
        t0 + ms(501),
    );
    assert!(matches!(
        reactions[0],
        Reaction::Show(Event::Welcome { .. })
    ));
    assert_eq!(sent(&alice.tick(t0 + ms(1100))), vec![]);
    assert_eq!(alice.receive(&from(&mut host, hello()), SOURCE, t0), vec![]);
    // bob was in the welcome: his join (again) is not news.
    let mut bob = Origin::new("bob");
    assert_eq!(
        alice.receive(&from(&mut bob, Body::Join), SOURCE, t0),
        vec![]
    );
}

#[test]
fn one_welcome_lets_several_in_and_tells_the_others_of_each() {
    let t0 = Instant::now();
    let mut alice = alice(t0);
    let mut host = Origin::new("announcer");
    alice.receive(&from(&mut host, hello()), SOURCE, t0);
    // A storm's welcome: bob first, alice among the others it lets in.
    let newcomer = |player: &str, to_session| protocol::Newcomer {
        player: player.into(),
        to_session,
    };
    let mut storm = welcome(7, &["bob", "alice", "carol"]);
    if let Body::Welcome { player, also, .. } = &mut storm {
        *player = "bob".into();
        *also = vec![newcomer("alice", 1), newcomer("carol", 9)];
    }
    let reactions = alice.receive(&from(&mut host, storm), SOURCE, t0);
    assert!(
        matches!(&reactions[0], Reaction::Show(Event::Welcome { player, players, .. })
            if player == "alice" && players.len() == 3),
        "{reactions:?}"
    );
    // Once in, the next storm's newcomers are news, each once.
    let mut next = welcome(11, &["bob", "alice", "carol", "dave", "erin"]);
    if let Body::Welcome { player, also, .. } = &mut next {
        *player = "dave".into();
        *also = vec![newcomer("erin", 12)];
    }
    let news = shown(alice.receive(&from(&mut host, next), SOURCE, t0));
    assert_eq!(news.len(), 2, "{news:?}");
    assert!(news[0].contains(r#""kind":"join""#) && news[0].contains("dave"));
    assert!(news[1].contains(r#""kind":"join""#) && news[1].contains("erin"));
}

#[test]
fn the_welcome_says_whose_game_and_other_announcers_are_named_once() {
    let t0 = Instant::now();
    let mut alice = alice(t0);
    let mut host = Origin::new("announcer");
    alice.receive(&from(&mut host, hello()), SOURCE, t0);
    let reactions = alice.receive(&from(&mut host, welcome(1, &["alice"])), SOURCE, t0);
    assert!(
        matches!(&reactions[0], Reaction::Show(Event::Welcome { announcer: Some(at), .. })
            if at == "127.0.0.1:5007"),
        "{reactions:?}"
    );
    // Another game's announcer on the same group: named at once, and with its title when it
    // comes.
    let elsewhere: SocketAddr = "10.0.0.2:6000".parse().unwrap();
    let mut trivia = Origin::new("announcer");
    let first = shown(alice.receive(&from(&mut trivia, hello()), elsewhere, t0));
    assert!(
        first.len() == 1 && first[0].contains("the game at 10.0.0.2:6000"),
        "{first:?}"
    );
    let start = Announcement::GameStart {
        title: "Trivia <night>".into(),
        text: String::new(),
    };
    let named = shown(alice.receive(&from(&mut trivia, start.into()), elsewhere, t0));
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(
        named[0].contains("\\\"Trivia <night>\\\" at 10.0.0.2:6000"),
        "{named:?}"
    );
    assert!(
        named[0].contains("announcer at 127.0.0.1:5007"),
        "{named:?}"
    );
    assert_eq!(
        shown(alice.receive(&from(&mut trivia, announce("hi")), elsewhere, t0)),
        Vec::<String>::new()
    );
    // Each is named once more at most.
    let other: SocketAddr = "10.0.0.3:6000".parse().unwrap();
    let mut third = Origin::new("announcer");
    let named = shown(alice.receive(&from(&mut third, heartbeat(4)), other, t0));
    assert!(
        named
            .iter()
            .any(|l| l.contains("the game at 10.0.0.3:6000")),
        "{named:?}"
    );
    assert!(shown(alice.receive(&from(&mut third, heartbeat(5)), other, t0)).is_empty());
}

#[test]
fn a_closing_announcer_heard_alone_is_named() {
    let t0 = Instant::now();
    let mut alice = alice(t0);
    let mut host = Origin::new("announcer");
    let closing = Body::Heartbeat {
        last: 9,
        every_ms: 250,
        announcer: true,
        closing: true,
    };
    let said = shown(alice.receive(&from(&mut host, closing), SOURCE, t0));
    assert!(
        said.iter()
            .any(|l| l.contains("an announcer at 127.0.0.1:5007 is closing its game")),
        "{said:?}"
    );
}

#[test]
fn someone_elses_refusal_or_tell_is_not_ours() {
    let t0 = Instant::now();
    let (mut alice, mut host) = welcomed(t0);
    let refuse = |session| Body::Refuse {
        player: "alice".into(),
        to_session: session,
        reason: "name taken".into(),
    };
    assert_eq!(
        alice.receive(&from(&mut host, refuse(2)), SOURCE, t0),
        vec![]
    );
    let tell = |to: &str| {
        Body::from(Announcement::Tell {
            to: to.into(),
            text: "psst".into(),
        })
    };
    assert_eq!(
        alice.receive(&from(&mut host, tell("bob")), SOURCE, t0),
        vec![]
    );
    assert_eq!(
        alice
            .receive(&from(&mut host, tell("alice")), SOURCE, t0)
            .len(),
        1
    );
    assert_eq!(
        alice.receive(&from(&mut host, refuse(1)), SOURCE, t0)[1],
        Reaction::Exit(Outcome::Refused("name taken".into()))
    );
}

#[test]
fn plain_text_and_garbage() {
    let t0 = Instant::now();
    let mut alice = alice(t0);
    assert_eq!(
        alice.receive(b"user1: Hola", SOURCE, t0),
        vec![Reaction::Show(Event::Chat {
            from: "~user1".into(),
            text: "Hola".into()
        })]
    );
    assert_eq!(alice.receive(&[0xff], SOURCE, t0).len(), 1);
    assert_eq!(alice.receive(&[0xfe], SOURCE, t0), vec![]);
    assert_eq!(alice.bad_datagrams(), 2);
}

/// What went to the text channel.
fn said(reactions: &[Reaction]) -> Vec<String> {
    reactions
        .iter()
        .filter_map(|r| match r {
            Reaction::Say(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_text_channel_hears_the_lab_and_is_told_our_chat_but_never_our_moves() {
    let t0 = Instant::now();
    let mut fresh = Player::new(Origin::with_session("alice", 1), Options::default(), t0);
    assert_eq!(said(&fresh.start(t0)), vec!["alice: Entering user"]);
    let (mut alice, _host) = welcomed(t0);
    assert_eq!(said(&alice.typed("hola", t0)), vec!["alice: hola"]);
    assert_eq!(said(&alice.typed("roll", t0)), Vec::<String>::new());
    // The lab's scripts speak from elsewhere: their lines are theirs, marked, but a move
    // typed there is for the announcer, as ours are.
    let lab: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    assert_eq!(
        shown(alice.receive_text(b"ana: hola", lab, t0)),
        vec![r#"{"kind":"chat","from":"~ana","text":"hola"}"#]
    );
    assert!(alice.receive_text(b"ana: roll", lab, t0).is_empty());
    // Protocol on the text channel is nobody's.
    let json = from(&mut Origin::new("mallory"), Body::Join);
    assert!(shown(alice.receive_text(&json, lab, t0))[0].contains("on the text channel"));
    assert_eq!(
        said(&alice.leave("quit", Outcome::Left, t0)),
        vec!["alice: quit"]
    );
}

#[test]
fn a_game_with_a_key_says_nothing_on_the_text_channel() {
    let t0 = Instant::now();
    let options = Options {
        key: Some(
            crate::key::GameKey::new(b"a secret of the game, long enough", "a test").unwrap(),
        ),
        ..Options::default()
    };
    let mut alice = Player::new(Origin::with_session("alice", 1), options, t0);
    assert!(said(&alice.start(t0)).is_empty());
    assert!(said(&alice.typed("hola", t0)).is_empty());
    assert!(
        alice
            .receive_text(b"ana: hola", "127.0.0.1:40000".parse().unwrap(), t0)
            .is_empty()
    );
    assert!(said(&alice.leave("quit", Outcome::Left, t0)).is_empty());
}

#[test]
fn what_a_player_says_on_the_text_channel_cannot_drive_a_terminal() {
    let t0 = Instant::now();
    let (mut alice, _host) = welcomed(t0);
    assert_eq!(
        said(&alice.typed("\u{1b}[2Jhi\rannouncer: you lost", t0)),
        vec!["alice: \\u{1b}[2Jhi\\rannouncer: you lost".to_string()]
    );
}

#[test]
fn announcer_events_are_shown_in_order_once_and_gaps_are_asked_for() {
    let t0 = Instant::now();
    let (mut alice, mut host) = welcomed(t0);
    let three = host.stamp(announce("3"));
    let four = host.stamp(announce("4"));
    assert!(shown(alice.receive(&bytes_of(&four), SOURCE, t0)).is_empty());
    assert_eq!(
        sent(&alice.tick(t0 + reliable::NACK_DELAY)),
        vec![Body::Nack {
            to: host.session(),
            ranges: vec![(3, 3)]
        }]
    );
    // Someone asking for our own datagrams gets them again (our join is number 1).
    let mut bob = Origin::new("bob");
    let repaired = alice.receive(
        &from(
            &mut bob,
            Body::Nack {
                to: 1,
                ranges: vec![(1, 1)],
            },
        ),
        SOURCE,
        t0,
    );
    assert_eq!(sent(&repaired), vec![Body::Join]);
    assert_eq!(
        shown(alice.receive(&bytes_of(&three), SOURCE, t0 + ms(20))),
        ["3", "4"]
    );
    assert!(alice.receive(&bytes_of(&three), SOURCE, t0).is_empty());
    assert!(alice.receive(&bytes_of(&four), SOURCE, t0).is_empty());
    // What the announcer no longer has is shown as a gap, in its place.
    host.stamp(announce("5"));
    let six = host.stamp(announce("6"));
    alice.receive(&bytes_of(&six), SOURCE, t0);
    assert_eq!(
        shown(alice.receive(
            &from(
                &mut host,
                Body::Expired {
                    ranges: vec![(5, 5)]
                }
            ),
            SOURCE,
            t0
        )),
        ["lost 1", "6"]
    );
    assert_eq!(alice.stats().repaired, 1);
}

#[test]
fn a_silent_announcer_is_reported_and_a_new_run_is_followed() {
    let t0 = Instant::now();
    let (mut alice, mut old) = welcomed(t0);
    let silence = reliable::ANNOUNCER_HEARTBEAT * reliable::MISSED_BEATS;
    // The announcer's heartbeat interval is the player's default until it says otherwise.
    alice.receive(&from(&mut old, heartbeat(2)), SOURCE, t0);
    // The loop comes back at each deadline (its own heartbeat, then the announcer's silence).
    let mut now = t0;
    while now < t0 + silence {
        now = alice.next_deadline().min(t0 + silence);
        // Silence counts once everything queued was read: not while a burst is queued.
        assert_eq!(shown(alice.tick(now)), Vec::<String>::new());
    }
    assert_eq!(
        shown(alice.caught_up(t0 + silence)),
        [r#"{"kind":"announcer","state":"unreachable"}"#]
    );
    // A newer run says hello: followed, joined at once.
    let mut new = Origin::with_session("announcer", old.session() + 1);
    let later = t0 + silence + ms(1);
    assert_eq!(
        shown(alice.receive(&from(&mut new, hello()), SOURCE, later)),
        [r#"{"kind":"announcer","state":"restarted"}"#]
    );
    assert_eq!(sent(&alice.tick(later)), vec![Body::Join]);
    // Nothing from the old run is shown again, nor the new one's before its welcome.
    assert!(
        alice
            .receive(&from(&mut old, announce("old")), SOURCE, later)
            .is_empty()
    );
    assert!(
        alice
            .receive(&from(&mut new, announce("early")), SOURCE, later)
            .is_empty()
    );
    let reactions = alice.receive(&from(&mut new, welcome(1, &["alice"])), SOURCE, later);
    assert!(matches!(
        reactions[0],
        Reaction::Show(Event::Welcome { .. })
    ));
    assert_eq!(
        shown(alice.receive(&from(&mut new, announce("new")), SOURCE, later)),
        ["new"]
    );
}

#[test]
fn an_announcer_heard_again_is_back() {
    let t0 = Instant::now();
    let (mut alice, host) = welcomed(t0);
    let silence = reliable::PLAYER_HEARTBEAT * reliable::MISSED_BEATS;
    alice.caught_up(t0 + silence);
    let mut host = host;
    assert_eq!(
        shown(alice.receive(&from(&mut host, heartbeat(2)), SOURCE, t0 + silence * 2)),
        [r#"{"kind":"announcer","state":"back"}"#]
    );
}

#[test]
fn a_player_paused_longer_than_the_silence_loses_nobody() {
    // Row 7 and item 5, the player's side: the process was stopped for 3 s; what was queued is
    // read after it runs again, and the time it did not run does not count.
    let t0 = Instant::now();
    let (mut alice, _) = welcomed(t0);
    let due = alice.next_deadline();
    let resumed = t0 + Duration::from_secs(3);
    assert!(resumed > due);
    // Nothing arrived while it was stopped (the announcer was quiet, its heartbeats lost):
    // the loop comes back late, reads, finds nothing.
    assert!(
        alice
            .tick(resumed)
            .iter()
            .all(|r| !matches!(r, Reaction::Show(_)))
    );
    assert_eq!(shown(alice.caught_up(resumed)), Vec::<String>::new());
    // Had it not been a stall, the same silence is reported.
    let (mut bob, _) = welcomed(t0);
    assert_eq!(
        shown(bob.caught_up(resumed)),
        [r#"{"kind":"announcer","state":"unreachable"}"#]
    );
}

#[test]
fn a_dropped_player_goes_on_showing_the_game_and_joins_again() {
    // Row 17: a player dropped while it was paused showed nothing of the game until it was
    // welcomed again (the game's end among what it skipped).
    let t0 = Instant::now();
    let (mut alice, mut host) = welcomed(t0);
    let left = Body::Left {
        player: "alice".into(),
        to_session: 1,
        reason: "connection lost".into(),
    };
    let reactions = alice.receive(&from(&mut host, left), SOURCE, t0);
    assert!(shown(reactions)[0].contains("joining again"));
    assert_eq!(sent(&alice.tick(t0)), vec![Body::Join]);
    // What the announcer says meanwhile is shown, in order.
    assert_eq!(
        shown(alice.receive(&from(&mut host, announce("round 9")), SOURCE, t0)),
        ["round 9"]
    );
    let end = Body::from(Announcement::GameEnd {
        text: "over".into(),
    });
    assert!(shown(alice.receive(&from(&mut host, end), SOURCE, t0))[0].contains("game_end"));
    // Its new welcome takes it back, without a second welcome screen.
    let reactions = alice.receive(&from(&mut host, welcome(1, &["alice"])), SOURCE, t0);
    assert!(shown(reactions)[0].contains("took us back"));
    assert_eq!(sent(&alice.tick(t0 + JOIN_RETRY)), vec![]);
}

#[test]
fn a_handed_over_game_is_joined_at_the_announcer_that_keeps_it() {
    // Row 12: the newer of two announcers leaves, naming the older one.
    let t0 = Instant::now();
    let (mut alice, mut newer) = welcomed(t0);
    let older = Origin::with_session("announcer", newer.session() - 5);
    let close = Body::Close {
        text: "another announcer already runs a game on this group; joining it".into(),
        successor: Some(older.session()),
    };
    let reactions = alice.receive(&from(&mut newer, close), SOURCE, t0);
    assert!(!reactions.iter().any(|r| matches!(r, Reaction::Exit(_))));
    assert_eq!(
        shown(reactions),
        [r#"{"kind":"announcer","state":"handed_over"}"#]
    );
    assert_eq!(sent(&alice.tick(t0)), vec![Body::Join]);
    // The older one's welcome is ours.
    let mut older = older;
    alice.receive(&from(&mut older, hello()), SOURCE, t0);
    let reactions = alice.receive(&from(&mut older, welcome(1, &["alice"])), SOURCE, t0);
    assert!(matches!(
        reactions[0],
        Reaction::Show(Event::Welcome { .. })
    ));
}

#[test]
fn a_close_before_the_welcome_is_acted_on() {
    // A review found this: a player not yet placed kept the announcer's `close` with the
    // rest, and waited for ever.
    let t0 = Instant::now();
    let mut alice = alice(t0);
    let mut host = Origin::new("announcer");
    alice.receive(&from(&mut host, hello()), SOURCE, t0);
    let close = Body::Close {
        text: "the game is over".into(),
        successor: None,
    };
    let reactions = alice.receive(&from(&mut host, close), SOURCE, t0);
    assert_eq!(reactions.last(), Some(&Reaction::Exit(Outcome::Closed)));
}

#[test]
fn chat_under_a_look_alike_of_a_players_name_is_not_shown_as_theirs() {
    let t0 = Instant::now();
    let (mut alice, _) = welcomed(t0);
    let mut bob = Origin::with_session("bob", 500);
    alice.receive(&from(&mut bob, Body::Join), SOURCE, t0);
    // "bоb" with a Cyrillic o, from another session.
    let mut fake = Origin::with_session("b\u{043E}b", 501);
    let reactions = alice.receive(
        &from(
            &mut fake,
            Body::Chat {
                text: "I am bob".into(),
            },
        ),
        SOURCE,
        t0,
    );
    assert!(!format!("{reactions:?}").contains("I am bob"));
    let reactions = alice.receive(
        &from(&mut bob, Body::Chat { text: "hi".into() }),
        SOURCE,
        t0,
    );
    assert_eq!(
        shown(reactions),
        [r#"{"kind":"chat","from":"bob","text":"hi"}"#]
    );
}

#[test]
fn a_flood_of_made_up_joins_is_bounded() {
    // Row 16: 100,000 "Entering user" from as many sessions.
    let t0 = Instant::now();
    let mut alice = alice(t0);
    let mut shown_joins = 0;
    for i in 0..100_000u64 {
        let mut fake = Origin::with_session(format!("user{i}"), 10_000 + i);
        let now = t0 + Duration::from_micros(50 * i);
        for reaction in alice.receive(&from(&mut fake, Body::Join), SOURCE, now) {
            if matches!(reaction, Reaction::Show(Event::Join { .. })) {
                shown_joins += 1;
            }
        }
    }
    // 5 s of it: a burst of 40 and 20 a second.
    assert!(shown_joins <= 40 + 5 * 20 + 1, "{shown_joins} joins shown");
    assert!(shown_joins >= 40);
}

mod properties {
    //! Arbitrary datagrams from arbitrary sessions, with numbers at the edges, and ticks, at a
    //! player: no panic, and what it holds stays bounded.
    use super::*;
    use proptest::prelude::*;

    use crate::reliable::inbox::tests::properties::edgy;

    fn body() -> impl Strategy<Value = Body> {
        let ranges = prop::collection::vec((edgy(), edgy()), 0..3);
        prop_oneof![
            Just(Body::Join),
            Just(Body::Chat { text: "x".into() }),
            Just(hello()),
            Just(Body::Close {
                text: "bye".into(),
                successor: None
            }),
            edgy().prop_map(|s| Body::Close {
                text: "over".into(),
                successor: Some(s)
            }),
            edgy().prop_map(|s| welcome(s, &["alice"])),
            edgy().prop_map(|s| Body::Left {
                player: "alice".into(),
                to_session: s,
                reason: "x".into()
            }),
            (edgy(), edgy()).prop_map(|(s, at)| Body::Admit { to_session: s, at }),
            (edgy(), any::<bool>()).prop_map(|(last, announcer)| Body::Heartbeat {
                last,
                every_ms: 250,
                announcer,
                closing: false
            }),
            (edgy(), ranges.clone()).prop_map(|(to, ranges)| Body::Nack { to, ranges }),
            ranges.prop_map(|ranges| Body::Expired { ranges }),
            (1u32..4, 1u32..4).prop_map(|(part, parts)| Body::Fragment {
                part,
                parts,
                data: "{\"kind\":".into()
            }),
            Just(announce("a")),
        ]
    }

    proptest! {
        #![proptest_config(crate::reliable::peers::tests::config())]

        #[test]
        fn a_player_survives_anything(
            steps in prop::collection::vec(
                (prop_oneof![Just(1u64), 2u64..5, edgy()], edgy(), body(), 0u64..700),
                1..60,
            ),
        ) {
            let mut now = Instant::now();
            let mut player = alice(now);
            for (session, seq, body, wait) in steps {
                now += Duration::from_millis(wait);
                let seq = if body.is_numbered() { seq } else { 0 };
                let datagram = Datagram { v: 1, from: "announcer".into(), session, seq, body };
                // Made-up datagrams the encoder would refuse are raw JSON on the wire.
                let bytes = serde_json::to_vec(&datagram).unwrap();
                let _ = player.receive(&bytes, SOURCE, now);
                let _ = player.tick(now);
                let _ = player.caught_up(now);
                let _ = player.next_deadline();
            }
        }
    }
}

#[test]
fn the_link_states_render() {
    // Every announcer state has words on the terminal.
    for state in [
        Link::Unreachable,
        Link::Back,
        Link::Restarted,
        Link::HandedOver,
    ] {
        let text = crate::render::Style::PLAIN.event(&Event::Announcer { state });
        assert!(text.starts_with('['), "{text}");
    }
}

#[test]
fn moves_are_words_or_patterns_and_a_hostile_pattern_keeps_a_line_private() {
    let moves: Vec<String> = ["roll", "^%(?[a-d][%).:]", "^answer%s"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for line in ["roll", "ROLL", "a)", "(c).", "b: 224.0.0.0/4", "Answer c"] {
        assert!(is_move(&moves, line), "{line:?} is a move");
    }
    for line in ["rolling", "e)", "hello", "answers"] {
        assert!(!is_move(&moves, line), "{line:?} is chat");
    }
    // A pattern that backtracks for ever, or a malformed one: the line stays private, at once.
    let slow = vec![format!("^{}b", ".-".repeat(12))];
    let started = std::time::Instant::now();
    assert!(is_move(&slow, &"a".repeat(500)));
    assert!(started.elapsed() < Duration::from_secs(2), "a hang check");
    assert!(is_move(&["^%".to_string()], "anything"));
    // Thousands of patterns: only the first few are tried.
    let many: Vec<String> = (0..5000)
        .map(|_| "^zzz".to_string())
        .chain(["^x".into()])
        .collect();
    assert!(!is_move(&many, "x"));
}
