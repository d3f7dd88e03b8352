#!/usr/bin/env bash
# tests/services/nats.sh start|stop|resume|remove|status [NAME]
#
# Real nats-server processes with JetStream for the tests (../shared/REAL_SERVICES.md): a
# current server built once through the Go module proxy (Debian's 2.9 silently ignores newer
# stream options), cached by version outside the repository. Each server has a NAME (default
# `shared`; a region's tests use one per region, a fault test one of its own) and a directory
# under the cache with its JetStream store, configuration, log, pid and ports.
#
# `start` is idempotent: it reuses a server of that name that is already answering, otherwise
# it builds the binary if missing, picks free ports, starts the server and waits until its
# monitoring endpoint reports JetStream healthy. It prints shell assignments to eval:
#   UPLINE_NATS=nats://127.0.0.1:PORT   UPLINE_NATS_MONITOR=http://127.0.0.1:PORT
#   UPLINE_NATS_LEAF=nats://127.0.0.1:PORT   (with UPLINE_NATS_LEAF_LISTEN=1)
# A region's server is shaped at `start` by the environment (kept for `resume`):
#   UPLINE_NATS_DOMAIN=us-east         its JetStream domain
#   UPLINE_NATS_LEAF_LISTEN=1          accept leaf node connections (other regions, links)
#   UPLINE_NATS_LEAF_REMOTES=URL,...   connect as a leaf node to these servers
#   UPLINE_NATS_NO_JETSTREAM=1         no JetStream (a link server between regions)
#   UPLINE_NATS_AUTH_USER=u UPLINE_NATS_AUTH_PASSWORD=p   clients must log in as u
#   UPLINE_NATS_TLS=1                  clients must use TLS: a CA of the server's own signs its
#                                      certificate (127.0.0.1, localhost) and a client's;
#                                      `start` then also prints UPLINE_NATS_TLS_DIR, which holds
#                                      ca.crt, client.crt, client.key and stranger-ca.crt (a CA
#                                      the server does not know)
#   UPLINE_NATS_TLS_VERIFY=1           with UPLINE_NATS_TLS: clients must show a certificate the
#                                      CA signed (mutual TLS)
# `stop` stops the server and keeps its store; `resume` starts a stopped server again on its
# store and ports (the outage tests); `remove` stops it and deletes its directory; `status`
# exits 0 when it answers.
#
# Cache: ${UPLINE_CACHE:-~/.cache/upline}/nats/<version>/nats-server (the binary),
#        ${UPLINE_CACHE:-~/.cache/upline}/nats/servers/<NAME>/ (store, config, log, pid, ports).
set -euo pipefail

version=${UPLINE_NATS_VERSION:-v2.15.2}
cache=${UPLINE_CACHE:-$HOME/.cache/upline}/nats
bin=$cache/$version/nats-server
command=${1:-}
name=${2:-shared}
server=${UPLINE_NATS_SERVERS:-$cache/servers}/$name
log() { echo "nats.sh: $*" >&2; }
# shellcheck source=tests/services/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  for candidate in /usr/local/go/bin/go "$HOME/go/bin/go" "$HOME/sdk/go/bin/go"; do
    if [[ -x $candidate ]]; then echo "$candidate"; return; fi
  done
  log "Go is missing: nats-server $version is built from source through the Go module proxy."
  log "Install Go 1.24 or newer (https://go.dev/dl/, or /usr/local/go) and run again."
  exit 1
}

build_server() {
  [[ -x $bin ]] && return
  local go; go=$(find_go)
  log "building nats-server $version through the Go module proxy (once, into $cache/$version)"
  local work; work=$(mktemp -d)
  mkdir -p "$cache/$version"
  # A private GOPATH keeps the module cache out of the user's; CGO off gives a static binary.
  GOPATH=$cache/gopath GOFLAGS=-modcacherw CGO_ENABLED=0 GOBIN=$work \
    "$go" install "github.com/nats-io/nats-server/v2@$version" >&2
  mv "$work/nats-server" "$bin.partial"
  mv "$bin.partial" "$bin"
  rm -rf "$work"
}


