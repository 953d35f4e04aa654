"""Sending a verification code by SMS outside the webhook (a slow HTTP gateway
must not hold WeChat's 5-second answer)."""
from __future__ import annotations

import logging

import jobs

log = logging.getLogger(__name__)


@jobs.job
def send_code_sms(code_id: int, phone: str, content: str, openid: str | None = None) -> str:
    from bot.wechat_api import WeChatError, get_client
    from models import db
    from models.identity import SmsCode
    from models.sms import SmsError, send_sms

    session = db.session
    row = session.get(SmsCode, code_id)
    if row is None or row.used_at is not None:
        return "skipped"  # replaced or used already: do not send a dead code
    try:
        send_sms(phone, content)
        return "sent"
    except SmsError:
        # The code never arrived: it must not count against the caps.
        session.delete(row)
        session.commit()
        if openid:
            try:
                get_client().send_text(openid, "验证码短信发送失败，请稍后重新回复「绑定 手机号」，或点击菜单「登录绑定」用账号密码绑定。")
            except WeChatError as exc:
                log.warning("could not tell the user the SMS failed: %s", exc.errcode)
        return "failed"


def enqueue_code_sms(code_id: int, phone: str, content: str, openid: str | None = None):
    return jobs.enqueue(send_code_sms, code_id, phone, content, openid, queue_name=jobs.SMS)
