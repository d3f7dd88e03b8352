#!/usr/bin/env bash
# tests/services/cassandra.sh start|stop|resume|status
#
# One real Apache Cassandra 5.0 node for the tests (ScyllaDB's CQL, see
# ../shared/REAL_SERVICES.md), shared by every test of a run: tests isolate themselves by
# keyspace. `start` is idempotent: it reuses a node that is already answering, otherwise it
# installs what is missing (JDK 17 and Maven from Debian), fetches the jars from Maven
# Central once into the cache, writes a minimal configuration on free ports, starts the node
# and waits until CQL answers. It prints shell assignments to eval:
#   UPLINE_CASSANDRA=127.0.0.1:PORT   UPLINE_CASSANDRA_DC=datacenter1
# A running node that holds more than UPLINE_CASSANDRA_MAX_TABLES tables (2500: earlier runs'
# keyspaces) is replaced by a fresh one. `stop` stops the node and keeps its cache and data;
# `resume` starts a stopped node again on its data and ports (the outage test); `status` exits
# 0 when the node answers.
# UPLINE_CASSANDRA_AUTH=1 at `start` makes a node whose clients log in (PasswordAuthenticator,
# the default superuser cassandra/cassandra).
# UPLINE_CASSANDRA_TLS=1 at `start` makes a node that speaks only TLS to its clients and
# verifies them (require_client_auth): a CA of its own signs the node's certificate (127.0.0.1)
# and a client's; `start` then also prints UPLINE_CASSANDRA_TLS_DIR, which holds ca.crt,
# client.crt, client.key and stranger-ca.crt (a CA the node does not know), and for renewal
# renewed-client.crt/.key (the same CA) and stranger-client.crt/.key (the stranger's).
# UPLINE_CASSANDRA_NODE names another node directory: a second node of its own (the outage
# test stops its node, which the other tests must not notice).
#
# Cache: ${UPLINE_CACHE:-~/.cache/upline}/cassandra/<version>/lib (jars),
#        ${UPLINE_CACHE:-~/.cache/upline}/cassandra/node (data, config, log, pid, port).
set -euo pipefail

version=${UPLINE_CASSANDRA_VERSION:-5.0.6}
cache=${UPLINE_CACHE:-$HOME/.cache/upline}/cassandra
lib=$cache/$version/lib
node=${UPLINE_CASSANDRA_NODE:-$cache/node}
log() { echo "cassandra.sh: $*" >&2; }
# shellcheck source=tests/services/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_tools() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v python3 >/dev/null || missing+=(python3)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    local sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
  fi
}

fetch_jars() {
  [[ -f $lib/.complete ]] && return
  log "fetching cassandra-all $version and its runtime dependencies from Maven Central (once)"
  local work; work=$(mktemp -d)
  cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>io.upline</groupId><artifactId>cassandra-for-tests</artifactId><version>1</version>
  <dependencies><dependency>
    <groupId>org.apache.cassandra</groupId><artifactId>cassandra-all</artifactId><version>$version</version>
  </dependency></dependencies>
</project>
POM
  rm -rf "$lib.partial"
  (cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
     -DoutputDirectory="$lib.partial" >&2)
  rm -rf "$work" "$lib"
  mkdir -p "$(dirname "$lib")"
  mv "$lib.partial" "$lib"
  touch "$lib/.complete"
}


# True when the node is ours, started, and its native transport answers a CQL OPTIONS
# request with SUPPORTED (the tests then run real queries through the driver).
answering() {
  [[ -f $node/port && -f $node/pid ]] || return 1
  kill -0 "$(cat "$node/pid")" 2>/dev/null || return 1
  grep -q "Startup complete" "$node/system.log" 2>/dev/null || return 1
  python3 - "$(cat "$node/port")" "$node/tls" <<'PY' 2>/dev/null
import os, socket, ssl, struct, sys
port, tls = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=2)
if os.path.exists(os.path.join(tls, "ca.crt")):  # a TLS node: the test client's certificate
    context = ssl.create_default_context(cafile=os.path.join(tls, "ca.crt"))
    context.load_cert_chain(os.path.join(tls, "client.crt"), os.path.join(tls, "client.key"))
    s = context.wrap_socket(s, server_hostname="127.0.0.1")
# CQL v4 OPTIONS frame: version 0x04, flags 0, stream 0, opcode 0x05, body length 0.
s.sendall(struct.pack(">BBhBi", 4, 0, 0, 5, 0))
header = s.recv(9)
sys.exit(0 if len(header) == 9 and header[4] == 0x06 else 1)  # 0x06 = SUPPORTED
PY
}