# True when the server is ours, running, and reports JetStream healthy.
answering() {
  [[ -f $server/ports && -f $server/pid ]] || return 1
  kill -0 "$(cat "$server/pid")" 2>/dev/null || return 1
  local monitor health=/healthz?js-enabled-only=true
  monitor=$(sed -n 2p "$server/ports")
  [[ -f $server/no-jetstream ]] && health=/healthz
  python3 - "$monitor" "$health" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

print_env() {
  local client monitor
  client=$(sed -n 1p "$server/ports")
  monitor=$(sed -n 2p "$server/ports")
  echo "UPLINE_NATS=nats://127.0.0.1:$client"
  echo "UPLINE_NATS_MONITOR=http://127.0.0.1:$monitor"
  local leaf; leaf=$(sed -n 3p "$server/ports")
  if [[ -n $leaf ]]; then echo "UPLINE_NATS_LEAF=nats://127.0.0.1:$leaf"; fi
  if [[ -f $server/tls/ca.crt ]]; then echo "UPLINE_NATS_TLS_DIR=$server/tls"; fi
}

write_config() {
  local client monitor leaf=
  client=$(free_port)
  monitor=$(free_port)
  [[ -n ${UPLINE_NATS_LEAF_LISTEN:-} ]] && leaf=$(free_port)
  mkdir -p "$server/jetstream"
  printf '%s\n%s\n%s\n' "$client" "$monitor" "$leaf" >"$server/ports"
  rm -f "$server/no-jetstream"
  if [[ -n ${UPLINE_NATS_TLS:-} ]]; then make_test_certificates "$server/tls"; fi
  {
    echo "server_name: upline_$name"
    echo "listen: 127.0.0.1:$client"
    echo "http: 127.0.0.1:$monitor"
    if [[ -n ${UPLINE_NATS_NO_JETSTREAM:-} ]]; then
      touch "$server/no-jetstream"
    else
      echo "jetstream {"
      echo "  store_dir: \"$server/jetstream\""
      echo "  max_memory_store: 256MB"
      echo "  max_file_store: 8GB"
      if [[ -n ${UPLINE_NATS_DOMAIN:-} ]]; then echo "  domain: $UPLINE_NATS_DOMAIN"; fi
      echo "}"
    fi
    if [[ -n ${UPLINE_NATS_AUTH_USER:-} ]]; then
      echo "authorization {"
      echo "  user: \"$UPLINE_NATS_AUTH_USER\""
      echo "  password: \"${UPLINE_NATS_AUTH_PASSWORD:?with UPLINE_NATS_AUTH_USER}\""
      echo "}"
    fi
    if [[ -n ${UPLINE_NATS_TLS:-} ]]; then
      echo "tls {"
      echo "  cert_file: \"$server/tls/server.crt\""
      echo "  key_file: \"$server/tls/server.key\""
      echo "  ca_file: \"$server/tls/ca.crt\""
      if [[ -n ${UPLINE_NATS_TLS_VERIFY:-} ]]; then echo "  verify: true"; fi
      echo "}"
    fi
    if [[ -n $leaf || -n ${UPLINE_NATS_LEAF_REMOTES:-} ]]; then
      echo "leafnodes {"
      if [[ -n $leaf ]]; then echo "  listen: 127.0.0.1:$leaf"; fi
      if [[ -n ${UPLINE_NATS_LEAF_REMOTES:-} ]]; then
        echo "  reconnect: 1"
        echo "  remotes: ["
        local remote
        for remote in ${UPLINE_NATS_LEAF_REMOTES//,/ }; do echo "    { url: \"$remote\" }"; done
        echo "  ]"
      fi
      echo "}"
    fi
  } >"$server/nats.conf"
}

launch() {
  nohup "$bin" -c "$server/nats.conf" >"$server/nats.log" 2>&1 &
  echo $! >"$server/pid"
  local waited=0
  until answering; do
    if ! kill -0 "$(cat "$server/pid")" 2>/dev/null; then
      # A port picked free was taken before the server bound it (tests start servers side by
      # side): `start` picks new ports and tries again.
      if grep -q "address already in use" "$server/nats.log"; then return 3; fi
      log "nats-server exited; the end of $server/nats.log:"
      tail -n 20 "$server/nats.log" >&2
      exit 1
    fi
    ((waited++ < 300)) || { log "not healthy after 30 s (see $server/nats.log)"; exit 1; }
    sleep 0.1
  done
}

stop_server() {
  stop_process "$server/pid" 100 0.1
}

case $command in
  start)
    if answering; then print_env; exit 0; fi
    build_server
    stop_server
    for attempt in 1 2 3 4 5; do
      write_config
      launched=0
      launch || launched=$?
      ((launched == 0)) && break
      log "a port was taken meanwhile (attempt $attempt); picking new ones"
      ((attempt < 5)) || { tail -n 20 "$server/nats.log" >&2; exit 1; }
    done
    print_env
    ;;
  resume)
    [[ -f $server/nats.conf ]] || { log "no server named $name to resume (start it first)"; exit 1; }
    if ! answering; then
      build_server
      launch || { log "cannot resume $name on its ports (see $server/nats.log)"; exit 1; }
    fi
    print_env
    ;;
  stop) stop_server ;;
  remove)
    stop_server
    rm -rf "$server"
    ;;
  status) answering ;;
  *)
    echo "usage: tests/services/nats.sh start|stop|resume|remove|status [NAME]" >&2
    exit 2
    ;;
esac
