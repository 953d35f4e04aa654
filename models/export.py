"""A task's progress as an Excel file (SPEC 5 `导出 N`): every recipient the staff user's figures
count, with unit, 层次, state, delivery and students reached, and a summary sheet by unit.

Written with openpyxl's write-only workbook from a streamed query, so memory stays flat whatever
the number of recipients (bench/export_memory.py measures it at 150,000).
"""
from __future__ import annotations

from dataclasses import dataclass

from openpyxl import Workbook
from sqlalchemy import case, func, select

from .accounts import Account
from .base import utcnow
from .privacy import mask_phone
from .scope import MANAGED_LEVELS
from .task_figures import BREAKDOWN_COLUMN, done_clause, failed_clause, figures_clause, unreached_clause
from .clock import local_text
from .tasks import Task, TaskRecipient
from .units import Unit
from .vocab import COUNSELOR

CHUNK = 2000
DETAIL_HEADER = ["序号", "姓名", "手机", "学校", "院系", "层次", "状态", "通知送达", "学生查看"]
SUMMARY_HEADER = ["单位", "接收人", "已完成", "未完成", "完成率", "未触达", "已送达", "拒收", "发送失败", "学生查看"]
DELIVERY_NAMES = {"delivered": "已送达", "refused": "拒收", "failed": "发送失败"}


def state_name(task: Task, completed_at, checked_in_at, notify_state: str) -> str:
    """已完成 / 已签到 / 未完成 / 未触达, as `进度 N` counts them (a 直播课 needs both marks)."""
    if completed_at is not None and (not task.is_live or checked_in_at is not None):
        return "已完成"
    if task.is_live and checked_in_at is not None:
        return "已签到"
    if notify_state == "unreachable" and completed_at is None:
        return "未触达"
    return "未完成"


def delivery_name(delivery: str, notify_state: str) -> str:
    if delivery in DELIVERY_NAMES:
        return DELIVERY_NAMES[delivery]
    return "发送失败" if notify_state == "failed" else ""


def shows_full_phones(staff: Account) -> bool:
    """School and college staff manage the counselors they export: they see whole phones."""
    return COUNSELOR in MANAGED_LEVELS.get(staff.level, ())


def _unit_names(session, ids) -> dict[int, str]:
    ids = [i for i in ids if i is not None]
    names: dict[int, str] = {}
    for start in range(0, len(ids), 1000):
        names.update(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids[start:start + 1000]))).all())
    return names


@dataclass
class SummaryLine:
    name: str
    total: int
    done: int
    unreachable: int
    delivered: int
    refused: int
    failed: int
    views: int

    @property
    def pending(self) -> int:
        return self.total - self.done

    def row(self) -> list:
        rate = f"{self.done * 100 / self.total:.1f}%" if self.total else "-"
        return [self.name, self.total, self.done, self.pending, rate, self.unreachable, self.delivered,
                self.refused, self.failed, self.views]


def summary(session, staff: Account, task: Task) -> list[SummaryLine]:
    """The figures by the unit one level below the staff user (by college for a college account)."""
    column = getattr(TaskRecipient, BREAKDOWN_COLUMN.get(staff.level, "college_id"))
    failed = case((failed_clause(), 1), else_=0)
    rows = session.execute(
        select(column, func.count(TaskRecipient.id), func.sum(case((done_clause(task), 1), else_=0)),
               func.sum(case((unreached_clause(), 1), else_=0)),
               func.sum(case((TaskRecipient.delivery == "delivered", 1), else_=0)),
               func.sum(case((TaskRecipient.delivery == "refused", 1), else_=0)),
               func.sum(failed), func.sum(TaskRecipient.student_views))
        .where(TaskRecipient.task_id == task.id, figures_clause(staff, task)).group_by(column)).all()
    names = _unit_names(session, [r[0] for r in rows])
    lines = [SummaryLine(names.get(r[0], "（未知单位）"), *(int(x or 0) for x in r[1:])) for r in rows]
    lines.sort(key=lambda x: (-x.pending, -x.total, x.name))
    return lines


def write_workbook(session, staff: Account, task: Task, out) -> int:
    """Write the .xlsx to `out` (a path or a binary file); returns the number of recipient rows."""
    wb = Workbook(write_only=True)
    lines = summary(session, staff, task)
    head = wb.create_sheet("汇总")
    head.append([f"任务 #{task.id}「{task.title}」", f"届别 {task.cohort}", f"派发于 {local_text(task.created_at)}",
                 f"截止 {local_text(task.deadline)}" if task.deadline else "", f"导出于 {local_text(utcnow())}"])
    head.append(SUMMARY_HEADER)
    for line in lines:
        head.append(line.row())
    total = SummaryLine("合计", *(sum(getattr(x, f) for x in lines) for f in
                                  ("total", "done", "unreachable", "delivered", "refused", "failed", "views")))
    head.append(total.row())

    sheet = wb.create_sheet("接收人")
    sheet.append(DETAIL_HEADER)
    query = (select(Account.name, Account.phone, TaskRecipient.school_id, TaskRecipient.college_id,
                    TaskRecipient.study_level, TaskRecipient.completed_at, TaskRecipient.checked_in_at,
                    TaskRecipient.notify_state, TaskRecipient.delivery, TaskRecipient.student_views)
             .join(Account, Account.id == TaskRecipient.account_id)
             .where(TaskRecipient.task_id == task.id, figures_clause(staff, task))
             .order_by(TaskRecipient.school_id, TaskRecipient.college_id, TaskRecipient.id)
             .execution_options(yield_per=CHUNK))
    unit_ids = session.execute(select(TaskRecipient.school_id, TaskRecipient.college_id).distinct()
                               .where(TaskRecipient.task_id == task.id, figures_clause(staff, task))).all()
    names = _unit_names(session, {i for pair in unit_ids for i in pair})
    full = shows_full_phones(staff)
    count = 0
    for r in session.execute(query):
        count += 1
        sheet.append([count, r.name, r.phone if full else mask_phone(r.phone), names.get(r.school_id, ""),
                      names.get(r.college_id, ""), r.study_level or "",
                      state_name(task, r.completed_at, r.checked_in_at, r.notify_state),
                      delivery_name(r.delivery, r.notify_state), int(r.student_views or 0)])
    wb.save(out)
    return count
