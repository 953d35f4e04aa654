"""The WeRoBot instance: used for parsing, the handler registry and replies only.

Sessions are off (WeRoBot's session keys have no TTL); crypto is done per
request by the webhook, never through robot.crypto (sticky per process).
"""
from __future__ import annotations

from flask import Flask
from werobot import WeRoBot


def make_robot(app: Flask) -> WeRoBot:
    robot = WeRoBot(
        token=app.config["WECHAT_TOKEN"],
        app_id=app.config["WECHAT_APP_ID"],
        app_secret=app.config["WECHAT_APP_SECRET"],
        SESSION_STORAGE=False,
    )
    import handlers

    handlers.register_all(robot)
    return robot


def init_app(app: Flask) -> None:
    app.extensions["fdy.robot"] = make_robot(app)
