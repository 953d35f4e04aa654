"""The hardened /wechat view around WeRoBot's parser, handler registry and replies.

Order of checks: size, query parameters, timestamp window, signature, XML
safety, decryption (only when this request asks for it), dedupe, handlers.
Anything wrong with the request gets a 4xx; anything wrong inside gets an
apology to the user and a 200 to WeChat. No traceback ever leaves.
"""
from __future__ import annotations

import hashlib
import logging
import re
import time

import redis
import xmltodict
from flask import Blueprint, Response, current_app, request
from werobot.parser import process_message

from models import changes

from . import freshness
from .dedupe import dedupe_key, get_deduper
from .run_handlers import mask_openid, run_handlers
from .signing import message_crypt, signature, signature_ok
from .store import get_redis

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)

XML_TYPE = "application/xml; charset=utf-8"
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _plain(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _check_timestamp(raw: str | None) -> str:
    # Digits only, and few of them: int() would take 400 digits and then overflow the float
    # comparison below (that surfaced as an empty 200 through the catch-all, not a 400).
    if not raw or len(raw) > 12 or not raw.isascii() or not raw.lstrip("-").isdigit():
        raise Rejected(400, "bad timestamp")
    ts = int(raw)
    if abs(time.time() - ts) > current_app.config["WEBHOOK_MAX_CLOCK_SKEW"]:
        raise Rejected(403, "stale timestamp")
    return raw


def _check_signature(args) -> tuple[str, str]:
    timestamp = _check_timestamp(args.get("timestamp"))
    nonce = args.get("nonce") or ""
    expected = signature(current_app.config["WECHAT_TOKEN"], timestamp, nonce)
    if not signature_ok(expected, args.get("signature")):
        raise Rejected(403, "bad signature")
    return timestamp, nonce


def _parse_xml(body: bytes) -> dict:
    if _DOCTYPE.search(body):
        raise Rejected(400, "DTDs and entities are not accepted")
    try:
        parsed = xmltodict.parse(body, disable_entities=True)
    except Exception:
        raise Rejected(400, "malformed XML") from None
    fields = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(fields, dict):
        raise Rejected(400, "no <xml> root")
    return fields


PLAIN_SIGNATURE_KEY = "fdy:plainsig:"


def _one_body_per_signature(sig: str, timestamp: str, nonce: str, body: bytes) -> None:
    """Plain mode signs (timestamp, nonce) but not the body: a captured query string would carry
    any body for the whole clock window. The first body seen with it is the only one accepted
    (the same body again is a retry: dedupe answers it). Redis down: accepted, logged."""
    key = PLAIN_SIGNATURE_KEY + hashlib.sha1(f"{timestamp}|{nonce}|{sig}".encode()).hexdigest()
    digest = hashlib.sha256(body).hexdigest()
    try:
        first = get_redis().set(key, digest, nx=True, get=True,
                                ex=2 * current_app.config["WEBHOOK_MAX_CLOCK_SKEW"] + 60)
    except redis.RedisError:
        log.warning("plain-mode signature reuse not checked (redis unavailable)")
        return
    if first is not None and (first.decode() if isinstance(first, bytes) else first) != digest:
        raise Rejected(403, "signature reused with another body")


def _read_body() -> bytes:
    limit = current_app.config["WEBHOOK_MAX_BODY"]
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, "body too large")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise Rejected(413, "body too large")
    return body


@bp.get("/wechat")
def verify():
    try:
        _check_signature(request.args)
    except Rejected as exc:
        log.warning("wechat verification rejected: %s", exc.reason)
        return _plain(exc.status, "invalid request")
    return _plain(200, request.args.get("echostr", ""))


@bp.post("/wechat")
def receive():
    try:
        return _receive()
    except Rejected as exc:
        log.warning("wechat POST rejected: %s", exc.reason)
        return _plain(exc.status, "invalid request")
    except Exception:
        # Last line: never a 500 or a traceback to WeChat; the log has it all.
        log.exception("webhook failed")
        return _plain(200, "success")


def _receive() -> Response:
    cfg = current_app.config
    body = _read_body()
    timestamp, nonce = _check_signature(request.args)
    fields = _parse_xml(body)
    encrypted = request.args.get("encrypt_type", "raw").lower()
    crypt = None
    if encrypted != "aes" and cfg.get("WECHAT_REQUIRE_AES"):
        raise Rejected(403, "plain mode refused (WECHAT_REQUIRE_AES)")
    if encrypted == "aes":
        if not cfg.get("WECHAT_AES_KEY"):
            raise Rejected(400, "safe mode is not configured")
        encrypt = fields.get("Encrypt")
        if not isinstance(encrypt, str):
            raise Rejected(400, "no Encrypt element")
        expected = signature(cfg["WECHAT_TOKEN"], timestamp, nonce, encrypt)
        if not signature_ok(expected, request.args.get("msg_signature")):
            raise Rejected(403, "bad msg_signature")
        crypt = message_crypt(cfg["WECHAT_TOKEN"], cfg["WECHAT_AES_KEY"], cfg["WECHAT_APP_ID"])
        try:
            inner = crypt.prp_crypto.decrypt(encrypt, cfg["WECHAT_APP_ID"])
        except Exception:
            raise Rejected(400, "cannot decrypt") from None
        fields = _parse_xml(inner)
    elif encrypted != "raw":
        raise Rejected(400, "unknown encrypt_type")
    else:
        _one_body_per_signature(request.args.get("signature") or "", timestamp, nonce, body)

    if not fields.get("MsgType") or not fields.get("FromUserName"):
        raise Rejected(400, "not a WeChat message")
    try:
        message = process_message(dict(fields, raw=body.decode("utf-8", "replace")))
    except Exception:
        raise Rejected(400, "unparseable message") from None

    deduper = get_deduper()
    key = dedupe_key(fields)
    fresh, replay, tokens = deduper.claim(key, read=changes.token_keys())
    freshness.adopt_request_tokens(deduper.conn, tokens)
    if fresh:
        reply = run_handlers(current_app.extensions["fdy.robot"], message)
        rendered = reply.render().strip() if reply is not None else ""
        deduper.remember(key, rendered)
    else:
        log.info("retried delivery from %s answered from dedupe", mask_openid(message.source))
        rendered = replay or ""

    if not rendered:
        return _plain(200, "success")
    if crypt is not None:
        rendered = crypt.encrypt_message(rendered)
    return Response(rendered, status=200, content_type=XML_TYPE)
