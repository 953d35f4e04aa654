"""The `flask --app wsgi …` commands (SPEC 9.3), registered in one place."""
from __future__ import annotations


def init_app(app) -> None:
    from menus import cli as menu_cli
    from models import cli as db_cli
    from models import cli_accounts, seed

    db_cli.init_app(app)            # db upgrade
    cli_accounts.init_app(app)      # accounts add-ministry, graduates import
    menu_cli.init_app(app)          # menu push, menu show
    seed.init_app(app)              # seed demo
    # `worker` is registered by jobs.init_app.
