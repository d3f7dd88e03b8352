#!/usr/bin/env bash
# Every test of the project, on a fresh machine or a warm one. Idempotent: it installs what is
# missing, builds once (the `ci` profile: release without LTO, shared target dir) and runs the
# whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo is missing: install Rust (rustup) first" >&2; exit 1; }
# The fixtures live beside the checkout (../shared); tests fail loudly when they are missing.
if [ -z "${UPLINE_FIXTURES:-}" ]; then
  for candidate in ../shared/fixtures/commissions /work/shared/fixtures/commissions; do
    if [ -d "$candidate" ]; then export UPLINE_FIXTURES=$(cd "$candidate" && pwd); break; fi
  done
fi
cargo fmt --all -- --check
# The Helm chart: lint, templates through kubeconform, alert rules through promtool, and a
# server-side dry-run on a real kube-apiserver (built once through the Go module proxy).
bash scripts/check-chart.sh
cargo build --profile ci --workspace --all-targets
echo "test-all: built in ${SECONDS} s" >&2
# One real Cassandra node (the CQL server standing in for ScyllaDB) for the whole run: the
# script installs the JDK and Maven if missing, fetches the jars once into ~/.cache/upline,
# and reuses a node that is already up. Tests isolate themselves by keyspace.
started_here=
if ! tests/services/cassandra.sh status; then started_here=yes; fi
eval "$(tests/services/cassandra.sh start)"
export UPLINE_CASSANDRA UPLINE_CASSANDRA_DC
# One real nats-server with JetStream (built once through the Go module proxy into
# ~/.cache/upline/nats) for the event tests; they isolate themselves by stream name, and the
# fault tests start servers of their own. A server this script starts begins on an empty store:
# the streams of earlier runs are never deleted and would only slow its start.
nats_started_here=
if ! tests/services/nats.sh status; then
  nats_started_here=yes
  tests/services/nats.sh remove
fi
eval "$(tests/services/nats.sh start)"
export UPLINE_NATS
# One real etcd + kube-apiserver (built once through the Go module proxy into
# ~/.cache/upline/kube) for the operator's tests; they isolate themselves by namespace. The
# ServiceMonitor test starts a second pair of its own (`op-monitoring`). A pair this script
# starts begins on empty etcd data, as on a fresh machine: without a controller-manager no test
# namespace is ever emptied, so the Services of earlier runs would keep their cluster IPs until
# the range is full.
kube_started_here=
if ! tests/services/kube.sh status; then
  kube_started_here=yes
  tests/services/kube.sh remove
  tests/services/kube.sh remove op-monitoring
fi
eval "$(tests/services/kube.sh start)"
export UPLINE_KUBECONFIG
stop_services() {
  if [ -n "$kube_started_here" ]; then
    tests/services/kube.sh stop
    tests/services/kube.sh stop op-monitoring
  fi
  if [ -n "$nats_started_here" ]; then tests/services/nats.sh stop; fi
  if [ -n "$started_here" ]; then tests/services/cassandra.sh stop; fi
}
trap stop_services EXIT
cargo test --profile ci --workspace
echo "test-all: the workspace's tests passed at ${SECONDS} s" >&2
# The API's HTTP suite once more, on the ScyllaDB backend (the real Cassandra node).
UPLINE_TEST_STORE=scylla cargo test --profile ci --workspace \
  --test service --test orders --test genealogy --test isolation --test wallets --test run_files \
  --test paged_runs
