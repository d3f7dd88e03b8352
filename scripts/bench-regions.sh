#!/usr/bin/env bash
# scripts/bench-regions.sh [UPLINE] [BENCH ARGUMENTS...]
#
# The cross-region figures of `upline bench events`: starts three real nats-servers the way
# regions/ describes them — us-east (JetStream domain us-east), a link server without
# JetStream, eu-west (domain eu-west) reaching us-east through the link by leaf nodes — runs
# `upline bench events --nats <eu-west> --home-nats <us-east>` and removes the servers after.
# UPLINE defaults to target/release/upline; further arguments go to the bench, e.g.
#   scripts/bench-regions.sh target/release/upline --events 100000 --rate 1000
set -euo pipefail
cd "$(dirname "$0")/.."
upline=${1:-target/release/upline}
shift || true
nats=tests/services/nats.sh
tag=bench-$$
value() { sed -n "s/^$1=//p"; }

cleanup() {
  for name in "eu-west-$tag" "link-$tag" "us-east-$tag"; do bash "$nats" remove "$name" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

us=$(UPLINE_NATS_DOMAIN=us-east UPLINE_NATS_LEAF_LISTEN=1 bash "$nats" start "us-east-$tag")
link=$(UPLINE_NATS_NO_JETSTREAM=1 UPLINE_NATS_LEAF_LISTEN=1 \
  UPLINE_NATS_LEAF_REMOTES=$(value UPLINE_NATS_LEAF <<<"$us") bash "$nats" start "link-$tag")
eu=$(UPLINE_NATS_DOMAIN=eu-west UPLINE_NATS_LEAF_REMOTES=$(value UPLINE_NATS_LEAF <<<"$link") \
  bash "$nats" start "eu-west-$tag")

"$upline" bench events --nats "$(value UPLINE_NATS <<<"$eu")" \
  --home-nats "$(value UPLINE_NATS <<<"$us")" "$@"
