#!/usr/bin/env bash
# tests/services/kube.sh start|stop|remove|status [NAME]
# tests/services/kube.sh user NAME USER [GROUP...]
#
# A real Kubernetes API for the operator's tests (../shared/REAL_SERVICES.md), the way
# controller-runtime's envtest makes one: an etcd and a kube-apiserver run as local processes,
# built once through the Go module proxy by kube-build.sh and cached by version. Each pair has
# a NAME (default `shared`) and a directory with its etcd data, certificates, logs, pids, ports
# and kubeconfigs.
#
# `start` is idempotent: it reuses a pair of that name that is already answering, otherwise it
# builds the binaries if missing, makes a CA and certificates once (openssl), starts etcd, then
# kube-apiserver, and waits until the API is ready and the `default` namespace exists. A
# stopped pair starts again on its etcd data and, when they are still free, on its ports, so a
# client holding the old URL reconnects (the outage tests); clashing ports are replaced. It
# writes <dir>/admin.kubeconfig (user `admin` in group `system:masters`, which no RBAC rule
# can deny) and prints shell assignments to eval:
#   UPLINE_KUBECONFIG=<dir>/admin.kubeconfig
#   UPLINE_KUBE_SERVER=https://127.0.0.1:PORT
#   UPLINE_KUBECTL=<path of the kubectl built with the same Kubernetes version>
# `user NAME USER [GROUP...]` makes (once, again when the groups change) a client certificate
# for USER in those groups (none is fine: a bare user is what proves an RBAC role grants
# enough and no more), signed by that pair's CA, writes <dir>/users/USER.kubeconfig and prints
# its path. `stop` stops kube-apiserver then etcd and keeps the data; `remove` also deletes the
# directory; `status` exits 0 when the API answers ready.
#
# What is not there: no controller-manager, scheduler or kubelet run. So garbage collection
# never happens (owner references are not followed), Deployments make no ReplicaSets or Pods,
# nothing fills in workload or HPA status, no ServiceAccount or token is made for a namespace
# (hence the ServiceAccount admission plugin is off, else it would reject Pods), and a deleted
# namespace stays Terminating for ever because nobody empties it. The apiserver itself makes
# the `default`, `kube-system`, `kube-public` and `kube-node-lease` namespaces and the RBAC
# bootstrap roles. Tests check the objects the operator wrote, patch status themselves where a
# reconcile depends on it, and use a namespace of their own instead of deleting and reusing.
#
# Cache: ${UPLINE_CACHE:-~/.cache/upline}/kube/<tool>-<version>/<tool> (kube-build.sh),
#        ${UPLINE_KUBE_SERVERS:-${UPLINE_CACHE:-~/.cache/upline}/kube/servers}/<NAME>/
#          etcd/ (data)  pki/ (CA, certificates, keys)  users/  admin.kubeconfig
#          etcd.log etcd.pid  apiserver.log apiserver.pid  ports (etcd client, etcd peer, API)
# UPLINE_KUBE_START_TIMEOUT: seconds kube-apiserver gets to become ready (default 90).
set -euo pipefail

here=$(dirname "${BASH_SOURCE[0]}")
build=$here/kube-build.sh
cache=${UPLINE_CACHE:-$HOME/.cache/upline}/kube
servers=${UPLINE_KUBE_SERVERS:-$cache/servers}
command=${1:-}
name=${2:-shared}
server=$servers/$name
pki=$server/pki
timeout=${UPLINE_KUBE_START_TIMEOUT:-90}
log() { echo "kube.sh: $*" >&2; }
# shellcheck source=tests/services/common.sh
source "$here/common.sh"

usage() {
  echo "usage: tests/services/kube.sh start|stop|remove|status [NAME]" >&2
  echo "       tests/services/kube.sh user NAME USER [GROUP...]" >&2
  exit 2
}

# Names end up in paths, certificate subjects (openssl -subj splits on / and =) and YAML.
check_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._:@-]*$ ]] || { log "not a usable name: '$1'"; exit 2; }
}

tool() { bash "$build" path "$1"; }

# Tests run in parallel and may all `start` the shared pair at once: one invocation per NAME
# works at a time. The lock lives beside the directory so `remove` can delete the directory.
# The descriptor is closed for the servers launched (9>&-), else they would hold it for ever.
lock() {
  mkdir -p "$servers"
  exec 9>"$servers/.$name.lock"
  flock 9
}

# ---- certificates ---------------------------------------------------------------------------

# Makes BASE.crt for the key BASE.key and SUBJECT, signed by the CA in CA_DIR. EXTENSIONS
# are openssl extension lines. A random serial: no serial file to keep.
sign() {
  local ca=$1 base=$2 subject=$3 extensions=$4
  openssl req -new -key "$base.key" -subj "$subject" -out "$base.csr" 2>/dev/null
  openssl x509 -req -in "$base.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 \
    -extfile <(printf '%s\n' "$extensions") -out "$base.crt" 2>/dev/null
  rm -f "$base.csr"
}

new_key() { openssl genrsa -out "$1" 2048 2>/dev/null; }

