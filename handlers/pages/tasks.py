"""The counselor's task pages (SPEC 8): the list, one task with 完成 and 签到 buttons.

Only a counselor's own received tasks are shown; anyone else gets a polite
refusal that says what to do instead. The buttons POST with a per-session
CSRF token, and the rules are the chat's (models/task_rules.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for

from sqlalchemy import select

from bot.context import current_sender, detached_copy
from bot.freshness import StampedCache
from bot.oauth import openid_required
from models import counselor_tasks, db, task_rules
from models.changes import PEOPLE, TASKS
from models.resolution import OK, UNBOUND
from models.clock import local_text
from models.tasks import Task
from models.units import Unit
from models.vocab import COUNSELOR, TASK_TYPE_SHORT

from ..share_links import student_link
from .csrf import csrf_refusal

bp = Blueprint("pages_tasks", __name__)

CONFIDENTIAL_NOTE = "本任务保密，仅限本人学习，无需转发学生"
SHARE_DESC_MAX = 40
# Unit names by id, kept while no unit changed (a national dispatch's taps all show the same one).
_unit_names = StampedCache((PEOPLE,))
_tasks = StampedCache((TASKS,))


def share_card(task: Task, account_id: int, issuer_unit: str) -> dict:
    """What WeChat's 转发 and 分享到朋友圈 send: the student link with a title, a line and an icon."""
    first_line = next((x.strip() for x in (task.student_text or "").splitlines() if x.strip()), "")
    desc = first_line if len(first_line) <= SHARE_DESC_MAX else first_line[: SHARE_DESC_MAX - 1] + "…"
    return {"link": student_link(task.id, account_id), "title": task.title,
            "desc": desc or f"{issuer_unit} · {TASK_TYPE_SHORT.get(task.type, '其他')}",
            "icon": current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("static", filename="share-icon.png")}


def refusal(message: str, status: int = 403, link: tuple[str, str] | None = None):
    return render_template("tasks/refusal.html", message=message, link=link), status


def unit_name(unit_id: int | None) -> str:
    if unit_id is None:
        return ""
    return _unit_names.get_or_compute(unit_id, lambda: db.session.scalar(select(Unit.name).where(Unit.id == unit_id))
                                      or "")


def shown_task(task_id: int) -> Task | None:
    """The task as the pages show it: a copy no session owns, kept per process while no task
    changed anywhere (change tokens). Read its columns only."""
    task = _tasks.get(task_id)
    if task is None:
        loaded = db.session.get(Task, task_id)
        if loaded is None:
            return None
        task = detached_copy(loaded)
        _tasks.put(task_id, task)
    return task


def _counselor_sender_or_refusal():
    # The visitor from the webhook's per-process cache (bot/context.py), exactly as fresh as the
    # data; its status, level and id come from the snapshot without a query.
    sender = current_sender(session["openid"])
    if sender.status == UNBOUND:
        return None, refusal("您的微信还没有绑定平台账号，绑定后即可查看任务。", 403, ("去登录绑定", "/auth/login"))
    if sender.status != OK:
        return None, refusal("账号不存在：当前微信绑定的身份没有对应的平台账号。请在公众号回复「诊断」查看原因和解决办法。")
    if sender.account_level != COUNSELOR:
        return None, refusal("任务页面供辅导员使用。工作人员请在公众号回复「任务」，或打开任务的进度页面。")
    return sender, None


def _counselor_or_refusal():
    sender, refused = _counselor_sender_or_refusal()
    return (None, refused) if refused else (sender.account, None)


def view_model(task: Task, rec) -> dict:
    opens = closes = None
    if task.is_live and task.live_start and task.live_end:
        opens, closes = task_rules.checkin_window(task)
    return {
        "task": task, "rec": rec, "type_name": TASK_TYPE_SHORT.get(task.type, "其他"),
        "deadline": local_text(task.deadline), "live_start": local_text(task.live_start),
        "live_end": local_text(task.live_end), "opens": local_text(opens), "closes": local_text(closes),
        "completed_at": local_text(rec.completed_at), "checked_in_at": local_text(rec.checked_in_at),
        "done": task_rules.fully_done(task, rec), "issuer_unit": unit_name(task.issuer_unit_id),
    }


@bp.get("/tasks/")
@openid_required
def task_list():
    account, refused = _counselor_or_refusal()
    if refused:
        return refused
    pending, done = counselor_tasks.counselor_tasks(db.session, account, pending_limit=50, done_limit=20)
    return render_template("tasks/list.html", pending=[view_model(t, r) for t, r in pending],
                           done=[view_model(t, r) for t, r in done])


@bp.get("/tasks/<int:task_id>")
@openid_required
def task_detail(task_id: int):
    sender, refused = _counselor_sender_or_refusal()
    if refused:
        sender = current_sender(session["openid"])
        task = db.session.get(Task, task_id)
        if sender.account is not None and sender.account.is_staff and task is not None \
                and task_rules.can_see(db.session, sender.account, task):
            return refusal("任务页面供辅导员使用。您可以查看这个任务的进度。", 403,
                           ("查看进度", url_for("pages_progress.task_progress", task_id=task_id)))
        return refused
    # One statement on a warm open: the copy's state (the visitor and the task come from caches).
    rec = counselor_tasks.received_state(db.session, sender.account_id, task_id)
    if rec is None:
        return refusal(f"没有找到派发给您的任务 #{task_id}。", 404, ("查看我的任务", url_for("pages_tasks.task_list")))
    task = shown_task(task_id)
    model = view_model(task, rec)
    card = share_card(task, sender.account_id, model["issuer_unit"]) if task.has_student_link else None
    return render_template("tasks/detail.html", **model, card=card,
                           jssdk_script=current_app.config.get("WECHAT_JSSDK_URL"),
                           confidential_note=CONFIDENTIAL_NOTE)


def _act(task_id: int, rule):
    account, refused = _counselor_or_refusal()
    if refused:
        return refused
    forged = csrf_refusal()
    if forged:
        return forged
    outcome = rule(db.session, account, task_id)
    flash(outcome.text, "ok" if outcome.ok else "error")
    return redirect(url_for("pages_tasks.task_detail", task_id=task_id))


def _complete(session, account, task_id: int):
    outcome = task_rules.complete(session, account.id, task_id)
    if outcome.not_forwarded:
        outcome.text += "还没有学生打开您的学生链接，请按下方「转发给学生」转发。"
    return outcome


@bp.post("/tasks/<int:task_id>/complete")
@openid_required
def complete(task_id: int):
    return _act(task_id, _complete)


@bp.post("/tasks/<int:task_id>/checkin")
@openid_required
def check_in(task_id: int):
    return _act(task_id, task_rules.check_in)
