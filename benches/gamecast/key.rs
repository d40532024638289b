//! What a game key costs: signing and checking one datagram in-process, against reading it
//! without a key; and the announce throughput ladder with a key, against the same without one.

use std::hint::black_box;
use std::time::Instant;

use gamecast::key::GameKey;
use gamecast::protocol::{self, Announcement, Guard, Origin, Payload};

use crate::common::temp_dir;
use crate::report::ratio;
use crate::throughput::{Sender, ladder, row};

pub fn run(smoke: bool) -> String {
    let per_datagram = per_datagram(if smoke { 2_000 } else { 200_000 });
    let key = key_file();
    let key_flags = ["--key-file", key.to_str().unwrap()];
    let player_counts: &[usize] = if smoke { &[1] } else { &[1, 4] };
    let mut rows = Vec::new();
    for &players in player_counts {
        let open = ladder(players, smoke, Sender::Gamecast, &[]);
        let keyed = ladder(players, smoke, Sender::Gamecast, &key_flags);
        rows.push(row(players, &keyed, &open));
    }
    format!(
        "### Game key\n\n\
         In-process, per ~200-byte announcement datagram (mean of the run): reading it without \
         a key (`protocol::decode`) is the baseline; with a key the sender signs it \
         (`Guard::seal`: HMAC-SHA256, hex) and the receiver checks the signature, reads it and \
         checks for a replay (`Guard::open`).\n\n\
         {per_datagram}\n\
         The throughput ladder of the announce suite (benches/lua/announce.lua, real players), \
         with `--key-file` on the announcer and every player, against the same game without a \
         key in the same run.\n\n\
         | players | with a key: best zero-loss rate | without: best zero-loss rate | with vs without | with a key: first step with loss | without: first step with loss |\n\
         | --- | --- | --- | --- | --- | --- |\n\
         {}\n",
        rows.join("\n")
    )
}

/// A key file for the run, readable by its owner alone.
fn key_file() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = temp_dir().join("bench.key");
    std::fs::write(&path, "a benchmark key, not a secret\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn per_datagram(count: usize) -> String {
    let mut origin = Origin::new("announcer");
    let padding = "x".repeat(100);
    let datagrams: Vec<Vec<u8>> = (0..count)
        .map(|n| {
            let text = format!("@{n} {padding}");
            let payload = Payload::announcement(&Announcement::Announce { text }).unwrap();
            origin.datagrams(&payload).remove(0).1
        })
        .collect();
    let key = GameKey::new(b"a benchmark key, not a secret", "bench").unwrap();
    let sender = Guard::new(Some(&key));
    let mut receiver = Guard::new(Some(&key));

    let started = Instant::now();
    for bytes in &datagrams {
        black_box(protocol::decode(black_box(bytes)));
    }
    let decode = started.elapsed().as_secs_f64() / count as f64 * 1e9;

    let started = Instant::now();
    let sealed: Vec<Vec<u8>> = datagrams
        .iter()
        .map(|bytes| sender.seal(black_box(bytes)).into_owned())
        .collect();
    let seal = started.elapsed().as_secs_f64() / count as f64 * 1e9;

    let started = Instant::now();
    for bytes in &sealed {
        assert!(matches!(
            receiver.open(black_box(bytes)),
            protocol::Decoded::Datagram(_)
        ));
    }
    let open = started.elapsed().as_secs_f64() / count as f64 * 1e9;

    format!(
        "| step ({count} datagrams) | ns per datagram | vs reading without a key |\n\
         | --- | --- | --- |\n\
         | read without a key (baseline) | {decode:.0} | 1.00× |\n\
         | sign (sender) | {seal:.0} | {} |\n\
         | check and read (receiver) | {open:.0} | {} |\n",
        ratio(seal, decode),
        ratio(open, decode),
    )
}
