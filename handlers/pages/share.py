"""The student page (SPEC 3, 8): what a counselor forwards. No login, no controls, and nothing
of a confidential task.

`/share/<token>` (handlers/share_links.py) names the task and the counselor. The page shows
what students need: the title, the type, the issuing unit, the 给学生 text, the link and, for a
live course, its start and end; never the counselor's instruction or deadline. Its one cookie
is a random browser id, so that each browser counts once for that counselor's link; the open
goes to a Redis buffer (jobs/reach.py), not to the database, on the way.
"""
from __future__ import annotations

import logging
import secrets

from flask import Blueprint, make_response, render_template, request, session
from sqlalchemy import select

from bot.freshness import StampedCache, adopt_page_tokens
from bot.store import get_redis
from jobs.reach import note_open
from models import db
from models.accounts import Account
from models.changes import PEOPLE, TASKS
from models.clock import local_text
from models.tasks import Task
from models.units import Unit
from models.vocab import TASK_TYPE_SHORT

from ..share_links import read_token

log = logging.getLogger(__name__)

bp = Blueprint("pages_share", __name__)

BROWSER_COOKIE = "fdy_sb"
BROWSER_COOKIE_AGE = 365 * 86400
# Rendered student pages by task, per process, while no task, unit or account changed anywhere
# (change tokens, bot/freshness.py): the students of a national dispatch all open the same few.
_pages = StampedCache((TASKS, PEOPLE))


def _unavailable(message: str, status: int):
    return render_template("share/unavailable.html", message=message), status


def _render(task_id: int) -> tuple[str, int]:
    """The student page of a task (the same for every counselor's link) and its status."""
    row = db.session.execute(select(Task, Unit.name).join(Account, Account.id == Task.issuer_id)
                             .join(Unit, Unit.id == Account.unit_id).where(Task.id == task_id)).first()
    if row is None or row[0].status == "cancelled":
        return _unavailable("该内容已下线。", 404)
    task, issuer_unit = row
    if task.confidential:
        # Not even the title: a confidential task is for the counselor alone.
        return _unavailable("该内容不对外公开。", 403)
    return render_template(
        "share/task.html", task=task, type_name=TASK_TYPE_SHORT.get(task.type, "其他"), issuer_unit=issuer_unit,
        live_start=local_text(task.live_start) if task.is_live else "",
        live_end=local_text(task.live_end) if task.is_live else ""), 200


def _browser_id() -> tuple[str, bool]:
    """(this browser's counting id, whether it is new)."""
    known = request.cookies.get(BROWSER_COOKIE, "")
    if 16 <= len(known) <= 32 and known.isalnum():
        return known, False
    return secrets.token_hex(16), True


@bp.get("/share/<token>")
def shared_task(token: str):
    found = read_token(token)
    if found is None:
        return _unavailable("链接无效，请向您的辅导员索取正确的链接。", 404)
    task_id, account_id = found
    adopt_page_tokens()
    page = _pages.get(task_id)
    if page is None:
        page = _render(task_id)
        # Never keep a page that shows this browser's own flashed messages.
        if "_flashes" not in session:
            _pages.put(task_id, page)
    body, status = page
    if status != 200:
        return body, status
    response = make_response(body)
    # Students' pages may be shown inside other pages (a class site, the simulator's phone): they
    # hold no control and no session, so framing them can trick nobody into anything.
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    if account_id is not None:
        browser, new = _browser_id()
        if new:
            response.set_cookie(BROWSER_COOKIE, browser, max_age=BROWSER_COOKIE_AGE, path="/share/",
                                httponly=True, samesite="Lax")
        try:
            note_open(get_redis(), task_id, account_id, browser)
        except Exception as exc:  # noqa: BLE001 - a lost count never costs a student the page
            log.warning("student open not counted: %s", type(exc).__name__)
    return response
