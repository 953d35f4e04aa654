"""The staff progress page (SPEC 8): the figures of `进度 N`, every unit one level down.

Scope-checked like the chat command: the task must be visible to the staff
user, and the figures count only the recipients it manages (all for the issuer).
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from types import SimpleNamespace

from flask import Blueprint, current_app, render_template, request, send_file, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from bot.context import current_sender
from bot.oauth import openid_required
from bot.timed_cache import TimedCache
from jobs.exports import export_path, start_export
from models import db, task_figures, task_rules
from models.accounts import Account
from models.export import summary, write_workbook
from models.clock import local_text
from models.tasks import Task
from models.vocab import TASK_TYPE_SHORT

log = logging.getLogger(__name__)
bp = Blueprint("pages_progress", __name__)

EXPORT_SALT = "fdy-export"
EXPORT_TTL = 24 * 3600
EXPORT_TTL_TEXT = "24小时"
PENDING_PAGE = 50
FIGURES_TTL = 10.0  # seconds; the page says when its figures were counted
_figures = TimedCache(FIGURES_TTL)
# Above this many rows the file is written by a job, not while the request waits.
EXPORT_INLINE_MAX = 20_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=EXPORT_SALT)


def export_url(task_id: int, account_id: int) -> str:
    """A signed link to the task's Excel file as this staff user sees it; expires after EXPORT_TTL.
    It opens in any browser (a PC too): the signature, not a WeChat sign-in, says who asked."""
    token = _signer().dumps([task_id, account_id])
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/progress/{task_id}/export.xlsx?t={token}"


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
        p = task_figures.progress(db.session, staff, task)
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
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    # The figures over a national task's 150,000 recipients cost a few hundred ms of database
    # time; staff refresh this page during the peak, so a process computes them at most once per
    # FIGURES_TTL for each (task, staff user, page) and says when (`figures.at`).
    key = (id(current_app._get_current_object()), task.id, staff.id, page)  # apps may share a process (tests)
    figures = _figures.get_or_compute(key, lambda: _figures_of(staff, task, page))
    p = dataclasses.replace(figures.progress, task=task)
    pages = max((figures.total_pending + PENDING_PAGE - 1) // PENDING_PAGE, 1)
    units = figures.units
    chart = {"labels": [u.name for u in units[:30]], "done": [u.done for u in units[:30]],
             "pending": [u.pending for u in units[:30]]}
    return render_template("progress/task.html", task=task, p=p, type_name=TASK_TYPE_SHORT.get(task.type, "其他"),
                           reached=figures.reached, figures_at=figures.at, figures_ttl=int(FIGURES_TTL),
                           deadline=local_text(task.deadline), created=local_text(task.created_at),
                           issuer_scope=task.issuer_id == staff.id, pending=figures.pending,
                           total_pending=figures.total_pending,
                           units=units, unit_kind=p.unit_kind or "院系", chart=chart, page=page, pages=pages,
                           first_number=(page - 1) * PENDING_PAGE, export_link=export_url(task.id, staff.id),
                           export_ttl=EXPORT_TTL_TEXT)


@dataclasses.dataclass(frozen=True)
class _Figures:
    progress: task_figures.Progress
    units: list
    total_pending: int
    pending: list  # (account, college name, recipient) as plain values: shared between requests
    reached: list
    at: str


def _figures_of(staff: Account, task: Task, page: int) -> _Figures:
    p = task_figures.progress(db.session, staff, task)
    units = summary(db.session, staff, task)
    total_pending, rows = task_figures.pending_recipients(db.session, staff, task, limit=PENDING_PAGE,
                                                        offset=(page - 1) * PENDING_PAGE)
    pending = [(SimpleNamespace(name=a.name, phone=a.phone), college,
                SimpleNamespace(notify_state=r.notify_state, completed_at=r.completed_at)) for a, college, r in rows]
    reached = [(SimpleNamespace(name=a.name), college, views) for a, college, views in
               (task_figures.reach_by_counselor(db.session, staff, task, limit=100) if p.forwarded else [])]
    return _Figures(progress=p, units=units, total_pending=total_pending, pending=pending, reached=reached,
                    at=local_text(task_rules.now(), "%H:%M:%S"))


def _export_refusal(message: str, status: int):
    return render_template("tasks/refusal.html", message=message, link=None), status


@bp.get("/progress/<int:task_id>/export.xlsx")
def export(task_id: int):
    try:
        token_task, account_id = _signer().loads(request.args.get("t", ""), max_age=EXPORT_TTL)
    except SignatureExpired:
        return _export_refusal(f"下载链接已过期（{EXPORT_TTL_TEXT}内有效）。请在微信中重新回复「导出 {task_id}」，"
                               "或在进度页重新下载。", 410)
    except (BadSignature, TypeError, ValueError):
        return _export_refusal("下载链接无效。请在微信中回复「导出 任务编号」获取新链接。", 404)
    staff = db.session.get(Account, account_id) if token_task == task_id else None
    task = db.session.get(Task, task_id)
    # Checked again now: an account deleted or moved since the link was made gets nothing.
    if staff is None or not staff.active or not staff.is_staff or task is None \
            or not task_rules.can_see(db.session, staff, task):
        return _export_refusal("该链接对应的账号已无权查看此任务。", 403)
    name = f"任务{task_id}进度.xlsx"
    if task_figures.progress(db.session, staff, task).total > EXPORT_INLINE_MAX:
        # Minutes of CPU: a job writes it (jobs/exports.py), this link serves it once written.
        key = hashlib.sha256(request.args["t"].encode()).hexdigest()[:32]
        path = export_path(key)
        if os.path.exists(path):
            return send_file(path, mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)
        start_export(task_id, staff.id, key)
        return render_template("progress/export_wait.html", task=task), 202
    out = tempfile.TemporaryFile()
    try:
        rows = write_workbook(db.session, staff, task, out)
    except Exception:
        out.close()
        raise
    out.seek(0)
    log.info("export of task %s (%s rows) for account %s", task_id, rows, staff.id)
    return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)
