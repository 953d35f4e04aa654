"""`flask --app wsgi check` (SPEC 9.3): the configuration checked for its FDY_ENV, contacting nothing."""
from __future__ import annotations

import click

import config as settings


@click.command("check", help="检查当前环境（FDY_ENV）的配置：列出每个不可用的设置，有问题时退出码为 1。不连接任何服务。")
def check_command() -> None:
    # The app was built from this same environment; read it again so that the list is complete
    # in every FDY_ENV (create_app refuses a bad production configuration before we get here).
    cfg = settings.load_config()
    found = settings.problems(cfg)
    if found:
        raise settings.ConfigError(found)
    click.echo(f"配置检查通过（FDY_ENV={cfg.ENV_NAME}）")


def init_app(app) -> None:
    app.cli.add_command(check_command)
