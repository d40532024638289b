//! The announcer's state machine driven by hand: a real script, datagrams made with an
//! [`Origin`], the time moved by the test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::core::*;
use crate::protocol::{self, Announcement, Body, Datagram, Decoded, MAX_PLAYERS, Origin};
use crate::reliable;
use crate::script::{Script, Start};

/// How the tests' scripts start: at `t0`, seeded, default limits.
fn start(t0: Instant) -> Start {
    Start {
        now: t0,
        seed: 1,
        ..Start::new()
    }
}

const SOURCE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    4000,
));

/// The announcer's session in these tests: "started" now, so that rivals' sessions compare.
fn our_session() -> u64 {
    protocol::new_session()
}

/// An announcer running `source` (written to a file of its own), started at `t0`, past its
/// listening.
fn playing(source: &str, t0: Instant) -> (Announcer, Instant) {
    let dir = crate::scratch::folder("core");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("game.lua");
    std::fs::write(&path, source).unwrap();
    let script = Script::load_with(&path, &Default::default(), start(t0)).unwrap();
    let mut core = Announcer::with_origin(
        script,
        Settings::default(),
        Origin::with_session(protocol::ANNOUNCER_NAME, our_session()),
        t0,
    );
    let start = t0 + LISTEN_FIRST;
    core.next_deadline();
    let hello = core.tick(start);
    assert!(core.is_playing());
    assert!(sent(&hello).iter().any(|b| matches!(b, Body::Hello { .. })));
    (core, start)
}

fn from(origin: &mut Origin, body: Body) -> Vec<u8> {
    protocol::encode(&origin.stamp(body)).unwrap()
}

/// What went out, decoded (heartbeats left out).
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

/// The events sent, large ones put back together from their pieces.
fn whole(reactions: &[Reaction]) -> Vec<Body> {
    let mut reassembly = protocol::Reassembly::default();
    reactions
        .iter()
        .filter_map(|r| match r {
            Reaction::Transmit(bytes) => match protocol::decode(bytes) {
                Decoded::Datagram(d) => reassembly.add(d).ok().flatten().map(|d| d.body),
                _ => None,
            },
            _ => None,
        })
        .filter(|b| !matches!(b, Body::Heartbeat { .. }))
        .collect()
}

