"""The pages' CSRF token: one per session, carried by every form as the hidden field `csrf_token`.

Templates call `csrf_token()`; a POST view asks `csrf_refusal()` first, which
answers a missing or wrong token with the same error page (400) everywhere.
"""
from __future__ import annotations

import hmac
import secrets

from flask import request, session

from bot.oauth import page_error

FIELD = "csrf_token"
# The form field may also be called `csrf` (the task and dispatch pages' forms): the same token.
FORM_FIELDS = (FIELD, "csrf")
EXPIRED = "页面已过期，请返回重新打开页面后再提交。"


def csrf_token() -> str:
    token = session.get(FIELD)
    if not token:
        token = session[FIELD] = secrets.token_urlsafe(24)
    return token


def csrf_refusal(message: str = EXPIRED):
    """None when the POST carries this session's token; else the error page to return."""
    sent = next((value for name in FORM_FIELDS if (value := request.form.get(name))), "")
    if not sent or not hmac.compare_digest(sent, session.get(FIELD, "")):
        return page_error(message, 400)
    return None


def init_app(app) -> None:
    app.context_processor(lambda: {"csrf_token": csrf_token})
