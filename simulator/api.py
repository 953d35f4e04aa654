"""The simulated api.weixin.qq.com / open.weixin.qq.com endpoints."""
from __future__ import annotations

import copy
import json
import secrets
import time
from functools import wraps
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, jsonify, make_response, redirect, request

from . import delivery, templates
from .state import OAUTH_CODE_TTL, TOKEN_TTL, SimState

bp = Blueprint("sim_api", __name__)

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40029: "invalid code",
    40032: "invalid openid list size",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45157: "tag name duplicate",
    45158: "tag name too long",
    45159: "invalid tag id",
    46003: "menu no exist",
    47001: "data format error",
    65301: "menuid not exist",
    65303: "there is no selfmenu, please create selfmenu first",
    65304: "match rule empty",
}

_INVALID = object()
FAULTABLE_METHODS = ("GET", "POST")


def st() -> SimState:
    return current_app.config["SIM_STATE"]


def err(code, msg=None):
    return {"errcode": code, "errmsg": msg or ERRMSG.get(code, "simulated error")}


def ok(**extra):
    out = {"errcode": 0, "errmsg": "ok"}
    out.update(extra)
    return out


def _parse_body():
    if request.method != "POST":
        return None
    raw = request.get_data()
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return _INVALID


def _fault_openid(body):
    if isinstance(body, dict) and isinstance(body.get("touser"), str):
        return body["touser"]
    return request.args.get("openid") or request.args.get("sim_openid")


def apply_fault(state, path, openid, record_body):
    """Apply a matching fault rule. Returns a Flask response when the fault
    replaces the answer, else None (possibly after sleeping). Records the call."""
    fault = state.take_fault(path, openid)
    if not fault:
        return None, None
    if fault["delay"]:
        time.sleep(fault["delay"])
    if fault["status"]:
        text = f"simulated HTTP {fault['status']}"
        state.record_call(request.method, path, request.args.to_dict(), record_body,
                          fault["status"], text, fault=fault["id"])
        return Response(text, status=fault["status"], mimetype="text/plain"), fault
    if fault["errcode"] is not None:
        payload = err(fault["errcode"], fault["errmsg"])
        state.record_call(request.method, path, request.args.to_dict(), record_body,
                          200, payload, fault=fault["id"])
        return jsonify(payload), fault
    return None, fault


def wechat_api(needs_token=True):
    """Decorator: parse JSON, apply faults, check access_token, record the call.

    The view receives ``(state, body)`` and returns a payload dict or
    ``(payload, extra_record_fields)``.
    """
    def deco(fn):
        @wraps(fn)
        def wrapper(**kwargs):
            state = st()
            started = time.time()  # with the record's "time" (its end): which calls overlapped
            body = _parse_body()
            rec_body = None if body is _INVALID else body
            if body is _INVALID:
                rec_body = {"_raw": request.get_data(as_text=True)[:2000]}
            response, fault = apply_fault(state, request.path, _fault_openid(body), rec_body)
            if response is not None:
                return response
            extra = {"started": started, "fault": fault["id"]} if fault else {"started": started}
            if needs_token:
                tok = request.args.get("access_token")
                status = state.token_status(tok)
                if not tok:
                    payload = err(41001)
                elif status == "invalid":
                    payload = err(40001)
                elif status == "expired":
                    payload = err(42001)
                else:
                    payload = None
            else:
                payload = None
            if payload is None:
                if body is _INVALID:
                    payload = err(47001)
                elif request.method == "POST" and body is None:
                    payload = err(44002)
                else:
                    res = fn(state, body if body is not None else {}, **kwargs)
                    if isinstance(res, tuple):
                        payload, more = res
                        extra.update(more)
                    else:
                        payload = res
            state.record_call(request.method, request.path, request.args.to_dict(), rec_body,
                              200, payload, **extra)
            return jsonify(payload)
        return wrapper
    return deco


# ---------------------------------------------------------------------- token
@bp.route("/cgi-bin/token", methods=["GET"])
@wechat_api(needs_token=False)
def token(state, body):
    a = request.args
    if a.get("grant_type") != "client_credential":
        return err(40002)
    if a.get("appid") != state.app_id:
        return err(40013)
    if a.get("secret") != state.app_secret:
        return err(40125)
    tok = state.grant_token()
    return {"access_token": tok, "expires_in": TOKEN_TTL}, {"granted": True}


