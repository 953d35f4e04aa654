"""Retried deliveries are handled once; retries get the first reply (SPEC 10).

WeChat retries a message three times when it gets no answer within 5 s. The
first delivery claims the key; a retry that arrives while the first is still
being handled waits briefly for its reply, then answers empty (WeChat accepts
that, and the user sees the first reply if it made it in time).

Two Redis commands per message: the claim (one script, which also reads the change tokens),
and the reply's SET, whose acknowledgement is read later (ReplyWriter).
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import redis
from flask import current_app

from .store import FailFastRedis, get_redis

log = logging.getLogger(__name__)

PENDING = b"\x00pending"
WAIT_FOR_FIRST = 3.5
# A reply SET sent after this long without one is confirmed before the webhook answers.
CONFIRM_AFTER_IDLE = 2.0


# Claim the key and read what the request needs in one command: a pipeline of SET NX + MGET
# cost a third more client time per message, and a retry gets the stored reply without a GET.
_CLAIM = """
local out = {1, false}
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  out = {0, redis.call('GET', KEYS[1])}
end
for i = 2, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) end
return out
"""
_SHA = {_CLAIM: hashlib.sha1(_CLAIM.encode()).hexdigest()}


def _run_script(conn: redis.Redis, script: str, keys: tuple, args: tuple) -> list:
    """EVALSHA, and EVAL once when the server does not have the script yet (a restart, a flush)."""
    try:
        return conn.execute_command("EVALSHA", _SHA[script], len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return conn.execute_command("EVAL", script, len(keys), *keys, *args)


def dedupe_key(fields: dict) -> str:
    msg_id = fields.get("MsgId") or fields.get("MsgID")
    if msg_id and str(fields.get("MsgType", "")).lower() != "event":
        # With the sender: a replayed or forged MsgId never gets another user's cached reply.
        raw = f"msg|{fields.get('FromUserName') or ''}|{msg_id}"
    else:
        raw = "|".join(str(fields.get(k) or "") for k in ("FromUserName", "CreateTime", "Event", "EventKey"))
        raw = f"evt|{raw}|{msg_id or ''}"
    return "fdy:dedupe:" + hashlib.sha1(raw.encode("utf-8")).hexdigest()


class Deduper:
    def __init__(self, conn: redis.Redis, ttl: int, replies: "ReplyWriter"):
        self.conn = conn
        self.ttl = ttl
        self.replies = replies

    def claim(self, key: str, read: list[str] | tuple = ()) -> tuple[bool, str | None, list | None]:
        """(True, None, values) when this delivery should be handled; (False, reply, values) for a retry.

        `read`: keys whose values come back in the same round trip (the change tokens the
        request's caches check; bot/freshness.py); values is None when Redis failed.
        Redis being down degrades to handling every delivery: losing a user's
        action is worse than answering a retry twice.
        """
        try:
            claimed, value, *values = _run_script(self.conn, _CLAIM, (key, *read), (PENDING, self.ttl))
            if claimed:
                return True, None, values
            deadline = time.monotonic() + WAIT_FOR_FIRST
            while value == PENDING:
                if time.monotonic() > deadline:
                    return False, "", values
                time.sleep(0.05)
                value = self.conn.get(key)
            if value is None:  # expired while we waited: treat as new
                return True, None, values
            return False, value.decode("utf-8"), values
        except redis.RedisError as exc:
            log.warning("dedupe unavailable (%s); handling delivery without it", type(exc).__name__)
            return True, None, None

    def remember(self, key: str, reply: str) -> None:
        self.replies.set(key, reply.encode("utf-8"), self.ttl)


class ReplyWriter:
    """Stores replies on a connection of its own without waiting for Redis's OK.

    The SET reaches Redis as soon as it is sent, so a retry (seconds later) finds the reply;
    its acknowledgement is read just before the next SET goes out, when it has long arrived.
    That takes a round trip off every message under load. After a pause the SET is confirmed
    at once (Redis may have closed an idle connection, and a write into a closed socket does
    not fail), and a broken connection is replaced once. A failure is logged as any failed
    store was: the retry of that one message, if WeChat sends one, is handled again.
    """

    def __init__(self, client: "FailFastRedis"):
        self.client = client
        self.lock = threading.Lock()
        self.conn = None
        self.unread = 0
        self.last_sent = float("-inf")
        self.pid = os.getpid()

    def set(self, key: str, value: bytes, ttl: int) -> None:
        with self.lock:
            for attempt in (1, 2):
                try:
                    self.client.check_up()  # a Redis that just timed out is not waited on
                    conn = self._connection()
                    self._read_acknowledgements(conn)
                    conn.send_command("SET", key, value, "EX", ttl)
                    self.unread += 1
                    if time.monotonic() - self.last_sent > CONFIRM_AFTER_IDLE:
                        self._read_acknowledgements(conn)
                    self.last_sent = time.monotonic()
                    return
                except redis.RedisError as exc:
                    self._drop()
                    if isinstance(exc, redis.TimeoutError):
                        self.client.timed_out()
                    if attempt == 2 or not isinstance(exc, redis.ConnectionError):
                        log.warning("dedupe could not store a reply (%s)", type(exc).__name__)
                        return

    def _connection(self):
        if self.pid != os.getpid():  # a forked child must not share the parent's socket
            self.conn, self.unread, self.pid = None, 0, os.getpid()
        if self.conn is None:
            pool = self.client.connection_pool
            self.conn = pool.connection_class(**pool.connection_kwargs)
            self.last_sent = float("-inf")
        return self.conn

    def _read_acknowledgements(self, conn) -> None:
        while self.unread:
            self.unread -= 1
            try:
                conn.read_response()
            except redis.ResponseError as exc:  # that SET was refused (OOM, a read-only replica)
                log.warning("dedupe could not store a reply (%s)", exc)

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.disconnect()
            except Exception:  # noqa: BLE001 - already broken
                pass
        self.conn, self.unread = None, 0


def init_app(app) -> None:
    """The app's ReplyWriter, on the app's Redis client (bot/store.py, initialised before)."""
    app.extensions["fdy.replies"] = ReplyWriter(get_redis(app))


def get_deduper(app=None) -> Deduper:
    app = app or current_app
    return Deduper(app.extensions["fdy.redis"], app.config["DEDUPE_TTL"], app.extensions["fdy.replies"])
