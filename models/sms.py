"""SMS through a pluggable sender (SPEC 2): `console` (outbox table + log) or `http`.

Every SMS is written to the outbox first, so nothing is lost when the
gateway is down; the log shows the masked phone and never the content
(it may carry a password or a code).
"""
from __future__ import annotations

import logging
import time

import requests
from flask import current_app

from .base import db, utcnow
from .identity import SmsOutbox
from .privacy import mask_phone

log = logging.getLogger(__name__)

HTTP_ATTEMPTS = 3


class SmsError(RuntimeError):
    pass


def send_sms(phone: str, content: str) -> SmsOutbox:
    """Record and send one SMS; commits the outbox row. Raises SmsError if the gateway refused it."""
    session = db.session
    backend = current_app.config["SMS_BACKEND"]
    row = SmsOutbox(phone=phone, content=content, backend=backend)
    session.add(row)
    session.commit()
    try:
        if backend == "http":
            _post(current_app.config["SMS_HTTP_URL"], phone, content, float(current_app.config["HTTP_TIMEOUT"]))
        else:
            log.info("SMS (console) to %s queued in outbox #%s", mask_phone(phone), row.id)
        row.status, row.sent_at = "sent", utcnow()
    except SmsError as exc:
        row.status, row.error = "failed", str(exc)[:200]
        session.commit()
        raise
    session.commit()
    return row


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
