#!/usr/bin/env bash
# The main job on the embedded default (no external services): `upline demo` generates a
# one-million-distributor network with a month of orders, loads it into the embedded store,
# closes the period and serves the API on 127.0.0.1:8080 (Ctrl-C stops it; run it again to
# serve the same data at once).
#   UPLINE_DISTRIBUTORS (default 1000000), UPLINE_DATA (default ./upline-demo),
#   UPLINE_LISTEN (default 127.0.0.1:8080)
# The file-based close of earlier sessions is still one command away:
#   upline generate ... && upline commissions ...   (see README)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo build --release --quiet -p upline
exec target/release/upline demo --distributors "${UPLINE_DISTRIBUTORS:-1000000}" "$@"
