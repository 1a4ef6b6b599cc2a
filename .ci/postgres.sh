#!/usr/bin/env bash
# A throw-away PostgreSQL server for the distributed-search tests (tests/search/test_postgres.py),
# from Debian's `postgresql` package (installed with apt-get when missing).
#
#   eval "$(bash .ci/postgres.sh start)"   # fresh cluster on 127.0.0.1; prints the exports below
#   python -m pytest -q tests/search/test_postgres.py
#   bash .ci/postgres.sh stop              # stop the server and delete its data
#
# `pause` / `resume` stop and start the same cluster (the database-restart test calls them
# through LIT_DISTILL_TEST_POSTGRES_CTL). Port: LIT_DISTILL_PG_PORT (55432), data directory:
# LIT_DISTILL_PG_DIR (/tmp/lit_distill_pg). The credentials are for this test server only.
set -euo pipefail

ROOT_DIR=${LIT_DISTILL_PG_DIR:-/tmp/lit_distill_pg}
PORT=${LIT_DISTILL_PG_PORT:-55432}
ROLE=lit_distill
DB=lit_distill
PASSWORD=lit_distill_test
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

# initdb and the server refuse to run as root: as root, run them as Debian's `postgres` user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then (cd /tmp && runuser -u postgres -- "$@"); else (cd /tmp && "$@"); fi
}

install() {
    [ -n "$(bindir)" ] && return 0
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >&2
}

server() {  # pg_ctl start|stop on our cluster
    local bin
    bin=$(bindir)
    if [ "$1" = start ]; then
        as_owner "$bin/pg_ctl" -D "$ROOT_DIR/data" -l "$ROOT_DIR/server.log" -w -t 60 \
            -o "-p $PORT -k $ROOT_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
            start >&2
    else
        as_owner "$bin/pg_ctl" -D "$ROOT_DIR/data" -m fast -w stop >&2
    fi
}

case "${1:-}" in
start)
    install
    bin=$(bindir)
    [ -f "$ROOT_DIR/data/postmaster.pid" ] && server stop || true
    rm -rf "$ROOT_DIR"
    mkdir -p "$ROOT_DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$ROOT_DIR"
    as_owner "$bin/initdb" -D "$ROOT_DIR/data" -U postgres -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    server start
    as_owner "$bin/psql" -h "$ROOT_DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" -c "CREATE DATABASE $DB OWNER $ROLE" >&2
    echo "export LIT_DISTILL_TEST_POSTGRES_URL=postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
    echo "export LIT_DISTILL_TEST_POSTGRES_CTL='bash $SELF'"
    ;;
pause) server stop ;;
resume) server start ;;
stop)
    if [ -f "$ROOT_DIR/data/postmaster.pid" ]; then server stop; fi
    rm -rf "$ROOT_DIR"
    ;;
*)
    echo "usage: bash .ci/postgres.sh start|stop|pause|resume" >&2
    exit 2
    ;;
esac
