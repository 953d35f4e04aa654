"""`flask --app wsgi accounts add-ministry` and `flask --app wsgi graduates import` (SPEC 9.3)."""
from __future__ import annotations

import os
import sys

import click
from flask.cli import AppGroup

from .base import db

accounts_cli = AppGroup("accounts", help="Platform accounts.")
graduates_cli = AppGroup("graduates", help="Graduate employment data.")


@accounts_cli.command("add-ministry")
@click.option("--name", required=True, help="姓名")
@click.option("--phone", required=True, help="11位手机号")
def add_ministry(name: str, phone: str) -> None:
    """Create a ministry (部级) account; only possible from the command line."""
    from .account_rules import add_ministry_account

    result = add_ministry_account(db.session, name=name.strip(), phone=phone.strip(), notify="now")
    click.echo(result.text("未添加部级账号"))
    if not result.ok:
        sys.exit(1)


@graduates_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--background", is_flag=True, help="作为后台任务导入（需运行 worker）。")
def import_graduates_command(path: str, background: bool) -> None:
    """Import graduates from a UTF-8 CSV (header row) or .xlsx file."""
    if background:
        from jobs.imports import start_import

        job = start_import(path)
        click.echo(f"已排队导入 {os.path.basename(path)}（任务 {job.id}）。" if job is not None
                   else "该文件已在导入队列中。")
        return
    from .importer import import_graduates

    report = import_graduates(db.session, path)
    click.echo(report.summary(max_errors=len(report.errors)))
    if report.errors:
        sys.exit(1)


def init_app(app) -> None:
    """Registers the accounts and graduates command groups."""
    app.cli.add_command(accounts_cli)
    app.cli.add_command(graduates_cli)
