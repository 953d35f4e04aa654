"""Reach catches up (SPEC 3): a counselor who binds, or follows again, while tasks it received are
still open gets their template messages then, once each, and leaves 未触达.

A missed message is its task row (notifications, kind 'task') left 'unreachable' at the fan-out,
or no row yet when the fan-out has not run. The job flips 'unreachable' to 'pending' with one
conditional UPDATE per row (a second catch-up finds nothing to flip), leases exactly those rows
and sends them through jobs/notify.py, which records 'sent' on the recipient. A message WeChat
refuses again (43004) goes back to 'unreachable', to be tried at the next follow.
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import and_, or_, select, update

import jobs
from models import db
from models.resolution import resolve
from models import clock as clockmod
from models.tasks import Notification, Task, TaskRecipient

from .notify import KIND_TASK, _send_leased, lease

log = logging.getLogger(__name__)


def open_tasks_missed(session, account_id: int) -> list[int]:
    """Tasks still open for this counselor whose dispatch message never reached it."""
    now = clockmod.clock()
    return list(session.scalars(
        select(TaskRecipient.task_id).join(Task, Task.id == TaskRecipient.task_id)
        .where(TaskRecipient.account_id == account_id, TaskRecipient.notify_state == "unreachable",
               TaskRecipient.completed_at.is_(None), TaskRecipient.left_at.is_(None), Task.status == "active",
               or_(Task.deadline.is_(None), Task.deadline > now), or_(Task.live_end.is_(None), Task.live_end > now))
        .order_by(TaskRecipient.task_id)))


@jobs.job
def catch_up(openid: str) -> int:
    """Send the counselor behind `openid` the open tasks' messages it missed. Returns how many were queued."""
    session = db.session
    sender = resolve(session, openid)
    account = sender.account
    if account is None or not account.is_counselor or not sender.following:
        return 0
    caught = 0
    for task_id in open_tasks_missed(session, account.id):
        session.execute(update(TaskRecipient).where(
            TaskRecipient.task_id == task_id, TaskRecipient.account_id == account.id,
            TaskRecipient.notify_state == "unreachable").values(notify_state="pending")
            .execution_options(synchronize_session=False))
        missed = and_(Notification.task_id == task_id, Notification.account_id == account.id,
                      Notification.kind == KIND_TASK, Notification.state == "unreachable")
        row_id = session.scalar(select(Notification.id).where(missed))
        if row_id is not None:
            session.execute(update(Notification).where(missed, Notification.id == row_id).values(
                state="pending", openid=openid, errcode=None, claim=None, claimed_at=None, not_before=None)
                .execution_options(synchronize_session=False))
        session.commit()
        caught += 1
        if row_id is None:
            continue  # the fan-out has not written its rows yet: it now finds this recipient reachable
        token = uuid.uuid4().hex
        if lease(session, token, task_id, KIND_TASK, row_id, row_id):
            _send_leased(session, token, task_id, KIND_TASK, 0, f"notify-catchup-{row_id}-a1",
                         (task_id, KIND_TASK, row_id, row_id))
    if caught:
        log.info("reach caught up: %s open task(s) for account %s", caught, account.id)
    return caught


def enqueue_catch_up(openid: str) -> None:
    """Queue a catch-up; Redis trouble is logged, never in the way of the binding or the follow."""
    try:
        jobs.enqueue(catch_up, openid)
    except Exception:  # noqa: BLE001 - the binding or follow itself is committed
        log.exception("could not queue the reach catch-up of a WeChat user")
