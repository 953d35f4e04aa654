"""Rows the benchmarks need on top of the generated data: who sends, which task.

A ministry task to all counselors is created through models.dispatch (the
path `派发`/`确认` takes) when that module offers it; otherwise, and marked as
such in the output, by Core inserts of the same rows.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

MAIN_COHORT = 2026


@dataclass
class Sender:
    account_id: int
    openid: str
    level: str


def ministry_account(session):
    from models import Account
    from models.vocab import MINISTRY

    return session.scalar(select(Account).where(Account.level == MINISTRY, Account.active).order_by(Account.id))


def bound_counselors(session, limit: int, with_graduates: bool = True, task_id: int | None = None) -> list[Sender]:
    """Bound, following counselors (spread over the country), optionally recipients of task_id."""
    from models import Account, Follower, Identity, TaskRecipient
    from models.vocab import COUNSELOR

    q = (select(Account.id, Identity.openid)
         .join(Identity, Identity.id == Account.identity_id)
         .join(Follower, Follower.openid == Identity.openid)
         .where(Account.level == COUNSELOR, Account.active, Follower.following, Identity.openid.is_not(None)))
    if task_id is not None:
        q = q.join(TaskRecipient, (TaskRecipient.account_id == Account.id) & (TaskRecipient.task_id == task_id))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    step = max(1, total // max(1, limit))
    # Every step-th one: senders from every province, not the first college only.
    rows = session.execute(q.order_by(Account.id)).all()[::step][:limit]
    return [Sender(aid, openid, COUNSELOR) for aid, openid in rows]


def staff_sender(session, level: str) -> Sender | None:
    from models import Account, Identity

    row = session.execute(select(Account.id, Identity.openid).join(Identity, Identity.id == Account.identity_id)
                          .where(Account.level == level, Account.active, Identity.openid.is_not(None))
                          .order_by(Account.id).limit(1)).first()
    return Sender(row[0], row[1], level) if row else None


def largest_task(session) -> tuple[int, int] | None:
    """(task id, recipients) of the active task with most recipients (the newest on a tie), or None."""
    from models import Task, TaskRecipient

    row = session.execute(select(TaskRecipient.task_id, func.count())
                          .join(Task, Task.id == TaskRecipient.task_id).where(Task.status == "active")
                          .group_by(TaskRecipient.task_id)
                          .order_by(func.count().desc(), TaskRecipient.task_id.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


def dispatch_available() -> bool:
    try:
        import models.dispatch as dispatch
    except ImportError:
        return False
    return hasattr(dispatch, "parse") and hasattr(dispatch, "create_task")


def dispatch_form(fields: dict | None = None) -> str:
    """The `派发` message a ministry user sends for a task to every counselor of the cohort."""
    fields = fields or task_fields()
    return (f"派发\n标题：{fields['title']}\n类型：{fields['type']}\n届别：{fields['cohort']}\n"
            f"链接：{fields['link']}\n给学生：{fields['student']}\n内容：{fields['content']}")


def create_task(session, issuer, fields: dict | None = None) -> tuple[tuple[int, int], str]:
    """((task id, recipients), how) through models.dispatch (parse + create_task, as 派发/确认 do),
    without queueing notifications; Core inserts when dispatch is not there."""
    if not dispatch_available():
        return create_task_core(session, issuer, fields), "core inserts (FALLBACK: models.dispatch not used)"
    from models import dispatch

    draft, errors = dispatch.parse(session, issuer, dispatch_form(fields))
    if errors:
        raise RuntimeError(f"dispatch form refused: {errors}")
    task, total, _unreachable = dispatch.create_task(session, issuer, draft)
    return (task.id, total), "models.dispatch.create_task"


def task_fields(title: str = "2026届毕业生就业政策学习") -> dict:
    return {"title": title, "type": "就业创业政策", "cohort": MAIN_COHORT,
            "content": "请各位辅导员学习本通知并组织毕业生了解最新就业创业政策。", "link": "https://example.edu.cn/policy",
            # The student page (SPEC 3): what counselors forward, opened by students in bench/pages.py.
            "student": "2026届毕业生就业创业政策解读，请同学们认真阅读并按要求完成。"}


def create_task_core(session, issuer, fields: dict | None = None) -> tuple[int, int]:
    """FALLBACK until models.dispatch exists: the task and its recipients by Core inserts.

    Recipients as SPEC 3 fixes them: active counselors in the issuer's unit with the
    task's cohort; reachable ones marked sent, the others 未触达.
    """
    from models import AccountCohort, Task, TaskRecipient

    fields = fields or task_fields()
    task = Task(title=fields["title"], type=fields["type"], content=fields["content"], link=fields["link"],
                cohort=fields["cohort"], issuer_id=issuer.id, issuer_unit_id=issuer.unit_id, status="active")
    session.add(task)
    session.flush()
    bind = session.connection()
    reachable_sql = ("CASE WHEN EXISTS (SELECT 1 FROM identities i JOIN followers f ON f.openid = i.openid "
                     "WHERE i.id = a.identity_id AND f.following = :t) THEN 'sent' ELSE 'unreachable' END")
    bind.execute(text(
        "INSERT INTO task_recipients (task_id, account_id, province_id, school_id, college_id, study_level, "
        "notify_state, delivery) "
        f"SELECT :task, a.id, a.province_id, a.school_id, a.college_id, a.study_level, {reachable_sql}, '' "
        "FROM accounts a JOIN account_cohorts c ON c.account_id = a.id AND c.cohort = :cohort "
        "WHERE a.level = 'counselor' AND a.active = :t"),
        {"task": task.id, "cohort": fields["cohort"], "t": True})
    n = session.scalar(select(func.count()).select_from(TaskRecipient).where(TaskRecipient.task_id == task.id))
    task.recipient_count = n
    session.commit()
    return task.id, n


def mark_some_done(session, task_id: int, every: int = 3) -> None:
    """Every `every`-th recipient has completed: realistic figures for 进度 N."""
    from models import TaskRecipient
    from models.base import utcnow

    session.execute(TaskRecipient.__table__.update()
                    .where(TaskRecipient.task_id == task_id, (TaskRecipient.account_id % every) == 0)
                    .values(completed_at=utcnow()))
    session.commit()
