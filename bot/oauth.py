"""WeChat OAuth (snsapi_base) for the pages: who is this page's visitor?

A page view decorated with @openid_required gets the visitor's openid in
flask.session. Without it, the visitor is sent to WeChat's authorize URL
with a random, single-use `state` kept in Redis and in this browser's session
cookie; the callback accepts only a state its own browser started (login CSRF:
a callback link made by someone else signs nobody in, and leaves the state and
code untouched for the browser that started it) and exchanges the code for the
openid. A used or expired code (40029, 40163: a reload, the
back button, a forwarded link) restarts the authorization instead of failing.
"""
from __future__ import annotations

import functools
import json
import logging
import secrets
from urllib.parse import quote, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session

from .freshness import adopt_page_tokens
from .store import get_redis
from .wechat_api import WeChatError, get_client

log = logging.getLogger(__name__)
bp = Blueprint("oauth", __name__)

STATE_PREFIX = "fdy:oauth:state:"
STATE_TTL = 600
MAX_RESTARTS = 2
# States this browser started and has not used yet (a few: two tabs may start a login each).
SESSION_STATES = "oauth_states"
STATES_KEPT = 4
RESTART_ERRCODES = {40029, 40163}


def _safe_next(target: str | None) -> str:
    """Only same-site paths: the callback must not become an open redirect."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def authorize_redirect(next_url: str, restarts: int = 0):
    state = secrets.token_urlsafe(18)
    get_redis().set(STATE_PREFIX + state, json.dumps({"next": _safe_next(next_url), "restarts": restarts}),
                    ex=STATE_TTL)
    session[SESSION_STATES] = (session.get(SESSION_STATES) or [])[-(STATES_KEPT - 1):] + [state]
    cfg = current_app.config
    callback = cfg["PUBLIC_BASE_URL"].rstrip("/") + "/auth/callback"
    url = (f"{cfg['WECHAT_OAUTH_BASE'].rstrip('/')}/connect/oauth2/authorize?appid={quote(cfg['WECHAT_APP_ID'])}"
           f"&redirect_uri={quote(callback, safe='')}&response_type=code&scope=snsapi_base&state={state}"
           "#wechat_redirect")
    return redirect(url)


def openid_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not session.get("openid"):
            return authorize_redirect(request.full_path.rstrip("?"))
        adopt_page_tokens()  # the view may then read its visitor from bot.context's cache
        return view(*args, **kwargs)

    return wrapper


def page_error(message: str, status: int = 400):
    return render_template("error.html", message=message), status


@bp.get("/auth/callback")
def callback():
    state = request.args.get("state", "")
    code = request.args.get("code", "")
    started_here = session.get(SESSION_STATES) or []
    if not state or state not in started_here:
        log.warning("oauth callback with a state this browser did not start: refused")
        # Used, expired or started in another browser: the same answer, nothing consumed.
        return page_error("链接已失效、已使用，或不是在本浏览器中打开的，请从公众号菜单重新进入。")
    session[SESSION_STATES] = [s for s in started_here if s != state]
    raw = get_redis().getdel(STATE_PREFIX + state)
    if raw is None:
        return page_error("链接已失效或已使用，请从公众号菜单重新进入。")
    saved = json.loads(raw)
    if not code:
        return page_error("未获得微信授权，请从公众号菜单重新进入。")
    try:
        info = get_client().oauth_exchange(code)
    except WeChatError as exc:
        if exc.errcode in RESTART_ERRCODES and saved["restarts"] < MAX_RESTARTS:
            log.info("oauth code rejected (%s); restarting authorization", exc.errcode)
            return authorize_redirect(saved["next"], saved["restarts"] + 1)
        log.warning("oauth exchange failed: %s", exc)
        return page_error("微信授权失败，请稍后从公众号菜单重新进入。", 502)
    session.clear()
    session["openid"] = info["openid"]
    session.permanent = True
    return redirect(saved["next"])
