"""The `flask --app wsgi …` commands (SPEC 9.3), registered in one place."""
from __future__ import annotations

import click


def init_app(app) -> None:
    from menus import cli as menu_cli
    from models import cli as db_cli
    from models import cli_accounts, seed

    db_cli.init_app(app)            # db upgrade
    cli_accounts.init_app(app)      # accounts add-ministry, graduates import
    menu_cli.init_app(app)          # menu push, menu show
    seed.init_app(app)              # seed demo
    app.cli.add_command(check_command)
    # `worker` and `jobs` are registered by jobs.init_app.


@click.command("check", help="检查当前环境（FDY_ENV）的配置：列出每个不可用的设置，有问题时退出码为 1。不连接任何服务。")
def check_command() -> None:
    import config as settings

    # The app was built from this same environment; read it again so that the list is complete
    # in every FDY_ENV (create_app refuses a bad production configuration before we get here).
    cfg = settings.load_config()
    found = settings.problems(cfg)
    if found:
        raise settings.ConfigError(found)
    click.echo(f"配置检查通过（FDY_ENV={cfg.ENV_NAME}）")