fn notes(reactions: &[Reaction]) -> Vec<String> {
    reactions
        .iter()
        .filter_map(|r| match r {
            Reaction::Note(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

fn beat(origin: &Origin) -> Vec<u8> {
    protocol::encode(&Datagram {
        v: protocol::VERSION,
        from: origin.name().to_string(),
        session: origin.session(),
        seq: 0,
        body: Body::Heartbeat {
            last: origin.last_seq(),
            every_ms: 500,
            announcer: false,
            closing: false,
        },
    })
    .unwrap()
}

#[test]
fn it_listens_first_and_says_nothing_until_then() {
    let t0 = Instant::now();
    let dir = crate::scratch::folder("core");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("game.lua");
    std::fs::write(&path, "announce('hi')\n").unwrap();
    let script = Script::load_with(&path, &Default::default(), start(t0)).unwrap();
    let mut core = Announcer::new(script, Settings::default(), t0);
    assert_eq!(core.next_deadline(), t0 + LISTEN_FIRST);
    let mut alice = Origin::new("alice");
    let early = core.receive(&from(&mut alice, Body::Join), SOURCE, t0);
    assert!(sent(&early).is_empty(), "{early:?}");
    assert!(core.tick(t0 + LISTEN_FIRST / 2).is_empty());
    let started = core.tick(t0 + LISTEN_FIRST);
    let bodies = sent(&started);
    assert!(matches!(bodies[0], Body::Hello { .. }), "{bodies:?}");
    assert!(bodies.iter().any(|b| matches!(b, Body::Announcement(_))));
}

#[test]
fn an_older_announcer_heard_while_listening_keeps_the_group() {
    let t0 = Instant::now();
    let script_path = crate::scratch::folder("core").join("game.lua");
    std::fs::write(&script_path, "").unwrap();
    let script = Script::load_with(&script_path, &Default::default(), start(t0)).unwrap();
    let ours = our_session();
    let mut core = Announcer::with_origin(
        script,
        Settings::default(),
        Origin::with_session("announcer", ours),
        t0,
    );
    let older = Origin::with_session("announcer", ours - (5_000 << 11));
    let heartbeat = Body::Heartbeat {
        last: 10,
        every_ms: 250,
        announcer: true,
        closing: false,
    };
    let older_beat = protocol::encode(&Datagram {
        v: 1,
        from: "announcer".into(),
        session: older.session(),
        seq: 0,
        body: heartbeat.clone(),
    })
    .unwrap();
    // Heard twice: a live announcer, not one stray datagram.
    assert!(core.receive(&older_beat, SOURCE, t0).is_empty());
    assert!(core.done().is_none());
    let out = core.receive(&older_beat, SOURCE, t0 + Duration::from_millis(250));
    assert!(out.is_empty());
    assert!(matches!(
        core.done(),
        Some(End::Rival {
            handed_over: false,
            ..
        })
    ));
    // A session from years before ours is made up: not a rival.
    let script = Script::load_with(&script_path, &Default::default(), start(t0)).unwrap();
    let mut core = Announcer::with_origin(
        script,
        Settings::default(),
        Origin::with_session("announcer", ours),
        t0,
    );
    let made_up = protocol::encode(&Datagram {
        v: 1,
        from: "announcer".into(),
        session: 7_000_000_000_001,
        seq: 0,
        body: heartbeat,
    })
    .unwrap();
    core.receive(&made_up, SOURCE, t0);
    assert!(core.done().is_none());
}

#[test]
fn an_announcer_paused_longer_than_the_silence_drops_nobody() {
    // Row 7: paused 2-3 s (SIGSTOP, a laptop lid, a timer stuck in Lua), the announcer dropped
    // every player as "connection lost" and the game ended.
    let t0 = Instant::now();
    let (mut core, start) = playing("", t0);
    let mut alice = Origin::new("alice");
    core.receive(&from(&mut alice, Body::Join), SOURCE, start);
    assert_eq!(core.roster(), ["alice"]);
    // The loop asks when to come back, then does not run for 3 s; the heartbeats alice sent
    // meanwhile were lost (a full socket buffer, say).
    let due = core.next_deadline();
    let resumed = start + Duration::from_secs(3);
    assert!(resumed > due + STALL);
    let out = core.caught_up(resumed);
    assert_eq!(core.roster(), ["alice"], "{out:?}");
    assert!(notes(&out).iter().any(|n| n.contains("did not run")));
    // The same silence without a stall: alice is gone.
    let (mut other, start) = playing("", t0);
    let mut bob = Origin::new("bob");
    other.receive(&from(&mut bob, Body::Join), SOURCE, start);
    let out = other.caught_up(start + Duration::from_secs(3));
    assert!(other.roster().is_empty());
    assert!(sent(&out).iter().any(|b| matches!(b, Body::Left { .. })));
}

#[test]
fn a_player_silent_as_of_the_last_empty_read_is_gone_not_before() {
    let t0 = Instant::now();
    let (mut core, start) = playing("", t0);
    let mut alice = Origin::new("alice");
    core.receive(&from(&mut alice, Body::Join), SOURCE, start);
    let silence = reliable::PLAYER_HEARTBEAT * reliable::MISSED_BEATS;
    // The loop wakes at each deadline; until a read finds the socket empty, nobody is gone.
    let mut now = start;
    while now < start + silence {
        now = core.next_deadline().min(start + silence);
        core.tick(now);
        assert_eq!(core.roster(), ["alice"]);
    }
    // Her heartbeat was queued behind a burst: read before the empty read, she stays.
    core.receive(&beat(&alice), SOURCE, now);
    core.caught_up(now);
    assert_eq!(core.roster(), ["alice"]);
}

#[test]
fn look_alike_names_and_a_full_game_are_refused() {
    let t0 = Instant::now();
    let (mut core, start) = playing("", t0);
    let mut alice = Origin::new("alice");
    core.receive(&from(&mut alice, Body::Join), SOURCE, start);
    // Row 14: "аlice" with a Cyrillic a looks exactly like alice.
    let mut fake = Origin::new("\u{0430}lice");
    let out = core.receive(&from(&mut fake, Body::Join), SOURCE, start);
    let refusal = sent(&out)
        .into_iter()
        .find_map(|b| match b {
            Body::Refuse { reason, .. } => Some(reason),
            _ => None,
        })
        .expect("refused");
    assert!(refusal.contains("looks like"), "{refusal}");
    // Invisible characters a hand-written list missed.
    let mut hidden = Origin::new("ali\u{034F}ce");
    let out = core.receive(&from(&mut hidden, Body::Join), SOURCE, start);
    assert!(sent(&out).iter().any(|b| matches!(b, Body::Refuse { .. })));
    assert_eq!(core.roster(), ["alice"]);
}

#[test]
fn a_join_storm_is_let_in_by_few_welcomes() {
    let t0 = Instant::now();
    let (mut core, start) = playing("on_join(function(p) announce('hi ' .. p) end)\n", t0);
    // Sessions of our own: thirty made in one millisecond could share one by chance.
    let mut players: Vec<Origin> = (0..30)
        .map(|i| Origin::with_session(format!("p{i:02}"), 1000 + i))
        .collect();
    let mut out = Vec::new();
    // The first is welcomed at once; the others, within the gap, wait.
    for (i, player) in players.iter_mut().enumerate() {
        let at = start + Duration::from_micros(100 * i as u64);
        out.extend(core.receive(&from(player, Body::Join), SOURCE, at));
    }
    // A look-alike of a name in the game (a Cyrillic р), and a name taken: refused at once.
    let mut twin = Origin::with_session("\u{0440}00", 2000);
    let mut again = Origin::with_session("p00", 2001);
    for origin in [&mut twin, &mut again] {
        let refused = core.receive(&from(origin, Body::Join), SOURCE, start);
        assert!(
            sent(&refused)
                .iter()
                .any(|b| matches!(b, Body::Refuse { .. })),
            "{:?}",
            sent(&refused)
        );
    }
    assert_eq!(core.roster(), ["p00"]);
    // A look-alike of a name that waits too: refused when they are let in.
    let mut waiting_twin = Origin::with_session("\u{0440}07", 2002);
    out.extend(core.receive(&from(&mut waiting_twin, Body::Join), SOURCE, start));
    assert!(core.next_deadline() <= start + WELCOME_GAP);
    out.extend(core.tick(start + WELCOME_GAP));
    assert_eq!(core.roster().len(), 30);
    assert!(whole(&out).iter().any(
        |b| matches!(b, Body::Refuse { to_session, .. } if *to_session == waiting_twin.session())
    ));
    let bodies = whole(&out);
    let welcomes: Vec<&Body> = bodies
        .iter()
        .filter(|b| matches!(b, Body::Welcome { .. }))
        .collect();
    assert_eq!(
        welcomes.len(),
        2,
        "one at once, one for the 29 who waited: {bodies:?}"
    );
    for player in &players {
        let session = player.session();
        assert!(
            welcomes.iter().any(|w| w.welcomes(session).is_some()),
            "{session} welcomed"
        );
        assert!(
            bodies
                .iter()
                .any(|b| matches!(b, Body::Admit { to_session, .. } if *to_session == session)),
            "{session} told where its events start"
        );
    }
    // Each newcomer's on_join spoke after the welcome that let it in.
    let first_hi = bodies
        .iter()
        .position(|b| matches!(b, Body::Announcement(Announcement::Announce { text }) if text == "hi p01"))
        .unwrap();
    let second_welcome = bodies
        .iter()
        .rposition(|b| matches!(b, Body::Welcome { .. }))
        .unwrap();
    assert!(second_welcome < first_hi);
    // Once the storm is over, a join is answered at once again.
    let mut late = Origin::with_session("late", 2003);
    let later = start + WELCOME_GAP * 3;
    let welcomed = core.receive(&from(&mut late, Body::Join), SOURCE, later);
    assert!(
        whole(&welcomed)
            .iter()
            .any(|b| b.welcomes(late.session()).is_some())
    );
}

#[test]
fn the_roster_is_bounded_and_every_welcome_fits_an_event() {
    // Row 10: without a bound, joins filled the roster until no welcome fit in an event.
    let t0 = Instant::now();
    // A script whose ranking is as large as an event may be.
    let (mut core, start) = playing(
        r#"
local scores = {}
for i = 1, 1200 do scores[("p%04d-%s"):format(i, ("x"):rep(20))] = i end
pcall(ranking, scores)
"#,
        t0,
    );
    let mut now = start;
    let mut welcomed = 0;
    for i in 0..(MAX_PLAYERS + 20) {
        // Long names, four bytes a character: the largest welcome there can be.
        let name: String = format!("{i:04}")
            .chars()
            .chain("🎲".repeat(20).chars())
            .collect();
        let mut player = Origin::new(name);
        now += Duration::from_millis(25); // within the outsiders' budget
        let out = core.receive(&from(&mut player, Body::Join), SOURCE, now);
        assert!(
            !notes(&out).iter().any(|n| n.contains("not sent")),
            "{:?}",
            notes(&out)
        );
        // A large welcome goes in pieces: its first piece stands for it.
        welcomed += sent(&out)
            .iter()
            .filter(|b| matches!(b, Body::Welcome { .. } | Body::Fragment { part: 1, .. }))
            .count();
        // They all beat after their welcome, so that none is dropped, nor taken for a made-up
        // join when the game is full.
        core.receive(&beat(&player), SOURCE, now + Duration::from_millis(1));
    }
    assert_eq!(core.roster().len(), MAX_PLAYERS);
    assert_eq!(welcomed, MAX_PLAYERS);
}

mod properties {
    //! Arbitrary datagrams at the announcer: from arbitrary sessions (duplicates, 0, 2^64 - 1),
    //! with numbers at the edges, reversed ranges, huge gaps, as any kind; and ticks, empty
    //! reads and stalls. No panic, and the roster and the receive table stay within bounds.
    use super::*;
    use proptest::prelude::*;

    use crate::reliable::inbox::tests::properties::edgy;

    #[derive(Debug, Clone)]
    enum Step {
        Datagram(u64, u64, serde_json::Value),
        /// A line on the text channel, from the lab's address or a member's.
        Text(bool, String),
        Tick(u64),
        CaughtUp,
    }

    fn body() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::json;
        let ranges = prop::collection::vec((edgy(), edgy()), 0..3).prop_map(|r| {
            r.into_iter()
                .map(|(a, b)| json!([a, b]))
                .collect::<Vec<_>>()
        });
        prop_oneof![
            Just(json!({"kind": "join"})),
            Just(json!({"kind": "chat", "text": "x"})),
            Just(json!({"kind": "move", "text": "roll"})),
            Just(json!({"kind": "leave", "reason": "quit"})),
            (edgy(), any::<bool>(), any::<bool>()).prop_map(|(last, announcer, closing)| json!(
                {"kind": "heartbeat", "last": last, "every_ms": 500, "announcer": announcer,
                 "closing": closing})),
            (edgy(), ranges.clone()).prop_map(|(to, ranges)| json!(
                {"kind": "nack", "to": to, "ranges": ranges})),
            ranges.prop_map(|ranges| json!({"kind": "expired", "ranges": ranges})),
            (1u32..5, 0u32..5).prop_map(|(part, parts)| json!(
                {"kind": "fragment", "part": part, "parts": parts, "data": "{\"kind\":"})),
            any::<bool>().prop_map(|take_over| json!(
                {"kind": "hello", "moves": [], "take_over": take_over})),
            edgy().prop_map(|s| json!({"kind": "close", "text": "x", "successor": s})),
            Just(json!({"kind": "announce", "text": "forged"})),
            Just(json!({"kind": "watch"})),
            (edgy(), prop::collection::vec("[a-z]{1,30}", 0..3)).prop_map(|(s, players)| json!(
                {"kind": "snapshot", "to_session": s, "players": players})),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (prop_oneof![1u64..6, edgy(), (1u64..4).prop_map(|n| n << 11)], edgy(), body())
                .prop_map(|(session, seq, body)| Step::Datagram(session, seq, body)),
            3 => (any::<bool>(), prop_oneof![
                "[a-c~]{0,3}: (Entering user|roll|quit|hola)",
                "(entering user|QUIT|: |a:|[a-z]{25}: Entering user)",
                any::<String>(),
            ]).prop_map(|(lab, line)| Step::Text(lab, line)),
            2 => (0u64..3000).prop_map(Step::Tick),
            1 => Just(Step::CaughtUp),
        ]
    }

    proptest! {
        #![proptest_config(crate::reliable::peers::tests::config())]

        #[test]
        fn the_announcer_survives_anything(steps in prop::collection::vec(step(), 1..60)) {
            let t0 = Instant::now();
            let (mut core, mut now) = playing(
                "on_message(function(p, t) announce(p .. ': ' .. t) end)\n",
                t0,
            );
            for step in steps {
                let _ = core.next_deadline();
                match step {
                    Step::Datagram(session, seq, body) => {
                        let mut object = serde_json::json!(
                            {"v": 1, "from": format!("p{}", session % 7), "session": session, "seq": seq});
                        object.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
                        let bytes = serde_json::to_vec(&object).unwrap();
                        let _ = core.receive(&bytes, SOURCE, now);
                    }
                    Step::Text(lab, line) => {
                        let source = if lab { LAB } else { SOURCE };
                        let _ = core.receive_text(line.as_bytes(), source, now);
                    }
                    Step::Tick(ms) => {
                        now += Duration::from_millis(ms);
                        let _ = core.tick(now);
                    }
                    Step::CaughtUp => {
                        let _ = core.caught_up(now);
                    }
                }
                prop_assert!(core.roster().len() <= MAX_PLAYERS);
                prop_assert!(core.places_agree(), "the roster's index");
            }
        }
    }
}

/// Where the lab's Python chat sends from: its own port, not a member's.
const LAB: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    5007,
));

/// What went to the text channel, one datagram a string.
/// `now`, moved on past the text channel's gap between datagrams.
fn after(now: &mut Instant) -> Instant {
    *now += TEXT_EVERY;
    *now
}

/// The lines said on the text channel (a datagram there holds several, a row each).
fn said(reactions: &[Reaction]) -> Vec<String> {
    reactions
        .iter()
        .filter_map(|r| match r {
            Reaction::Say(datagram) => Some(datagram.lines().map(str::to_string)),
            _ => None,
        })
        .flatten()
        .collect()
}

const TEXT_GAME: &str = r#"
moves({"roll"})
on_join(function(p) if p == "~eve" then return false, "no eves" end end)
on_message(function(p, t)
  if t == "roll" then
    tell(p, "you rolled")
    tell("alice", "alice's secret")
    ranking({[p] = 5, alice = 3})
  end
end)
on_leave(function(p, reason) print(p .. " left: " .. reason) end)
"#;

#[test]
fn a_lab_user_who_greets_plays_as_a_marked_text_player() {
    let (mut core, mut now) = playing(TEXT_GAME, Instant::now());
    // Each line a moment after the last: the channel sends a datagram every 50 ms at most.
    let mut alice = Origin::new("alice");
    core.receive(&from(&mut alice, Body::Join), SOURCE, now);
    // Chat before the greeting is chat, nothing more.
    let chat = core.receive_text(b"ana: hola", LAB, after(&mut now));
    assert!(core.roster() == vec!["alice"], "{chat:?}");
    let greeted = core.receive_text(b"ana: Entering user", LAB, after(&mut now));
    assert_eq!(core.roster(), vec!["alice", "~ana"]);
    let welcome = said(&greeted);
    assert!(
        welcome[0].starts_with("announcer: Welcome, ~ana!"),
        "{welcome:?}"
    );
    assert!(welcome[0].contains("Moves: roll"), "{welcome:?}");
    // The gamecast players learn of them by a welcome, as of anyone.
    assert!(sent(&greeted).iter().any(|b| matches!(
        b,
        Body::Welcome { player, .. } if player == "~ana"
    )));
    // Their move reaches the script; what is said back is for them alone on their channel.
    let rolled = core.receive_text(b"ana: roll", LAB, after(&mut now));
    let lines = said(&rolled);
    assert!(
        lines.contains(&"announcer: (to ~ana) you rolled".to_string()),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("secret")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.ends_with("Ranking:"))
            && lines.iter().any(|l| l.contains("1. ~ana 5")),
        "{lines:?}"
    );
    // Nothing of the protocol goes to the text channel.
    assert!(lines.iter().all(|l| !l.contains("{\"v\"")), "{lines:?}");
    // Their quit is a leave with the reason of a quit.
    let quit = core.receive_text(b"ana: quit", LAB, after(&mut now));
    assert!(
        notes(&quit).contains(&"[script] ~ana left: quit".to_string()),
        "{quit:?}"
    );
    assert_eq!(core.roster(), vec!["alice"]);
}

