#!/usr/bin/env bash
# baseline.sh DIR [UPLINE_BIN]
#
# The PostgreSQL baseline for the unilevel bonus: loads DIR (plan.json, distributors.csv,
# orders.csv, optional state.csv, period) into PostgreSQL, computes every distributor's
# unilevel total with a recursive CTE (unilevel.sql), runs `upline commissions` on the same
# files, and checks that both agree for every distributor. Exits 1 on any mismatch.
#
# UPLINE_BIN defaults to target/release/upline of this repository; if that default is absent
# only the PostgreSQL side runs. Timings: PostgreSQL load (create, COPY, indexes, ANALYZE),
# PostgreSQL query (server-side, the compute statements only), upline whole run (wall clock of
# the process: parse, compute, write all three outputs), the median of BASELINE_RUNS runs
# (default 5), each into a fresh output folder and checked against PostgreSQL's totals.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${1:?usage: baseline.sh DIR [UPLINE_BIN]}
dir=$(cd "$dir" && pwd)
if [[ $# -ge 2 ]]; then
  upline=$2
  [[ -x $upline ]] || { echo "baseline.sh: $upline is not an executable" >&2; exit 2; }
else
  upline=$repo/target/release/upline
  if [[ ! -x $upline ]]; then
    echo "baseline.sh: $upline not built; running the PostgreSQL side only" >&2
    upline=""
  fi
fi

params=$(python3 "$here/plan_params.py" "$dir")
period=$(sed -n 's/^period=//p' <<<"$params")
decimals=$(sed -n 's/^decimals=//p' <<<"$params")

eval "$("$here/start-postgres.sh")"
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

rows=$(($(wc -l <"$dir/distributors.csv") - 1))
orders=$(($(wc -l <"$dir/orders.csv") - 1))
echo "== PostgreSQL: $rows distributors, $orders orders, period $period" >&2
pg_out=$("$here/unilevel.sh" "$dir" "$tmp/pg.csv")
load_s=$(sed -n 's/^load_seconds //p' <<<"$pg_out")
query_s=$(sed -n 's/^query_seconds //p' <<<"$pg_out")
echo "   load ${load_s}s, query ${query_s}s" >&2

upline_s="" upline_min="" upline_max="" rss_kb="" status=0
runs=${BASELINE_RUNS:-5}
if [[ -n $upline ]]; then
  echo "== upline: $upline ($runs runs, median reported)" >&2
  # PostgreSQL leaves gigabytes of table pages to write back; flushing them first keeps the
  # disk's catching up out of upline's time.
  sync
  timer=()
  [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -v -o "$tmp/time.txt")
  times=()
  for run in $(seq 1 "$runs"); do
    args=(commissions --plan "$dir/plan.json" --distributors "$dir/distributors.csv"
          --orders "$dir/orders.csv" --period "$period" --out "$tmp/out-$run")
    [[ -f $dir/state.csv ]] && args+=(--state "$dir/state.csv")
    [[ $run -gt 1 ]] && args+=(--quiet)
    t0=$(date +%s.%N)
    "${timer[@]}" "$upline" "${args[@]}"
    t1=$(date +%s.%N)
    times+=("$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t0" "$t1")")
    [[ -f $tmp/time.txt ]] && rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
    python3 "$here/compare.py" "$tmp/pg.csv" "$tmp/out-$run/summary.csv" "$decimals" || status=1
    rm -rf -- "$tmp/out-$run"
  done
  read -r upline_s upline_min upline_max < <(python3 -c "import statistics, sys; t = sorted(map(float, sys.argv[1:])); print(f'{statistics.median(t):.3f} {t[0]:.3f} {t[-1]:.3f}')" "${times[@]}")
  echo "   whole run ${times[*]} s; median ${upline_s}s" >&2
fi

echo "== result"
echo "rows (distributors)        $rows"
echo "orders                     $orders"
echo "postgres load seconds      $load_s"
echo "postgres query seconds     $query_s"
if [[ -n $upline ]]; then
  echo "upline whole-run seconds   $upline_s (median of $runs; min $upline_min, max $upline_max)"
  [[ -n $rss_kb ]] && echo "upline peak RSS MiB        $((rss_kb / 1024))"
  echo "ratio query/upline         $(python3 -c "import sys; print(f'{float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9):.1f}')" "$query_s" "$upline_s")"
  echo "unilevel totals agree      $([[ $status -eq 0 ]] && echo yes || echo NO)"
fi
exit $status
