"""The rules of a dispatched task (SPEC 3, 5): 完成, 签到, who sees what, the figures, 催办.

Scope: a staff user sees the tasks it issued and the tasks with at least one
recipient it manages; the figures it sees count only those recipients, except
for the issuer, who sees them all. Both rules are SQL clauses built here from
models/scope.py, so the chat commands and the pages cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import and_, bindparam, case, exists, func, literal, literal_column, or_, select, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import clock as clockmod
from .accounts import Account
from .identity import Identity
from .dispatch import reachable_clause, with_reach
from .scope import in_scope_clause
from .clock import local_text
from .tasks import Task, TaskRecipient, TaskUrge
from .units import Unit
from .vocab import COUNSELOR, LIVE_TASK_TYPE, MINISTRY, PROVINCE, SCHOOL

CHECKIN_EARLY = timedelta(minutes=30)
CHECKIN_LATE = timedelta(minutes=30)
URGE_INTERVAL = timedelta(hours=2)
BREAKDOWN_LINES = 10

# The recipient column that names the unit one level below a staff user's unit.
BREAKDOWN_COLUMN = {MINISTRY: "province_id", PROVINCE: "school_id", SCHOOL: "college_id"}


def now() -> datetime:
    return clockmod.clock()


# -- a counselor's own copy ------------------------------------------------------------
# With its task in the same round trip (rec.task is then found in the session, no query):
# 完成 and 签到 are frequent webhook commands. Built once.
_RECEIVED = (select(TaskRecipient, Task).join(Task, Task.id == TaskRecipient.task_id)
             .where(TaskRecipient.task_id == bindparam("task_id"), TaskRecipient.account_id == bindparam("account_id")))


def received(session: Session, account: Account, task_id: int) -> TaskRecipient | None:
    """The counselor's copy of task N, or None when N was not sent to it."""
    row = session.execute(_RECEIVED, {"task_id": task_id, "account_id": account.id}).first()
    if row is None:
        return None
    rec, task = row
    # The session holds loaded objects weakly: hand the task to rec, or it is gone (and
    # loaded again) by the time rec.task is read.
    set_committed_value(rec, "task", task)
    return rec


# The page's view of a counselor's copy: its state only (the task itself comes from a cache).
_MY_COPY = (select(TaskRecipient.completed_at, TaskRecipient.checked_in_at, TaskRecipient.student_views)
            .where(TaskRecipient.task_id == bindparam("task_id"), TaskRecipient.account_id == bindparam("account_id")))


def received_state(session: Session, account_id: int, task_id: int):
    """(completed_at, checked_in_at, student_views) of the counselor's copy of task N as a row, or None when N
    was not sent to it: `received` without the ORM objects."""
    return session.execute(_MY_COPY, {"task_id": task_id, "account_id": account_id}).first()


def fully_done(task: Task, rec: TaskRecipient) -> bool:
    return rec.completed_at is not None and (not task.is_live or rec.checked_in_at is not None)


def done_clause(task: Task):
    clause = TaskRecipient.completed_at.is_not(None)
    if task.is_live:
        clause = and_(clause, TaskRecipient.checked_in_at.is_not(None))
    return clause


def unreached_clause():
    """未触达 as of now: no template message got through, and no sign of life since: a counselor
    who completed the task was reached, whatever the dispatch found (SPEC 3)."""
    return and_(TaskRecipient.notify_state == "unreachable", TaskRecipient.completed_at.is_(None))


def failed_clause():
    """发送失败: WeChat's receipt said so, or the send itself failed."""
    return or_(TaskRecipient.delivery == "failed", TaskRecipient.notify_state == "failed")


def pending_clause(task: Task):
    clause = TaskRecipient.completed_at.is_(None)
    if task.is_live:
        clause = or_(clause, TaskRecipient.checked_in_at.is_(None))
    return clause


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


PENDING_PAGE = 10  # pending tasks listed in 任务


def _counselor_pages():
    """What both views of a counselor's tasks share: its tasks that are not cancelled (FROM tasks
    ⋈ its recipient rows), "not done yet" (a 直播课 also needs its 签到), and each page's order."""
    def received(stmt):
        return (stmt.join(TaskRecipient, TaskRecipient.task_id == Task.id)
                .where(TaskRecipient.account_id == bindparam("account_id"), Task.status != "cancelled"))

    not_done = or_(TaskRecipient.completed_at.is_(None),
                   and_(Task.type == LIVE_TASK_TYPE, TaskRecipient.checked_in_at.is_(None)))
    pending_order = (Task.deadline.is_(None), Task.deadline, Task.id.desc())
    done_order = (TaskRecipient.completed_at.desc(), Task.id.desc())
    return received, not_done, pending_order, done_order


