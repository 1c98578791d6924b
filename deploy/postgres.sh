#!/usr/bin/env bash
# A throwaway PostgreSQL server for the demo and the tests, from the system's packages.
#
#   deploy/postgres.sh install      install the server packages when missing (Debian/Ubuntu)
#   deploy/postgres.sh start [DIR]  start a server with its data in DIR (default: .shelfflow/postgres
#                                   under the project) on a free loopback port; prints
#                                   DATABASE_URL=postgres://shelfflow@127.0.0.1:PORT/shelfflow
#                                   (already running: prints the URL again)
#   deploy/postgres.sh url [DIR]    prints the URL of the server in DIR, fails when it is not running
#   deploy/postgres.sh stop [DIR]   stops the server in DIR (keeps its data)
#   deploy/postgres.sh pause [DIR]  stops the server, keeping its port for the next `start`
#   deploy/postgres.sh destroy [DIR] stops the server and deletes DIR
#
# Trust authentication on 127.0.0.1 only: for development and tests, never for production.
# When run as root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COMMAND="${1:-start}"
DIR="${2:-${SHELFFLOW_PG_DIR:-$ROOT/.shelfflow/postgres}}"
mkdir -p "$(dirname "$DIR")"
DIR="$(cd "$(dirname "$DIR")" && pwd)/$(basename "$DIR")"
DATA="$DIR/data"
LOG="$DIR/server.log"

log() { echo "postgres.sh: $*" >&2; }
# shellcheck source=deploy/packages.sh
. "$ROOT/deploy/packages.sh"

find_bin() {
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$found" ] && [ -x "$found/pg_ctl" ]; then
        echo "$found"
        return 0
    fi
    return 1
}

install_server() {
    if find_bin >/dev/null; then
        return 0
    fi
    install_packages "PostgreSQL server (initdb, pg_ctl)" postgresql
    find_bin >/dev/null || { log "the postgresql package installed no pg_ctl"; exit 1; }
}

# Runs a command as the server's owner: the `postgres` user when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
        fi
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url_of() {
    echo "postgres://shelfflow@127.0.0.1:$(cat "$DIR/port")/shelfflow"
}

running() {
    [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
    install_server
    BIN="$(find_bin)"
    if [ -d "$DATA" ] && running; then
        echo "DATABASE_URL=$(url_of)"
        return 0
    fi
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
        chown postgres "$DIR"
        # The server user must be able to reach DIR.
        local d="$DIR"
        while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
        log "initializing $DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U shelfflow --auth=trust --encoding=UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
            || { cat "$DIR/initdb.log" >&2; exit 1; }
    fi
    if [ ! -f "$DIR/port" ]; then free_port >"$DIR/port"; fi
    local port
    port="$(cat "$DIR/port")"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -o \
        "-c listen_addresses=127.0.0.1 -p $port -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || { tail -n 20 "$LOG" >&2; exit 1; }
    if ! psql -h 127.0.0.1 -p "$port" -U shelfflow -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'shelfflow'" | grep -q 1; then
        psql -h 127.0.0.1 -p "$port" -U shelfflow -d postgres -qc "CREATE DATABASE shelfflow" >/dev/null
    fi
    log "PostgreSQL running on 127.0.0.1:$port, data in $DATA"
    echo "DATABASE_URL=$(url_of)"
}

stop() {
    BIN="$(find_bin)" || return 0
    if [ -d "$DATA" ] && running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
}

case "$COMMAND" in
    install) install_server ;;
    start) start ;;
    url)
        BIN="$(find_bin)" || exit 1
        running || { log "no server running in $DIR"; exit 1; }
        echo "DATABASE_URL=$(url_of)"
        ;;
    stop) stop; rm -f "$DIR/port" ;;
    pause) stop ;;
    destroy) stop; rm -rf "$DIR" ;;
    *) log "unknown command \`$COMMAND\` (install, start, url, stop, pause, destroy)"; exit 2 ;;
esac
