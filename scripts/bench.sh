#!/usr/bin/env bash
# Benchmarks: runs bench/run_all.py --preset small when it exists (extra args: BENCH_ARGS).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

if [ ! -f bench/run_all.py ]; then
    echo "no benchmarks yet"
    exit 0
fi
ensure_venv
read -r -a EXTRA <<<"${BENCH_ARGS:-}"
exec "$VENV/bin/python" bench/run_all.py --preset "${BENCH_PRESET:-small}" ${EXTRA[@]+"${EXTRA[@]}"}
