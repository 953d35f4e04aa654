"""SMS outside the webhook: a slow HTTP gateway must not hold WeChat's 5-second answer.

- `deliver_later(outbox_id)`: an outbox row written in the caller's transaction, sent by a
  job after its commit (account credentials);
- `enqueue_code_sms(code_id, outbox_id)`: a verification code, sent only while it is still
  alive. Jobs get row ids only: a code is sealed in its outbox row, never in a job argument
  (RQ keeps those in Redis).
"""
from __future__ import annotations

import logging

from rq import Retry

import jobs
from bot.wechat_api import WeChatError, get_client
from models import db
from models.identity import SmsCode, SmsOutbox
from models.sms import SmsError, deliver

log = logging.getLogger(__name__)


def deliver_later(outbox_id: int) -> None:
    """Queue the delivery of an outbox row; if Redis is down, try once now instead."""
    try:
        jobs.enqueue(send_outbox_job, outbox_id, queue_name=jobs.SMS, job_id=f"sms-outbox-{outbox_id}",
                     retry=Retry(max=3, interval=[10, 60, 300]))
    except Exception as exc:  # Redis down: the SMS still has to go out
        log.warning("could not queue SMS #%s (%s); sending now", outbox_id, type(exc).__name__)
        row = db.session.get(SmsOutbox, outbox_id)
        try:
            deliver(row)
        except SmsError:
            log.warning("SMS #%s failed; it stays in the outbox as failed", outbox_id)


@jobs.job
def send_outbox_job(outbox_id: int) -> str:
    row = db.session.get(SmsOutbox, outbox_id)
    if row is None:
        return "missing"
    deliver(row)
    return row.status


@jobs.job
def send_code_sms(code_id: int, outbox_id: int) -> str:
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
