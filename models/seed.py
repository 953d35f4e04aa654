"""`flask --app wsgi seed demo`: a small believable data set for trying fdy out."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .base import db
from .units import Unit
from .vocab import MINISTRY

seed_cli = AppGroup("seed", help="Demo data.")


def ensure_ministry(session) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.kind == MINISTRY))
    if unit is None:
        unit = Unit(kind=MINISTRY, name="教育部")
        session.add(unit)
        session.flush()
    return unit


@seed_cli.command("demo")
def demo() -> None:
    """Load the demo data set (safe to run twice)."""
    session = db.session
    ensure_ministry(session)
    session.commit()
    click.echo("演示数据已就绪。")


def init_app(app) -> None:
    app.cli.add_command(seed_cli)
