# fdy developer tasks. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV  := .venv
STAMP := $(VENV)/.stamp

.PHONY: help venv run test bench migration clean distclean

help:
	@echo "make venv        .venv with requirements-dev.txt (reinstalls when requirements change)"
	@echo "make run         demo: web :5000 (PORT=), worker, WeChat simulator :9100; Ctrl-C stops"
	@echo "make test        tests on SQLite and on MariaDB (installs/starts services; PYTEST_ARGS=)"
	@echo "make bench       benchmarks (bench/run_all.py --preset small)"
	@echo "make migration   a new Alembic revision for model changes (MSG=\"what changed\")"
	@echo "make clean       remove .run/, instance/*.db, caches;  make distclean: also .venv"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@bash -c '. scripts/lib.sh && ensure_venv'
	@touch $(STAMP)

run: venv
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

migration: venv
	@scripts/regen-migration.sh

clean:
	@if [ -f .run/redis.pid ]; then kill "$$(cat .run/redis.pid)" 2>/dev/null || true; fi
	rm -rf .run .pytest_cache .hypothesis test-artifacts
	rm -f instance/*.db instance/*.db-journal instance/*.db-wal instance/*.db-shm
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
