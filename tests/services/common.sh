# Shell helpers shared by the service scripts of tests/services (sourced, not run).

# A TCP port free on the loopback now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
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
