"""Student opens, off the request path (SPEC 3): the student page pushes each open to a Redis
list, and a job writes them to the database in batches (models/reach.py).

The first open into an empty buffer queues a flush a moment later, so a storm of opens
becomes a few batches; every FLUSH_BATCH-th open queues another, so the buffer never
waits on one lost enqueue. Several flushes at once are harmless: LPOP hands each open to
one of them, and the database counts an open once.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

import jobs
from bot.store import get_redis
from models import db
from models.reach import record_opens

log = logging.getLogger(__name__)

BUFFER_KEY = "fdy:reach:opens"
FLUSH_BATCH = 1000
DEFAULT_FLUSH_DELAY = 2.0


def note_open(redis_conn, task_id: int, account_id: int, browser: str) -> None:
    """Buffer one open; queue a flush when the buffer was empty or every FLUSH_BATCH opens."""
    waiting = redis_conn.rpush(BUFFER_KEY, f"{task_id}:{account_id}:{browser}")
    if waiting == 1 or waiting % FLUSH_BATCH == 0:
        delay = float(current_app.config.get("REACH_FLUSH_DELAY", DEFAULT_FLUSH_DELAY))
        jobs.enqueue(flush_opens, delay=timedelta(seconds=delay) if delay > 0 else None)


def _parse(raw: bytes) -> tuple[int, int, str] | None:
    try:
        task_id, account_id, browser = raw.decode().split(":", 2)
        return int(task_id), int(account_id), browser
    except (ValueError, UnicodeDecodeError):
        return None


@jobs.job
def flush_opens() -> int:
    """Write every buffered open, FLUSH_BATCH at a time. Returns how many were new."""
    conn = get_redis()
    counted = 0
    while True:
        batch = conn.lpop(BUFFER_KEY, FLUSH_BATCH)
        if not batch:
            return counted
        opens = [x for x in map(_parse, batch) if x is not None]
        try:
            counted += record_opens(db.session, opens)
        except Exception:
            conn.rpush(BUFFER_KEY, *batch)  # not lost: the next flush takes them again
            raise
        if len(batch) < FLUSH_BATCH:
            return counted