#[test]
fn a_text_player_cannot_take_a_gamecast_players_name_nor_pass_the_script() {
    let (mut core, mut now) = playing(TEXT_GAME, Instant::now());
    // Each line a moment after the last: the channel sends a datagram every 50 ms at most.
    let mut alice = Origin::new("alice");
    core.receive(&from(&mut alice, Body::Join), SOURCE, now);
    let taken = said(&core.receive_text(b"alice: Entering user", LAB, after(&mut now)));
    assert!(
        taken[0].starts_with("announcer: alice: the name \"alice\" is a gamecast player's"),
        "{taken:?}"
    );
    let refused = said(&core.receive_text(b"eve: Entering user", LAB, after(&mut now)));
    assert_eq!(refused, vec!["announcer: ~eve: no eves".to_string()]);
    assert_eq!(core.roster(), vec!["alice"]);
    // No gamecast name starts with the mark, and no datagram may pose as a text player.
    let mut mallory = Origin::with_session("~ana", 1 << 11);
    let posing = core.receive(&from(&mut mallory, Body::Join), SOURCE, now);
    assert_eq!(core.roster(), vec!["alice"], "{posing:?}");
}

#[test]
fn text_players_names_are_names_bounded_in_number_and_tied_to_where_they_speak_from() {
    let (mut core, mut now) = playing(TEXT_GAME, Instant::now());
    // Each line a moment after the last: the channel sends a datagram every 50 ms at most.
    // Marked, a 24-character name would be 25: refused; 23 makes a welcome every player reads.
    let long = format!("{}: Entering user", "x".repeat(24));
    let refused = said(&core.receive_text(long.as_bytes(), LAB, after(&mut now)));
    assert!(refused[0].contains("1 to 23 characters"), "{refused:?}");
    let fits = format!("{}: Entering user", "y".repeat(23));
    let welcomed = core.receive_text(fits.as_bytes(), LAB, after(&mut now));
    let welcome = welcomed
        .iter()
        .find_map(|r| match r {
            Reaction::Transmit(bytes) => match protocol::decode(bytes) {
                Decoded::Datagram(d) if matches!(d.body, Body::Welcome { .. }) => Some(d),
                _ => None,
            },
            _ => None,
        })
        .expect("a welcome every player can read");
    assert!(matches!(welcome.body, Body::Welcome { ref player, .. } if player.len() == 24));
    // Someone elsewhere cannot speak for ~ana, nor a gamecast player take her name.
    core.receive_text(b"ana: Entering user", LAB, after(&mut now));
    let elsewhere: SocketAddr = "10.0.0.9:5007".parse().unwrap();
    let forged = core.receive_text(b"ana: quit", elsewhere, after(&mut now));
    assert!(core.roster().contains(&"~ana".to_string()), "{forged:?}");
    let mut ana = Origin::new("ana");
    let refusal = sent(&core.receive(&from(&mut ana, Body::Join), SOURCE, now));
    assert!(
        refusal
            .iter()
            .any(|b| matches!(b, Body::Refuse { reason, .. } if reason.contains("~ana"))),
        "{refusal:?}"
    );
    // A move before the greeting is told how to join.
    let hint = said(&core.receive_text(b"zed: roll", LAB, after(&mut now)));
    assert_eq!(
        hint,
        vec!["announcer: zed: you are not in the game yet: type Entering user to play".to_string()]
    );
    // At most MAX_TEXT_PLAYERS, however many greet (the channel's rate is spread over time).
    let mut later = now;
    for i in 0..100 {
        later += Duration::from_millis(100);
        core.receive_text(format!("u{i}: Entering user").as_bytes(), LAB, later);
    }
    let texts = core.roster().iter().filter(|n| n.starts_with('~')).count();
    assert_eq!(texts, MAX_TEXT_PLAYERS);
}

