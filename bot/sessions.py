"""The cookie session of the pages, with its signer built once per key set.

Flask builds a new URLSafeTimedSerializer for every request, the webhook's too (it never
reads the session): on the hottest path of the app that was ~3 % of a message's time.
"""
from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface


class SessionInterface(SecureCookieSessionInterface):
    _signer_for: tuple | None = None

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._signer_for
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            self._signer_for = cached
        return cached[1]


def init_app(app) -> None:
    app.session_interface = SessionInterface()