write_config() {
  local port=$1 storage_port=$2 storage=$3
  mkdir -p "$node/conf" "$storage"
  cat >"$node/conf/cassandra.yaml" <<YAML
cluster_name: upline-tests
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
num_tokens: 1
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
native_transport_port: $port
storage_port: $storage_port
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$storage_port"
endpoint_snitch: SimpleSnitch
data_file_directories: [$storage/data]
commitlog_directory: $storage/commitlog
saved_caches_directory: $storage/saved_caches
hints_directory: $storage/hints
cdc_raw_directory: $storage/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10s
auto_snapshot: false
# Tables created concurrently by two "upline migrate" processes get the same id.
use_deterministic_table_id: true
# Lightweight transactions (migrations, ledger) and batches in tests.
cas_contention_timeout: 5s
write_request_timeout: 10s
read_request_timeout: 10s
# Bulk loads write one partition per unlogged batch of 100 rows (about 15 KB): warn and fail
# at ScyllaDB's defaults (Cassandra's, 5 KiB and 50 KiB, would fill the log with warnings).
batch_size_warn_threshold: 128KiB
batch_size_fail_threshold: 1024KiB
# A test run prepares the same statements in hundreds of keyspaces: a larger cache than the
# default (1/256 of the heap) keeps a long-lived node from evicting statements a paged query
# is still using ("Prepared query ... not found").
prepared_statements_cache_size: 64MiB
YAML
  # UPLINE_CASSANDRA_AUTH=1: clients log in (the default superuser cassandra/cassandra).
  if [[ ${UPLINE_CASSANDRA_AUTH:-} == 1 ]]; then
    echo "authenticator: PasswordAuthenticator" >>"$node/conf/cassandra.yaml"
  fi
  # UPLINE_CASSANDRA_TLS=1: clients speak TLS and show a certificate the node's CA signed. The
  # PEM context factory reads the openssl-made files as they are (the key beside its chain).
  if [[ ${UPLINE_CASSANDRA_TLS:-} == 1 ]]; then
    make_test_certificates "$node/tls"
    cat "$node/tls/server.key" "$node/tls/server.crt" >"$node/tls/server.pem"
    cat >>"$node/conf/cassandra.yaml" <<YAML
client_encryption_options:
  enabled: true
  optional: false
  ssl_context_factory:
    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory
  keystore: $node/tls/server.pem
  truststore: $node/tls/ca.crt
  require_client_auth: true
YAML
  fi
  cat >"$node/conf/logback.xml" <<XML
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$node/system.log</file>
    <encoder><pattern>%level %date{ISO8601} [%thread] %logger{20} %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
}

start() {
  if answering && ! overgrown; then
    log "reusing the node on port $(cat "$node/port") (pid $(cat "$node/pid"))"
  else
    install_tools
    fetch_jars
    stop_quietly
    local attempt launched
    for attempt in 1 2 3; do
      fresh_node
      launched=0
      launch || launched=$?
      ((launched == 0)) && break
      ((launched == port_taken && attempt < 3)) || exit 1
      log "a port was taken meanwhile (attempt $attempt); picking new ones"
    done
  fi
  print_address
}

# An empty node directory with a configuration on new ports.
fresh_node() {
  local port storage_port
  port=$(free_port); storage_port=$(free_port)
  rm -rf "$node"; mkdir -p "$node"
  write_config "$port" "$storage_port" "$node/storage"
  echo "$port" >"$node/port"
  free_port >"$node/jmx"
}

# Whether the running node holds so many tables (every test run leaves a thousand or so, a
# keyspace per test) that schema changes on it crawl: a node that had served four runs took
# 15 s to create a table and made the store's tests time out. Such a node is started afresh.
max_tables=${UPLINE_CASSANDRA_MAX_TABLES:-2500}
overgrown() {
  local tables
  tables=$(find "$node/storage/data" -mindepth 2 -maxdepth 2 -type d 2>/dev/null | wc -l)
  if ((tables > max_tables)); then
    log "the node on port $(cat "$node/port") holds $tables tables (more than $max_tables): starting a fresh one"
    return 0
  fi
  return 1
}