#[test]
fn a_silent_text_player_is_gone_after_a_while_and_a_keyed_game_has_none() {
    let (mut core, now) = playing(TEXT_GAME, Instant::now());
    core.receive_text(b"ana: Entering user", LAB, now);
    assert_eq!(core.roster(), vec!["~ana"]);
    core.next_deadline();
    let _ = core.tick(now + TEXT_IDLE / 2);
    assert_eq!(core.roster(), vec!["~ana"]);
    let gone = core.tick(now + TEXT_IDLE);
    assert!(core.roster().is_empty(), "{gone:?}");
    assert!(said(&gone).contains(&"announcer: ~ana left (connection lost)".to_string()));

    let t0 = Instant::now();
    let dir = crate::scratch::folder("core");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("game.lua");
    std::fs::write(&path, TEXT_GAME).unwrap();
    let script = Script::load_with(&path, &Default::default(), start(t0)).unwrap();
    let settings = Settings {
        key: Some(
            crate::key::GameKey::new(b"a secret of the game, long enough", "a test").unwrap(),
        ),
        ..Settings::default()
    };
    let mut keyed = Announcer::new(script, settings, t0);
    keyed.next_deadline();
    let started = keyed.tick(t0 + LISTEN_FIRST);
    assert!(said(&started).is_empty());
    let greeted = keyed.receive_text(b"ana: Entering user", LAB, t0 + LISTEN_FIRST);
    assert!(
        keyed.roster().is_empty() && said(&greeted).is_empty(),
        "{greeted:?}"
    );
}

