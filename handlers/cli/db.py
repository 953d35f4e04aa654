"""`flask --app wsgi db upgrade`: create or migrate the schema with Alembic."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from models import migrate

db_cli = AppGroup("db", help="数据库结构（Alembic 迁移）。")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """创建数据库结构或迁移到 REVISION（默认：最新 head）。"""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo("数据库结构已是最新。")


@db_cli.command("current")
def current_command() -> None:
    """显示数据库当前的结构版本。"""
    migrate.current(current_app.config["DATABASE_URL"])


def init_app(app) -> None:
    app.cli.add_command(db_cli)
