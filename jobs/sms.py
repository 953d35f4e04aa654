"""Sending a verification code by SMS outside the webhook (a slow HTTP gateway
must not hold WeChat's 5-second answer). The job gets row ids only: the code is
sealed in its outbox row, never in a job argument (RQ keeps those in Redis)."""
from __future__ import annotations

import logging

import jobs

log = logging.getLogger(__name__)


@jobs.job
def send_code_sms(code_id: int, outbox_id: int) -> str:
    from bot.wechat_api import WeChatError, get_client
    from models import db
    from models.identity import SmsCode, SmsOutbox
    from models.sms import SmsError, deliver

    session = db.session
    row = session.get(SmsCode, code_id)
    outbox = session.get(SmsOutbox, outbox_id)
    if row is None or row.used_at is not None or outbox is None:
        return "skipped"  # replaced or used already: do not send a dead code
    openid = row.openid
    try:
        deliver(outbox, session)
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


def enqueue_code_sms(code_id: int, outbox_id: int):
    return jobs.enqueue(send_code_sms, code_id, outbox_id, queue_name=jobs.SMS)
