"""The menu push job (SPEC 7): `flask menu push` and a ministry account's
`发布菜单` both end here; the requester gets the result as a customer-service message."""
from __future__ import annotations

import logging

import jobs

log = logging.getLogger(__name__)


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
    from bot.wechat_api import WeChatError, get_client
    from menus.push import push_menus, summary
    from menus.validate import MenuError

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
