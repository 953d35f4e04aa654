#!/usr/bin/env bash
# Run the test suite twice: on SQLite, then on MariaDB. Makes the services it needs present:
# installs missing system packages, reuses a running Redis/MariaDB on the default ports, or starts
# private throwaway ones (stopped and deleted at exit).
#
#   PYTEST_ARGS="-k webhook -x"   extra pytest arguments
#   FDY_TEST_REDIS_DB=14          Redis database number on a shared server (default 15)
#   FDY_FORCE_PRIVATE_SERVICES=1  ignore running servers on 6379/3306 and start private ones
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

FORCE_PRIVATE="${FDY_FORCE_PRIVATE_SERVICES:-0}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/fdy-test.XXXXXX")"
REDIS_PID=""
MARIADB_PID=""
MARIADB_DROP=""   # "port db" of a throwaway database created on a shared server

cleanup() {
    local rc=$?
    set +e
    if [ -n "$MARIADB_DROP" ]; then
        # shellcheck disable=SC2086
        set -- $MARIADB_DROP
        mariadb -h127.0.0.1 -P"$1" -uroot -e "DROP DATABASE IF EXISTS \`$2\`" >/dev/null 2>&1 \
            || warn "could not drop test database $2"
    fi
    if [ -n "$MARIADB_PID" ]; then
        mariadb-admin --no-defaults -S "$TMP/mariadb.sock" -uroot shutdown >/dev/null 2>&1 \
            || kill "$MARIADB_PID" 2>/dev/null
        for _ in $(seq 1 60); do kill -0 "$MARIADB_PID" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$MARIADB_PID" 2>/dev/null
    fi
    if [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null
        for _ in $(seq 1 20); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$REDIS_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. system packages -----------------------------------------------------------------------
# systemd (systemd-analyze) and nginx: tests/test_deploy_files.py checks deploy/ with them.
apt_ensure redis-server mariadb-server mariadb-client chromium fonts-noto-cjk systemd nginx
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after installing the chromium package"

# --- 2. Python ---------------------------------------------------------------------------------
ensure_venv

# --- 3. Redis ----------------------------------------------------------------------------------
if [ "$FORCE_PRIVATE" != 1 ] && redis_ping 6379; then
    REDIS_PORT=6379
    log "Redis: using the one on 127.0.0.1:6379 (db ${FDY_TEST_REDIS_DB:-15})"
else
    REDIS_PORT="$(free_port)"
    mkdir -p "$TMP/redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$TMP/redis" \
        --save "" --appendonly no --pidfile "$TMP/redis/redis.pid" \
        --logfile "$TMP/redis/redis.log" >/dev/null
    wait_until 10 redis_ping "$REDIS_PORT" || { cat "$TMP/redis/redis.log" >&2; die "private redis-server did not answer"; }
    REDIS_PID="$(cat "$TMP/redis/redis.pid")"
    log "Redis: started a private redis-server on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"
fi
# FDY_TEST_REDIS_DB lets two checkouts test at once against one shared Redis.
export FDY_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/${FDY_TEST_REDIS_DB:-15}"

# --- 4. MariaDB --------------------------------------------------------------------------------
DB_NAME="fdy_test_$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
mariadb_ok() { mariadb --connect-timeout=2 -h127.0.0.1 -P"$1" -uroot -e 'select 1' >/dev/null 2>&1; }

if [ "$FORCE_PRIVATE" != 1 ] && mariadb_ok 3306; then
    MARIADB_PORT=3306
    log "MariaDB: using the one on 127.0.0.1:3306, throwaway database $DB_NAME"
else
    MARIADB_PORT="$(free_port)"
    MARIADBD="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
    [ -x "$MARIADBD" ] || die "mariadbd not found"
    mariadb-install-db --no-defaults --datadir="$TMP/mariadb" --user="$(id -un)" \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
        >"$TMP/mariadb-install.log" 2>&1 \
        || { cat "$TMP/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
    "$MARIADBD" --no-defaults --datadir="$TMP/mariadb" --user="$(id -un)" \
        --port="$MARIADB_PORT" --bind-address=127.0.0.1 --socket="$TMP/mariadb.sock" \
        --pid-file="$TMP/mariadb.pid" --log-error="$TMP/mariadb.err" \
        --skip-name-resolve --skip-log-bin \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
        --innodb-doublewrite=0 --max-connections=200 >/dev/null 2>&1 &
    MARIADB_PID=$!
    wait_until 60 mariadb_ok "$MARIADB_PORT" \
        || { cat "$TMP/mariadb.err" >&2; die "private mariadbd did not answer on port $MARIADB_PORT"; }
    log "MariaDB: started a private mariadbd on 127.0.0.1:$MARIADB_PORT (pid $MARIADB_PID), database $DB_NAME"
fi
mariadb -h127.0.0.1 -P"$MARIADB_PORT" -uroot \
    -e "CREATE DATABASE \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
[ -z "$MARIADB_PID" ] && MARIADB_DROP="$MARIADB_PORT $DB_NAME"
export FDY_TEST_MARIADB_URL="mysql+pymysql://root@127.0.0.1:$MARIADB_PORT/$DB_NAME?charset=utf8mb4"

# --- 5. browser --------------------------------------------------------------------------------
export FDY_CHROMIUM=/usr/bin/chromium

if [ "${FDY_SERVICES_ONLY:-0}" = 1 ]; then
    # For checking this script: show what the tests would get, then clean up.
    log "services ready: FDY_TEST_REDIS_URL=$FDY_TEST_REDIS_URL FDY_TEST_MARIADB_URL=$FDY_TEST_MARIADB_URL"
    if [ -n "${FDY_SERVICES_ONLY_CMD:-}" ]; then bash -c "$FDY_SERVICES_ONLY_CMD"; fi
    exit 0
fi

# --- 6. import layers -------------------------------------------------------------------------
# The layer contract (.importlinter, docs/ARCHITECTURE.md) and no unexplained imports inside functions.
printf '\n\033[1m======== import layers ========\033[0m\n'
"$VENV/bin/lint-imports" --no-cache || die "import layers broken (lint-imports above): see docs/ARCHITECTURE.md"
"$VENV/bin/python" scripts/inner_imports.py || die "imports inside functions without a reason (listed above)"

# --- 7. pytest, twice --------------------------------------------------------------------------
read -r -a EXTRA <<<"${PYTEST_ARGS:-}"

run_pytest() {  # run_pytest LABEL -> returns pytest's status (5 = no tests = failure)
    local rc=0
    printf '\n\033[1m======== tests on %s ========\033[0m\n' "$1"
    "$VENV/bin/python" -m pytest -q ${EXTRA[@]+"${EXTRA[@]}"} || rc=$?
    [ "$rc" -eq 5 ] && warn "pytest collected no tests ($1): counted as a failure"
    return "$rc"
}

SQLITE_RC=0
MARIADB_RC=0
( unset FDY_TEST_DATABASE_URL; run_pytest "SQLite" ) || SQLITE_RC=$?
( export FDY_TEST_DATABASE_URL="$FDY_TEST_MARIADB_URL"; run_pytest "MariaDB ($DB_NAME)" ) || MARIADB_RC=$?

printf '\n'
[ "$SQLITE_RC" -eq 0 ] && log "SQLite:  passed" || warn "SQLite:  FAILED (pytest exit $SQLITE_RC)"
[ "$MARIADB_RC" -eq 0 ] && log "MariaDB: passed" || warn "MariaDB: FAILED (pytest exit $MARIADB_RC)"
[ "$SQLITE_RC" -eq 0 ] && [ "$MARIADB_RC" -eq 0 ]
