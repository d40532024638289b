#!/usr/bin/env bash
# What `cargo bench --bench gamecast` needs besides Rust, installed where it can be (as root,
# with apt-get): iproute2 and nftables for the namespace LAN, redis-server for the broker
# rows, nats-server for the NATS suite, liblcm-dev for the suite beside LCM. The suites that
# cannot run without one of them say so and skip their rows.
set -uo pipefail
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "benches/setup.sh: needs root and apt-get; install iproute2 nftables redis-server nats-server liblcm-dev yourself"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq iproute2 nftables redis-server nats-server liblcm-dev >/dev/null \
  && echo "benches/setup.sh: iproute2, nftables, redis-server, nats-server and liblcm-dev are installed"
