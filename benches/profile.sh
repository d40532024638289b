#!/usr/bin/env bash
# Profiles the announcer and a player with valgrind's callgrind under the throughput load of
# `cargo bench --bench gamecast -- throughput` (benches/lua/announce.lua), on loopback only.
# Usage: benches/profile.sh [EVENTS]   (default 20000; needs valgrind: apt-get install valgrind)
# Writes target/profile/cg.announcer and target/profile/cg.player; read them with
#   callgrind_annotate --inclusive=yes target/profile/cg.player | less
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
OUT=target/profile
mkdir -p "$OUT"
cargo build --release --quiet --bin announcer --bin player
B=target/release
NET=(--group 239.77.9.9 --port 47555 --iface 127.0.0.1)

# Waits (at most 120 s) until file $1 has at least $2 lines matching $3.
wait_for() {
  for _ in $(seq 1 240); do
    [ "$(grep -c -- "$3" "$1" 2>/dev/null || true)" -ge "$2" ] && return 0
    sleep 0.5
  done
  echo "timed out waiting for $3 in $1" >&2
  return 1
}

# One run: the announcer (under $1, or plain), a player (under $2, or plain) that says "go",
# both stopped once the player has shown every event.
run() {
  local announcer_tool=$1 player_tool=$2 rate=$3 log="$OUT/announcer.log" got="$OUT/player.out"
  : >"$got"
  # Under callgrind everything runs some 50 times slower: no limit on the time of a call.
  $announcer_tool $B/announcer benches/lua/announce.lua "${NET[@]}" --no-watch --call-limit 600000 \
    --set count="$N" --set rate="$rate" >"$log" 2>&1 &
  local announcer=$!
  wait_for "$log" 1 "gamecast announcer"
  # The player's stdin stays open (the feeder sleeps) so that it does not quit after "go".
  rm -f "$OUT/stdin" && mkfifo "$OUT/stdin"
  { echo go; exec sleep 3600; } >"$OUT/stdin" &
  local feeder=$!
  $player_tool $B/player --json --name profiled "${NET[@]}" <"$OUT/stdin" >"$got" 2>/dev/null &
  local player=$!
  wait_for "$got" "$N" '"text":"@'
  # The announcer's close makes the player leave and exit normally: callgrind writes its
  # profile at a normal exit.
  kill -INT $announcer
  wait $announcer || true
  wait $player || true
  kill $feeder 2>/dev/null || true
  rm -f "$OUT/stdin"
}

echo "announcer under callgrind, $N events as fast as it can send them"
run "valgrind --tool=callgrind --callgrind-out-file=$OUT/cg.announcer" "" 0
# Under callgrind the player runs some 50 times slower: a rate it keeps up with.
echo "player under callgrind, $N events at 2000/s"
run "" "valgrind --tool=callgrind --callgrind-out-file=$OUT/cg.player" 2000
echo "wrote $OUT/cg.announcer and $OUT/cg.player"
