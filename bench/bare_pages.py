"""A bare Flask app shaped like fdy's pages: the baseline of bench/pages.py.

    gunicorn -c gunicorn.conf.py bench.bare_pages:app     (same settings as fdy in the same run)

- `/tasks/<id>` without a page session: 302 to the OAuth authorize URL (WECHAT_OAUTH_BASE) with a
  random state kept in the signed cookie; with one: a page of `?size=` bytes.
- `/auth/callback`: the state checked, the code exchanged with WECHAT_API_BASE (requests, as fdy's
  client), the openid put in the session, 302 back to the page.
- `/page?size=N`: a template rendered to N bytes (the warm, student and progress baselines).
No database, no Redis: what a page costs with nothing behind it.
"""
from __future__ import annotations

import os
import secrets
from urllib.parse import quote

import requests
from flask import Flask, redirect, render_template, request, session
from jinja2 import DictLoader

app = Flask(__name__)
app.secret_key = os.environ.get("SECRET_KEY", "bare-pages-secret")
app.config.update(PERMANENT_SESSION_LIFETIME=7 * 86400, SESSION_COOKIE_HTTPONLY=True)
http = requests.Session()
http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))

OAUTH_BASE = os.environ.get("WECHAT_OAUTH_BASE", "http://127.0.0.1:9").rstrip("/")
API_BASE = os.environ.get("WECHAT_API_BASE", "http://127.0.0.1:9").rstrip("/")
APP_ID = os.environ.get("WECHAT_APP_ID", "wxbench0000000000")
APP_SECRET = os.environ.get("WECHAT_APP_SECRET", "bench-secret")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
MAX_SIZE = 1_000_000

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1>{% for line in lines %}<p>{{ line }}</p>
{% endfor %}</main></body></html>"""
LINE = "毕业班辅导员就业工作平台 bare page filler"
app.jinja_env.loader = DictLoader({"page.html": PAGE})  # compiled once and cached, as fdy's templates are


def _page(size: int):
    size = max(0, min(size, MAX_SIZE))
    line_bytes = len(f"<p>{LINE}</p>\n".encode())
    lines = [LINE] * max(1, (size - 150) // line_bytes)
    return render_template("page.html", title="任务", lines=lines)


@app.get("/page")
def page():
    return _page(request.args.get("size", 4000, type=int))


@app.get("/tasks/<int:task_id>")
def task(task_id: int):
    if not session.get("openid"):
        state = secrets.token_urlsafe(18)
        session["oauth_state"] = state
        session["next"] = request.full_path
        callback = quote(f"{PUBLIC_BASE_URL}/auth/callback", safe="")
        return redirect(f"{OAUTH_BASE}/connect/oauth2/authorize?appid={APP_ID}&redirect_uri={callback}"
                        f"&response_type=code&scope=snsapi_base&state={state}#wechat_redirect")
    return _page(request.args.get("size", 4000, type=int))


@app.get("/auth/callback")
def callback():
    state = request.args.get("state", "")
    if not state or state != session.pop("oauth_state", None):
        return "state", 400
    answer = http.get(f"{API_BASE}/sns/oauth2/access_token", timeout=5, params={
        "appid": APP_ID, "secret": APP_SECRET, "code": request.args.get("code", ""),
        "grant_type": "authorization_code"}).json()
    if "openid" not in answer:
        return "exchange", 502
    session["openid"] = answer["openid"]
    session.permanent = True
    return redirect(session.pop("next", None) or "/page")