#[test]
fn a_member_asking_again_and_again_is_welcomed_once_a_retry() {
    // A review found this: every join of a member made a welcome, up to 64 KiB to the whole
    // group: a member could make the announcer multicast 400 times what it sent.
    let t0 = Instant::now();
    let (mut core, start) = playing("", t0);
    let mut alice = Origin::new("alice");
    core.receive(&from(&mut alice, Body::Join), SOURCE, start);
    let mut welcomes = 0;
    for i in 0..100 {
        let now = start + Duration::from_millis(i);
        let out = core.receive(&from(&mut alice, Body::Join), SOURCE, now);
        welcomes += sent(&out)
            .iter()
            .filter(|b| matches!(b, Body::Welcome { .. }))
            .count();
    }
    assert!(welcomes <= 1, "{welcomes} welcomes for 100 joins in 0.1 s");
}

#[test]
fn announcer_datagrams_from_a_member_or_a_closed_game_are_no_rival() {
    let t0 = Instant::now();
    let (mut core, start) = playing("", t0);
    let mut alice = Origin::with_session("alice", our_session() - (100 << 11));
    core.receive(&from(&mut alice, Body::Join), SOURCE, start);
    // Hellos under alice's own (older) session: not an announcer's.
    for i in 0..10 {
        let hello = Body::Hello {
            moves: vec![],
            take_over: false,
        };
        let now = start + Duration::from_millis(100 * i);
        core.receive(&from(&mut alice, hello), SOURCE, now);
    }
    assert!(core.done().is_none() && core.is_playing());
    // An older announcer that closed its game and only repairs is no rival either.
    let mut old = Origin::with_session(protocol::ANNOUNCER_NAME, our_session() - (200 << 11));
    let closing = Body::Close {
        text: "over".into(),
        successor: None,
    };
    core.receive(&from(&mut old, closing), SOURCE, start);
    for i in 0..10 {
        let repair = Body::from(protocol::Announcement::Announce { text: "old".into() });
        let now = start + Duration::from_millis(100 * i);
        core.receive(&from(&mut old, repair), SOURCE, now);
    }
    assert!(core.is_playing());
}

