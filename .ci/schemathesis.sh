#!/usr/bin/env bash
# The OpenAPI document against the live server: `schemathesis run --checks all` on `medcite serve`,
# once without API keys (loopback mode: no security declared) and once with keys (admin key sent).
# Each run gets its own copy of a small ingested store (the fuzzer uploads and deletes documents).
# Exit status: schemathesis's (any failure fails CI). Called from .ci/run; also runs by hand.
#
# CI replays fixed seeds (runs that came out clean), so a landing never hangs on a new random draw;
# SCHEMATHESIS_SEED=random explores fresh cases (do that when changing the API, and fix what it finds).
set -euo pipefail
cd "$(dirname "$0")/.."
make setup >/dev/null
BIN="$PWD/.venv/bin"
test -x "$BIN/schemathesis" || { echo "schemathesis missing: it is in the [test] extra (make setup)" >&2; exit 1; }
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
unset MEDCITE_API_KEYS MEDCITE_DATABASE_URL MEDCITE_CHROMA_URL MEDCITE_LLM
started=$(date +%s)
"$BIN/medcite" ingest corpus --data-dir "$WORK/base" --json >/dev/null

free_port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run_mode() {  # $1 = mode name, rest = extra schemathesis arguments
  local mode="$1"; shift
  local data="$WORK/$mode" port log
  cp -a "$WORK/base" "$data"
  port="$(free_port)"
  log="$WORK/$mode-server.log"
  "$BIN/medcite" serve --port "$port" --data-dir "$data" 2>"$log" &
  SERVER_PID=$!
  for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$log" >&2; echo "schemathesis: the $mode server died" >&2; exit 1; fi
    sleep 0.5
  done
  echo "== schemathesis ($mode) on http://127.0.0.1:$port"
  local status=0
  "$BIN/schemathesis" --config-file .ci/schemathesis.toml run "http://127.0.0.1:$port/openapi.json" --checks all --no-color \
    --request-timeout 120 --max-response-time 120 "$@" || status=$?
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  if [ "$status" -ne 0 ]; then
    echo "schemathesis ($mode) failed; server log tail:" >&2; tail -n 40 "$log" >&2
    exit "$status"
  fi
}

seed_args() {  # $1 = the pinned seed of a mode
  if [ "${SCHEMATHESIS_SEED:-}" = "random" ]; then return; fi
  echo "--seed ${SCHEMATHESIS_SEED:-$1}"
}

# shellcheck disable=SC2046
run_mode keyless $(seed_args 75912937185365828468554818092724568589)
ADMIN_KEY="schemathesis-admin-key-0001"  # a throwaway server on loopback
# A rate high enough that the fuzzer's requests are judged on their own merits (tests/ cover the 429).
MEDCITE_API_KEYS="$ADMIN_KEY:admin:Schemathesis,schemathesis-reader-0001:reader" \
MEDCITE_RATE_LIMIT="100000/minute" \
  run_mode keys -H "X-API-Key: $ADMIN_KEY" $(seed_args 51262244309674762557319573774923572677)
echo "schemathesis: both modes clean in $(( $(date +%s) - started )) s"