@lru_cache(maxsize=16)
def _counselor_task_queries(pending_limit: int, done_limit: int):
    # Built once per page size: composing these cost more CPU than running them.
    received, not_done, pending_order, done_order = _counselor_pages()
    base = received(select(Task, TaskRecipient))
    pending = base.where(not_done).order_by(*pending_order).limit(pending_limit)
    done = base.where(~not_done).order_by(*done_order).limit(done_limit)
    return pending, done


def counselor_tasks(session: Session, account: Account, pending_limit: int = PENDING_PAGE, done_limit: int = 5):
    """(pending, recently done) (Task, TaskRecipient) pairs of a counselor."""
    pending_q, done_q = _counselor_task_queries(pending_limit, done_limit)
    params = {"account_id": account.id}
    return session.execute(pending_q, params).all(), session.execute(done_q, params).all()


class TaskLine(NamedTuple):
    """One line of a counselor's 任务 reply: the columns it shows, no ORM objects."""
    id: int
    title: str
    type: str
    deadline: datetime | None
    live_start: datetime | None
    status: str
    completed_at: datetime | None
    checked_in_at: datetime | None

    @property
    def is_live(self) -> bool:
        return self.type == LIVE_TASK_TYPE


@lru_cache(maxsize=16)
def _task_lines_query(pending_limit: int, done_limit: int, wrap_members: bool):
    # Both pages and the number of pending tasks (a window count, taken before LIMIT) in one
    # statement: 任务 is a frequent webhook command, and on MariaDB each statement is a round trip.
    # SQLite cannot take ORDER BY/LIMIT inside a UNION's members, so there each member is a
    # derived table; MariaDB runs the parenthesized members with no temporary table per member,
    # which costs it far less server CPU (docs/PERFORMANCE.md).
    received, not_done, pending_order, done_order = _counselor_pages()
    base = received(select(*(getattr(Task, c) for c in ("id", "title", "type", "deadline", "live_start", "status")),
                           TaskRecipient.completed_at, TaskRecipient.checked_in_at))
    pending = (base.add_columns(literal(0).label("part"), func.row_number().over(order_by=pending_order).label("pos"),
                                func.count().over().label("total"))
               .where(not_done).order_by(*pending_order).limit(pending_limit))
    done = (base.add_columns(literal(1).label("part"), func.row_number().over(order_by=done_order).label("pos"),
                             literal(0).label("total"))
            .where(~not_done).order_by(*done_order).limit(done_limit))
    if not wrap_members:
        return union_all(pending, done).order_by(literal_column("part"), literal_column("pos"))
    both = union_all(select(pending.subquery()), select(done.subquery())).subquery()
    return select(both).order_by(both.c.part, both.c.pos)


def counselor_task_lines(session: Session, account_id: int, pending_limit: int = PENDING_PAGE,
                         done_limit: int = 5) -> tuple[list[TaskLine], list[TaskLine], int]:
    """(pending, recently done, number of pending tasks) of a counselor, in one statement."""
    pending: list[TaskLine] = []
    done: list[TaskLine] = []
    total = 0
    query = _task_lines_query(pending_limit, done_limit, session.get_bind().dialect.name == "sqlite")
    for row in session.execute(query, {"account_id": account_id}):
        line = TaskLine(*row[:8])
        if row.part == 0:
            pending.append(line)
            total = row.total
        else:
            done.append(line)
    return pending, done, total


# -- staff: visibility and figures ----------------------------------------------------------
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


def present_clause():
    """Recipients still counted: not counselors deleted while the task was open."""
    return TaskRecipient.left_at.is_(None)


def figures_clause(staff: Account, task: Task):
    """Which recipients of `task` the staff user's figures count: all for the issuer, else its own;
    never those who left it (deleted while it was open)."""
    if task.issuer_id == staff.id:
        return present_clause()
    return and_(in_scope_clause(staff, TaskRecipient), present_clause())


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


@dataclass
class UnitLine:
    unit_id: int | None
    name: str
    total: int
    done: int
    unreachable: int

    @property
    def pending(self) -> int:
        return self.total - self.done


@dataclass
class Progress:
    task: Task
    total: int = 0
    done: int = 0
    completed: int = 0
    checked_in: int = 0
    unreachable: int = 0
    delivered: int = 0
    refused: int = 0
    student_views: int = 0  # distinct student browsers over the recipients' student links
    forwarded: int = 0      # recipients whose student link was opened at least once
    failed: int = 0  # 发送失败: WeChat's receipt, or a send that never got through
    units: list[UnitLine] = field(default_factory=list)
    unit_kind: str = ""
    unit_count: int = 0

    @property
    def pending(self) -> int:
        return self.total - self.done


def _figure_columns(task: Task):
    return (func.count(TaskRecipient.id),
            func.sum(case((done_clause(task), 1), else_=0)),
            func.sum(case((unreached_clause(), 1), else_=0)))


