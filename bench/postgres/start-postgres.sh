#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL cluster tuned for the unilevel baseline.
#
# stdout: `export PGHOST=... PGPORT=... PGUSER=... PGDATABASE=...` lines, so callers can
#         eval "$(bench/postgres/start-postgres.sh)"
# stderr: progress and the same instructions for humans.
#
# Environment: UPLINE_CACHE (default ~/.cache/upline), UPLINE_PG_PORT (default 54329),
#              UPLINE_PG_JIT (default on), UPLINE_PG_SHARED_BUFFERS (default 2GB).
set -euo pipefail

CACHE=${UPLINE_CACHE:-$HOME/.cache/upline}
PORT=${UPLINE_PG_PORT:-54329}
JIT=${UPLINE_PG_JIT:-on}
SHARED_BUFFERS=${UPLINE_PG_SHARED_BUFFERS:-2GB}

log() { printf 'start-postgres: %s\n' "$*" >&2; }

find_bindir() {
  local d best=""
  # Debian keeps server binaries out of PATH; pick the newest installed major version.
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] && best=$d
  done
  if [[ -z $best ]] && command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    best=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
  fi
  printf '%s' "$best"
}

BINDIR=$(find_bindir)
if [[ -z $BINDIR ]]; then
  log "PostgreSQL server not found; installing Debian's postgresql package"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
  BINDIR=$(find_bindir)
  [[ -n $BINDIR ]] || { log "no initdb/pg_ctl after installing postgresql"; exit 1; }
fi

# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system
# user. That user usually cannot traverse $HOME (/root is 0700); then the cluster lives in a
# postgres-owned directory under /var/tmp and $CACHE/postgres is a symlink to it, so every
# path below still goes through the cache. We never loosen permissions on $HOME.
mkdir -p "$CACHE"
PGROOT_LINK=$CACHE/postgres
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || { log "running as root but there is no 'postgres' user"; exit 1; }
  AS_PG=(runuser -u postgres --)
  if [[ ! -e $PGROOT_LINK ]]; then
    mkdir -p "$PGROOT_LINK"
    chown postgres: "$PGROOT_LINK"
    if ! "${AS_PG[@]}" test -w "$PGROOT_LINK"; then
      rmdir "$PGROOT_LINK"
      alt=/var/tmp/upline-postgres-$(printf '%s' "$(readlink -f "$CACHE")" | cksum | cut -d' ' -f1)
      mkdir -p "$alt"
      chown postgres: "$alt"
      chmod 0700 "$alt"
      ln -s "$alt" "$PGROOT_LINK"
      log "postgres cannot reach $CACHE; cluster kept in $alt (symlinked from $PGROOT_LINK)"
    fi
  fi
else
  AS_PG=()
  mkdir -p "$PGROOT_LINK"
fi
PGROOT=$(readlink -f "$PGROOT_LINK")
DATA=$PGROOT/data
SOCK=$PGROOT/run
LOGFILE=$PGROOT/server.log
if [[ $(id -u) -eq 0 ]]; then
  "${AS_PG[@]}" mkdir -p "$SOCK"
else
  mkdir -p "$SOCK"
fi

pg() { "${AS_PG[@]}" "$BINDIR/$1" "${@:2}"; }

if [[ ! -f $DATA/PG_VERSION ]]; then
  log "initdb $DATA"
  # C locale: ids compare as byte strings and btree comparisons stay cheap.
  pg initdb -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
fi

# Rewritten on every start so a changed setting takes effect at the next (re)start.
# Why these values:
#  - fsync/synchronous_commit/full_page_writes off, wal_level minimal: a throwaway benchmark
#    cluster; durability is not what we measure and a company's replica would not pay WAL
#    flushes inside a read-mostly close either.
#  - shared_buffers 2GB, work_mem 256MB: the 1M network (tables + indexes ~ 300 MB) and the
#    hash tables of the recursive walk fit in memory, so we time the algorithm, not the disk.
#  - jit on (PostgreSQL's default): measured on the 1M network it made the query faster
#    (26.6 s vs 34.8 s, 32.9 s vs 40.0 s in paired runs), as the walk evaluates the same CASE and
#    numeric expressions millions of times. UPLINE_PG_JIT=off to compare.
#  - listen_addresses '': unix socket only, inside the cache, so no TCP port can clash.
conf_tmp=$(mktemp)
cat >"$conf_tmp" <<CONF
# written by bench/postgres/start-postgres.sh
listen_addresses = ''
port = $PORT
unix_socket_directories = '$SOCK'
shared_buffers = $SHARED_BUFFERS
work_mem = 256MB
maintenance_work_mem = 1GB
effective_cache_size = 16GB
random_page_cost = 1.1
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 16GB
checkpoint_timeout = 1h
max_worker_processes = 8
max_parallel_workers = 4
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
jit = $JIT
autovacuum = off
log_min_duration_statement = -1
CONF
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$conf_tmp"; fi
chmod 0644 "$conf_tmp"
"${AS_PG[@]}" cp "$conf_tmp" "$DATA/upline-bench.conf"
rm -f "$conf_tmp"
if ! grep -q "^include_if_exists = 'upline-bench.conf'" "$DATA/postgresql.conf"; then
  "${AS_PG[@]}" sh -c "echo \"include_if_exists = 'upline-bench.conf'\" >> '$DATA/postgresql.conf'"
fi

if pg pg_ctl -D "$DATA" status >/dev/null 2>&1; then
  log "reusing the server already running on $DATA"
  # Settings that need no restart (jit, work_mem, ...) follow the rewritten file.
  pg pg_ctl -D "$DATA" reload >/dev/null
else
  log "starting PostgreSQL ($BINDIR) on $SOCK port $PORT (log: $LOGFILE)"
  pg pg_ctl -D "$DATA" -l "$LOGFILE" -w -t 120 -o "-k $SOCK -p $PORT" start >/dev/null
fi

# pg_ctl -w already waits, but a reused server may still be in recovery after a crash.
for _ in $(seq 1 120); do
  if "$BINDIR/pg_isready" -q -h "$SOCK" -p "$PORT"; then break; fi
  sleep 0.5
done
"$BINDIR/pg_isready" -q -h "$SOCK" -p "$PORT" || { log "server not ready; see $LOGFILE"; exit 1; }

cat <<ENV
export PGHOST='$SOCK'
export PGPORT='$PORT'
export PGUSER='postgres'
export PGDATABASE='postgres'
export UPLINE_PG_BINDIR='$BINDIR'
ENV
log "ready. To connect: eval \"\$($0)\" && psql   (PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres)"
