"""`flask --app wsgi accounts add-ministry`, `graduates import` and `units import` (SPEC 9.3)."""
from __future__ import annotations

import os
import sys

import click
from flask.cli import AppGroup

from jobs.imports import import_job_id, start_import, start_unit_import
from jobs.progress import ProgressBar
from models import db
from models.account_rules import add_ministry_account
from models.importer import import_graduates
from models.unit_import import import_units

from .. import follow_up

accounts_cli = AppGroup("accounts", help="平台账号。")
graduates_cli = AppGroup("graduates", help="毕业生就业数据。")
units_cli = AppGroup("units", help="省份、学校、院系名单。")


@accounts_cli.command("add-ministry")
@click.option("--name", required=True, help="姓名")
@click.option("--phone", required=True, help="11位手机号")
def add_ministry(name: str, phone: str) -> None:
    """创建部级账号（只能通过命令行创建）。"""
    result = follow_up.start(add_ministry_account(db.session, name=name.strip(), phone=phone.strip(), notify="now"))
    click.echo(result.text("未添加部级账号"))
    if not result.ok:
        sys.exit(1)


def _run_import(path: str, background: bool, quiet: bool, kind: str, start, run) -> None:
    """One way to import a file from the shell: queued (prints the job id) or here with a bar."""
    if background:
        job = start(path)
        job_id = job.id if job is not None else import_job_id(path, kind)
        click.echo(f"已排队导入 {os.path.basename(path)}（任务 {job_id}）。" if job is not None
                   else f"该文件已在导入队列中（任务 {job_id}）。")
        click.echo(f"查看进度：flask --app wsgi jobs show {job_id}")
        return
    bar = None if quiet else ProgressBar()
    try:
        report = run(db.session, path, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    click.echo(report.summary(max_errors=len(report.errors)))
    if report.errors:
        sys.exit(1)


_BACKGROUND_HELP = "作为后台任务导入（需运行 bulk 队列的 worker），立即返回任务号。"


@graduates_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--background", is_flag=True, help=_BACKGROUND_HELP)
@click.option("--quiet", is_flag=True, help="不显示进度条。")
def import_graduates_command(path: str, background: bool, quiet: bool) -> None:
    """导入毕业生数据：UTF-8 CSV（首行为表头）或 .xlsx。重复导入同一学号会更新。"""
    _run_import(path, background, quiet, "graduates", start_import, import_graduates)


@units_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--background", is_flag=True, help=_BACKGROUND_HELP)
@click.option("--quiet", is_flag=True, help="不显示进度条。")
def import_units_command(path: str, background: bool, quiet: bool) -> None:
    """导入单位名单：UTF-8 CSV 或 .xlsx，表头为 省份,学校,院系（院系可空）。只新增缺少的，不改动已有的。"""
    _run_import(path, background, quiet, "units", start_unit_import, import_units)


def init_app(app) -> None:
    """Registers the accounts, graduates and units command groups."""
    app.cli.add_command(accounts_cli)
    app.cli.add_command(graduates_cli)
    app.cli.add_command(units_cli)
