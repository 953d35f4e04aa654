"""SMS through a pluggable sender (SPEC 2): `console` (outbox table + log) or `http`.

Every SMS is written to the outbox first, so nothing is lost when the
gateway is down; the log shows the masked phone and never the content
(it may carry a password or a code).

Two ways to send:
- `send_sms(phone, content)`: record and send now (CLI, binding codes);
- `queue_sms(session, phone, content)` inside the caller's transaction, then
  `deliver_later(row.id)` after its commit: a chat reply must not wait for a
  slow gateway (3 attempts with a timeout each can exceed WeChat's 5 seconds).
"""
from __future__ import annotations

import logging
import time

import requests
from rq import Retry
from flask import current_app

import jobs

from .base import db, utcnow
from .identity import SmsOutbox
from .privacy import mask_phone

log = logging.getLogger(__name__)

HTTP_ATTEMPTS = 3
PENDING, SENT, FAILED = "pending", "sent", "failed"


class SmsError(RuntimeError):
    pass


def queue_sms(session, phone: str, content: str) -> SmsOutbox:
    """Add a pending outbox row to the caller's transaction (flushed, not committed)."""
    row = SmsOutbox(phone=phone, content=content, backend=current_app.config["SMS_BACKEND"], status=PENDING)
    session.add(row)
    session.flush()
    return row


def send_sms(phone: str, content: str) -> SmsOutbox:
    """Record and send one SMS; commits the outbox row. Raises SmsError if the gateway refused it."""
    session = db.session
    row = queue_sms(session, phone, content)
    session.commit()
    return deliver(row, session)


def deliver(row: SmsOutbox, session=None) -> SmsOutbox:
    """Send a recorded SMS unless it was already sent; commits the outcome. Raises SmsError."""
    session = session or db.session
    if row.status == SENT:
        return row
    backend = current_app.config["SMS_BACKEND"]
    row.backend = backend
    try:
        if backend == "http":
            _post(current_app.config["SMS_HTTP_URL"], row.phone, row.content, float(current_app.config["HTTP_TIMEOUT"]))
        else:
            log.info("SMS (console) to %s recorded in outbox #%s", mask_phone(row.phone), row.id)
        row.status, row.sent_at, row.error = SENT, utcnow(), ""
    except SmsError as exc:
        row.status, row.error = FAILED, str(exc)[:200]
        session.commit()
        raise
    session.commit()
    return row


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


def _post(url: str, phone: str, content: str, timeout: float) -> None:
    last = None
    for attempt in range(1, HTTP_ATTEMPTS + 1):
        try:
            resp = requests.post(url, json={"phone": phone, "content": content}, timeout=timeout)
            if 200 <= resp.status_code < 300:
                return
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        log.warning("SMS gateway attempt %s/%s to %s failed: %s", attempt, HTTP_ATTEMPTS, mask_phone(phone), last)
        if attempt < HTTP_ATTEMPTS:
            time.sleep(0.2 * attempt)
    raise SmsError(f"短信网关发送失败（{last}）")
