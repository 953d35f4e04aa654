# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; don't run it.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO_ROOT/.venv}"

log()  { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m!!\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root for: $* (not root and no sudo)"
    fi
}

# A free TCP port on 127.0.0.1 (asks the kernel for one).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# redis_ping PORT [HOST] -> success when the server answers +PONG.
redis_ping() {
    python3 - "$1" "${2:-127.0.0.1}" <<'PY' >/dev/null 2>&1
import socket, sys
try:
    s = socket.create_connection((sys.argv[2], int(sys.argv[1])), timeout=1)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

# Wait until no apt/dpkg process holds the package locks (another installer may be running).
wait_for_apt() {
    command -v fuser >/dev/null 2>&1 || return 0
    local waited=0
    while as_root fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock \
                         /var/lib/apt/lists/lock /var/cache/apt/archives/lock >/dev/null 2>&1; do
        [ "$waited" -eq 0 ] && log "apt is busy (another install is running); waiting for it"
        waited=$((waited + 5))
        [ "$waited" -ge 1800 ] && die "apt still locked after 30 minutes"
        sleep 5
    done
}

_apt() {
    wait_for_apt
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# apt_ensure PKG... : install only the packages that are missing (one `apt-get update` first).
_APT_UPDATED=0
apt_ensure() {
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get; install them by hand"
    log "installing system packages: ${missing[*]}"
    if [ "$_APT_UPDATED" -eq 0 ]; then
        _apt -qq update >/dev/null
        _APT_UPDATED=1
    fi
    _apt -qq -y --no-install-recommends install "${missing[@]}" >/dev/null
}

# Python must be able to make a venv (Debian's python3 needs python3-venv for ensurepip).
ensure_python_venv_support() {
    command -v python3 >/dev/null 2>&1 || apt_ensure python3 python3-venv
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_ensure python3-venv
}

# .venv with requirements-dev.txt; reinstalls only when a requirements file is newer than the stamp.
ensure_venv() {
    local stamp="$VENV/.stamp" req="$REPO_ROOT/requirements.txt" dev="$REPO_ROOT/requirements-dev.txt"
    [ -f "$req" ] && [ -f "$dev" ] || die "requirements.txt / requirements-dev.txt not found in $REPO_ROOT"
    if [ -f "$stamp" ] && [ -x "$VENV/bin/python" ] && [ ! "$req" -nt "$stamp" ] && [ ! "$dev" -nt "$stamp" ]; then
        return 0
    fi
    ensure_python_venv_support
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtualenv $VENV"
        python3 -m venv "$VENV"
    fi
    log "installing Python requirements (requirements-dev.txt)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$dev"
    touch "$stamp"
}

# wait_until SECONDS CMD... : retry CMD every 0.5 s until it succeeds or time runs out.
wait_until() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@"; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.5
    done
}
