#!/usr/bin/env bash
# Regenerate the single initial Alembic revision (0001) from the models, against a fresh SQLite.
# Review the result (git diff migrations/) before committing: autogenerate misses some changes
# (server defaults, constraint renames, enum changes).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

ensure_venv
[ -f migrations/alembic.ini ] || die "migrations/alembic.ini not found"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/fdy-migration.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

mkdir -p migrations/versions
rm -f migrations/versions/*.py
rm -rf migrations/versions/__pycache__

export DATABASE_URL="sqlite:///$TMP/empty.db"
export FDY_ENV="${FDY_ENV:-development}"
log "autogenerating migrations/versions/0001 against an empty SQLite database"
"$VENV/bin/alembic" -c migrations/alembic.ini revision --autogenerate -m initial --rev-id 0001
ls migrations/versions/*.py
