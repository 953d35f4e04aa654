"""Students reached (SPEC 3): which counselors' student links were opened, and by how many browsers.

An open is (task, counselor, browser id from the counting cookie). Opens arrive in batches
(jobs/reach.py buffers them off the request path); each counts once per browser, counselor
and task, and task_recipients.student_views keeps the count the figures read.
"""
from __future__ import annotations

from collections import Counter

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .clock import clock
from .tasks import ShareOpen, TaskRecipient

BROWSER_MAX = 32


def record_opens(session: Session, opens: list[tuple[int, int, str]]) -> int:
    """Write a batch of opens; returns how many were new (counted). Committed."""
    wanted = {(t, a, b[:BROWSER_MAX]) for t, a, b in opens if b}
    if not wanted:
        return 0
    for attempt in (1, 2):
        try:
            return _record(session, wanted)
        except IntegrityError:
            # Another batch wrote one of these opens meanwhile: look again, once.
            session.rollback()
            if attempt == 2:
                raise
    return 0


def _record(session: Session, wanted: set[tuple[int, int, str]]) -> int:
    pairs = {(t, a) for t, a, _ in wanted}
    # Only recipients' links count (a signed token names one; this also keeps the foreign keys true).
    known = set(session.execute(select(TaskRecipient.task_id, TaskRecipient.account_id)
                                .where(tuple_(TaskRecipient.task_id, TaskRecipient.account_id).in_(pairs))).all())
    wanted = {w for w in wanted if (w[0], w[1]) in known}
    if not wanted:
        session.commit()
        return 0
    seen = set(session.execute(select(ShareOpen.task_id, ShareOpen.account_id, ShareOpen.browser).where(
        tuple_(ShareOpen.task_id, ShareOpen.account_id, ShareOpen.browser).in_(wanted))).all())
    new = sorted(wanted - seen)
    if not new:
        session.commit()
        return 0
    now = clock()
    session.execute(insert(ShareOpen), [{"task_id": t, "account_id": a, "browser": b, "opened_at": now}
                                        for t, a, b in new])
    by_increment: dict[int, list[tuple[int, int]]] = {}
    for pair, n in Counter((t, a) for t, a, _ in new).items():
        by_increment.setdefault(n, []).append(pair)
    for n, group in by_increment.items():
        session.execute(update(TaskRecipient)
                        .where(tuple_(TaskRecipient.task_id, TaskRecipient.account_id).in_(group))
                        .values(student_views=TaskRecipient.student_views + n)
                        .execution_options(synchronize_session=False))
    session.commit()
    return len(new)
