#!/usr/bin/env bash
# Benchmarks: bench/run_all.py --preset small (BENCH_PRESET=, extra args: BENCH_ARGS=).
# Redis: BENCH_REDIS_URL if set, else 127.0.0.1:6379 db 9, else a private redis-server for the run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

if [ ! -f bench/run_all.py ]; then
    echo "no benchmarks yet"
    exit 0
fi
ensure_venv

TMP=""
REDIS_PID=""
cleanup() {
    local rc=$?
    if [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null
        for _ in $(seq 1 20); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.25; done
    fi
    [ -n "$TMP" ] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${BENCH_REDIS_URL:-}" ] && { [ "${FDY_FORCE_PRIVATE_SERVICES:-0}" = 1 ] || ! redis_ping 6379; }; then
    command -v redis-server >/dev/null 2>&1 || apt_ensure redis-server
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/fdy-bench.XXXXXX")"
    port="$(free_port)"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$TMP" --save "" \
        --appendonly no --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" >/dev/null
    wait_until 10 redis_ping "$port" || die "private redis-server did not answer"
    REDIS_PID="$(cat "$TMP/redis.pid")"
    export BENCH_REDIS_URL="redis://127.0.0.1:$port/9"
    log "Redis: private redis-server on 127.0.0.1:$port for the benchmarks"
fi

read -r -a EXTRA <<<"${BENCH_ARGS:-}"
"$VENV/bin/python" bench/run_all.py --preset "${BENCH_PRESET:-small}" ${EXTRA[@]+"${EXTRA[@]}"}