# The CA, the apiserver's serving certificate, the admin's client certificate and the service
# account key pair, made once per server (clients keep trusting the CA across restarts). Made
# in a scratch directory moved into place at the end, so an interrupted run leaves none.
make_pki() {
  [[ -f $pki/ca.crt ]] && return
  log "making a CA and certificates in $pki"
  local work=$server/pki.partial
  rm -rf "$work"
  mkdir -p "$work"
  new_key "$work/ca.key"
  openssl req -new -key "$work/ca.key" -subj "/CN=upline-kube-ca-$name" -out "$work/ca.csr" 2>/dev/null
  openssl x509 -req -in "$work/ca.csr" -signkey "$work/ca.key" -days 3650 -sha256 \
    -extfile <(printf '%s\n' 'basicConstraints=critical,CA:TRUE' \
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature' 'subjectKeyIdentifier=hash') \
    -out "$work/ca.crt" 2>/dev/null
  rm -f "$work/ca.csr"
  # Serving: the names a client on this machine uses, plus the in-cluster ones of the
  # `kubernetes` Service (its ClusterIP is the first of --service-cluster-ip-range).
  new_key "$work/apiserver.key"
  sign "$work" "$work/apiserver" "/CN=kube-apiserver" "$(printf '%s\n' 'basicConstraints=CA:FALSE' \
    'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1')"
  new_key "$work/admin.key"
  sign "$work" "$work/admin" "/O=system:masters/CN=admin" "$(client_extensions)"
  # Service account tokens: the apiserver signs with the private key, verifies with the public.
  new_key "$work/sa.key"
  openssl pkey -in "$work/sa.key" -pubout -out "$work/sa.pub" 2>/dev/null
  chmod 600 "$work"/*.key
  mv "$work" "$pki"
}

client_extensions() {
  printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
    'extendedKeyUsage=clientAuth'
}

# ---- kubeconfigs ----------------------------------------------------------------------------

b64() { base64 -w0 <"$1"; }

# Writes the kubeconfig FILE for USER with the client certificate CRT and its key KEY, all
# embedded (a self-contained file a test can hand on). Atomic: tests may be reading it.
write_kubeconfig() {
  local file=$1 user=$2 crt=$3 key=$4 api
  api=$(sed -n 3p "$server/ports")
  cat >"$file.partial" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: "upline-$name"
  cluster:
    server: "https://127.0.0.1:$api"
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: "$user"
  user:
    client-certificate-data: $(b64 "$crt")
    client-key-data: $(b64 "$key")
contexts:
- name: "upline-$name"
  context:
    cluster: "upline-$name"
    user: "$user"
current-context: "upline-$name"
EOF
  chmod 600 "$file.partial"
  mv "$file.partial" "$file"
}

# Every kubeconfig of the server names its API port, which `start` may have changed.
write_kubeconfigs() {
  write_kubeconfig "$server/admin.kubeconfig" admin "$pki/admin.crt" "$pki/admin.key"
  local crt
  for crt in "$server"/users/*.crt; do
    [[ -f $crt ]] || continue
    write_kubeconfig "${crt%.crt}.kubeconfig" "$(basename "$crt" .crt)" "$crt" "${crt%.crt}.key"
  done
}

make_user() {
  local user=$1; shift
  check_name "$user"
  local group subject=""
  for group in "$@"; do check_name "$group"; subject+="/O=$group"; done
  subject+="/CN=$user"
  [[ -f $pki/ca.crt && -f $server/ports ]] || { log "no server named $name (start it first)"; exit 1; }
  mkdir -p "$server/users"
  # No ':' in the file name (a service account's user name has some): KUBECONFIG is a
  # ':'-separated list.
  local base=$server/users/${user//:/_}
  # Once per user; again when asked for other groups, which live in the certificate.
  if [[ ! -f $base.crt || $(cat "$base.groups" 2>/dev/null) != "$*" ]]; then
    new_key "$base.key"
    chmod 600 "$base.key"
    sign "$pki" "$base" "$subject" "$(client_extensions)"
    echo "$*" >"$base.groups"
  fi
  write_kubeconfig "$base.kubeconfig" "$user" "$base.crt" "$base.key"
  echo "$base.kubeconfig"
}

# ---- processes ------------------------------------------------------------------------------

# True when PID_FILE names a live process started for this server (its command line holds the
# server's directory): a pid left from before a reboot may belong to anything by now.
ours() {
  [[ -f $1 ]] || return 1
  local pid command_line; pid=$(cat "$1")
  command_line=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $command_line == *"$server/"* ]]
}

# GET https://127.0.0.1:API_PORT/PATH as admin; true on 200.
api_get() {
  python3 - "$(sed -n 3p "$server/ports")" "$1" "$pki" <<'PY' 2>/dev/null
import ssl, sys, urllib.request
port, path, pki = sys.argv[1:]
context = ssl.create_default_context(cafile=f"{pki}/ca.crt")
context.load_cert_chain(f"{pki}/admin.crt", f"{pki}/admin.key")
with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

etcd_healthy() {
  python3 - "$(sed -n 1p "$server/ports")" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

# True when both processes are ours and running and the API reports ready (/readyz covers
# etcd and the post-start hooks, RBAC's bootstrap roles among them).
answering() {
  [[ -f $server/ports && -f $pki/admin.crt ]] || return 1
  ours "$server/etcd.pid" && ours "$server/apiserver.pid" && api_get /readyz
}

stop_servers() {
  local process
  for process in apiserver etcd; do # the API first: it would log etcd's absence
    if ours "$server/$process.pid"; then
      stop_process "$server/$process.pid" 150 0.1
    else
      rm -f "$server/$process.pid"
    fi
  done
}

# Ports: the ones the server had (a restarted server keeps its URL) unless FRESH is asked for.
pick_ports() {
  if [[ $1 == fresh || ! -f $server/ports ]]; then
    printf '%s\n%s\n%s\n' "$(free_port)" "$(free_port)" "$(free_port)" >"$server/ports"
  fi
}

# Waits for PROCESS to pass CHECK for up to SECONDS. Returns 3 when it died of a port taken
# meanwhile (tests start servers side by side); on any other death or a timeout it stops what
# it started and exits loudly with the end of the log.
await() {
  local process=$1 check=$2 seconds=$3 deadline=$((SECONDS + $3))
  until "$check"; do
    if ! kill -0 "$(cat "$server/$process.pid")" 2>/dev/null; then
      if grep -q "address already in use" "$server/$process.log"; then return 3; fi
      log "$process exited; the end of $server/$process.log:"
      tail -n 30 "$server/$process.log" >&2
      stop_servers # etcd, when the apiserver died
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "$process not ready after $seconds s; the end of $server/$process.log:"
      tail -n 30 "$server/$process.log" >&2
      stop_servers
      exit 1
    fi
    sleep 0.5
  done
}

default_namespace() { api_get /api/v1/namespaces/default; }
api_ready() { api_get /readyz && default_namespace; }

launch() {
  local etcd_port peer_port api_port
  { read -r etcd_port; read -r peer_port; read -r api_port; } <"$server/ports"
  mkdir -p "$server/etcd"
  chmod 700 "$server/etcd" # etcd wants its data directory private
  # The --initial-* flags only matter the first time; afterwards the data directory holds the
  # (single) member, and a new peer port is merely listened on. No fsync: test data.
  nohup "$(tool etcd)" --name upline --data-dir "$server/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "upline=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync \
    </dev/null >"$server/etcd.log" 2>&1 9>&- &
  echo $! >"$server/etcd.pid"
  await etcd etcd_healthy 30 || return
  # As envtest starts it. --advertise-address: without it the apiserver looks for a default
  # route and dies where there is none. No ServiceAccount admission: nothing makes the
  # `default` ServiceAccount it would demand of every Pod. No endpoint reconciler: it would try
  # every 10 s to publish 127.0.0.1 as the `kubernetes` Service's endpoint, which validation
  # refuses (loopback), and log the failure each time. Service range /16: the Services of
  # namespaces nobody empties keep their cluster IPs, and a /24 fills after some twenty test
  # runs on kept data. The range is fixed when the etcd data is first made (the `kubernetes`
  # ServiceCIDR object); changing the flag later does not widen it, only `remove` does.
  local started=$SECONDS
  nohup "$(tool kube-apiserver)" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --authorization-mode RBAC \
    --service-cluster-ip-range 10.0.0.0/16 \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" \
    --allow-privileged=true \
    --disable-admission-plugins ServiceAccount \
    --endpoint-reconciler-type none \
    </dev/null >"$server/apiserver.log" 2>&1 9>&- &
  echo $! >"$server/apiserver.pid"
  await apiserver api_ready "$timeout" || return
  log "kube-apiserver $name ready after $((SECONDS - started)) s"
}

print_env() {
  echo "UPLINE_KUBECONFIG=$server/admin.kubeconfig"
  echo "UPLINE_KUBE_SERVER=https://127.0.0.1:$(sed -n 3p "$server/ports")"
  echo "UPLINE_KUBECTL=$(tool kubectl)"
}

check_name "$name"
case $command in
  start)
    lock
    if answering; then
      [[ -f $server/admin.kubeconfig ]] || write_kubeconfigs
      print_env
      exit 0
    fi
    bash "$build" etcd
    bash "$build" kube-apiserver
    bash "$build" kubectl
    stop_servers
    mkdir -p "$server"
    make_pki
    pick_ports kept
    for attempt in 1 2 3 4 5; do
      launched=0
      launch || launched=$?
      ((launched == 0)) && break
      log "a port was taken meanwhile (attempt $attempt); picking new ones"
      stop_servers
      ((attempt < 5)) || { tail -n 20 "$server/etcd.log" "$server/apiserver.log" >&2; exit 1; }
      pick_ports fresh
    done
    write_kubeconfigs
    print_env
    ;;
  user)
    (($# >= 3)) || usage
    lock
    shift 2
    make_user "$@"
    ;;
  stop)
    lock
    stop_servers
    ;;
  remove)
    lock
    stop_servers
    rm -rf "$server"
    ;;
  status) answering ;;
  *) usage ;;
esac
