"""The menu push job (SPEC 7): `flask menu push` and a ministry account's
`发布菜单` both end here; the requester gets the result as a customer-service message."""
from __future__ import annotations

import logging

import jobs

log = logging.getLogger(__name__)


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
        outcome = {"ok": False, "text": f"菜单发布失败：微信接口返回错误 {exc.errcode}（{exc.errmsg or '无说明'}），"
                                        "请稍后重试。", "errcode": exc.errcode}
    if requester_openid:
        try:
            get_client().send_text(requester_openid, outcome["text"])
        except WeChatError as exc:
            log.warning("could not report the menu push result: %s", exc.errcode)
    return outcome


def enqueue_push(requester_openid: str | None = None):
    return jobs.enqueue(push_menus_job, requester_openid, queue_name=jobs.HIGH)
