#!/usr/bin/env bash
# unilevel.sh DIR OUT_CSV [LINES_CSV]: PostgreSQL's unilevel totals for the run in DIR.
# Loads DIR into the (started) cluster, runs unilevel.sql, writes `id,unilevel` to OUT_CSV
# (and the lines to LINES_CSV if given). Prints `load_seconds X` and `query_seconds Y`.
# Needs PG* variables (eval "$(start-postgres.sh)").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: unilevel.sh DIR OUT_CSV [LINES_CSV]}
out=${2:?usage: unilevel.sh DIR OUT_CSV [LINES_CSV]}
lines=${3:-}
params=$(python3 "$here/plan_params.py" "$dir")
declare period_start period_end min_pv levels nlevels compression decimals
while IFS='=' read -r k v; do
  case $k in
    period_start|period_end|min_pv|levels|nlevels|compression|decimals) printf -v "$k" '%s' "$v" ;;
  esac
done <<<"$params"

# One run at a time: every run reuses schema upline_bench in the shared cluster.
cache=${UPLINE_CACHE:-$HOME/.cache/upline}
mkdir -p "$cache"
exec 9>"$cache/postgres-bench.lock"
flock 9

echo "load_seconds $("$here/load.sh" "$dir")"
psql -X -q -v ON_ERROR_STOP=1 \
  -v period_start="$period_start" -v period_end="$period_end" -v min_pv="$min_pv" \
  -v levels="$levels" -v nlevels="$nlevels" -v compression="$compression" \
  -v decimals="$decimals" -f "$here/unilevel.sql"
psql -X -q -v ON_ERROR_STOP=1 -v decimals="$decimals" -f "$here/export.sql" >"$out"
if [[ -n $lines ]]; then
  psql -X -q -v ON_ERROR_STOP=1 -v decimals="$decimals" -f "$here/export-lines.sql" >"$lines"
fi
