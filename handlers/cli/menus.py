"""`flask --app wsgi menu push|show` (SPEC 9.3)."""
from __future__ import annotations

import json
import time

import click
from flask import current_app
from flask.cli import AppGroup

from jobs.menus import enqueue_push, push_menus_job
from menus.data import ROLE_TAGS, all_menus
from menus.validate import menu_errors

menu = AppGroup("menu", help="公众号菜单：发布（push）与查看（show）。")


def init_app(app) -> None:
    app.cli.add_command(menu)


@menu.command("show")
def show() -> None:
    """以 JSON 显示菜单：默认菜单，以及每个角色标签一个个性化菜单。"""
    menus = all_menus(current_app.config)
    out = {"default": {"button": menus["default"]},
           "conditional": [{"role": role, "tag": tag, "button": menus[role]} for role, tag in ROLE_TAGS.items()]}
    problems = {name: errs for name, buttons in menus.items() if (errs := menu_errors(buttons))}
    if problems:  # shown, not raised: `show` is how one finds out what is wrong
        out["problems"] = problems
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@menu.command("push")
@click.option("--now", is_flag=True, help="在本进程中直接发布，不交给 worker。")
@click.option("--wait", default=30, show_default=True, help="等待 worker 返回结果的秒数。")
def push(now: bool, wait: int) -> None:
    """校验并发布菜单：默认菜单，以及每个角色标签一个个性化菜单。"""
    if now:
        outcome = push_menus_job()
        click.echo(outcome["text"])
        if not outcome["ok"]:
            raise SystemExit(1)
        return
    job = enqueue_push()
    click.echo(f"菜单发布任务已排队（job {job.id}），等待 worker 执行……")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status == "finished":
            outcome = job.return_value()
            click.echo(outcome["text"])
            if not outcome["ok"]:
                raise SystemExit(1)
            return
        if status in ("failed", "stopped", "canceled"):
            click.echo(f"菜单发布任务失败（{status}），请查看 worker 日志。", err=True)
            raise SystemExit(1)
        time.sleep(0.5)
    click.echo(f"{wait} 秒内没有 worker 执行该任务：请确认 `flask --app wsgi worker` 在运行，"
               "或用 `menu push --now` 直接发布。", err=True)
    raise SystemExit(2)