# Starts the stopped node again on its configuration, ports and data.
resume() {
  if answering; then
    log "the node on port $(cat "$node/port") is up already"
  else
    [[ -f $node/conf/cassandra.yaml && -f $node/port ]] || { log "no node to resume in $node"; exit 1; }
    stop_quietly
    launch || exit 1
  fi
  print_address
}

print_address() {
  echo "UPLINE_CASSANDRA=127.0.0.1:$(cat "$node/port")"
  echo "UPLINE_CASSANDRA_DC=datacenter1"
  if [[ -f $node/tls/ca.crt ]]; then echo "UPLINE_CASSANDRA_TLS_DIR=$node/tls"; fi
}

# launch's status when the node lost one of its ports to another process before binding it.
port_taken=3

# Starts the node on its configuration; waits until it answers CQL. Returns 1 when it exited,
# $port_taken when that was because a port was taken.
launch() {
    local port jmx
    port=$(cat "$node/port"); jmx=$(cat "$node/jmx")
    : >"$node/system.log"
    # JDK 17 module flags: the --add-exports/--add-opens list of Cassandra's
    # conf/jvm17-server.options; jamm measures object sizes for the memtables. 3 GB of heap: a
    # test run creates a thousand tables (keyspaces per test), about a megabyte of heap each.
    # No -ea (Cassandra's own options enable its assertions): on two shared cores they took a
    # fifth of order ingestion's throughput (docs/benchmarks.md), and what the tests check is
    # Upline, not Cassandra. The parallel collector leaves the cores to requests between pauses.
    local jamm; jamm=$(ls "$lib"/jamm-*.jar | head -1)
    local flags=(
      -Xms3g -Xmx3g -XX:+UseParallelGC -javaagent:"$jamm"
      -Djdk.attach.allowAttachSelf=true -Dio.netty.tryReflectionSetAccessible=true
      --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
      --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
      --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
      --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
      --add-exports java.sql/java.sql=ALL-UNNAMED
      --add-exports java.base/java.lang.ref=ALL-UNNAMED
      --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
      --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
      --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
      --add-opens java.base/java.lang.module=ALL-UNNAMED
      --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
      --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
      --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
      --add-opens java.base/jdk.internal.math=ALL-UNNAMED
      --add-opens java.base/jdk.internal.module=ALL-UNNAMED
      --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
      --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
      --add-opens java.base/sun.nio.ch=ALL-UNNAMED
      --add-opens java.base/java.io=ALL-UNNAMED
      --add-opens java.base/java.lang.reflect=ALL-UNNAMED
      --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
      --add-opens java.base/java.lang=ALL-UNNAMED
      --add-opens java.base/java.util=ALL-UNNAMED
      -Dcassandra.config="file://$node/conf/cassandra.yaml"
      -Dlogback.configurationFile="$node/conf/logback.xml"
      -Dcassandra.storagedir="$node/storage"
      -Dcassandra.jmx.local.port="$jmx"
      -Dcassandra-foreground=yes
      -Dcassandra.skip_wait_for_gossip_to_settle=0
      -Dcassandra.load_ring_state=false
      -Dcassandra.initial_token=0
      -Dcassandra.superuser_setup_delay_ms=0
    )
    log "starting Cassandra $version on 127.0.0.1:$port"
    setsid java "${flags[@]}" -cp "$node/conf:$lib/*" org.apache.cassandra.service.CassandraDaemon \
      >"$node/stdout.log" 2>&1 </dev/null &
    echo $! >"$node/pid"
    local waited=0
    until answering; do
      if ! kill -0 "$(cat "$node/pid")" 2>/dev/null; then
        rm -f "$node/pid"
        if grep -q "Address already in use" "$node/stdout.log" "$node/system.log"; then
          log "Cassandra could not bind a port: $(grep -m1 -o "Failed to bind port [0-9]*" "$node/stdout.log")"
          return "$port_taken"
        fi
        log "Cassandra exited during start; last lines of its logs:"
        tail -n 20 "$node/stdout.log" "$node/system.log" >&2
        return 1
      fi
      ((waited++ < 180)) || { log "no CQL answer after 180 s"; tail -n 20 "$node/system.log" >&2; exit 1; }
      sleep 1
    done
    log "ready after ${waited} s"
}

stop_quietly() {
  stop_process "$node/pid" 60 0.5
}

case ${1:-} in
  start) start ;;
  resume) resume ;;
  stop) stop_quietly; log "stopped" ;;
  status) answering ;;
  *) echo "usage: $0 start|stop|resume|status" >&2; exit 2 ;;
esac