@bp.route("/cgi-bin/stable_token", methods=["POST"])
@wechat_api(needs_token=False)
def stable_token(state, body):
    if body.get("grant_type") != "client_credential":
        return err(40002)
    if body.get("appid") != state.app_id:
        return err(40013)
    if body.get("secret") != state.app_secret:
        return err(40125)
    with state.lock:
        if body.get("force_refresh") or not state.current_token \
                or state.token_status(state.current_token) != "ok":
            tok = state.grant_token()
        else:
            tok = state.current_token
        remaining = max(0, int(state.token_expires_at - time.time()))
    return {"access_token": tok, "expires_in": remaining}


# ---------------------------------------------------------------------- JS-SDK
@bp.route("/cgi-bin/ticket/getticket", methods=["GET"])
@wechat_api()
def getticket(state, body):
    if request.args.get("type") != "jsapi":
        return err(40097, "invalid args")
    return ok(ticket=state.grant_ticket(), expires_in=TOKEN_TTL), {"granted": True}


# ---------------------------------------------------------------------- messages
def _target_user(state, openid):
    if not isinstance(openid, str) or not openid:
        return None, err(40003)
    user = state.get_user(openid)
    if user is None:
        return None, err(40003)
    return user, None


@bp.route("/cgi-bin/message/template/send", methods=["POST"])
@wechat_api()
def template_send(state, body):
    user, e = _target_user(state, body.get("touser"))
    if e:
        return e, {"delivered": False}
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or not template_id.strip():
        return err(40037), {"delivered": False}
    data = body.get("data", {})
    if not isinstance(data, dict):
        return err(47001), {"delivered": False}
    cmid = body.get("client_msg_id")
    with state.lock:
        if cmid and cmid in state.client_msg_ids:
            state.duplicates += 1
            return ok(msgid=state.client_msg_ids[cmid]), {"delivered": False, "duplicate": True}
        if not user["subscribe"]:
            return err(43004), {"delivered": False}
        msgid = state.new_msgid()
        if cmid:
            state.client_msg_ids[cmid] = msgid
        state.deliveries += 1
        state.add_message(user["openid"], "template", msgid=msgid, template_id=template_id,
                          url=body.get("url"), data=copy.deepcopy(data),
                          client_msg_id=cmid, receipt=user["receipt"],
                          **templates.rendering(state.templates, template_id))
    delivery.schedule_receipt(state, user["openid"], msgid, user["receipt"])
    return ok(msgid=msgid), {"delivered": True, "duplicate": False, "msgid": msgid}


@bp.route("/cgi-bin/template/get_all_private_template", methods=["GET"])
@wechat_api()
def template_list(state, body):
    with state.lock:
        listed = [{"template_id": tid, "title": t["title"], "content": t["content"], "example": ""}
                  for tid, t in state.templates.items()]
    return ok(template_list=listed), {}


@bp.route("/cgi-bin/message/custom/send", methods=["POST"])
@wechat_api()
def custom_send(state, body):
    user, e = _target_user(state, body.get("touser"))
    if e:
        return e, {"delivered": False}
    if not user["subscribe"]:
        return err(43004), {"delivered": False}
    if time.time() - user.get("last_interaction", 0) > 48 * 3600:
        return err(45015), {"delivered": False}
    msgtype = body.get("msgtype")
    if msgtype == "text":
        text = body.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("content"), str):
            return err(47001), {"delivered": False}
        content = text["content"]
    elif isinstance(msgtype, str) and isinstance(body.get(msgtype), dict):
        content = json.dumps(body[msgtype], ensure_ascii=False)
    else:
        return err(47001), {"delivered": False}
    with state.lock:
        state.custom_deliveries += 1
        state.add_message(user["openid"], "custom", msgtype=msgtype, content=content,
                          body=copy.deepcopy(body))
    return ok(), {"delivered": True}