def progress(session: Session, staff: Account, task: Task, all_units: bool = False) -> Progress:
    """The task's figures in the staff user's scope, with the breakdown one level below it.

    One pass over the recipients: the breakdown's GROUP BY carries every figure and the totals
    are its sums (at 150,000 recipients a second, ungrouped pass cost as much again)."""
    where = (TaskRecipient.task_id == task.id, figures_clause(staff, task))
    figures = (*_figure_columns(task),
               func.sum(case((TaskRecipient.completed_at.is_not(None), 1), else_=0)),
               func.sum(case((TaskRecipient.checked_in_at.is_not(None), 1), else_=0)),
               func.sum(case((TaskRecipient.delivery == "delivered", 1), else_=0)),
               func.sum(case((TaskRecipient.delivery == "refused", 1), else_=0)),
               func.sum(TaskRecipient.student_views),
               func.sum(case((TaskRecipient.student_views > 0, 1), else_=0)),
               func.sum(case((failed_clause(), 1), else_=0)))
    column_name = BREAKDOWN_COLUMN.get(staff.level)
    if column_name is None:
        grouped = None
        rows = [tuple(session.execute(select(*figures).where(*where)).one())]
    else:
        column = getattr(TaskRecipient, column_name)
        grouped = session.execute(select(column, *figures).where(*where).group_by(column)).all()
        rows = [tuple(r[1:]) for r in grouped]
    total, done, unreachable, completed, checked_in, delivered, refused, views, forwarded, failed = (
        sum(int(r[i] or 0) for r in rows) for i in range(len(figures)))
    result = Progress(task=task, total=total, done=done, unreachable=unreachable, completed=completed,
                      checked_in=checked_in, delivered=delivered, refused=refused, student_views=views,
                      forwarded=forwarded, failed=failed)
    if grouped is None or result.total == 0:
        return result
    lines = [UnitLine(r[0], "", int(r[1] or 0), int(r[2] or 0), int(r[3] or 0)) for r in grouped]
    lines.sort(key=lambda x: (-x.pending, -x.total, x.unit_id or 0))
    if not all_units:
        lines = lines[:BREAKDOWN_LINES]
    ids = [x.unit_id for x in lines if x.unit_id is not None]
    names = dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all()) if ids else {}
    for line in lines:
        line.name = names.get(line.unit_id, "（未知单位）")
    result.units = lines
    result.unit_kind = {"province_id": "省份", "school_id": "学校", "college_id": "院系"}[column_name]
    result.unit_count = len(grouped)
    return result


def pending_recipients(session: Session, staff: Account, task: Task, limit: int = 20, offset: int = 0):
    """(total pending, `limit` (Account, college name, TaskRecipient) rows from `offset`) in the
    staff user's figures."""
    where = (TaskRecipient.task_id == task.id, figures_clause(staff, task), pending_clause(task))
    total = session.scalar(select(func.count(TaskRecipient.id)).where(*where)) or 0
    rows = session.execute(
        select(Account, Unit.name, TaskRecipient)
        .join(TaskRecipient, TaskRecipient.account_id == Account.id)
        .join(Unit, Unit.id == Account.unit_id)
        .where(*where).order_by(TaskRecipient.college_id, Account.name, Account.id).offset(offset).limit(limit)).all()
    return total, rows


def reach_by_counselor(session: Session, staff: Account, task: Task, limit: int = 100):
    """(Account, college name, students reached) for the recipients in the staff user's figures whose
    student link was opened, most students first."""
    return session.execute(
        select(Account, Unit.name, TaskRecipient.student_views)
        .join(TaskRecipient, TaskRecipient.account_id == Account.id)
        .join(Unit, Unit.id == Account.unit_id)
        .where(TaskRecipient.task_id == task.id, figures_clause(staff, task), TaskRecipient.student_views > 0)
        .order_by(TaskRecipient.student_views.desc(), Account.id).limit(limit)).all()


@dataclass
class Reach:
    total: int
    bound: int
    following: int
    not_bound: list  # (Account, college name)

    @property
    def unreachable(self) -> int:
        return self.total - self.following


def reach(session: Session, staff: Account, limit: int = 20) -> Reach:
    """Counselors the staff user manages: total, bound, bound and following, the first not bound."""
    conds = (Account.level == COUNSELOR, Account.active.is_(True), in_scope_clause(staff, Account))
    row = session.execute(with_reach(select(
        func.count(Account.id),
        func.sum(case((Identity.openid.is_not(None), 1), else_=0)),
        func.sum(case((reachable_clause(), 1), else_=0)),
    ).select_from(Account)).where(*conds)).one()
    not_bound = session.execute(with_reach(select(Account, Unit.name).select_from(Account))
                                .join(Unit, Unit.id == Account.unit_id)
                                .where(*conds, Identity.openid.is_(None))
                                .order_by(Account.college_id, Account.name, Account.id).limit(limit)).all()
    return Reach(total=int(row[0] or 0), bound=int(row[1] or 0), following=int(row[2] or 0), not_bound=not_bound)


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
