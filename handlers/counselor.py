"""Counselor task commands (SPEC 6): 任务, 任务 N, 完成 N, 签到 N.

`任务` and `任务 N` serve both roles: a staff user gets its supervision view
(handlers/staff.py). 完成 and 签到 are committed before the reply is returned.
"""
from __future__ import annotations

from flask import current_app

from models import db
from models import counselor_tasks, task_rules
from models.clock import local_text
from models.text import clip
from models.vocab import COUNSELOR, TASK_TYPE_SHORT

from .share_links import student_link
from . import staff

CONFIDENTIAL_NOTE = "本任务保密，仅限本人学习，无需转发学生"


def _base() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def _status(task, rec) -> str:
    """task: a Task or a TaskLine; rec: its TaskRecipient (or the same TaskLine)."""
    if task.status == "cancelled":
        return "已撤销"
    parts = [f"已完成（{local_text(rec.completed_at, '%m-%d %H:%M')}）" if rec.completed_at else "待完成"]
    if task.is_live:
        parts.append("已签到" if rec.checked_in_at else "未签到")
    return "，".join(parts)


def counselor_task_list(sender) -> str:
    pending, done, total = counselor_tasks.counselor_task_lines(db.session, sender.account_id)
    if not pending and not done:
        return "您目前没有收到任务。有新任务时会通过公众号消息通知您。"
    items = []
    if pending:
        items.append(f"待办任务 {total} 个" + (f"（列出前{len(pending)}个）" if total > len(pending) else "") + "：")
        for line in pending:
            due = f" 截止{local_text(line.deadline, '%m-%d %H:%M')}" if line.deadline else ""
            if line.is_live and line.live_start:
                due = f" 直播{local_text(line.live_start, '%m-%d %H:%M')}"
            items.append(f"#{line.id} [{TASK_TYPE_SHORT.get(line.type, '其他')}] {clip(line.title, 18)}{due} "
                         f"{_status(line, line)}")
    else:
        items.append("待办任务：无，全部完成了。")
    if done:
        items.append("最近完成：")
        for line in done:
            items.append(f"#{line.id} {clip(line.title, 18)} {_status(line, line)}")
    tail = ["回复「任务 编号」看详情，「完成 编号」标记完成，直播课回复「签到 编号」。", f"任务页：{_base()}/tasks/"]
    return staff.fit_reply([], items, tail, more="……更多见任务页")


def counselor_task_detail(sender, task_id: int) -> str:
    rec = counselor_tasks.received(db.session, sender.account, task_id)
    if rec is None:
        return f"没有找到派发给您的任务 #{task_id}。回复「任务」查看您收到的任务。"
    task = rec.task
    lines = [f"任务 #{task.id}「{task.title}」",
             f"类型：{TASK_TYPE_SHORT.get(task.type, '其他')}　届别：{task.cohort}",
             f"派发：{task.issuer.unit.name if task.issuer and task.issuer.unit else ''}"]
    if task.deadline:
        lines.append(f"截止：{local_text(task.deadline)}")
    if task.is_live and task.live_start:
        opens, closes = task_rules.checkin_window(task)
        lines.append(f"直播：{local_text(task.live_start)} 至 {local_text(task.live_end)}")
        lines.append(f"签到时间：{local_text(opens)} 至 {local_text(closes)}")
    elif task.live_start:
        lines.append(f"时间：{local_text(task.live_start)} 至 {local_text(task.live_end)}")
    lines.append(f"状态：{_status(task, rec)}")
    if task.confidential:
        lines.append(CONFIDENTIAL_NOTE)
    lines.append(f"内容：{clip(task.content, 220)}")
    if task.link:
        lines.append(f"链接：{clip(task.link, 120)}")
    if task.has_student_link:
        lines.append(f"学生链接（转发给学生，已有 {rec.student_views} 名学生查看）：{student_link(task.id, rec.account_id)}")
    elif not task.confidential and task.status != "cancelled":
        lines.append("本任务没有学生版内容，无需转发学生。")
    actions = [] if rec.completed_at else [f"「完成 {task.id}」"]
    if task.is_live and not rec.checked_in_at:
        actions.append(f"「签到 {task.id}」")
    if actions and task.status != "cancelled":
        lines.append("回复" + "或".join(actions) + "。")
    lines.append(f"详情：{_base()}/tasks/{task.id}")
    return "\n".join(lines)


def not_forwarded_note(task_id: int, account_id: int) -> str:
    """Said once, with the first 完成: the students have not opened this counselor's link yet."""
    return f"\n提醒：还没有学生打开您转发的学生页面。请把学生链接转发给学生：{student_link(task_id, account_id)}"


def which_task_text(sender, verb: str) -> str:
    """`完成` or `签到` without a number: the tasks it could mean, and how to answer."""
    pending, _done, total = counselor_tasks.counselor_task_lines(db.session, sender.account_id)
    if verb == "签到":
        lines = [line for line in pending if line.is_live and not line.checked_in_at and line.status != "cancelled"]
        none = "您没有需要签到的直播课。回复「任务」查看全部任务。"
    else:
        lines = [line for line in pending if not line.completed_at and line.status != "cancelled"]
        none = "您没有待完成的任务。回复「任务」查看近期任务。"
    if not lines:
        return none
    example = f"{verb} {lines[0].id}"
    items = [f"#{line.id} {clip(line.title, 20)}" for line in lines]
    head = [f"请在「{verb}」后加上任务编号，如：{example}。" + ("可选的任务：" if len(lines) > 1 else "您的任务：")]
    more = "……更多回复「任务」查看" if total > len(pending) else "……"
    return staff.fit_reply(head, items, [f"回复「{example}」即可。"], more=more)


def which_task_command(message, sender, match):
    return which_task_text(sender, match.group(1))


def tasks_command(message, sender, match):
    if sender.account_level == COUNSELOR:
        return counselor_task_list(sender)
    return staff.staff_task_list(sender)


def task_command(message, sender, match):
    task_id = int(match.group(1) or match.group(2))
    if sender.account.is_counselor:
        return counselor_task_detail(sender, task_id)
    task = staff.visible_task(sender, task_id)
    return staff.staff_task_detail(sender, task) if task else staff._not_found(task_id)


def complete_command(message, sender, match):
    task_id = int(match.group(1))
    outcome = task_rules.complete(db.session, sender.account_id, task_id)
    return outcome.text + (not_forwarded_note(task_id, sender.account_id) if outcome.not_forwarded else "")


def checkin_command(message, sender, match):
    return task_rules.check_in(db.session, sender.account, int(match.group(1))).text
