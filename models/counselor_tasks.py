"""A counselor's own tasks (SPEC 3): its copy of a task, and the lists of 任务 and of the task
pages. What a counselor does with a task (完成, 签到) is in models/task_rules.py."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import and_, bindparam, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .accounts import Account
from .tasks import Task, TaskRecipient
from .vocab import LIVE_TASK_TYPE


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
