//! Players without an announcer (the lab's chat), foreign datagrams, and names.

use crate::common::*;

#[test]
fn two_players_chat_without_an_announcer_like_the_lab() {
    let net = Net::fresh();
    let mut user1 = player(&net, "user1");
    let mut user2 = player(&net, "user2");
    // As in the lab's console, user1 sees user2 enter.
    user1.wait_join("user2");

    user1.say("Hola, soy user1");
    let seen = user2.wait_kind("chat");
    assert_eq!(seen["from"], "user1");
    assert_eq!(seen["text"], "Hola, soy user1");
    // As in the lab's console, the sender sees its own line come back from the group.
    let echo = user1.wait_kind("chat");
    assert_eq!(
        (echo["from"].as_str(), text(&echo)),
        (Some("user1"), "Hola, soy user1")
    );

    user2.say("Gracias!");
    let seen = user1.wait_kind("chat");
    assert_eq!(
        (seen["from"].as_str(), text(&seen)),
        (Some("user2"), "Gracias!")
    );

    // "quit" in any case leaves; the others are told, and keep chatting.
    user2.say("QUIT");
    assert!(user2.wait_exit().success());
    let left = user1.wait_kind("leave");
    assert_eq!(
        (left["player"].as_str(), left["reason"].as_str()),
        (Some("user2"), Some("quit"))
    );
    assert!(
        !user2
            .events()
            .iter()
            .any(|e| e["kind"] == "chat" && e["text"] == "QUIT"),
        "quit is not sent as chat"
    );

    user1.say("vaya... otra vez solo");
    user1.wait_event("own echo", |v| {
        v["kind"] == "chat" && text(v) == "vaya... otra vez solo"
    });
    // End of input leaves too.
    user1.close_input();
    assert!(user1.wait_exit().success());
}

#[test]
fn plain_text_datagrams_are_chat() {
    let net = Net::fresh();
    let mut alice = player(&net, "alice");
    let mut bob = player(&net, "bob");
    alice.wait_join("bob");

    // What a classmate's Python script from the lab sends, on the text channel: shown under
    // the name marked as a text player's, so that it cannot pass for a gamecast player's.
    net.send_text("user1: Hola\n".as_bytes());
    let chat = alice.wait_kind("chat");
    assert_eq!(
        (chat["from"].as_str(), text(&chat)),
        (Some("~user1"), "Hola")
    );
    // Without a "name:" prefix the sender's address stands for the name.
    net.send_text("hello there".as_bytes());
    let chat = bob.wait_event("unnamed text", |v| {
        v["kind"] == "chat" && text(v) == "hello there"
    });
    assert!(
        chat["from"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{chat}"
    );
}

#[test]
fn garbage_datagrams_are_ignored_and_nothing_breaks() {
    let net = Net::fresh();
    let mut alice = player(&net, "alice");
    let mut bob = player(&net, "bob");
    alice.wait_join("bob");

    let garbage: Vec<Vec<u8>> = vec![
        vec![0xff, 0xfe, 0x00, 0x80],
        b"{\"v\":1,\"kind\":\"ranking\",\"from\":\"x\",\"session\":1,\"seq\":1,\"entries\":7}"
            .to_vec(),
        b"{\"v\":1,\"kind\":\"no-such-kind\",\"from\":\"x\",\"session\":1,\"seq\":1}".to_vec(),
        b"{\"v\":99,\"kind\":\"chat\",\"text\":\"from the future\"}".to_vec(),
        b"{\"v\":1".to_vec(),
        vec![0u8; 9000],
        b"   \n".to_vec(),
    ];
    // On both ports: the text channel's reader and the protocol's are both network input.
    for bytes in &garbage {
        net.send_text(bytes);
        net.send_protocol(bytes);
    }
    net.send_text(b"marker: still alive");
    for p in [&mut alice, &mut bob] {
        p.wait_event("the marker", |v| {
            v["kind"] == "chat" && text(v) == "still alive"
        });
        let events = p.events();
        let notices = events.iter().filter(|e| e["kind"] == "notice").count();
        assert_eq!(
            notices, 1,
            "one notice for the first bad datagram, then quiet: {events:?}"
        );
        let chats: Vec<&str> = events
            .iter()
            .filter(|e| e["kind"] == "chat")
            .map(text)
            .collect();
        assert_eq!(
            chats,
            vec!["still alive"],
            "nothing of the garbage shows: {events:?}"
        );
    }
    alice.say("quit");
    assert!(alice.wait_exit().success());
}

#[test]
fn a_taken_name_is_refused_while_an_announcer_runs() {
    let net = Net::fresh();
    let _host = announcer(&net, &repo("scripts/hello.lua"), &[]);
    let mut alice = welcomed_player(&net, "alice");
    let mut impostor = refused_player(&net, "alice");
    let refused = impostor.wait_kind("refused");
    assert!(text(&refused).is_empty());
    assert!(
        refused["reason"].as_str().unwrap().contains("taken"),
        "{refused}"
    );
    let status = impostor.wait_exit();
    assert!(!status.success(), "a refused player exits non-zero");
    assert!(impostor.stderr().contains("taken"), "{}", impostor.stderr());

    // The real alice is still in the game and was not shown a second "alice entering".
    alice.say("hi");
    alice.wait_event("own chat", |v| v["kind"] == "chat" && text(v) == "hi");
    let joins = alice
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "join" && e["player"] == "alice");
    assert!(joins.count() <= 1, "{:?}", alice.events());
}

#[test]
fn bad_flags_get_clear_errors() {
    let cases: [(&[&str], &str); 4] = [
        (&["--group", "10.1.1.1"], "not a multicast address"),
        (&["--iface", "nosuch0"], "nosuch0"),
        (&["--port", "0"], "--port 0"),
        (&["--port", "70000"], "70000"),
    ];
    for (flags, expected) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_player"))
            .args(["--name", "alice"])
            .args(flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flags:?} was accepted");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_player"))
        .args(["--name", "a\u{1b}[31mb"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("an invisible, control or unusual character")
    );
}

/// In a pipe without --json (the line mode), a `/` command is answered by the player itself
/// and never reaches the group; the first line says where the player listens.
#[test]
fn local_commands_in_a_pipe_never_reach_the_group() {
    let net = Net::fresh();
    let mut bob = player(&net, "bob");
    let mut args = vec!["--name".to_string(), "alice".to_string()];
    args.extend(net.flags());
    let mut alice = Process::spawn_env(None, "alice", env!("CARGO_BIN_EXE_player"), &args, &[]);
    alice.wait_line("where alice listens", |l| {
        matches!(l, Line::Out(s) if s.contains(&format!("[alice joining {}:{} on 127.0.0.1]", net.group, net.port)))
    });
    bob.wait_join("alice");
    alice.wait_line(
        "alice's own join",
        |l| matches!(l, Line::Out(s) if s == "alice: Entering user"),
    );
    alice.say("/who");
    alice.wait_line(
        "the answer to /who",
        |l| matches!(l, Line::Out(s) if s.contains("alice (you): playing")),
    );
    alice.say("//who is there?");
    alice.say("hola");
    let chat = bob.wait_kind("chat");
    assert_eq!(
        text(&chat),
        "/who is there?",
        "// sends a line that starts with /"
    );
    let chat = bob.wait_kind("chat");
    assert_eq!(text(&chat), "hola");
    assert!(
        bob.events().iter().all(|e| text(e) != "/who"),
        "{:?}",
        bob.events()
    );
    alice.say("/quit");
    assert!(alice.wait_exit().success());
}
