"""What a message, click, event or page request does: one module per concern.

register_all() is the one place the order of handlers is decided: WeRoBot
tries them in registration order and the first non-empty reply wins, so
specific commands come first and the help fallback last.
"""
from __future__ import annotations

from . import events, help


def register_all(robot) -> None:
    events.register(robot)
    help.register(robot)
    help.register_fallback(robot)


def init_app(app) -> None:
    """Page blueprints are registered here."""
