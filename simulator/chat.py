"""The chat page: a phone-width stand-in for the WeChat client."""
from __future__ import annotations

from flask import Blueprint, render_template

from .api import st

bp = Blueprint("sim_chat", __name__, template_folder="templates", static_folder="static",
               static_url_path="/_sim/static")


@bp.get("/")
def chat():
    s = st()
    return render_template("chat.html", has_aes=bool(s.aes_key), app_url=s.app_url or "",
                           app_id=s.app_id)


@bp.get("/favicon.ico")
def favicon():
    return "", 204
