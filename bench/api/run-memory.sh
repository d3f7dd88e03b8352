#!/usr/bin/env bash
# run-memory.sh UPLINE_BIN DEMO_DATA
#
# What a run's work costs the serving process: on a copy of DEMO_DATA (a folder made by
# `upline demo --no-serve --data DEMO_DATA`, whose period 2026-11 is committed), three steps,
# each in a fresh `upline demo` serving the copy so that its peak resident memory (VmHWM)
# belongs to that step alone:
#   post     POST /v1/runs/{run}/post of the committed run (one transfer per line);
#   restate  a refund of one paid order of the period: the posted run is restated (computed
#            again, committed, the differences posted) and superseded;
#   next     POST /v1/runs for 2026-12: a run reading the restated run's carry state.
# For each: seconds from the request to the end, resident memory when ready, and the peak.
set -euo pipefail
bin=${1:?usage: run-memory.sh UPLINE_BIN DEMO_DATA}
base=${2:?usage: run-memory.sh UPLINE_BIN DEMO_DATA}
port=${RUN_MEMORY_PORT:-18111}
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf -- "$work"' EXIT
cp -r "$base" "$work/data"
api=http://127.0.0.1:$port/v1

serve() {
  "$bin" demo --data "$work/data" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do grep -q "API key" "$work/serve.log" && break; sleep 0.1; done
  key=$(sed -n 's/.*API key: *//p' "$work/serve.log")
  [[ -n $key ]] || { cat "$work/serve.log" >&2; exit 1; }
  ready_mib=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
  started=$(date +%s.%N)
}
call() { curl -sf -H "Authorization: Bearer $key" "$@"; }
runs() { call "$api/runs" | python3 -c "import json, sys; $1"; }
wait_until() {
  for _ in $(seq 3000); do [[ $(runs "$1") == yes ]] && return; sleep 0.2; done
  echo "run-memory.sh: gave up waiting" >&2; exit 1
}
report() {
  local seconds peak
  seconds=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)")
  peak=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
  printf '%-8s %6s s   ready %5s MiB   peak %5s MiB\n' "$1" "$seconds" "$ready_mib" "$peak"
  kill "$pid"; wait "$pid" || true
}

serve
run=$(runs 'print(next(r["run_id"] for r in json.load(sys.stdin) if r["status"] == "committed"))')
call -X POST "$api/runs/$run/post" >/dev/null
report post

serve
order=$(awk -F, '$3 ~ /^2026-11/ && $6 == "paid" {print $1; exit}' "$work/data/demo-input/orders.csv")
call -X POST "$api/orders/$order/refund" >/dev/null
wait_until 'r = json.load(sys.stdin); print("yes" if any(x["status"] == "superseded" for x in r) and all(x["status"] in ("posted", "superseded") for x in r) else "no")'
report restate

serve
call -X POST -H 'content-type: application/json' -d '{"period":"2026-12"}' "$api/runs" >/dev/null
wait_until 'print("yes" if any(r["period"] == "2026-12" and r["status"] != "running" for r in json.load(sys.stdin)) else "no")'
runs 'print("2026-12:", next(r["status"] for r in json.load(sys.stdin) if r["period"] == "2026-12"))'
report next
