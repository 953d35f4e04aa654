"""A stand-in for WeChat's JS-SDK and for a student's phone.

`/open/js/jweixin-1.6.0.js` is the script our pages load when WECHAT_API_BASE points here. Its
`wx.config()` asks the simulator whether the page was signed with a ticket it granted (as WeChat
does); `wx.updateAppMessageShareData()` / `updateTimelineShareData()` record the share card, which
the chat page then shows as the card the counselor forwarded. `/_sim/student?seq=N` opens a card's
link as a student would: the card on top, the page in a credentialless frame (its own, empty
cookie jar: not the counselor's browser).
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, render_template, request

from .api import st

bp = Blueprint("sim_jssdk", __name__, template_folder="templates")

CARD_FIELDS = ("title", "desc", "link", "imgUrl")


def _cors(response: Response) -> Response:
    """The calls come from our app's pages (another origin): answer them, with the sim cookie."""
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    return response


def _body() -> dict:
    try:
        data = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@bp.get("/open/js/jweixin-1.6.0.js")
def jweixin():
    return Response(render_template("jweixin.js", sim=request.host_url.rstrip("/")),
                    mimetype="application/javascript")


@bp.post("/_sim/jssdk/config")
def check_config():
    data = _body()
    ok = st().check_jssdk_signature(data.get("appId"), data.get("nonceStr"), data.get("timestamp"),
                                    str(data.get("url", "")).split("#", 1)[0], data.get("signature"))
    return _cors(jsonify({"ok": ok, "errMsg": "config:ok" if ok else "config:invalid signature"}))


@bp.post("/_sim/share")
def add_share():
    data = _body()
    card = {k: str(data.get(k) or "")[:2048] for k in CARD_FIELDS}
    card.update(kind="timeline" if data.get("kind") == "timeline" else "app",
                page=str(data.get("page") or "")[:2048], signed=bool(data.get("signed")),
                openid=request.cookies.get("sim_openid", ""))
    return _cors(jsonify(st().add_share(card)))


@bp.get("/_sim/shares")
def list_shares():
    try:
        since = int(request.args.get("since", 0))
    except ValueError:
        since = 0
    return jsonify(st().list_shares(since=since, openid=request.args.get("openid") or None))


@bp.get("/_sim/student")
def student():
    try:
        seq = int(request.args.get("seq", 0))
    except ValueError:
        seq = 0
    card = next((c for c in st().list_shares() if c["seq"] == seq), None)
    if card is None:
        return "没有这张转发卡片", 404
    return render_template("student.html", card=card)
