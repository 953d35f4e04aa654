"""`flask --app wsgi accounts add-ministry` and `graduates import` (being written)."""
from __future__ import annotations


def init_app(app) -> None:
    """Registers the accounts and graduates command groups."""
