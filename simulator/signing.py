"""Build WeChat-style signed (plain or AES safe-mode) XML POSTs and read replies.

This mirrors what api.weixin.qq.com does when it pushes a message to a
service account's server URL:

* plain mode: query ``signature, timestamp, nonce, openid``; the body is the
  message XML;
* safe mode: query additionally has ``encrypt_type=aes`` and
  ``msg_signature = sha1(sort(token, timestamp, nonce, Encrypt))``; the body is
  ``<xml><ToUserName/><Encrypt/></xml>``.
"""
from __future__ import annotations

import secrets
import string
import time
import xml.etree.ElementTree as ET

from werobot.crypto import MessageCrypt
from werobot.utils import get_signature, to_text

__all__ = [
    "cdata",
    "build_xml",
    "signed_plain",
    "signed_encrypted",
    "decrypt_reply",
    "parse_reply",
    "new_nonce",
]

_NONCE_CHARS = string.ascii_letters + string.digits


def new_nonce(length: int = 10) -> str:
    return "".join(secrets.choice(_NONCE_CHARS) for _ in range(length))


def cdata(value) -> str:
    text = "" if value is None else str(value)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(fields: list[tuple[str, object]]) -> str:
    """Render ``[(tag, value), ...]``: ints are written bare, strings as CDATA."""
    parts = ["<xml>"]
    for tag, value in fields:
        if isinstance(value, int) and not isinstance(value, bool):
            parts.append(f"<{tag}>{value}</{tag}>")
        else:
            parts.append(f"<{tag}>{cdata(value)}</{tag}>")
    parts.append("</xml>")
    return "".join(parts)


def signed_plain(token: str, xml: str, openid: str | None = None,
                 timestamp: str | None = None, nonce: str | None = None):
    """Return ``(query_params, body_bytes)`` for a plain-mode push."""
    timestamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or new_nonce()
    params = {
        "signature": get_signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    if openid:
        params["openid"] = openid
    return params, xml.encode("utf-8")


def signed_encrypted(token: str, aes_key: str, app_id: str, xml: str,
                     to_user: str = "", openid: str | None = None,
                     timestamp: str | None = None, nonce: str | None = None):
    """Return ``(query_params, body_bytes)`` for a safe-mode (AES) push."""
    timestamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or new_nonce()
    crypt = MessageCrypt(token, aes_key, app_id)
    encrypt = to_text(crypt.prp_crypto.encrypt(xml, app_id))
    params = {
        "signature": get_signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": get_signature(token, timestamp, nonce, encrypt),
    }
    if openid:
        params["openid"] = openid
    body = build_xml([("ToUserName", to_user), ("Encrypt", encrypt)])
    return params, body.encode("utf-8")


def decrypt_reply(token: str, aes_key: str, app_id: str, body: bytes | str) -> str:
    """Verify and decrypt an encrypted reply (``<Encrypt>``, ``<MsgSignature>``...)."""
    root = ET.fromstring(body)
    encrypt = root.findtext("Encrypt")
    if not encrypt:
        raise ValueError("reply has no <Encrypt>")
    crypt = MessageCrypt(token, aes_key, app_id)
    plain = crypt.decrypt_message(
        root.findtext("TimeStamp") or "",
        root.findtext("Nonce") or "",
        root.findtext("MsgSignature") or "",
        encrypt,
    )
    return to_text(plain)


def parse_reply(xml_text: str) -> dict:
    """Parse a passive reply into a small dict.

    Returns keys: reply_type, content (text replies), articles (news),
    to_user, from_user, fields (every top-level element as text).
    """
    root = ET.fromstring(xml_text)
    fields = {}
    for child in root:
        if len(child):
            continue
        fields[child.tag] = child.text or ""
    out = {
        "reply_type": (root.findtext("MsgType") or "").strip() or None,
        "content": root.findtext("Content"),
        "to_user": root.findtext("ToUserName"),
        "from_user": root.findtext("FromUserName"),
        "fields": fields,
    }
    articles = root.find("Articles")
    if articles is not None:
        out["articles"] = [
            {
                "title": item.findtext("Title"),
                "description": item.findtext("Description"),
                "url": item.findtext("Url"),
                "picurl": item.findtext("PicUrl"),
            }
            for item in articles.findall("item")
        ]
    return out
