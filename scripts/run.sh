#!/usr/bin/env bash
# Run the demo locally: web (gunicorn), worker (RQ) and the WeChat simulator, on SQLite and a
# local Redis. Stays in the foreground; Ctrl-C stops everything it started.
#
# Any of the variables below can be overridden by exporting it first, e.g.
#   PORT=5050 make run        REDIS_URL=redis://127.0.0.1:6380/0 make run
#   FDY_FORCE_PRIVATE_SERVICES=1 make run   (private Redis even if 6379 answers)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

RUN_DIR="$REPO_ROOT/.run"
mkdir -p "$RUN_DIR" "$REPO_ROOT/instance"

PORT="${PORT:-5000}"
SIM_PORT="${SIM_PORT:-9100}"
PIDS=()
OWN_REDIS=0

stop_all() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ "${#PIDS[@]}" -gt 0 ]; then
        log "stopping web, worker and simulator"
        kill -TERM "${PIDS[@]}" 2>/dev/null
        for _ in $(seq 1 40); do
            local alive=0 p
            for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
            [ "$alive" -eq 0 ] && break
            sleep 0.25
        done
        kill -KILL "${PIDS[@]}" 2>/dev/null
        wait 2>/dev/null
    fi
    if [ "$OWN_REDIS" -eq 1 ] && [ -f "$RUN_DIR/redis.pid" ]; then
        log "stopping the private redis-server"
        local rpid; rpid="$(cat "$RUN_DIR/redis.pid")"
        kill "$rpid" 2>/dev/null
        for _ in $(seq 1 20); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.25; done
        rm -f "$RUN_DIR/redis.pid" "$RUN_DIR/redis.port"
    fi
    exit "$rc"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Python ------------------------------------------------------------------------------------
ensure_venv
[ -f "$REPO_ROOT/wsgi.py" ] || die "wsgi.py not found: the app is not there yet"

# --- Redis -------------------------------------------------------------------------------------
if [ -z "${REDIS_URL:-}" ]; then
    command -v redis-server >/dev/null 2>&1 || apt_ensure redis-server
    if [ "${FDY_FORCE_PRIVATE_SERVICES:-0}" != 1 ] && redis_ping 6379; then
        REDIS_PORT=6379
        log "Redis: using the one on 127.0.0.1:6379"
    elif [ -f "$RUN_DIR/redis.pid" ] && [ -f "$RUN_DIR/redis.port" ] \
            && kill -0 "$(cat "$RUN_DIR/redis.pid")" 2>/dev/null && redis_ping "$(cat "$RUN_DIR/redis.port")"; then
        REDIS_PORT="$(cat "$RUN_DIR/redis.port")"
        OWN_REDIS=1
        log "Redis: reusing the private redis-server on 127.0.0.1:$REDIS_PORT"
    else
        REDIS_PORT="$(free_port)"
        redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RUN_DIR" \
            --save "" --appendonly no --pidfile "$RUN_DIR/redis.pid" \
            --logfile "$RUN_DIR/redis.log" >/dev/null
        OWN_REDIS=1
        echo "$REDIS_PORT" >"$RUN_DIR/redis.port"
        wait_until 10 redis_ping "$REDIS_PORT" || die "private redis-server did not answer (see .run/redis.log)"
        log "Redis: started a private redis-server on 127.0.0.1:$REDIS_PORT (log: .run/redis.log)"
    fi
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
else
    log "Redis: using REDIS_URL from the environment"
fi

# --- demo environment (exported values win) ----------------------------------------------------
SIM="http://127.0.0.1:$SIM_PORT"
export WECHAT_TOKEN="${WECHAT_TOKEN:-fdy-demo-token}"
export WECHAT_APP_ID="${WECHAT_APP_ID:-wxdemo0000000000}"
export WECHAT_APP_SECRET="${WECHAT_APP_SECRET:-demo-secret}"
export WECHAT_AES_KEY="${WECHAT_AES_KEY:-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG}"
export WECHAT_API_BASE="${WECHAT_API_BASE:-$SIM}"
export WECHAT_OAUTH_BASE="${WECHAT_OAUTH_BASE:-$SIM}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}"
export TEMPLATE_TASK_ID="${TEMPLATE_TASK_ID:-demo-task-template}"
export TEMPLATE_REMINDER_ID="${TEMPLATE_REMINDER_ID:-demo-reminder-template}"
export SMS_BACKEND="${SMS_BACKEND:-http}"
export SMS_HTTP_URL="${SMS_HTTP_URL:-$SIM/_sim/sms}"
export SECRET_KEY="${SECRET_KEY:-dev-only-secret}"
export FDY_ENV="${FDY_ENV:-development}"
# DATABASE_URL stays as given; unset means the app's SQLite file under instance/.
export PYTHONUNBUFFERED=1

FLASK="$VENV/bin/flask"

# --- simulator, then schema and demo data, then web and worker ----------------------------
# start NAME CMD... : run in the background with each output line prefixed by [NAME].
start() {
    local name="$1"; shift
    "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
    PIDS+=($!)
}
http_ok() {
    "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" >/dev/null 2>&1
}

# The simulator first: it is the SMS gateway and WeChat API that `seed demo` already talks to.
start sim "$VENV/bin/python" -m simulator --port "$SIM_PORT" --app-url "http://127.0.0.1:$PORT"
wait_until 20 http_ok "$SIM/" || warn "the simulator did not answer within 20 s (see [sim] lines)"

# --- schema and demo data ----------------------------------------------------------------------
log "database: ${DATABASE_URL:-SQLite under instance/} (flask db upgrade)"
"$FLASK" --app wsgi db upgrade
log "demo data (flask seed demo)"
"$FLASK" --app wsgi seed demo

start web "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$PORT" wsgi:app
start worker "$FLASK" --app wsgi worker
wait_until 30 http_ok "http://127.0.0.1:$PORT/healthz" || warn "the app did not answer /healthz within 30 s (see [web] lines)"
# The greeting and the binding replies point at the menus: publish them, as an admin would.
log "menus (flask menu push --now)"
"$FLASK" --app wsgi menu push --now || warn "menus not pushed; push them later with: $FLASK --app wsgi menu push"

cat >&2 <<MSG

  ┌───────────────────────────────────────────────────────────────────┐
    fdy demo is running
      WeChat simulator (start here):  $SIM/
      app health:                     http://127.0.0.1:$PORT/healthz
      Redis:                          $REDIS_URL
    Ctrl-C stops everything.
  └───────────────────────────────────────────────────────────────────┘

MSG

# Stay in the foreground; if any of the three exits, stop the others.
set +e
wait -n "${PIDS[@]}"
rc=$?
sleep 0.5   # on Ctrl-C every process gets SIGINT: let our INT trap run first
set -e
warn "a process exited (status $rc); stopping the rest"
[ "$rc" -eq 0 ] && rc=1
exit "$rc"
