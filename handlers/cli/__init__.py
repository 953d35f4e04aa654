"""The `flask --app wsgi …` commands (SPEC 9.3), registered in one place."""
from __future__ import annotations

from . import accounts, check, db, demo, menus, worker


def init_app(app) -> None:
    db.init_app(app)            # db upgrade, db current
    accounts.init_app(app)      # accounts add-ministry, graduates import
    menus.init_app(app)         # menu push, menu show
    demo.init_app(app)          # seed demo
    worker.init_app(app)        # worker, jobs list|show|retry
    check.init_app(app)         # check