# ---------------------------------------------------------------------- users
@bp.route("/cgi-bin/user/info", methods=["GET"])
@wechat_api()
def user_info(state, body):
    user, e = _target_user(state, request.args.get("openid"))
    if e:
        return e
    if not user["subscribe"]:
        return {"subscribe": 0, "openid": user["openid"], "tagid_list": []}
    return {
        "subscribe": 1,
        "openid": user["openid"],
        "nickname": user["nickname"],
        "language": request.args.get("lang", "zh_CN"),
        "subscribe_time": user["subscribe_time"],
        "remark": "",
        "groupid": 0,
        "tagid_list": list(user["tagid_list"]),
        "subscribe_scene": "ADD_SCENE_QR_CODE",
        "qr_scene": 0,
        "qr_scene_str": "",
    }


@bp.route("/cgi-bin/user/get", methods=["GET"])
@wechat_api()
def user_get(state, body):
    with state.lock:
        ids = [u["openid"] for u in state.users.values() if u["subscribe"]]
    nxt = request.args.get("next_openid") or ""
    if nxt and nxt in ids:
        ids = ids[ids.index(nxt) + 1:]
    return {"total": len(ids), "count": len(ids), "data": {"openid": ids},
            "next_openid": ids[-1] if ids else ""}


# ---------------------------------------------------------------------- OAuth
def _oauth_page(message, status=400):
    html = ("<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            "<title>微信授权（模拟）</title></head><body style='font-family:sans-serif;padding:1em'>"
            f"<h3>微信授权（模拟器）</h3><p id='oauth-error'>{message}</p>"
            "<p><a href='/'>打开模拟器聊天页</a></p></body></html>")
    return make_response(html, status)


def _add_query(url, params):
    parts = urlsplit(url)
    q = parts.query
    extra = urlencode(params)
    q = f"{q}&{extra}" if q else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, q, parts.fragment))


@bp.route("/connect/oauth2/authorize", methods=["GET"])
def oauth_authorize():
    state = st()
    a = request.args
    rec_query = a.to_dict()

    def done(resp, info):
        state.record_call("GET", request.path, rec_query, None, resp.status_code, info)
        return resp

    if a.get("appid") != state.app_id:
        return done(_oauth_page("appid 无效（10003 redirect_uri/appid 参数错误）"),
                    {"error": "invalid appid"})
    redirect_uri = a.get("redirect_uri") or ""
    if not redirect_uri.startswith(("http://", "https://")):
        return done(_oauth_page("redirect_uri 参数错误"), {"error": "invalid redirect_uri"})
    if a.get("response_type") != "code":
        return done(_oauth_page("response_type 参数错误"), {"error": "invalid response_type"})
    scope = a.get("scope")
    if scope not in ("snsapi_base", "snsapi_userinfo"):
        return done(_oauth_page("scope 参数错误或没有 scope 权限"), {"error": "invalid scope"})
    openid = a.get("sim_openid") or request.cookies.get("sim_openid")
    if not openid or state.get_user(openid) is None:
        return done(_oauth_page("请先在模拟器聊天页选择一个微信用户，再从菜单或链接进入。"
                                "（没有 sim_openid 参数或 cookie，或该用户不存在）"),
                    {"error": "no simulated user selected"})
    code = secrets.token_urlsafe(24)
    with state.lock:
        state.oauth_codes[code] = {"openid": openid, "scope": scope,
                                   "expires": time.time() + OAUTH_CODE_TTL, "used": False}
    target = _add_query(redirect_uri, {"code": code, "state": a.get("state", "")})
    return done(redirect(target, code=302), {"redirect": target, "code": code, "openid": openid})


@bp.route("/sns/oauth2/access_token", methods=["GET"])
@wechat_api(needs_token=False)
def sns_access_token(state, body):
    a = request.args
    if a.get("appid") != state.app_id:
        return err(40013)
    if a.get("secret") != state.app_secret:
        return err(40125)
    if a.get("grant_type") != "authorization_code":
        return err(40002)
    code = a.get("code") or ""
    with state.lock:
        info = state.oauth_codes.get(code)
        if info is None or time.time() > info["expires"]:
            return err(40029)
        if info["used"]:
            return err(40163)
        info["used"] = True
        tok = secrets.token_urlsafe(48)
        refresh = secrets.token_urlsafe(48)
        state.sns_tokens[tok] = {"openid": info["openid"], "expires": time.time() + 7200}
    return {"access_token": tok, "expires_in": 7200, "refresh_token": refresh,
            "openid": info["openid"], "scope": info["scope"], "is_snapshotuser": 0}
