"""rq-dashboard under /admin/rq (a kept library): the job system's own view, for ministry accounts.

Signed in the pages' way (WeChat OAuth, snsapi_base): anyone else — not signed in, not bound, or
bound to any other level — gets a refusal before the dashboard sees the request. The dashboard
reads the app's Redis (REDIS_URL); job descriptions carry no arguments (jobs.enqueue).
"""
from __future__ import annotations

import rq_dashboard
from flask import render_template, request, session
from rq_dashboard.web import setup_rq_connection

from bot.oauth import authorize_redirect
from models import db
from models.resolution import resolve
from models.vocab import MINISTRY

URL_PREFIX = "/admin/rq"


def _refusal(message: str):
    return render_template("tasks/refusal.html", message=message, link=None), 403


def _ministry_only():
    if request.blueprint != "rq_dashboard":
        return None
    openid = session.get("openid")
    if not openid:
        return authorize_redirect(request.full_path.rstrip("?"))
    sender = resolve(db.session, openid)
    if sender.account is None:
        return _refusal("您的微信还没有绑定平台账号。后台任务面板仅供部级账号使用。")
    if sender.account.level != MINISTRY:
        return _refusal("后台任务面板仅供部级账号使用。")
    return None


def init_app(app) -> None:
    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", app.config["REDIS_URL"])
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 5000)
    app.before_request(_ministry_only)  # registered before the blueprint's own before_request runs
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
    setup_rq_connection(app)  # builds a client; connects on the first request
