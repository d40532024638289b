#!/usr/bin/env bash
# The tests, with their set-up: installs what they need where it can (as root, with apt-get:
# iproute2 and nftables for the namespace LAN tests, redis-server for the benchmarks' broker
# rows), says what it could not, then runs `cargo test`. Tests that cannot run here print
# SKIPPED and why; with GAMECAST_NO_SKIP=1 (as .ci/run sets it) a skip is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in ip nft redis-server; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing what the tests need (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq iproute2 nftables redis-server >/dev/null; } \
      || echo "warning: apt-get could not install iproute2, nftables, redis-server"
  else
    echo "note: ${missing[*]} missing and not installable here (needs root and apt-get):"
    echo "      the namespace LAN tests will say SKIPPED"
  fi
fi
if [ "$(id -u)" != 0 ]; then
  echo "note: not root: the namespace LAN tests (tests/e2e/reliable.rs, lan.rs) will say SKIPPED"
fi

echo "== cargo test"
exec cargo test "$@"
