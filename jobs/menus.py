"""The menu push (SPEC 7): default menu plus one conditional menu per role tag.

`flask menu push` and a ministry account's `发布菜单` both end in the job here;
the requester gets the result as a customer-service message. Everything is
validated first, so a bad menu never reaches WeChat half-pushed.
"""
from __future__ import annotations

import logging

from flask import current_app

import jobs
from bot.role_tags import ensure_role_tags
from bot.wechat_api import WeChatClient, WeChatError, get_client
from menus.data import MENU_TITLES, ROLE_TAGS, all_menus
from menus.validate import MenuError, validate_menus

log = logging.getLogger(__name__)


def push_menus(client: WeChatClient | None = None) -> dict:
    """Validate, then replace every menu. Returns what was pushed; raises MenuError or WeChatError."""
    menus = all_menus(current_app.config)
    validate_menus(menus)
    client = client or get_client()
    tags = ensure_role_tags(client, refresh=True)
    client.delete_menu()
    client.create_menu({"button": menus["default"]})
    conditional = {}
    for role in ROLE_TAGS:
        answer = client.add_conditional_menu({"button": menus[role], "matchrule": {"tag_id": str(tags[role])}})
        conditional[role] = str(answer.get("menuid", ""))
    log.info("menus pushed: default + %s conditional", len(conditional))
    return {"tags": tags, "conditional": conditional}


def summary(result: dict) -> str:
    names = "、".join(f"{MENU_TITLES[role]}（标签「{ROLE_TAGS[role]}」）" for role in result["conditional"])
    return f"菜单已发布：{MENU_TITLES['default']}，以及{names}。用户重新进入公众号后即可看到新菜单。"


# WeChat's errmsg is English: what the codes a menu push meets mean, for the admin who reads it.
WECHAT_MENU_ERRORS = {
    40001: "公众号的 AppSecret 或访问令牌无效，请检查 WECHAT_APP_SECRET",
    40016: "按钮个数不合法",
    40017: "按钮类型不合法",
    40018: "按钮名称过长",
    40019: "按钮 key 过长",
    40023: "子菜单按钮个数不合法",
    40054: "子菜单按钮网址不合法",
    40055: "按钮网址不合法",
    45009: "今天调用接口的次数已用完，请明天再试",
    48001: "公众号没有自定义菜单接口的权限（需为认证服务号）",
    -1: "微信系统繁忙，请稍后重试",
}


@jobs.job
def push_menus_job(requester_openid: str | None = None) -> dict:
    try:
        result = push_menus()
        outcome = {"ok": True, "text": summary(result), **result}
    except MenuError as exc:
        outcome = {"ok": False, "text": "菜单发布失败，菜单数据不符合微信限制：\n" + "\n".join(exc.errors[:10]),
                   "errors": exc.errors}
    except WeChatError as exc:
        log.warning("menu push failed: %s", exc)
        meaning = WECHAT_MENU_ERRORS.get(exc.errcode, "请稍后重试；仍失败请把错误码告诉技术人员")
        outcome = {"ok": False, "text": f"菜单发布失败：微信返回错误码 {exc.errcode}，{meaning}。",
                   "errcode": exc.errcode}
    if requester_openid:
        try:
            get_client().send_text(requester_openid, outcome["text"])
        except WeChatError as exc:
            log.warning("could not report the menu push result: %s", exc.errcode)
    return outcome


def enqueue_push(requester_openid: str | None = None):
    return jobs.enqueue(push_menus_job, requester_openid, queue_name=jobs.HIGH)
