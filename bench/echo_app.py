"""A bare WeRoBot robot that replies with the text it gets: the baseline of bench/webhook.py.

    gunicorn -w 2 bench.echo_app:app     (WECHAT_TOKEN from the environment)

Same signature check and XML parse/render as any WeRoBot app, no database,
no Redis: what a WeChat webhook costs with nothing behind it.
"""
from __future__ import annotations

import os

from werobot import WeRoBot

robot = WeRoBot(token=os.environ.get("WECHAT_TOKEN", "bench-token"), SESSION_STORAGE=False)


@robot.text
def echo(message):
    return message.content


app = robot.wsgi
