"""The staff progress page (SPEC 8): the figures of `进度 N`, every unit one level down.

Scope-checked like the chat command: the task must be visible to the staff
user, and the figures count only the recipients it manages (all for the issuer).
"""
from __future__ import annotations

from flask import Blueprint, render_template, session, url_for

from bot.context import current_sender
from bot.oauth import openid_required
from models import db, task_rules
from models.tasks import Task, local_text
from models.vocab import TASK_TYPE_SHORT

bp = Blueprint("pages_progress", __name__)


def _staff_or_refusal():
    sender = current_sender(session["openid"])
    if sender.account is None:
        return None, (render_template("tasks/refusal.html", message="您的微信还没有绑定平台账号，绑定后即可查看进度。",
                                      link=("去登录绑定", "/auth/login")), 403)
    if not sender.account.is_staff:
        return None, (render_template("tasks/refusal.html", message="进度页面供各级工作人员使用。",
                                      link=("查看我的任务", url_for("pages_tasks.task_list"))), 403)
    return sender.account, None


@bp.get("/progress/")
@openid_required
def progress_list():
    staff, refused = _staff_or_refusal()
    if refused:
        return refused
    rows = []
    for task in task_rules.staff_tasks(db.session, staff, limit=30):
        p = task_rules.progress(db.session, staff, task)
        rows.append({"task": task, "p": p, "mine": task.issuer_id == staff.id})
    return render_template("progress/list.html", rows=rows)


@bp.get("/progress/<int:task_id>")
@openid_required
def task_progress(task_id: int):
    staff, refused = _staff_or_refusal()
    if refused:
        return refused
    task = db.session.get(Task, task_id)
    if task is None or not task_rules.can_see(db.session, staff, task):
        return render_template("tasks/refusal.html", message=f"没有找到任务 #{task_id}，或它不在您的管理范围内。",
                               link=("返回任务列表", url_for("pages_progress.progress_list"))), 404
    p = task_rules.progress(db.session, staff, task, all_units=True)
    total_pending, pending = task_rules.pending_recipients(db.session, staff, task, limit=100)
    reached = task_rules.reach_by_counselor(db.session, staff, task, limit=100) if p.forwarded else []
    return render_template("progress/task.html", task=task, p=p, type_name=TASK_TYPE_SHORT.get(task.type, "其他"),
                           reached=reached,
                           deadline=local_text(task.deadline), created=local_text(task.created_at),
                           issuer_scope=task.issuer_id == staff.id, pending=pending, total_pending=total_pending)
