"""Retried deliveries are handled once; retries get the first reply (SPEC 10).

WeChat retries a message three times when it gets no answer within 5 s. The
first delivery claims the key; a retry that arrives while the first is still
being handled waits briefly for its reply, then answers empty (WeChat accepts
that, and the user sees the first reply if it made it in time).
"""
from __future__ import annotations

import hashlib
import logging
import time

import redis

log = logging.getLogger(__name__)

PENDING = b"\x00pending"
WAIT_FOR_FIRST = 3.5


def dedupe_key(fields: dict) -> str:
    msg_id = fields.get("MsgId") or fields.get("MsgID")
    if msg_id and str(fields.get("MsgType", "")).lower() != "event":
        raw = f"msg|{msg_id}"
    else:
        raw = "|".join(str(fields.get(k) or "") for k in ("FromUserName", "CreateTime", "Event", "EventKey"))
        raw = f"evt|{raw}|{msg_id or ''}"
    return "fdy:dedupe:" + hashlib.sha1(raw.encode("utf-8")).hexdigest()


class Deduper:
    def __init__(self, conn: redis.Redis, ttl: int):
        self.conn = conn
        self.ttl = ttl

    def claim(self, key: str, read: list[str] | tuple = ()) -> tuple[bool, str | None, list | None]:
        """(True, None, values) when this delivery should be handled; (False, reply, values) for a retry.

        `read`: keys whose values come back in the same round trip (the change tokens the
        request's caches check; bot/freshness.py); values is None when Redis failed.
        Redis being down degrades to handling every delivery: losing a user's
        action is worse than answering a retry twice.
        """
        try:
            pipe = self.conn.pipeline(transaction=False)
            pipe.set(key, PENDING, nx=True, ex=self.ttl)
            if read:
                pipe.mget(read)
            results = pipe.execute()
            values = results[1] if read else []
            if results[0]:
                return True, None, values
            deadline = time.monotonic() + WAIT_FOR_FIRST
            while True:
                value = self.conn.get(key)
                if value is None:  # expired between calls: treat as new
                    return True, None, values
                if value != PENDING:
                    return False, value.decode("utf-8"), values
                if time.monotonic() > deadline:
                    return False, "", values
                time.sleep(0.05)
        except redis.RedisError as exc:
            log.warning("dedupe unavailable (%s); handling delivery without it", type(exc).__name__)
            return True, None, None

    def remember(self, key: str, reply: str) -> None:
        try:
            self.conn.set(key, reply.encode("utf-8"), ex=self.ttl)
        except redis.RedisError as exc:
            log.warning("dedupe could not store a reply (%s)", type(exc).__name__)
