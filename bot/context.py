"""Per-request state the handlers share: the message being handled and its sender."""
from __future__ import annotations

from flask import g

from models import db
from models.resolution import Sender, resolve


def current_sender(openid: str) -> Sender:
    """The sender of this request, resolved once (phone-A rule) and cached on g."""
    cached = g.get("fdy_sender")
    if cached is None or cached.openid != openid:
        cached = resolve(db.session, openid)
        g.fdy_sender = cached
    return cached


def forget_sender() -> None:
    """Call after a handler changes binding or accounts within the request."""
    g.pop("fdy_sender", None)