#[test]
fn on_leave_is_told_a_documented_reason_whatever_a_player_says() {
    let (mut core, now) = playing(
        "on_leave(function(p, reason) print(p .. ' left: ' .. reason) end)\n",
        Instant::now(),
    );
    for (i, (name, said, told)) in [
        ("alice", "end of input", "end of input"),
        ("bob", "<script>alert(1)</script>", "quit"),
        ("carol", "connection lost", "quit"),
    ]
    .into_iter()
    .enumerate()
    {
        // One welcome a gap at most: each joins after the last one's.
        let now = now + WELCOME_GAP * i as u32;
        let mut player = Origin::new(name);
        core.receive(&from(&mut player, Body::Join), SOURCE, now);
        let left = core.receive(
            &from(
                &mut player,
                Body::Leave {
                    reason: said.into(),
                },
            ),
            SOURCE,
            now,
        );
        let wanted = format!("[script] {name} left: {told}");
        assert!(
            notes(&left).contains(&wanted),
            "{said:?}: {:?}",
            notes(&left)
        );
    }
    assert!(LEAVE_REASONS.contains(&"connection lost"));
}

#[test]
fn the_hosts_status_says_who_asked_for_repairs_how_long_silent_and_how_the_script_fared() {
    let t0 = Instant::now();
    let (mut core, start) = playing("on_join(function(p) announce('hi ' .. p) end)\n", t0);
    let mut alice = Origin::new("alice");
    core.receive(&from(&mut alice, Body::Join), SOURCE, start);
    core.tick(start);
    let nack = Body::Nack {
        to: core.session(),
        ranges: vec![(1, 1)],
    };
    core.receive(&from(&mut alice, nack), SOURCE, start);
    let later = start + Duration::from_millis(300);
    let status = core.status(later);
    assert_eq!(status.phase, "running");
    assert_eq!(status.players.len(), 1);
    let link = &status.players[0];
    assert_eq!((link.name.as_str(), link.asked, link.lost), ("alice", 1, 0));
    assert_eq!(link.silent, Duration::from_millis(300));
    assert!(status.sent.datagrams >= 1, "{status:?}");
    assert!(status.last_reload.is_none() && status.last_error.is_none());

    // A broken save: the reload's failure and its line are in the status.
    std::fs::write(core.script().path(), "this is not lua\n").unwrap();
    core.reload(later);
    let status = core.status(later);
    let (_, said) = status.last_reload.expect("a reload was tried");
    assert!(
        said.starts_with("failed: ") && said.contains("game.lua:1:"),
        "{said}"
    );
    assert_eq!(status.reloads, 0, "a failed reload is not a version");
}
