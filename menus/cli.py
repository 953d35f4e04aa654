"""`flask --app wsgi menu push|show` (being written)."""
from __future__ import annotations


def init_app(app) -> None:
    """Registers the menu command group."""
