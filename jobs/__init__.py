"""RQ jobs: one connection, named queues, app context per job, ids for once-only work.

A job is a plain function decorated with @job; it takes ids, never ORM
objects, and runs in its own app context with a fresh database session.
Enqueue with `enqueue(...)`; pass `job_id=` for work that must happen once.
"""
from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

from flask import Flask, current_app, has_app_context
from rq import Queue, Retry, get_current_job
from rq.exceptions import DuplicateJobError

from bot.logging_setup import JOB_ID
from bot.store import get_redis

log = logging.getLogger(__name__)

# Queues, in the order a worker on several of them takes jobs. SMS codes and template messages
# have their own queues so that they never wait behind a three-hour import (BULK); a deployment
# gives each its own workers (deploy/fdy-worker@.service, docs/OPERATIONS.md).
SMS = "sms"          # verification codes and account SMS: seconds matter, one user is waiting
HIGH = "high"        # small jobs a staff user waits for (menu push)
NOTIFY = "notify"    # dispatch fan-outs, reminders, 催办: template messages
DEFAULT = "default"  # tags, the durable-jobs sweep, anything else short
BULK = "bulk"        # imports: long
QUEUE_NAMES = (SMS, HIGH, NOTIFY, DEFAULT, BULK)
DEFAULT_TIMEOUT = 600
RESULT_TTL = 3600


def init_app(app: Flask) -> None:
    prefix = app.config.get("RQ_QUEUE_PREFIX", "")
    conn = get_redis(app)
    app.extensions["fdy.queues"] = {
        name: Queue(prefix + name, connection=conn, default_timeout=DEFAULT_TIMEOUT) for name in QUEUE_NAMES
    }


def queue(name: str = DEFAULT, app: Flask | None = None) -> Queue:
    return (app or current_app).extensions["fdy.queues"][name]


def enqueue(func, *args, queue_name: str = DEFAULT, job_id: str | None = None, at: datetime | None = None,
            delay: timedelta | None = None, retry: Retry | None = None, **kwargs):
    """Enqueue `func(*args, **kwargs)`. With job_id, a second enqueue of the same id is a no-op.

    Returns the Job, or None when a job with that id already exists.
    """
    q = queue(queue_name)
    # The description is what dashboards and `jobs list` show: the function, never its arguments
    # (a phone or an SMS text must not end up on an admin's screen).
    name = func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"
    options = dict(job_id=job_id, unique=job_id is not None, result_ttl=RESULT_TTL, failure_ttl=7 * 86400,
                   retry=retry, description=name)
    try:
        if at is not None:
            return q.enqueue_at(at, func, *args, **options, **kwargs)
        if delay is not None:
            return q.enqueue_in(delay, func, *args, **options, **kwargs)
        return q.enqueue(func, *args, **options, **kwargs)
    except DuplicateJobError:
        log.info("job %s already queued; not queued again", job_id)
        return None


def _app_for_job() -> Flask:
    if not has_app_context():
        # Jobs need the app's settings and database: a plain `rq worker` has neither.
        raise RuntimeError("run jobs with `flask --app wsgi worker`, which provides the app context")
    return current_app._get_current_object()


def job(fn):
    """Run the job in its own app context: fresh session, closed at the end."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        current = get_current_job()
        token = JOB_ID.set(current.id if current is not None else JOB_ID.get())
        try:
            with _app_for_job().app_context():
                return fn(*args, **kwargs)
        finally:
            JOB_ID.reset(token)

    return wrapper
