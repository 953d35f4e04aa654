"""The Notification rows of a fan-out: one per recipient of a (task, kind), written by one
INSERT ... SELECT (SPEC 3, 10). The sending and its leases are in jobs/notify.py."""
from __future__ import annotations

import logging

from sqlalchemy import String, and_, case, cast, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from jobs.notify_templates import KIND_TASK, _job_key
from models.accounts import Account
from models.base import utcnow
from models.dispatch import reachable_clause, with_reach
from models.identity import Identity
from models.tasks import Notification, TaskRecipient

log = logging.getLogger(__name__)


def _rows_exist(session, task_id: int, kind: str) -> bool:
    return session.scalar(select(Notification.id).where(Notification.task_id == task_id, Notification.kind == kind)
                          .limit(1)) is not None


def create_task_notifications(session, task_id: int) -> int:
    """The dispatch-time rows, straight from task_recipients.

    The recipient rows already say who was reachable at 确认 (notify_state); only the
    openid needs a join (account → identity by phone). Someone who unbound since is
    'unreachable' here and on the recipient row; someone who unfollowed since is
    found out by WeChat (43004) and recorded as 'unreachable' when sent.
    """
    kind = KIND_TASK
    if _rows_exist(session, task_id, kind):
        session.commit()
        return 0
    state = case((and_(TaskRecipient.notify_state != "unreachable", Identity.openid.is_not(None)),
                  literal("pending")), else_=literal("unreachable"))
    cmid = literal(f"fdy-{task_id}-{_job_key(kind)}-", String) + cast(TaskRecipient.account_id, String)
    now = utcnow()
    rows = (select(literal(task_id), TaskRecipient.account_id, literal(kind), Identity.openid, state, cmid,
                   literal(0), literal(now), literal(""))
            .select_from(TaskRecipient).join(Account, Account.id == TaskRecipient.account_id)
            .outerjoin(Identity, Identity.phone == Account.phone)
            .where(TaskRecipient.task_id == task_id))
    try:
        result = session.execute(insert(Notification).from_select(
            ["task_id", "account_id", "kind", "openid", "state", "client_msg_id", "attempts", "created_at",
             "delivery"], rows))
        # Unbound between 确认 and now: 未触达 on the recipient row too. Usually nobody: look
        # first (the unreachable rows only, one key lookup each), update only if someone is.
        lost = select(Notification.account_id).where(
            Notification.task_id == task_id, Notification.kind == kind, Notification.state == "unreachable",
            Notification.openid.is_(None))
        newly_lost = lost.join(TaskRecipient, and_(TaskRecipient.task_id == Notification.task_id,
                                                   TaskRecipient.account_id == Notification.account_id)).where(
            TaskRecipient.notify_state == "pending")
        if session.scalar(newly_lost.limit(1)) is not None:
            session.execute(update(TaskRecipient).where(
                TaskRecipient.task_id == task_id, TaskRecipient.notify_state == "pending",
                TaskRecipient.account_id.in_(lost)).values(notify_state="unreachable")
                .execution_options(synchronize_session=False))
        session.commit()
    except IntegrityError:
        session.rollback()
        log.info("notifications of task %s (%s) were created by another job", task_id, kind)
        return 0
    return result.rowcount or 0


def create_notifications(session, task_id: int, kind: str, *conditions) -> int:
    """One row per recipient of the task matching `conditions`, in one INSERT … SELECT.

    Idempotent: the rows of a (task, kind) are written by one statement, so if
    any exist they all do, and a second run (a retried job) writes nothing; two
    runs at once collide on the unique key and the loser changes nothing.
    Rows of recipients without a bound openid, or no longer following, start as 'unreachable'.
    """
    if kind == KIND_TASK and not conditions:
        return create_task_notifications(session, task_id)
    if _rows_exist(session, task_id, kind):
        session.commit()
        return 0
    state = case((reachable_clause(), literal("pending")), else_=literal("unreachable"))
    cmid = literal(f"fdy-{task_id}-{_job_key(kind)}-", String) + cast(TaskRecipient.account_id, String)
    now = utcnow()
    rows = with_reach(select(
        literal(task_id), TaskRecipient.account_id, literal(kind), Identity.openid, state, cmid, literal(0),
        literal(now), literal(""),
    ).select_from(TaskRecipient).join(Account, Account.id == TaskRecipient.account_id)).where(
        TaskRecipient.task_id == task_id, *conditions)
    try:
        result = session.execute(insert(Notification).from_select(
            ["task_id", "account_id", "kind", "openid", "state", "client_msg_id", "attempts", "created_at",
             "delivery"], rows))
        if kind == KIND_TASK:
            # Someone unbound between 确认 and now is 未触达 as well.
            session.execute(update(TaskRecipient).where(
                TaskRecipient.task_id == task_id,
                TaskRecipient.account_id.in_(select(Notification.account_id).where(
                    Notification.task_id == task_id, Notification.kind == kind,
                    Notification.state == "unreachable")))
                .values(notify_state="unreachable"))
        session.commit()
    except IntegrityError:
        session.rollback()
        log.info("notifications of task %s (%s) were created by another job", task_id, kind)
        return 0
    return result.rowcount or 0
