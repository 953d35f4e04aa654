"""What a message, click, event or page request does: one module per concern.

The chat's commands and menu buttons, and the order WeRoBot tries them in, are the routes table
(handlers/routes.py): its register_all() is the one place that order is decided.
"""
from __future__ import annotations

from bot.robot import get_robot

from . import cli, health, pages, questions
from .routes import register_all


def init_app(app) -> None:
    register_all(get_robot(app))
    app.register_blueprint(health.bp)   # /healthz
    pages.init_app(app)
    cli.init_app(app)
    if not app.testing:
        questions.warm_up()
