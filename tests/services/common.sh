# Shell helpers shared by the service scripts of tests/services (sourced, not run).

# A TCP port free on the loopback now, chosen below the kernel's ephemeral range: a port the
# kernel picked (bind to port 0) is one it also hands to outgoing connections, and a server that
# takes seconds to bind (Cassandra) lost its port that way to a test's client socket.
free_port() {
  python3 - <<'PY'
import random, socket
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        ephemeral_low = int(ports.read().split()[0])
except OSError:
    ephemeral_low = 32768
for _ in range(200):
    s = socket.socket()
    port = random.randrange(10000, ephemeral_low) if ephemeral_low > 11000 else 0
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(s.getsockname()[1])
    break
else:
    raise SystemExit("free_port: no free port below the ephemeral range")
PY
}

# Stops the process whose pid is in PID_FILE: SIGTERM, up to TRIES checks SECONDS apart for
# it to exit cleanly, then SIGKILL; removes the pid file. Nothing to do without one.
stop_process() {
  local pid_file=$1 tries=$2 seconds=$3
  [[ -f $pid_file ]] || return 0
  local pid; pid=$(cat "$pid_file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq "$tries"); do kill -0 "$pid" 2>/dev/null || break; sleep "$seconds"; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

# A certificate authority of a test server's own, the server's certificate (127.0.0.1,
# localhost) and a client's, both signed by it, and a stranger CA the server does not know,
# into DIR (once: a resumed server keeps its certificates, until they are within a week of
# expiring — they last 30 days, and a server's directory can outlive that): ca.crt, server.crt/.key,
# client.crt/.key, stranger-ca.crt; for renewal, a second client certificate of the same CA
# (renewed-client.crt/.key) and one of the stranger's (stranger-client.crt/.key).
make_test_certificates() {
  local dir=$1
  command -v openssl >/dev/null || install_openssl
  if [[ -f $dir/stranger-client.crt ]] && openssl x509 -checkend $((7 * 86400)) -noout -in "$dir/client.crt" >/dev/null; then
    return
  fi
  mkdir -p "$dir"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  local ca_extensions=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
  local authority
  for authority in ca stranger-ca; do
    openssl req -x509 "${ec[@]}" -days 30 -subj "/CN=upline test $authority" "${ca_extensions[@]}" \
      -keyout "$dir/$authority.key" -out "$dir/$authority.crt" 2>/dev/null
  done
  local who usage signer
  for who in server client renewed-client stranger-client; do
    usage=clientAuth; [[ $who == server ]] && usage=serverAuth
    signer=ca; [[ $who == stranger-client ]] && signer=stranger-ca
    openssl req "${ec[@]}" -subj "/CN=upline test $who" \
      -keyout "$dir/$who.key" -out "$dir/$who.csr" 2>/dev/null
    openssl x509 -req -in "$dir/$who.csr" -CA "$dir/$signer.crt" -CAkey "$dir/$signer.key" -CAcreateserial \
      -days 30 -out "$dir/$who.crt" \
      -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=%s\n' "$usage") \
      2>/dev/null
  done
  rm -f "$dir"/*.csr "$dir"/*.srl
}

install_openssl() {
  log "installing openssl (the TLS tests' certificates)"
  local sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq openssl >&2
}
