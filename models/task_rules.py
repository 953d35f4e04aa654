"""The rules of a dispatched task (SPEC 3, 5): 完成, 签到, who sees what, 催办, 撤销.

Scope: a staff user sees the tasks it issued and the tasks with at least one
recipient it manages; the figures it sees count only those recipients, except
for the issuer, who sees them all. Both rules are SQL clauses built here from
models/scope.py, so the chat commands and the pages cannot disagree. A counselor's lists of
tasks are in models/counselor_tasks.py, the figures in models/task_figures.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from . import clock as clockmod
from .accounts import Account
from .clock import local_text
from .counselor_tasks import received
from .scope import in_scope_clause
from .task_figures import figures_clause, pending_clause, unreached_clause
from .tasks import Task, TaskRecipient, TaskUrge
from .vocab import COUNSELOR, LIVE_TASK_TYPE

CHECKIN_EARLY = timedelta(minutes=30)
CHECKIN_LATE = timedelta(minutes=30)
URGE_INTERVAL = timedelta(hours=2)


def now() -> datetime:
    return clockmod.clock()


def fully_done(task: Task, rec: TaskRecipient) -> bool:
    return rec.completed_at is not None and (not task.is_live or rec.checked_in_at is not None)


@dataclass
class Outcome:
    ok: bool
    text: str
    # 完成 of a task with a student link that no student has opened yet: worth one reminder.
    not_forwarded: bool = False


# 完成 reads columns, not ORM objects: a repeated 完成 (the common case: a counselor taps it
# again to be sure) is then one light SELECT. Built once.
_COMPLETION = (select(TaskRecipient.id, TaskRecipient.completed_at, TaskRecipient.checked_in_at,
                      TaskRecipient.student_views, Task.title, Task.status, Task.type, Task.confidential,
                      Task.student_text.is_not(None).label("for_students"))
               .join(Task, Task.id == TaskRecipient.task_id)
               .where(TaskRecipient.task_id == bindparam("task_id"),
                      TaskRecipient.account_id == bindparam("account_id")))


def complete(session: Session, account_id: int, task_id: int, at: datetime | None = None) -> Outcome:
    """完成 N: written and committed before the reply; a repeat changes nothing."""
    at = at or now()
    row = session.execute(_COMPLETION, {"task_id": task_id, "account_id": account_id}).first()
    if row is None:
        return Outcome(False, f"没有找到派发给您的任务 #{task_id}。回复「任务」查看您收到的任务。")
    if row.status == "cancelled":
        return Outcome(False, f"任务 #{task_id} 已撤销，无需完成。")
    completed_at = row.completed_at
    if completed_at is None:
        # Conditional UPDATE: two taps at once still record one completion time.
        changed = session.execute(update(TaskRecipient)
                                  .where(TaskRecipient.id == row.id, TaskRecipient.completed_at.is_(None))
                                  .values(completed_at=at).execution_options(synchronize_session=False)).rowcount
        session.commit()
        if changed:
            text = f"已完成任务 #{task_id}「{row.title}」，完成时间 {local_text(at)}。"
            if row.type == LIVE_TASK_TYPE and row.checked_in_at is None:
                text += f"\n这是直播课，还需在直播时段签到：回复「签到 {task_id}」。"
            return Outcome(True, text, not_forwarded=bool(row.for_students and not row.confidential
                                                          and not row.student_views))
        # The other tap won: its time is the one recorded.
        completed_at = session.scalar(select(TaskRecipient.completed_at).where(TaskRecipient.id == row.id))
    return Outcome(True, f"任务 #{task_id} 已完成（完成于 {local_text(completed_at)}），无需重复提交。")


def checkin_window(task: Task) -> tuple[datetime, datetime]:
    return task.live_start - CHECKIN_EARLY, task.live_end + CHECKIN_LATE


def check_in(session: Session, account: Account, task_id: int, at: datetime | None = None) -> Outcome:
    """签到 N: 直播课 only, from 30 min before the start to 30 min after the end (both ends included)."""
    at = at or now()
    rec = received(session, account, task_id)
    if rec is None:
        return Outcome(False, f"没有找到派发给您的任务 #{task_id}。回复「任务」查看您收到的任务。")
    task = rec.task
    if not task.is_live or not task.live_start or not task.live_end:
        return Outcome(False, f"任务 #{task_id} 不是直播课，无需签到；完成后请回复「完成 {task_id}」。")
    if task.status == "cancelled":
        return Outcome(False, f"任务 #{task_id} 已撤销，无需签到。")
    if rec.checked_in_at is not None:
        return Outcome(True, f"您已于 {local_text(rec.checked_in_at)} 签到成功，无需重复签到。")
    opens, closes = checkin_window(task)
    window = f"{local_text(opens)} 至 {local_text(closes)}"
    if at < opens:
        return Outcome(False, f"还没到签到时间。任务 #{task_id} 的签到时间为 {window}（直播开始前30分钟至结束后30分钟）。")
    if at > closes:
        return Outcome(False, f"签到时间已过。任务 #{task_id} 的签到时间为 {window}；如有疑问请联系院系老师。")
    changed = session.execute(update(TaskRecipient)
                              .where(TaskRecipient.id == rec.id, TaskRecipient.checked_in_at.is_(None))
                              .values(checked_in_at=at)).rowcount
    session.commit()
    session.refresh(rec)
    if not changed:
        return Outcome(True, f"您已于 {local_text(rec.checked_in_at)} 签到成功，无需重复签到。")
    text = f"签到成功：任务 #{task_id}「{task.title}」，签到时间 {local_text(rec.checked_in_at)}。"
    if rec.completed_at is None:
        text += f"\n学习结束后请回复「完成 {task_id}」。"
    return Outcome(True, text)


# -- staff: visibility ---------------------------------------------------------------------
def visible_clause(staff: Account):
    """Tasks the staff user issued or that reached a counselor it manages."""
    managed = select(TaskRecipient.task_id).where(in_scope_clause(staff, TaskRecipient))
    return or_(Task.issuer_id == staff.id, Task.id.in_(managed))


def staff_tasks(session: Session, staff: Account, limit: int = 10) -> list[Task]:
    return list(session.scalars(select(Task).where(visible_clause(staff)).order_by(Task.id.desc()).limit(limit)))


def can_see(session: Session, account: Account, task: Task) -> bool:
    if account.level == COUNSELOR:
        return received(session, account, task.id) is not None
    if task.issuer_id == account.id:
        return True
    return bool(session.scalar(select(exists().where(TaskRecipient.task_id == task.id,
                                                     in_scope_clause(account, TaskRecipient)))))


def open_tasks_clause(at: datetime):
    """Tasks still running at `at`: not cancelled, deadline and live end (when set) not passed."""
    return and_(Task.status == "active", or_(Task.deadline.is_(None), Task.deadline > at),
                or_(Task.live_end.is_(None), Task.live_end > at))


def leave_open_tasks(session: Session, account_id: int, at: datetime | None = None) -> int:
    """A deleted counselor leaves the open tasks it received (no commit). Closed tasks keep it
    in their figures: they are history."""
    at = at or now()
    return session.execute(
        update(TaskRecipient)
        .where(TaskRecipient.account_id == account_id, TaskRecipient.left_at.is_(None),
               TaskRecipient.task_id.in_(select(Task.id).where(open_tasks_clause(at))))
        .values(left_at=at).execution_options(synchronize_session=False)).rowcount or 0


# -- 催办 ----------------------------------------------------------------------------------------
@dataclass
class UrgeResult:
    ok: bool
    text: str
    urge: TaskUrge | None = None


def urge(session: Session, staff: Account, task: Task, at: datetime | None = None) -> UrgeResult:
    """Record a 催办 (at most once per 2 h per task and staff user); the job sends it."""
    at = at or now()
    if task.status == "cancelled":
        return UrgeResult(False, f"任务 #{task.id} 已撤销，无需催办。")
    last = session.scalar(select(TaskUrge).where(TaskUrge.task_id == task.id, TaskUrge.staff_id == staff.id)
                          .order_by(TaskUrge.created_at.desc()).limit(1))
    if last is not None and at - last.created_at < URGE_INTERVAL:
        again = last.created_at + URGE_INTERVAL
        return UrgeResult(False, f"您已于 {local_text(last.created_at)} 催办过任务 #{task.id}，"
                                 f"每个任务2小时内只能催办一次，请在 {local_text(again)} 之后再试。")
    where = (TaskRecipient.task_id == task.id, figures_clause(staff, task), pending_clause(task))
    pending, unreachable = session.execute(select(
        func.count(TaskRecipient.id),
        func.sum(case((unreached_clause(), 1), else_=0))).where(*where)).one()
    pending, unreachable = int(pending or 0), int(unreachable or 0)
    if pending == 0:
        return UrgeResult(False, f"任务 #{task.id} 在您管理的范围内没有未完成的辅导员，无需催办。")
    record = TaskUrge(task_id=task.id, staff_id=staff.id, pending_count=pending, created_at=at)
    session.add(record)
    session.commit()
    text = f"已催办任务 #{task.id}：向 {pending} 名未完成的辅导员发送提醒"
    if unreachable:
        text += f"（其中 {unreachable} 名未触达，收不到微信提醒，请电话联系；回复「未完成 {task.id}」查看名单）"
    return UrgeResult(True, text + "。", record)


def cancel(session: Session, staff: Account, task: Task) -> Outcome:
    """撤销 N: only the issuer; the reminders are dropped by the caller (jobs.reminders)."""
    if task.issuer_id != staff.id:
        return Outcome(False, f"只有任务 #{task.id} 的派发人可以撤销它。")
    if task.status == "cancelled":
        return Outcome(True, f"任务 #{task.id} 已撤销。")
    task.status = "cancelled"
    session.commit()
    return Outcome(True, f"已撤销任务 #{task.id}「{task.title}」，不再提醒辅导员。")
