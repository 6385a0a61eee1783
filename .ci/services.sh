#!/usr/bin/env bash
# Real services for medcite: a throwaway PostgreSQL cluster (Debian's package) and a Chroma server.
#
#   .ci/services.sh ci        install PostgreSQL if missing, start both, run the integration tests
#                             (tests/integration, with MEDCITE_TEST_REQUIRE_SERVICES=1: a skip is a
#                             failure), stop both. Called by .ci/run.
#   .ci/services.sh up        the same topology for a developer: PostgreSQL, a Chroma server and
#                             `medcite serve --workers 2` on http://127.0.0.1:${MEDCITE_PORT:-8000},
#                             until Ctrl+C (`make services`). Data in ${MEDCITE_SERVICES_DIR:-.services}.
#
# initdb refuses to run as root: the cluster belongs to the `postgres` user (../shared/PITFALLS.md §9).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

free_port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

install_postgres() {
  if [ -z "$(pg_bindir)" ]; then
    echo "services: installing PostgreSQL (Debian package)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  # Debian's package starts its own cluster on 5432; ours is separate and throwaway.
}

start_postgres() {  # DIR PORT
  local dir=$1 port=$2 bin
  bin=$(pg_bindir)
  mkdir -p "$dir"
  chown -R postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    su postgres -s /bin/sh -c "$bin/initdb -D '$dir/data' -A trust -U postgres --no-sync" >"$dir/initdb.log" 2>&1
  fi
  su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -l '$dir/server.log' -w -t 60 \
      -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' start" >/dev/null
  su postgres -s /bin/sh -c "$bin/psql -h 127.0.0.1 -p $port -U postgres -tAc \
      \"SELECT 1 FROM pg_database WHERE datname = 'medcite'\" | grep -q 1 || \
      $bin/createdb -h 127.0.0.1 -p $port -U postgres medcite"
}

stop_postgres() {  # DIR
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  su postgres -s /bin/sh -c "$(pg_bindir)/pg_ctl -D '$dir/data' -m fast -w stop" >/dev/null || true
}

start_chroma() {  # DIR PORT
  local dir=$1 port=$2
  mkdir -p "$dir"
  "$BIN/chroma" run --path "$dir/data" --host 127.0.0.1 --port "$port" >"$dir/server.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 120); do
    if "$BIN/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/api/v2/heartbeat', timeout=2)" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "services: the Chroma server did not start; its log:" >&2
  tail -20 "$dir/server.log" >&2
  return 1
}

stop_chroma() {  # DIR
  local dir=$1
  [ -f "$dir/pid" ] || return 0
  kill "$(cat "$dir/pid")" 2>/dev/null || true
  rm -f "$dir/pid"
}

case "${1:-ci}" in
  ci)
    make setup
    install_postgres
    "$BIN/python" -m pip install --quiet --disable-pip-version-check -e '.[postgres,test]'
    WORK=$(mktemp -d /tmp/medcite-services.XXXXXX)
    chmod 755 "$WORK"
    PG_PORT=$(free_port)
    CHROMA_PORT=$(free_port)
    trap 'stop_chroma "$WORK/chroma"; stop_postgres "$WORK/pg"; rm -rf "$WORK"' EXIT
    started=$(date +%s)
    start_postgres "$WORK/pg" "$PG_PORT"
    start_chroma "$WORK/chroma" "$CHROMA_PORT"
    echo "services: PostgreSQL on $PG_PORT, Chroma on $CHROMA_PORT (up in $(( $(date +%s) - started )) s)" >&2
    export MEDCITE_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/medcite"
    export MEDCITE_TEST_CHROMA_URL="http://127.0.0.1:$CHROMA_PORT"
    export MEDCITE_TEST_REQUIRE_SERVICES=1
    "$BIN/python" -m pytest -q -p no:cacheprovider tests/integration
    echo "services: integration tests done in $(( $(date +%s) - started )) s" >&2
    ;;
  up)
    make setup
    install_postgres
    "$BIN/python" -m pip install --quiet --disable-pip-version-check -e '.[postgres]'
    DIR=$(realpath -m "${MEDCITE_SERVICES_DIR:-.services}")
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    PG_PORT=${MEDCITE_PG_PORT:-55432}
    CHROMA_PORT=${MEDCITE_CHROMA_PORT:-58000}
    trap 'stop_chroma "$DIR/chroma"; stop_postgres "$DIR/pg"' EXIT
    start_postgres "$DIR/pg" "$PG_PORT"
    start_chroma "$DIR/chroma" "$CHROMA_PORT"
    export MEDCITE_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/medcite"
    export MEDCITE_CHROMA_URL="http://127.0.0.1:$CHROMA_PORT"
    export MEDCITE_DATA_DIR="$DIR/worker"
    echo "services: PostgreSQL $MEDCITE_DATABASE_URL, Chroma $MEDCITE_CHROMA_URL" >&2
    echo "services: in another shell, with these two variables set: .venv/bin/medcite ingest corpus/" >&2
    "$BIN/medcite" serve --workers 2 --port "${MEDCITE_PORT:-8000}"
    ;;
  *)
    echo "usage: $0 [ci|up]" >&2
    exit 2
    ;;
esac
