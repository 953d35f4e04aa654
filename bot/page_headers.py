"""Browser-side protections of the pages: cookies only over https when the site is https,
no framing (clickjacking of the login and 确认 buttons), no page URL leaked in Referer."""
from __future__ import annotations

from flask import Flask

HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def init_app(app: Flask) -> None:
    app.config["SESSION_COOKIE_SECURE"] = str(app.config.get("PUBLIC_BASE_URL", "")).lower().startswith("https://")

    @app.after_request
    def _protect(response):
        # A page that states its own frame-ancestors (the student page: no controls, nothing to
        # click-jack) decides its framing; X-Frame-Options would only contradict it.
        own_framing = "frame-ancestors" in response.headers.get("Content-Security-Policy", "")
        for name, value in HEADERS.items():
            if not (own_framing and name == "X-Frame-Options"):
                response.headers.setdefault(name, value)
        return response
