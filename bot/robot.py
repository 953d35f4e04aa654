"""The WeRoBot instance: used for parsing, the handler registry and replies only.

Sessions are off (WeRoBot's session keys have no TTL); crypto is done per
request by the webhook, never through robot.crypto (sticky per process).
The handlers are registered on it by handlers.init_app (the routes table).
"""
from __future__ import annotations

from flask import Flask, current_app
from werobot import WeRoBot


def make_robot(app: Flask) -> WeRoBot:
    return WeRoBot(
        token=app.config["WECHAT_TOKEN"],
        app_id=app.config["WECHAT_APP_ID"],
        app_secret=app.config["WECHAT_APP_SECRET"],
        SESSION_STORAGE=False,
    )


def get_robot(app: Flask | None = None) -> WeRoBot:
    return (app or current_app).extensions["fdy.robot"]


def init_app(app: Flask) -> None:
    app.extensions["fdy.robot"] = make_robot(app)
