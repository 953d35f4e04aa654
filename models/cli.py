"""`flask --app wsgi db upgrade`: create or migrate the schema with Alembic."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

import config as settings

db_cli = AppGroup("db", help="数据库结构（Alembic 迁移）。")


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config(str(settings.PROJECT_ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(settings.PROJECT_ROOT / "migrations"))
    # '%' must be escaped for configparser (URLs may carry %-encoded passwords).
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """创建数据库结构或迁移到 REVISION（默认：最新 head）。"""
    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo("数据库结构已是最新。")


@db_cli.command("current")
def current_command() -> None:
    """显示数据库当前的结构版本。"""
    from alembic import command

    command.current(alembic_config(current_app.config["DATABASE_URL"]))


def init_app(app) -> None:
    app.cli.add_command(db_cli)
