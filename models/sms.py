"""SMS through a pluggable sender (SPEC 2): `console` (outbox table + log) or `http`.

Every SMS is written to the outbox first, so nothing is lost when the
gateway is down; the log shows the masked phone and never the content.
A code or password in an SMS (`secret=`) never sits in the outbox in clear:
`content` has it starred out, and the full text is sealed (Fernet, key derived
from SECRET_KEY) until the http gateway has taken it, then dropped. The
console backend (development and tests only; `flask check` refuses it in
production) is its own inbox: its rows stay sealed, `full_text()` opens them.

Two ways to send:
- `send_sms(phone, content)`: record and send now (CLI, binding codes);
- `queue_sms(session, phone, content)` inside the caller's transaction, then
  `jobs.sms.deliver_later(row.id)` after its commit: a chat reply must not wait
  for a slow gateway (3 attempts with a timeout each can exceed WeChat's 5 seconds).
"""
from __future__ import annotations

import base64
import hashlib
import logging
import time

import requests
from cryptography.fernet import Fernet
from flask import current_app

from .base import db, utcnow
from .identity import SmsOutbox
from .privacy import mask_phone

log = logging.getLogger(__name__)

HTTP_ATTEMPTS = 3
PENDING, SENT, FAILED = "pending", "sent", "failed"


class SmsError(RuntimeError):
    pass


def _fernet() -> Fernet:
    key = hashlib.sha256(b"fdy sms outbox seal:" + str(current_app.config["SECRET_KEY"]).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def redact(content: str, secret: str | None) -> str:
    return content.replace(secret, "*" * len(secret)) if secret else content


def full_text(row: SmsOutbox) -> str:
    """The text as sent: unsealed while the row is sealed, else the (starred) content."""
    return _fernet().decrypt(row.sealed.encode()).decode() if row.sealed else row.content


def queue_sms(session, phone: str, content: str, secret: str | None = None) -> SmsOutbox:
    """Add a pending outbox row to the caller's transaction (flushed, not committed)."""
    sealed = _fernet().encrypt(content.encode()).decode() if secret else None
    row = SmsOutbox(phone=phone, content=redact(content, secret), sealed=sealed,
                    backend=current_app.config["SMS_BACKEND"], status=PENDING)
    session.add(row)
    session.flush()
    return row


def send_sms(phone: str, content: str, secret: str | None = None) -> SmsOutbox:
    """Record and send one SMS; commits the outbox row. Raises SmsError if the gateway refused it."""
    session = db.session
    row = queue_sms(session, phone, content, secret)
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
            _post(current_app.config["SMS_HTTP_URL"], row.phone, full_text(row), float(current_app.config["HTTP_TIMEOUT"]))
            row.sealed = None  # delivered: no code or password stays behind
        else:
            log.info("SMS (console) to %s recorded in outbox #%s", mask_phone(row.phone), row.id)
        row.status, row.sent_at, row.error = SENT, utcnow(), ""
    except SmsError as exc:
        row.status, row.error = FAILED, str(exc)[:200]
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
