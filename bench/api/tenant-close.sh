#!/usr/bin/env bash
# tenant-close.sh UPLINE_BIN DISTRIBUTORS [SERVE_ARGS...]
#
# What closing a tenant for good costs (`DELETE /v1/tenants/{id}`, which erases every
# distributor's personal data): a fresh `upline serve` (embedded store in a new folder, or the
# store SERVE_ARGS name, e.g. `--store scylla --scylla-nodes … --region … --datacenter …`,
# migrated beforehand), a tenant whose DISTRIBUTORS distributors are imported as NDJSON, each
# with a name and an email, then the close. Prints the import's and the close's seconds, the
# profiles the close reports erased, and the serving process's peak resident memory during
# the close alone (VmHWM, reset before it) beside its resident memory before.
set -euo pipefail
bin=${1:?usage: tenant-close.sh UPLINE_BIN DISTRIBUTORS [SERVE_ARGS...]}
count=${2:?usage: tenant-close.sh UPLINE_BIN DISTRIBUTORS [SERVE_ARGS...]}
shift 2
port=${TENANT_CLOSE_PORT:-18112}
tenant=${TENANT_CLOSE_ID:-leaving-$(date +%s)}
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf -- "$work"' EXIT
api=http://127.0.0.1:$port/v1
admin=tenant-close-admin-token
seconds_since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$1"; }

"$bin" generate --distributors 1 --seed 1 --plan unilevel --out "$work/plan" >/dev/null 2>&1
python3 - "$count" >"$work/people.ndjson" <<'EOF'
import json, sys
count = int(sys.argv[1])
for n in range(count):
    row = {"id": f"p{n:08d}", "joined_on": "2026-10-01",
           "profile": {"name": f"Person {n}", "email": f"person{n}@example.com"}}
    if n:
        row["sponsor_id"] = f"p{(n - 1) // 4:08d}"
    print(json.dumps(row, separators=(",", ":")))
EOF

UPLINE_ADMIN_TOKEN=$admin "$bin" serve --data "$work/data" --listen "127.0.0.1:$port" "$@" \
  >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/serve.log" >&2; exit 1; }

python3 - "$tenant" "$work/plan/plan.json" >"$work/tenant.json" <<'EOF'
import json, sys
print(json.dumps({"id": sys.argv[1], "name": sys.argv[1], "plan": json.load(open(sys.argv[2]))}))
EOF
curl -sf -H "Authorization: Bearer $admin" -H 'content-type: application/json' \
  -d @"$work/tenant.json" "$api/tenants" >/dev/null
key=$(curl -sf -X POST -H "Authorization: Bearer $admin" "$api/tenants/$tenant/api-keys" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')

started=$(date +%s.%N)
curl -sf -H "Authorization: Bearer $key" -H 'content-type: application/x-ndjson' \
  --data-binary @"$work/people.ndjson" "$api/distributors/import" >"$work/import.json"
import_s=$(seconds_since "$started")
enrolled=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["enrolled"])' "$work/import.json")

echo 5 >"/proc/$pid/clear_refs"   # the peak below is the close's alone
before=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
started=$(date +%s.%N)
curl -sf --max-time 3600 -X DELETE -H "Authorization: Bearer $admin" "$api/tenants/$tenant" >"$work/close.json"
close_s=$(seconds_since "$started")
peak=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
erased=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["profiles_erased"])' "$work/close.json")

echo "distributors imported      $enrolled in ${import_s} s"
echo "tenant close               ${close_s} s"
echo "profiles erased            $erased"
echo "RSS before the close        $before MiB"
echo "peak RSS during the close  $peak MiB"
[[ $erased -eq $enrolled ]] || { echo "tenant-close.sh: erased $erased of $enrolled" >&2; exit 1; }
