"""The `flask --app wsgi …` commands (SPEC 9.3), registered in one place."""
from __future__ import annotations


def init_app(app) -> None:
    from models import cli as db_cli
    from models import seed

    db_cli.init_app(app)
    seed.init_app(app)
    # `worker` is registered by jobs.init_app.
