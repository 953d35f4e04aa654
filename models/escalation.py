"""Escalation digests (SPEC 5): when a task's deadline is 24 hours away and when it passes, each
staff user whose counselors are still pending gets one digest: the task and how many of theirs.

Driven from the database: `create_due_digests(now)` finds the (task, moment) pairs that are due,
counts the pending recipients of each staff user in one grouped query per task, and writes one
row per (task, staff user, moment) that has any (the unique key makes a second run, or two
sweeps at once, write nothing more). The row is the record that the digest exists and, once
jobs/escalation.py has sent it, that it was sent: nothing about it lives only in Redis.

Who gets one: active staff accounts inside the issuer's unit (the issuer too), each counting the
recipients its figures count (models/scope.py), never those who left the task. A 派发 form line
`提醒上级：否` turns the digests off for that task (Task.escalate).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .accounts import Account
from .base import Base, UTCDateTime, utcnow
from .task_figures import pending_clause, present_clause
from .tasks import Task, TaskRecipient
from .vocab import COLLEGE, MINISTRY, PROVINCE, SCHOOL, STAFF_LEVELS

BEFORE, PASSED = "before", "passed"
AHEAD = timedelta(hours=24)
# A moment missed by more than this (the platform was down, the feature just deployed) is skipped:
# a digest about a deadline two days gone helps nobody.
LATE = timedelta(hours=12)


class EscalationDigest(Base):
    """One digest to one staff user about one task at one moment: written once, sent once."""

    __tablename__ = "escalation_digests"
    __table_args__ = (
        UniqueConstraint("task_id", "staff_id", "moment"),
        Index("ix_escalation_digests_state", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    moment: Mapped[str] = mapped_column(String(8))
    pending: Mapped[int] = mapped_column(default=0)
    # pending / sending / sent / unreachable (no bound WeChat) / failed (WeChat refused it)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    errcode: Mapped[int | None] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def client_msg_id(self) -> str:
        """WeChat drops a repeated client_msg_id: a re-send after a crash is not a second message."""
        return f"fdy-digest-{self.id}"


def due_moments(now: datetime):
    """(moment, WHERE clause on Task) for each moment that may be due at `now`."""
    base = (Task.status == "active", Task.escalate.is_(True), Task.deadline.is_not(None))
    before = (*base, Task.deadline <= now + AHEAD, Task.deadline > now, Task.deadline > now + AHEAD - LATE)
    passed = (*base, Task.deadline <= now, Task.deadline > now - LATE)
    return [(BEFORE, before), (PASSED, passed)]


def _inside(issuer: Account):
    """Accounts whose unit is the issuer's unit or below it (staff accounts carry no 学历层次, so
    not models.scope.in_scope_clause, which narrows a limited college account's counselors)."""
    if issuer.level == MINISTRY:
        return true()
    column = {PROVINCE: Account.province_id, SCHOOL: Account.school_id, COLLEGE: Account.college_id}[issuer.level]
    return column == issuer.unit_id


def pending_counts(session, task: Task) -> dict[int, int]:
    """Pending recipients per staff account inside the issuer's unit (only those with any)."""
    groups = session.execute(
        select(TaskRecipient.province_id, TaskRecipient.school_id, TaskRecipient.college_id,
               TaskRecipient.study_level, func.count(TaskRecipient.id))
        .where(TaskRecipient.task_id == task.id, present_clause(), pending_clause(task))
        .group_by(TaskRecipient.province_id, TaskRecipient.school_id, TaskRecipient.college_id,
                  TaskRecipient.study_level)).all()
    if not groups:
        return {}
    by_unit: dict[tuple[str, int | None], int] = defaultdict(int)
    by_college_level: dict[tuple[int, str], int] = defaultdict(int)
    total = 0
    for province_id, school_id, college_id, level, n in groups:
        total += n
        by_unit[(PROVINCE, province_id)] += n
        by_unit[(SCHOOL, school_id)] += n
        by_unit[(COLLEGE, college_id)] += n
        by_college_level[(college_id, level)] += n
    issuer = session.get(Account, task.issuer_id)
    if issuer is None:
        return {}
    staff = session.execute(
        select(Account.id, Account.level, Account.unit_id, Account.levels)
        .where(Account.active.is_(True), Account.level.in_(STAFF_LEVELS), _inside(issuer))).all()
    counts = {}
    for account_id, level, unit_id, levels in staff:
        if level == MINISTRY:
            n = total
        elif level == COLLEGE and levels:
            n = sum(by_college_level.get((unit_id, lv), 0) for lv in levels.split(",") if lv)
        else:
            n = by_unit.get((level, unit_id), 0)
        if n:
            counts[account_id] = n
    return counts


def create_due_digests(session, now: datetime | None = None) -> int:
    """Write the digest rows due at `now` that do not exist yet; commits. Returns how many."""
    now = now or utcnow()
    written = 0
    for moment, where in due_moments(now):
        tasks = session.scalars(select(Task).where(*where)).all()
        for task in tasks:
            if moment == BEFORE and task.created_at > task.deadline - AHEAD:
                # Dispatched less than 24 h before its deadline: its own notification said so minutes
                # ago; a "24 hours left" digest would only be noise.
                continue
            have = set(session.scalars(select(EscalationDigest.staff_id).where(
                EscalationDigest.task_id == task.id, EscalationDigest.moment == moment)))
            rows = [EscalationDigest(task_id=task.id, staff_id=staff_id, moment=moment, pending=n, created_at=now)
                    for staff_id, n in pending_counts(session, task).items() if staff_id not in have]
            if not rows:
                continue
            session.add_all(rows)
            try:
                session.commit()
                written += len(rows)
            except IntegrityError:
                session.rollback()  # another sweep wrote them at the same moment: its rows stand
    return written


def unsent_digests(session, now: datetime | None = None,
                   stale: timedelta = timedelta(minutes=2)) -> list[tuple[int, int]]:
    """(id, attempts) of digests written but not (or not surely) sent: pending ones, and 'sending'
    ones whose sender has gone quiet for `stale` (sent again with the same client_msg_id)."""
    now = now or utcnow()
    return list(session.execute(select(EscalationDigest.id, EscalationDigest.attempts).where(
        (EscalationDigest.state == "pending")
        | ((EscalationDigest.state == "sending") & (EscalationDigest.claimed_at < now - stale)))
        .where(EscalationDigest.created_at > now - LATE - AHEAD).order_by(EscalationDigest.id)).tuples())
