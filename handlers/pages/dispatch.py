"""The dispatch page for staff (SPEC 8): the 派发 form as a page, with the chat's parser and rules
(models/dispatch.py), the same recipient count and preview, then 确认 on the page.

The draft between preview and 确认 is the chat's (one per staff user, 10 minutes, in Redis): a
preview made on the page can be confirmed in chat and the other way round, and a double 确认
creates one task.
"""
from __future__ import annotations

import logging

import redis
from flask import Blueprint, current_app, render_template, request, session, url_for

from bot.context import current_sender
from bot.oauth import openid_required
from bot.store import get_redis
from models import db
from models import dispatch as rules
from models import dispatch_form as form
from models.text import LIST_SPLIT
from models.account_checks import default_cohort
from models.vocab import STUDY_LEVELS, TASK_TYPE_SHORT

from ..new_task import create_and_start
from .csrf import csrf_refusal
from .tasks import refusal

log = logging.getLogger(__name__)
bp = Blueprint("pages_dispatch", __name__)


def _staff_or_refusal(posted: bool = False):
    """The signed-in staff account, or the page that refuses; a posted form must carry its token."""
    sender = current_sender(session["openid"])
    if sender.account is None:
        return None, refusal("您的微信还没有绑定平台账号，绑定后即可派发任务。", 403, ("去登录绑定", "/auth/login"))
    if not sender.account.is_staff:
        return None, refusal("派发页面供各级工作人员使用。", 403, ("查看我的任务", url_for("pages_tasks.task_list")))
    forged = csrf_refusal() if posted else None
    return (None, forged) if forged else (sender.account, None)


def _form(staff, values: dict, errors=(), status: int = 200):
    children = rules.child_units(db.session, staff)
    chosen_units = set(LIST_SPLIT.split(values.get("narrowing", ""))) if values.get("narrowing") else set()
    chosen_levels = set(LIST_SPLIT.split(values.get("levels", ""))) if values.get("levels") else set()
    return render_template("dispatch/new.html", v=values, errors=list(errors),
                           types=list(TASK_TYPE_SHORT.values()), levels=list(staff.study_levels),
                           all_levels=STUDY_LEVELS, chosen_levels=chosen_levels, children=children,
                           chosen_units=chosen_units, child_kind=rules.UNIT_KIND_NAMES.get(
                               rules.CHILD_KIND.get(staff.level), "")), status


@bp.get("/tasks/new")
@openid_required
def new_task():
    staff, refused = _staff_or_refusal()
    if refused:
        return refused
    return _form(staff, {"cohort": str(default_cohort())})


def _submitted() -> dict:
    fields = {name: request.form.get(name, "") for name in form.LABELS}
    # Checkboxes: several values for one field, joined as the chat form writes them.
    for name in ("levels", "narrowing"):
        picked = [x for x in request.form.getlist(name) if x]
        if picked:
            fields[name] = ",".join(picked)
    fields["confidential"] = "是" if request.form.get("confidential") else ""
    fields["escalate"] = "是" if request.form.get("escalate") else "否"
    return fields


@bp.post("/tasks/new")
@openid_required
def preview():
    staff, refused = _staff_or_refusal(posted=True)
    if refused:
        return refused
    fields = _submitted()
    draft, errors = rules.parse_values(db.session, staff, form.form_values(fields))
    if errors:
        return _form(staff, fields, errors, 400)
    total, unreachable = rules.count_recipients(db.session, staff, draft)
    if total == 0:
        return _form(staff, fields, ["没有符合条件的辅导员：请检查届别、层次和范围（辅导员须负责该届别）。"], 400)
    try:
        rules.save_draft(get_redis(), staff.id, draft)
    except redis.RedisError:
        log.warning("dispatch draft could not be saved (redis down)")
        return _form(staff, fields, ["系统暂时无法保存派发草稿，请稍后再试。"], 503)
    text = rules.preview_text(draft, total, unreachable).rsplit("\n", 1)[0]  # the chat's last line says 回复…
    return render_template("dispatch/preview.html", preview=text, total=total, unreachable=unreachable,
                           v=fields)


@bp.post("/tasks/new/confirm")
@openid_required
def confirm():
    staff, refused = _staff_or_refusal(posted=True)
    if refused:
        return refused
    try:
        draft = rules.take_draft(get_redis(), staff.id)
    except redis.RedisError:
        return refusal("系统暂时无法读取派发草稿，请稍后再试。", 503, ("返回派发页面", url_for("pages_dispatch.new_task")))
    if draft is None:
        return refusal("没有待确认的派发（草稿10分钟内有效，或已经派发）。", 409,
                       ("重新填写", url_for("pages_dispatch.new_task")))
    task, text = create_and_start(staff, draft)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return render_template("dispatch/done.html", text=text, task=task, progress_url=f"{base}/progress/{task.id}")
