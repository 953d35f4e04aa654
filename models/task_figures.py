"""The figures of a dispatched task for staff (SPEC 5): which recipients count (the clauses),
the progress with its breakdown one level down, who is pending, whom the student links reached,
and how many counselors a staff user can reach. Scope: the issuer's figures count every
recipient, anyone else's only those it manages (models/scope.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from .accounts import Account
from .dispatch import reachable_clause, with_reach
from .identity import Identity
from .scope import in_scope_clause
from .tasks import Task, TaskRecipient
from .units import Unit
from .vocab import COUNSELOR, MINISTRY, PROVINCE, SCHOOL

BREAKDOWN_LINES = 10

# The recipient column that names the unit one level below a staff user's unit.
BREAKDOWN_COLUMN = {MINISTRY: "province_id", PROVINCE: "school_id", SCHOOL: "college_id"}


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

def present_clause():
    """Recipients still counted: not counselors deleted while the task was open."""
    return TaskRecipient.left_at.is_(None)


def figures_clause(staff: Account, task: Task):
    """Which recipients of `task` the staff user's figures count: all for the issuer, else its own;
    never those who left it (deleted while it was open)."""
    if task.issuer_id == staff.id:
        return present_clause()
    return and_(in_scope_clause(staff, TaskRecipient), present_clause())



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
