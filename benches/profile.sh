#!/usr/bin/env bash
# Profiles the announcer and a player with valgrind's callgrind under the throughput load of
# `cargo bench --bench gamecast -- throughput` (benches/lua/announce.lua), on loopback only.
# Usage: benches/profile.sh [EVENTS]   (default 20000; needs valgrind: apt-get install valgrind)
# Writes target/profile/cg.announcer and target/profile/cg.player; read them with
#   callgrind_annotate --inclusive=yes target/profile/cg.player | less
#
# benches/profile.sh scale [PLAYERS…]   (default 10 100 300)
# Counts the announcer's instructions in each phase of one game of the scale suite (simulated
# in one process: only the announcer's task is counted), and of them the in-memory group's
# fan-out and the ticks (the script's timers, what they announce, its encoding and sending):
# instructions do not go cold in a cache, so a count per event that stays flat as the game
# grows shows the work per event flat, whatever the CPU clock says. Prints a table. Each
# phase's count runs from its mark to the next, waits included (the join storm's from the
# start, the lossy phase's with the half second before it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/profile
mkdir -p "$OUT"

if [ "${1:-}" = scale ]; then
  shift
  sizes=("$@")
  [ ${#sizes[@]} -gt 0 ] || sizes=(10 100 300)
  built=$(cargo bench --bench gamecast --no-run 2>&1) || { echo "$built" >&2; exit 1; }
  bench=$(sed -n 's/.*Executable .*(\(.*\)).*/\1/p' <<<"$built" | tail -1)
  [ -x "$bench" ] || { echo "benches/profile.sh: cannot find the benchmark's binary" >&2; exit 1; }
  # The phases' names, in the order scale.rs's `phase` marks them; the first runs from the
  # start, the last until the end.
  phases=("join storm" "idle 2 s" "ranking" "400 events" "400 events, players not reading" "400 events, 10% lost" "end")
  printf '| players | phase | instructions | of them the fan-out | the ticks (the work of events) | per event | the rest (receiving, the console, the loop) |\n| --- | --- | --- | --- | --- | --- | --- |\n'
  # A function's inclusive count in $annotated: the first line that names it.
  count() { awk -v f="$1" 'index($0, f " [") { gsub(",", "", $1); print $1; exit }' <<<"$annotated"; }
  for n in "${sizes[@]}"; do
    rm -f "$OUT/cg.scale.$n" "$OUT/cg.scale.$n".*
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.scale.$n" \
      --toggle-collect='*OnCpu*poll*' --dump-before='*gamecast::scale::phase*' \
      "$bench" --scale-game "$n" >/dev/null 2>"$OUT/cg.scale.$n.log" \
      || { echo "benches/profile.sh: the game of $n failed: see $OUT/cg.scale.$n.log" >&2; exit 1; }
    # One part per mark (numbered in order), and the last at the exit (not numbered).
    parts=()
    for k in $(seq 1 $((${#phases[@]} - 1))); do parts+=("$OUT/cg.scale.$n.$k"); done
    parts+=("$OUT/cg.scale.$n")
    for f in "${parts[@]}"; do
      [ -f "$f" ] || { echo "benches/profile.sh: no $f: were the phase marks inlined away?" >&2; exit 1; }
    done
    i=0
    for f in "${parts[@]}"; do
      total=$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$f")
      annotated=$(callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null || true)
      fanout=$(count gamecast::link::memory::Hub::deliver)
      ticks=$(count gamecast::announcer::core::Announcer::tick)
      fanout=${fanout:-0} ticks=${ticks:-0} total=${total:-0}
      per=""
      case "${phases[$i]}" in
        400*)
          [ -n "$ticks" ] || { echo "benches/profile.sh: no Announcer::tick in $f (inlined?)" >&2; exit 1; }
          per=$((ticks / 400))
          ;;
      esac
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$n" "${phases[$i]}" "$total" "$fanout" "$ticks" "$per" \
        $((total - fanout - ticks))
      i=$((i + 1))
    done
  done
  exit 0
fi

N=${1:-20000}
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
