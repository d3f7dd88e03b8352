#!/usr/bin/env bash
# Load DIR/distributors.csv and DIR/orders.csv into schema upline_bench (recreated).
# Needs PGHOST/PGPORT/PGUSER/PGDATABASE (eval "$(start-postgres.sh)").
# Prints the load wall time in seconds (create + COPY + indexes + ANALYZE) on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: load.sh DIR}
for f in distributors.csv orders.csv; do
  [[ -r $dir/$f ]] || { echo "load.sh: $dir/$f not readable" >&2; exit 1; }
done
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
t0=$(date +%s.%N)
psql_q -f "$here/schema.sql"
# COPY FROM STDIN: the server (user postgres) need not be able to read the caller's files.
psql_q -c "COPY upline_bench.distributors FROM STDIN (FORMAT csv, HEADER true)" <"$dir/distributors.csv"
psql_q -c "COPY upline_bench.orders FROM STDIN (FORMAT csv, HEADER true)" <"$dir/orders.csv"
psql_q -f "$here/index.sql"
t1=$(date +%s.%N)
python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t0" "$t1"
