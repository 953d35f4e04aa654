"""The durable-jobs sweep (SPEC 10): once a minute, re-create from the database what only Redis held.

Redis may lose everything at any moment. The database says what must still happen:
- a task with recipients but no dispatch notification rows: its fan-out job was lost;
- open notification rows (pending/sending) of a (task, kind) whose fan-out no longer has a
  marker in Redis (`notify.fanout_alive`): its batch, finisher and watch jobs were lost;
- a reminder still ahead (or due and not yet written) with no job in Redis;
- a recent 催办 whose job vanished before it wrote its rows.
Re-creating is harmless when nothing was lost: every job id here is deterministic (a second
enqueue of an id that exists is a no-op) and the once-only rows (one Notification per task,
recipient and kind; leases) make a second run send nothing twice.

One sweep at a time across all workers: each worker that serves the DEFAULT queue asks for the
sweep of the current minute under one job id (`sweep-YYYYmmddHHMM`), and the sweep itself holds
a Redis lock while it runs. `SWEEPS` is the list of what is re-created; a new durable kind of
work (e.g. escalation digests) adds its function there.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta, timezone

from rq.job import Job
from sqlalchemy import or_, select

import jobs
from bot.store import get_redis
from models import db
from models.dispatch import reminder_times
from models.clock import clock
from models.tasks import Notification, Task, TaskUrge

from . import notify, reminders
from .notify_templates import KIND_DEADLINE, urge_kind
from .escalation import resume_digests

log = logging.getLogger(__name__)

EVERY = 60  # seconds
LOCK_KEY = "fdy:sweep:lock"
LOCK_TTL = 300
# How far back a task can still have work left in Redis: the fan-out's watch gives up after
# WATCH_ROUNDS x WATCH_EVERY (a day); a reminder is written when due, at most a day before.
HORIZON = timedelta(days=8)


def _missing(job_ids: list[str]) -> set[str]:
    """The ids among `job_ids` that Redis has no job for (one round trip)."""
    if not job_ids:
        return set()
    conn = jobs.queue(jobs.DEFAULT).connection
    pipe = conn.pipeline(transaction=False)
    for jid in job_ids:
        pipe.exists(Job.key_for(jid))
    return {jid for jid, found in zip(job_ids, pipe.execute()) if not found}


def _candidate_tasks(session, now: datetime) -> list[Task]:
    since = now - HORIZON
    return list(session.scalars(select(Task).where(
        Task.status == "active", Task.recipient_count > 0,
        or_(Task.created_at >= since, Task.deadline >= now - timedelta(days=1),
            Task.live_end >= now - timedelta(days=1))).order_by(Task.id)))


def resume_fanouts(session, now: datetime) -> int:
    """Fan-outs whose jobs Redis lost: a dispatch with no rows yet, and open rows with no live fan-out."""
    queued = 0
    tasks = _candidate_tasks(session, now)
    task_ids = [t.id for t in tasks]
    with_rows = set(session.scalars(select(Notification.task_id).where(
        Notification.task_id.in_(task_ids), Notification.kind == notify.KIND_TASK).distinct())) if task_ids else set()
    lost = _missing([notify.fanout_job_id(t) for t in task_ids if t not in with_rows])
    for task_id in task_ids:
        if task_id not in with_rows and notify.fanout_job_id(task_id) in lost:
            notify.start_fanout(task_id)
            queued += 1
    for task in tasks:
        urges = session.scalars(select(TaskUrge.id).where(TaskUrge.task_id == task.id,
                                                          TaskUrge.created_at >= now - HORIZON)).all()
        kinds = [notify.KIND_TASK, *reminders.REMINDER_KINDS, *(urge_kind(u) for u in urges)]
        open_kinds = session.scalars(select(Notification.kind).where(
            Notification.task_id == task.id, Notification.kind.in_(kinds),
            Notification.state.in_(notify.OPEN_STATES)).distinct()).all()
        for kind in open_kinds:
            if not notify.fanout_alive(task.id, kind):
                queued += 1 if notify.enqueue_batches(task.id, kind) else 0
    session.commit()
    return queued


def resume_reminders(session, now: datetime) -> int:
    """Reminders Redis lost: future ones scheduled again, due ones not yet written queued now."""
    wanted: dict[str, tuple[int, str, datetime]] = {}
    for task in _candidate_tasks(session, now):
        for kind, due in reminder_times(task).items():
            end = task.deadline if kind == KIND_DEADLINE else task.live_end
            if due <= task.created_at:
                continue  # already due at dispatch: never scheduled (jobs/reminders.schedule)
            if end is not None and end > now:
                wanted[reminders.job_id(task.id, kind)] = (task.id, kind, due)
    lost = _missing(list(wanted))
    queued = 0
    for jid in sorted(lost):
        task_id, kind, due = wanted[jid]
        if due <= now:
            written = session.scalar(select(Notification.id).where(
                Notification.task_id == task_id, Notification.kind == kind).limit(1))
            if written is not None:
                continue  # the reminder ran; its open rows, if any, are resume_fanouts' business
            job = jobs.enqueue(reminders.remind, task_id, kind, queue_name=jobs.NOTIFY, job_id=jid)
        else:
            job = jobs.enqueue(reminders.remind, task_id, kind, queue_name=jobs.NOTIFY,
                               at=due.replace(tzinfo=timezone.utc), job_id=jid)
        queued += 1 if job is not None else 0
    session.commit()
    return queued


# A 催办 is worth sending late for a while, not a day later (it is re-asked every 2 hours).
URGE_WINDOW = timedelta(hours=2)


def resume_urges(session, now: datetime) -> int:
    """催办 recorded in the database whose job Redis lost before it wrote its rows."""
    recent = session.execute(select(TaskUrge.id, TaskUrge.task_id).join(Task, Task.id == TaskUrge.task_id).where(
        TaskUrge.created_at >= now - URGE_WINDOW, Task.status == "active")).all()
    if not recent:
        return 0
    written = set(session.scalars(select(Notification.kind).where(
        Notification.task_id.in_({task_id for _, task_id in recent}),
        Notification.kind.in_([urge_kind(urge_id) for urge_id, _ in recent])).distinct()))
    waiting = {urge_id: f"urge-{urge_id}" for urge_id, _ in recent if urge_kind(urge_id) not in written}
    lost = _missing(list(waiting.values()))
    queued = 0
    for urge_id, jid in sorted(waiting.items()):
        if jid in lost:
            reminders.start_urge(urge_id)
            queued += 1
    session.commit()
    return queued


# What the sweep re-creates, in order. Escalation digests (SPEC 5) are written here when due, too.
SWEEPS = (resume_fanouts, resume_reminders, resume_urges, resume_digests)


@jobs.job
def sweep() -> dict:
    """Run every entry of SWEEPS once, unless another sweep is running. Returns what each queued."""
    conn = get_redis()
    token = uuid.uuid4().hex
    if not conn.set(LOCK_KEY, token, nx=True, ex=LOCK_TTL):
        log.info("sweep skipped: another one is running")
        return {}
    try:
        now = clock()
        result = {}
        for step in SWEEPS:
            try:
                result[step.__name__] = step(db.session, now)
            except Exception:  # one broken step must not starve the others
                db.session.rollback()
                log.exception("sweep step %s failed", step.__name__)
                result[step.__name__] = None
        if any(result.values()):
            log.info("sweep re-created %s", result)
        return result
    finally:
        if conn.get(LOCK_KEY) == token.encode():
            conn.delete(LOCK_KEY)


def sweep_job_id(at: datetime) -> str:
    return "sweep-" + at.strftime("%Y%m%d%H%M")


def request_sweep(at: datetime | None = None):
    """Queue this minute's sweep; every worker asks, one job runs."""
    at = at or datetime.now(timezone.utc)
    return jobs.enqueue(sweep, queue_name=jobs.DEFAULT, job_id=sweep_job_id(at), job_timeout=LOCK_TTL)


class SweepTicker(threading.Thread):
    """A worker's clock: asks for the sweep once a minute (a lost Redis only loses one minute)."""

    def __init__(self, app, every: float = EVERY):
        super().__init__(name="fdy-sweep-ticker", daemon=True)
        self.app, self.every, self.stopped = app, every, threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                with self.app.app_context():
                    request_sweep()
            except Exception as exc:  # Redis down: try again next minute
                log.warning("sweep not queued: %s", type(exc).__name__)
            self.stopped.wait(self.every)
