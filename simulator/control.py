"""The /_sim control API used by tests, the demo and the chat page."""
from __future__ import annotations

import json

from flask import Blueprint, jsonify, request

from . import delivery
from .api import apply_fault, st
from .state import RECEIPT_STATUSES

bp = Blueprint("sim_control", __name__, url_prefix="/_sim")

EVENTS = ("subscribe", "unsubscribe", "CLICK", "VIEW")


def bad(msg, status=400):
    return jsonify({"error": msg}), status


def _json():
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _int_arg(name, default=0):
    try:
        return int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default


@bp.post("/reset")
def reset():
    st().reset()
    return jsonify({"ok": True})


@bp.route("/config", methods=["GET", "POST"])
def config():
    if request.method == "POST":
        data = _json()
        if data is None:
            return bad("JSON object expected")
        return jsonify(st().update_config(data))
    return jsonify(st().config())


# ---------------------------------------------------------------------- users
@bp.post("/users")
def create_user():
    data = request.get_json(silent=True)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return bad("JSON object expected")
    receipt = data.get("receipt") or "success"
    if receipt not in RECEIPT_STATUSES:
        return bad(f"receipt must be one of {list(RECEIPT_STATUSES)}")
    openid = data.get("openid")
    if openid is not None and (not isinstance(openid, str) or not openid.strip()):
        return bad("openid must be a non-empty string")
    user = st().add_user(openid=openid, nickname=data.get("nickname"),
                         subscribe=data.get("subscribe", True), receipt=receipt)
    return jsonify(user), 201


@bp.get("/users")
def list_users():
    return jsonify(st().list_users())


@bp.get("/users/<openid>")
def get_user(openid):
    user = st().get_user(openid)
    if user is None:
        return bad("unknown openid", 404)
    return jsonify(user)


@bp.patch("/users/<openid>")
def patch_user(openid):
    data = _json()
    if data is None:
        return bad("JSON object expected")
    if data.get("receipt") is not None and data["receipt"] not in RECEIPT_STATUSES:
        return bad(f"receipt must be one of {list(RECEIPT_STATUSES)}")
    user = st().update_user(openid, subscribe=data.get("subscribe"), receipt=data.get("receipt"),
                            nickname=data.get("nickname"),
                            last_interaction=data.get("last_interaction"))
    if user is None:
        return bad("unknown openid", 404)
    return jsonify(user)


@bp.get("/tags")
def list_tags():
    s = st()
    with s.lock:
        return jsonify([dict(t) for t in s.tags.values()])


@bp.get("/menu/<openid>")
def user_menu(openid):
    """The menu this user sees (conditional by tag, else default); null if none."""
    return jsonify({"menu": st().menu_for(openid)})


# ---------------------------------------------------------------------- calls, stats
@bp.route("/templates", methods=["GET", "POST"])
def templates_view():
    """The account's template definitions; POST {"template_id", "title", "content"} adds or replaces one."""
    s = st()
    if request.method == "POST":
        data = _json()
        if data is None or not all(isinstance(data.get(k), str) and data.get(k) for k in
                                   ("template_id", "title", "content")):
            return bad("template_id, title and content (strings) required")
        with s.lock:
            s.templates[data["template_id"]] = {"title": data["title"], "content": data["content"]}
    with s.lock:
        return jsonify(dict(s.templates))


@bp.get("/calls")
def calls():
    return jsonify(st().list_calls(path=request.args.get("path"), since=_int_arg("since")))


@bp.get("/stats")
def stats():
    return jsonify(st().stats())


@bp.get("/receipts")
def receipts():
    s = st()
    with s.lock:
        return jsonify([dict(r) for r in s.receipt_log])


@bp.post("/token/invalidate")
def token_invalidate():
    st().invalidate_token()
    return jsonify({"ok": True})


