#!/usr/bin/env bash
# The main job on the embedded default (no external services): generate a one-million-
# distributor network and close its period with `upline commissions`.
#   UPLINE_DISTRIBUTORS (default 1000000), UPLINE_SEED (1), UPLINE_PLAN (full), UPLINE_WORK (a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
distributors=${UPLINE_DISTRIBUTORS:-1000000}
seed=${UPLINE_SEED:-1}
plan=${UPLINE_PLAN:-full}
work=${UPLINE_WORK:-$(mktemp -d -t upline-main-job.XXXXXX)}
cargo build --release --quiet
upline=target/release/upline
"$upline" generate --distributors "$distributors" --seed "$seed" --plan "$plan" --out "$work/network"
"$upline" commissions \
  --plan "$work/network/plan.json" \
  --distributors "$work/network/distributors.csv" \
  --orders "$work/network/orders.csv" \
  --state "$work/network/state.csv" \
  --period "$(cat "$work/network/period")" \
  --out "$work/close"
echo "inputs in $work/network, lines.csv, summary.csv and state.csv in $work/close"
