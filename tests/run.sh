#!/usr/bin/env bash
# The tests, with their set-up: installs what they need where it can (as root, with apt-get:
# iproute2 and nftables for the namespace LAN tests, redis-server for the benchmarks' broker
# rows, lua-check for the scripts' lint, tmux for the full-screen player's tests, chromium for the
# scoreboard's page, nats-server and openssl for the games over NATS; with cargo: emmylua_check,
# the scripts' type checker, which takes minutes to build the first time; with npm:
# playwright-core, which drives chromium), says what it could not,
# then runs `cargo test`. Tests that cannot run here print
# SKIPPED and why; with GAMECAST_NO_SKIP=1 (as .ci/run sets it) a skip is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in ip nft redis-server luacheck tmux chromium nats-server openssl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing what the tests need (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq iproute2 nftables redis-server lua-check tmux \
        chromium nats-server openssl >/dev/null; } \
      || echo "warning: apt-get could not install iproute2, nftables, redis-server, lua-check, tmux, chromium, nats-server, openssl"
  else
    echo "note: ${missing[*]} missing and not installable here (needs root and apt-get):"
    echo "      the tests that need them will say SKIPPED"
  fi
fi
if ! command -v emmylua_check >/dev/null; then
  echo "== installing emmylua_check, the scripts' type checker (cargo install: a few minutes, once)"
  cargo install emmylua_check --locked --quiet \
    || echo "warning: could not install emmylua_check: the type-check test will say SKIPPED"
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  if command -v npm >/dev/null; then
    echo "== installing playwright-core for the scoreboard's browser test (npm, no browser download)"
    (cd tests/browser && npm ci --no-audit --no-fund --quiet) \
      || echo "warning: npm could not install playwright-core: the scoreboard test will say SKIPPED"
  else
    echo "note: npm is missing: the scoreboard's browser test will say SKIPPED"
  fi
fi
if [ "$(id -u)" != 0 ]; then
  echo "note: not root: the namespace LAN tests (tests/e2e/reliable.rs, lan.rs, nats.rs) will say SKIPPED"
fi

echo "== cargo test"
exec cargo test "$@"
