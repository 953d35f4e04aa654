"""The simulated menu endpoints of api.weixin.qq.com (menu/create, get, delete, conditional
menus, trymatch), with WeChat's validation of a menu."""
from __future__ import annotations

import copy

from flask import Blueprint

from .api import _target_user, err, ok, wechat_api

bp = Blueprint("sim_api_menus", __name__)

CLICK_TYPES = {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
               "pic_photo_or_album", "pic_weixin", "location_select"}
BUTTON_TYPES = CLICK_TYPES | {"view", "miniprogram", "media_id", "view_limited", "article_id",
                              "article_view_limited"}


def _blen(s):
    return len(s.encode("utf-8")) if isinstance(s, str) else 0


def validate_menu(buttons):
    """WeChat's limits. Returns an error payload or None."""
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return err(40016)
    for b in buttons:
        if not isinstance(b, dict):
            return err(47001)
        name = b.get("name")
        if not isinstance(name, str) or not 1 <= _blen(name) <= 16:
            return err(40018)
        subs = b.get("sub_button")
        if subs:
            if not isinstance(subs, list) or len(subs) > 5:
                return err(40023)
            for sb in subs:
                if not isinstance(sb, dict):
                    return err(47001)
                e = _check_leaf(sb, sub=True)
                if e:
                    return e
        else:
            e = _check_leaf(b, sub=False)
            if e:
                return e
    return None


def _check_leaf(b, sub):
    t = b.get("type")
    if sub:
        name = b.get("name")
        if not isinstance(name, str) or not 1 <= _blen(name) <= 60:
            return err(40025)
    if t not in BUTTON_TYPES:
        return err(40024 if sub else 40017)
    if t in CLICK_TYPES:
        key = b.get("key")
        if not isinstance(key, str) or not 1 <= _blen(key) <= 128:
            return err(40026 if sub else 40019)
    if t == "view":
        url = b.get("url")
        if not isinstance(url, str) or not 1 <= _blen(url) <= 1024:
            return err(40027 if sub else 40020)
    return None


@bp.route("/cgi-bin/menu/create", methods=["POST"])
@wechat_api()
def menu_create(state, body):
    e = validate_menu(body.get("button"))
    if e:
        return e
    with state.lock:
        state.next_menuid += 1
        state.menu_id = state.next_menuid
        state.menu = {"button": copy.deepcopy(body["button"])}
    return ok()


@bp.route("/cgi-bin/menu/get", methods=["GET"])
@wechat_api()
def menu_get(state, body):
    with state.lock:
        if state.menu is None:
            return err(46003)
        out = {"menu": {"button": copy.deepcopy(state.menu["button"]), "menuid": state.menu_id}}
        if state.conditional_menus:
            out["conditionalmenu"] = copy.deepcopy(state.conditional_menus)
        return out


@bp.route("/cgi-bin/get_current_selfmenu_info", methods=["GET"])
@wechat_api()
def selfmenu_info(state, body):
    with state.lock:
        if state.menu is None:
            return {"is_menu_open": 0}
        return {"is_menu_open": 1, "selfmenu_info": {"button": copy.deepcopy(state.menu["button"])}}


@bp.route("/cgi-bin/menu/delete", methods=["GET"])
@wechat_api()
def menu_delete(state, body):
    with state.lock:
        state.menu = None
        state.menu_id = 0
        state.conditional_menus = []
    return ok()


@bp.route("/cgi-bin/menu/addconditional", methods=["POST"])
@wechat_api()
def menu_addconditional(state, body):
    with state.lock:
        if state.menu is None:
            return err(65303)
    rule = body.get("matchrule")
    if not isinstance(rule, dict) or not any(v not in (None, "") for v in rule.values()):
        return err(65304)
    e = validate_menu(body.get("button"))
    if e:
        return e
    with state.lock:
        state.next_menuid += 1
        menuid = str(state.next_menuid)
        state.conditional_menus.append({"button": copy.deepcopy(body["button"]),
                                        "matchrule": copy.deepcopy(rule), "menuid": menuid})
    return {"menuid": menuid}


@bp.route("/cgi-bin/menu/delconditional", methods=["POST"])
@wechat_api()
def menu_delconditional(state, body):
    menuid = str(body.get("menuid", ""))
    with state.lock:
        before = len(state.conditional_menus)
        state.conditional_menus = [m for m in state.conditional_menus
                                   if str(m["menuid"]) != menuid]
        if len(state.conditional_menus) == before:
            return err(65301)
    return ok()


@bp.route("/cgi-bin/menu/trymatch", methods=["POST"])
@wechat_api()
def menu_trymatch(state, body):
    user, e = _target_user(state, body.get("user_id"))
    if e:
        return e
    menu = state.menu_for(user["openid"])
    if menu is None:
        return err(46003)
    return {"menu": {"button": menu["button"]}}

