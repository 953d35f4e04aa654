"""The share page for students (SPEC 8): no controls, and nothing of a confidential task.

The address carries the task id signed with SECRET_KEY, so pages cannot be
guessed from one another. No login: students are not platform users.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from models import db
from models.tasks import Task, local_text
from models.vocab import TASK_TYPE_SHORT

from .tasks import SHARE_SALT

bp = Blueprint("pages_share", __name__)


@bp.get("/share/<token>")
def shared_task(token: str):
    try:
        task_id = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SHARE_SALT).loads(token)
    except BadSignature:
        return render_template("share/unavailable.html", message="链接无效，请向您的辅导员索取正确的链接。"), 404
    task = db.session.get(Task, task_id) if isinstance(task_id, int) else None
    if task is None or task.status == "cancelled":
        return render_template("share/unavailable.html", message="该内容已下线。"), 404
    if task.confidential:
        # Not even the title: a confidential task is for the counselor alone.
        return render_template("share/unavailable.html", message="该内容不对外公开。"), 403
    return render_template("share/task.html", task=task, type_name=TASK_TYPE_SHORT.get(task.type, "其他"),
                           deadline=local_text(task.deadline), live_start=local_text(task.live_start),
                           live_end=local_text(task.live_end))
