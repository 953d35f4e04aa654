"""`flask --app wsgi worker`: an RQ worker with the app context and the scheduler."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import Worker


def init_app(app) -> None:
    app.cli.add_command(worker)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--no-scheduler", is_flag=True, help="Do not run the scheduler for delayed jobs.")
@with_appcontext
def worker(burst: bool, no_scheduler: bool) -> None:
    from bot.store import get_redis
    from . import QUEUE_NAMES, queue

    # Configure mappers before any fork, so each job does not pay for it.
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    # A worker start is the natural moment to pick up fan-outs orphaned by a crash or a
    # Redis outage: rows are leased atomically, so this never sends anything twice.
    from .notify import resume_all

    requeued = resume_all()
    if requeued:
        click.echo(f"re-queued {requeued} unfinished notification job(s)")
    queues = [queue(name) for name in QUEUE_NAMES]
    w = Worker(queues, connection=get_redis(current_app))
    w.work(burst=burst, with_scheduler=not no_scheduler)
