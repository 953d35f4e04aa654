"""Tasks, their recipients fixed at dispatch, and per-recipient notifications (SPEC 3)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import Account
from .base import Base, UTCDateTime, utcnow
from .vocab import LIVE_TASK_TYPE, STUDY_LEVELS


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)  # the number shown to users
    title: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)  # the instruction to counselors
    # 给学生: what students read on the share page; without it the task has no student link.
    student_text: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1024))
    cohort: Mapped[int] = mapped_column()
    # 学历层次 subset, comma-separated.
    levels: Mapped[str] = mapped_column(String(40), default=",".join(STUDY_LEVELS))
    # Narrowing: unit ids one level below the issuer's unit, comma-separated; '' = whole unit.
    narrowing: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    live_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    live_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confidential: Mapped[bool] = mapped_column(default=False)
    # 提醒上级: escalation digests to staff with pending counselors (models/escalation.py).
    escalate: Mapped[bool] = mapped_column(default=True, server_default=true())
    issuer_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    issuer_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    recipient_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    issuer: Mapped[Account] = relationship(foreign_keys=[issuer_id])

    @property
    def is_live(self) -> bool:
        return self.type == LIVE_TASK_TYPE

    @property
    def has_student_link(self) -> bool:
        """A student page exists: there is a 给学生 text, and the task is neither confidential nor cancelled."""
        return bool(self.student_text) and not self.confidential and self.status != "cancelled"

    @property
    def level_list(self) -> list[str]:
        return [x for x in self.levels.split(",") if x]


class TaskRecipient(Base):
    """One counselor's copy of a task: fixed at dispatch, holds completion and reach."""

    __tablename__ = "task_recipients"
    __table_args__ = (
        UniqueConstraint("task_id", "account_id"),
        Index("ix_task_recipients_account", "account_id", "task_id"),
        Index("ix_task_recipients_scope", "task_id", "school_id", "college_id"),
        # "tasks with a recipient I manage" starts from the staff user's unit.
        Index("ix_task_recipients_province", "province_id", "task_id"),
        Index("ix_task_recipients_school", "school_id", "task_id"),
        Index("ix_task_recipients_college", "college_id", "task_id"),
        # 进度 N reads only these columns of a task's recipients: with them in one index the
        # figures are an index-only scan of that task (timings in docs/PERFORMANCE.md), never a
        # scan that grows with every other task.
        Index("ix_task_recipients_figures", "task_id", "province_id", "school_id", "college_id", "completed_at",
              "checked_in_at", "notify_state", "delivery", "left_at", "student_views"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    province_id: Mapped[int | None] = mapped_column()
    school_id: Mapped[int | None] = mapped_column()
    college_id: Mapped[int | None] = mapped_column()
    study_level: Mapped[str | None] = mapped_column(String(8))
    # pending / sent / unreachable (未触达) / failed
    notify_state: Mapped[str] = mapped_column(String(16), default="pending")
    # '' / delivered (已送达) / refused (拒收) / failed (发送失败), from TEMPLATESENDJOBFINISH
    delivery: Mapped[str] = mapped_column(String(16), default="")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the counselor's account was deleted while the task was open: it then leaves the
    # task's figures, lists, reminders and 催办; the row (and any completion) stays as history.
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Distinct student browsers that opened this counselor's student link (models/reach.py).
    student_views: Mapped[int] = mapped_column(default=0, server_default="0")

    task: Mapped[Task] = relationship()
    account: Mapped[Account] = relationship()


class Notification(Base):
    """One template message of one kind to one recipient: sent at most once (SPEC 10)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("task_id", "account_id", "kind"),
        Index("ix_notifications_work", "task_id", "kind", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str | None] = mapped_column(String(64))
    # pending / sending / sent / unreachable / failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    client_msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    msgid: Mapped[str | None] = mapped_column(String(32), index=True)
    errcode: Mapped[int | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A sender's lease on the row (jobs/notify.py): who holds it and since when.
    # A lease not refreshed for a while belongs to a dead worker and is taken over.
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # After a rate limit or an outage: not to be retried before this time.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # From TEMPLATESENDJOBFINISH: '' / delivered / refused / failed.
    delivery: Mapped[str] = mapped_column(String(16), default="")


class ShareOpen(Base):
    """One student browser that opened one counselor's student link of a task.

    `browser` is the random id of the counting cookie: no openid, no IP, nothing about the person.
    The unique key is what makes an open count once per browser.
    """

    __tablename__ = "share_opens"
    __table_args__ = (UniqueConstraint("task_id", "account_id", "browser"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    browser: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaskUrge(Base):
    """One 催办 by one staff user: the 2-hour limit is read from here, not from Redis."""

    __tablename__ = "task_urges"
    __table_args__ = (Index("ix_task_urges_task_staff", "task_id", "staff_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    pending_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
