"""WeChat JS-SDK configuration for our pages (SPEC 9.2): the signature over the jsapi ticket.

The ticket itself is a shared grant of the WeChat client (bot/wechat_api.py). A page may only
be signed for our own host: a signature is a capability to use the JS-SDK as this account.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import urlsplit

URL_MAX = 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


def signature(ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """sha1 of jsapi_ticket=T&noncestr=N&timestamp=S&url=URL, the keys in this order (WeChat's rule)."""
    raw = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def _host(url: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname.lower(), port


def page_url(url: str, public_base_url: str) -> str | None:
    """The address to sign (without #…), or None when it is not a page of ours."""
    url = (url or "").split("#", 1)[0]
    if not url or len(url) > URL_MAX:
        return None
    own = _host(public_base_url)
    return url if own is not None and _host(url) == own else None


def config_for(app_id: str, ticket: str, url: str) -> dict:
    nonce = secrets.token_urlsafe(12)
    timestamp = int(time.time())
    return {"appId": app_id, "timestamp": timestamp, "nonceStr": nonce,
            "signature": signature(ticket, nonce, timestamp, url)}
