#!/usr/bin/env bash
# Stop the benchmark cluster started by start-postgres.sh. `--purge` also deletes it.
set -euo pipefail
CACHE=${UPLINE_CACHE:-$HOME/.cache/upline}
PGROOT_LINK=$CACHE/postgres
log() { printf 'stop-postgres: %s\n' "$*" >&2; }
if [[ ! -e $PGROOT_LINK ]]; then log "no cluster under $PGROOT_LINK"; exit 0; fi
PGROOT=$(readlink -f "$PGROOT_LINK")
DATA=$PGROOT/data
BINDIR=""
for d in /usr/lib/postgresql/*/bin; do [[ -x $d/pg_ctl ]] && BINDIR=$d; done
[[ -n $BINDIR ]] || BINDIR=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
AS_PG=(); [[ $(id -u) -eq 0 ]] && AS_PG=(runuser -u postgres --)
if [[ -f $DATA/PG_VERSION ]] && "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  log "stopped $DATA"
else
  log "not running: $DATA"
fi
if [[ ${1:-} == --purge ]]; then
  rm -rf -- "$PGROOT"
  [[ -L $PGROOT_LINK ]] && rm -f -- "$PGROOT_LINK"
  log "removed $PGROOT"
fi