# ---------------------------------------------------------------------- faults
@bp.route("/faults", methods=["POST"])
def add_faults():
    data = _json()
    if data is None:
        return bad("JSON object expected")
    rules = data.get("rules")
    if rules is None:
        rules = [data] if any(k in data for k in ("errcode", "status", "delay")) else None
    if not isinstance(rules, list):
        return bad('expected {"rules": [...]}')
    try:
        added = st().add_faults(rules)
    except (ValueError, TypeError) as exc:
        return bad(str(exc))
    return jsonify({"ok": True, "rules": added})


@bp.get("/faults")
def list_faults():
    return jsonify(st().list_faults())


@bp.delete("/faults")
def clear_faults():
    st().clear_faults()
    return jsonify({"ok": True})


# ---------------------------------------------------------------------- inbox
@bp.get("/inbox/<openid>")
def inbox(openid):
    """Template and custom messages delivered to the user. ``all=1`` also
    returns the chat history (kinds ``out``, ``reply``, ``error``)."""
    kinds = None if request.args.get("all") in ("1", "true", "yes") else ("template", "custom")
    return jsonify(st().list_messages(openid, since=_int_arg("since"), kinds=kinds))


# ---------------------------------------------------------------------- sms
@bp.post("/sms")
def sms_post():
    s = st()
    raw = request.get_data(as_text=True)
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    rec = data if isinstance(data, dict) else {"_raw": raw[:2000]}
    response, _fault = apply_fault(s, request.path, None, rec)
    if response is not None:
        return response
    if not isinstance(data, dict) or not isinstance(data.get("phone"), str) \
            or not isinstance(data.get("content"), str):
        payload = {"ok": False, "error": 'expected {"phone": "...", "content": "..."}'}
        s.record_call("POST", request.path, request.args.to_dict(), rec, 400, payload)
        return jsonify(payload), 400
    item = s.add_sms(data["phone"], data["content"])
    payload = {"ok": True, "seq": item["seq"]}
    s.record_call("POST", request.path, request.args.to_dict(), rec, 200, payload)
    return jsonify(payload)


@bp.get("/sms")
def sms_list():
    return jsonify(st().list_sms(since=_int_arg("since"), phone=request.args.get("phone")))


# ---------------------------------------------------------------------- send
@bp.post("/send")
def send():
    data = _json()
    if data is None:
        return bad("JSON object expected")
    openid = data.get("openid")
    if not isinstance(openid, str) or not openid:
        return bad("openid required")
    text, event = data.get("text"), data.get("event")
    if (text is None) == (event is None):
        return bad("give exactly one of text or event")
    if event is not None and event not in EVENTS:
        return bad(f"event must be one of {list(EVENTS)}")
    if text is not None and not isinstance(text, str):
        return bad("text must be a string")
    s = st()
    if not s.app_url:
        return bad("simulator has no app_url (set it with POST /_sim/config)", 409)
    encrypted = bool(data.get("encrypted"))
    if encrypted and not s.aes_key:
        return bad("simulator has no AES key; cannot send in safe mode", 409)
    for key in ("msg_id", "create_time", "timestamp"):
        if data.get(key) is not None:
            try:
                int(data[key])
            except (TypeError, ValueError):
                return bad(f"{key} must be an integer")
    timeout = data.get("timeout", delivery.PUSH_TIMEOUT)
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        return bad("timeout must be a number")
    result = delivery.send_from_user(
        s, openid, text=text, event=event, event_key=data.get("event_key"),
        encrypted=encrypted, msg_id=data.get("msg_id"), create_time=data.get("create_time"),
        timestamp=data.get("timestamp"), nonce=data.get("nonce"),
        bad_signature=bool(data.get("bad_signature")), record=not data.get("quiet"),
        timeout=timeout)
    if not data.get("include_xml"):
        result.pop("xml", None)
    return jsonify(result)


@bp.post("/verify")
def verify():
    """Do WeChat's server-URL check: GET APP_URL/wechat?signature&timestamp&nonce&echostr;
    ok when the app echoes echostr back."""
    s = st()
    if not s.app_url:
        return bad("simulator has no app_url (set it with POST /_sim/config)", 409)
    return jsonify(delivery.verify_url(s))
