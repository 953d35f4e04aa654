"""Reminders (SPEC 3): 24 h before a deadline to those not done, 30 min before a live start to
those not checked in, and 催办 by staff. Sent through jobs/notify.py like the dispatch message.

The reminders are scheduled at dispatch with rq's enqueue_at and deterministic
job ids (remind-<task>-<kind>); cancelling a task removes them, and the job
itself re-checks the task when it runs (cancelled, past, or everyone done:
nothing is sent). Time is read through models.clock.clock, or passed as `now`.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from rq.job import Job
from rq.registry import ScheduledJobRegistry

import jobs
from models import db
from models.accounts import Account
from models.dispatch import reminder_times
from models.task_figures import figures_clause, pending_clause, present_clause
from models.clock import clock
from models.tasks import Task, TaskRecipient, TaskUrge

from .notify import enqueue_batches
from .notify_rows import create_notifications
from .notify_templates import KIND_DEADLINE, KIND_LIVE, urge_kind

log = logging.getLogger(__name__)

REMINDER_KINDS = (KIND_DEADLINE, KIND_LIVE)


def job_id(task_id: int, kind: str) -> str:
    return f"remind-{task_id}-{kind}"


def schedule(task_id: int, now: datetime | None = None) -> dict[str, datetime]:
    """Queue the task's reminders for their due time (UTC); a time already past is skipped."""
    now = now or clock()
    task = db.session.get(Task, task_id)
    scheduled = {}
    for kind, due in reminder_times(task).items():
        if due <= now:
            continue
        jobs.enqueue(remind, task_id, kind, queue_name=jobs.NOTIFY, at=due.replace(tzinfo=timezone.utc),
                     job_id=job_id(task_id, kind))
        scheduled[kind] = due
    return scheduled


def cancel(task_id: int) -> int:
    """Drop the task's scheduled reminders (a job already running re-checks the task anyway)."""
    q = jobs.queue(jobs.NOTIFY)
    registry = ScheduledJobRegistry(queue=q)
    removed = 0
    for kind in REMINDER_KINDS:
        jid = job_id(task_id, kind)
        try:
            job = Job.fetch(jid, connection=q.connection)
        except Exception:  # NoSuchJobError and friends: nothing to cancel
            continue
        registry.remove(job)
        job.delete()
        removed += 1
    return removed


@jobs.job
def remind(task_id: int, kind: str, now: datetime | None = None) -> int:
    """Create the reminder rows for recipients still pending, and send them. Returns how many."""
    session = db.session
    now = now or clock()
    task = session.get(Task, task_id)
    if task is None or task.status != "active":
        return 0
    if kind == KIND_DEADLINE:
        if not task.deadline or now >= task.deadline:
            return 0
        condition = TaskRecipient.completed_at.is_(None)
    elif kind == KIND_LIVE:
        if not task.is_live or not task.live_start or now >= task.live_end:
            return 0
        condition = TaskRecipient.checked_in_at.is_(None)
    else:
        raise ValueError(f"unknown reminder kind {kind}")
    created = create_notifications(session, task_id, kind, condition, present_clause())
    enqueue_batches(task_id, kind)
    log.info("reminder %s of task %s: %s recipients", kind, task_id, created)
    return created


@jobs.job
def send_urge(urge_id: int) -> int:
    """催办: the pending recipients the staff user manages (all of them for the issuer)."""
    session = db.session
    record = session.get(TaskUrge, urge_id)
    if record is None:
        return 0
    task = session.get(Task, record.task_id)
    staff = session.get(Account, record.staff_id)
    if task is None or staff is None or task.status != "active":
        return 0
    kind = urge_kind(record.id)
    created = create_notifications(session, task.id, kind, figures_clause(staff, task), pending_clause(task))
    enqueue_batches(task.id, kind)
    return created


def start_urge(urge_id: int) -> None:
    jobs.enqueue(send_urge, urge_id, queue_name=jobs.NOTIFY, job_id=f"urge-{urge_id}")
