"""SMS code send limits, per requester (SPEC 2, 10): a stranger spends only his own allowance.

A requester is the WeChat openid asking for the code. Per 24 hours:
- one requester may have codes sent to at most MAX_PHONES different phones;
- one requester may have at most PER_REQUESTER_CAP codes sent to one phone, one per RESEND_GAP;
- one phone gets at most PHONE_CEILING codes from all requesters together (SMS bombing).

The codes table is the truth (it survives Redis losing everything); a Redis script then checks
and counts all of it in one atomic step, so parallel requests cannot slip past a limit. With
Redis down the table's check alone applies.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import redis
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .identity import SmsCode

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
RESEND_GAP = timedelta(seconds=60)
MAX_PHONES = 3
PER_REQUESTER_CAP = 10
PHONE_CEILING = 30

CAP_MESSAGE = "短信发送次数已达上限，请24小时后重试，或使用账号密码绑定"
PHONES_MESSAGE = (f"同一微信24小时内最多向{MAX_PHONES}个不同手机号发送验证码，您已达到上限。"
                  "请24小时后再试，或使用账号密码登录绑定。")

# KEYS: phones of the requester, sends of (phone, requester), sends of the phone.
# ARGV: now ms, window ms, phone, max phones, per-requester cap, ceiling, gap ms, a unique member.
_CLAIM = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window) end
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 'phones'
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) or redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then
  return 'cap'
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] and now - tonumber(last[2]) < tonumber(ARGV[7]) then
  return 'soon:' .. (tonumber(ARGV[7]) - (now - tonumber(last[2])))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[8])
redis.call('ZADD', KEYS[3], now, ARGV[8])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], window) end
return 'ok'
"""


@dataclass
class Refusal:
    kind: str        # "cap", "phones" or "too_soon"
    message: str


def _too_soon(wait_seconds: int) -> Refusal:
    return Refusal("too_soon", f"验证码发送过于频繁，请 {wait_seconds} 秒后再试。上一条验证码5分钟内仍然有效。")


def _table_refusal(session: Session, requester: str | None, phone: str, at: datetime) -> Refusal | None:
    since = at - WINDOW
    recent = (SmsCode.created_at > since,)
    mine = SmsCode.openid.is_(None) if requester is None else SmsCode.openid == requester
    if requester is not None:
        phones = set(session.scalars(select(SmsCode.phone).where(mine, *recent).distinct()))
        if phone not in phones and len(phones) >= MAX_PHONES:
            return Refusal("phones", PHONES_MESSAGE)
    mine_here = select(func.count(), func.max(SmsCode.created_at)).where(SmsCode.phone == phone, mine, *recent)
    count, last = session.execute(mine_here).one()
    total = session.scalar(select(func.count()).where(SmsCode.phone == phone, *recent))
    if count >= PER_REQUESTER_CAP or total >= PHONE_CEILING:
        return Refusal("cap", CAP_MESSAGE)
    if last is not None and at - last < RESEND_GAP:
        return _too_soon(int((RESEND_GAP - (at - last)).total_seconds()) + 1)
    return None


def claim_send(session: Session, requester: str | None, phone: str, at: datetime, member: str) -> Refusal | None:
    """None when a code may be sent now to `phone` for `requester` (and the send is counted)."""
    refusal = _table_refusal(session, requester, phone, at)
    if refusal is not None:
        return refusal
    conn = current_app.extensions.get("fdy.redis")
    if conn is None:
        return None
    who = requester or "-"
    keys = [f"fdy:sms:phones:{who}", f"fdy:sms:sends:{phone}:{who}", f"fdy:sms:sends:{phone}"]
    now_ms = int(at.replace(tzinfo=timezone.utc).timestamp() * 1000)
    try:
        verdict = conn.eval(_CLAIM, 3, *keys, now_ms, int(WINDOW.total_seconds() * 1000), phone, MAX_PHONES,
                            PER_REQUESTER_CAP, PHONE_CEILING, int(RESEND_GAP.total_seconds() * 1000), member)
    except redis.RedisError:
        log.warning("SMS send limits checked on the table only (redis unavailable)")
        return None
    verdict = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
    if verdict == "ok":
        return None
    if verdict == "phones":
        return Refusal("phones", PHONES_MESSAGE)
    if verdict.startswith("soon:"):
        return _too_soon(int(verdict[5:]) // 1000 + 1)
    return Refusal("cap", CAP_MESSAGE)
