"""Caches kept in a process that are exactly as fresh as the data they come from.

The webhook reads the change tokens (models/changes.py) in the Redis round trip that claims
the message (bot/dedupe.py) and keeps them for the request. A cached value is stamped with
the tokens of the kinds of data it was computed from and is used only while those tokens are
still current: a commit anywhere that touched them makes every process recompute. A page
request reads them in one round trip of its own (`adopt_page_tokens`). Without tokens (Redis
down, a commit earlier in this request) nothing is cached.
An age limit catches what no token can see (SQL typed into the database by hand).
"""
from __future__ import annotations

import time
from typing import Callable, Hashable

import redis
from flask import current_app, g, has_request_context

from models import changes

from .store import get_redis

MAX_AGE = 300.0
_TOKENS = "fdy_change_tokens"


def adopt_request_tokens(conn, values) -> None:
    """Keep for this request the tokens read with its claim, in `changes.KINDS` order.

    values None: Redis failed, nothing is cached. A token missing (a new or flushed Redis):
    create it, and cache from the next message on.
    """
    if values is None:
        g.pop(_TOKENS, None)
    elif any(v is None for v in values):
        g.pop(_TOKENS, None)
        changes.ensure_tokens(conn)
    else:
        g.setdefault(_TOKENS, dict(zip(changes.KINDS, values)))


def adopt_page_tokens() -> None:
    """The change tokens for a page request (one MGET), so that its sender comes from the same
    per-process cache as the webhook's. Redis down: nothing cached, the page still works."""
    if not has_request_context() or _TOKENS in g:
        return
    conn = get_redis()
    try:
        values = conn.mget(changes.token_keys())
    except redis.RedisError:
        values = None
    adopt_request_tokens(conn, values)


def request_tokens() -> dict | None:
    return g.get(_TOKENS) if has_request_context() else None


class StampedCache:
    """key -> value, valid while the tokens of `kinds` are those it was stored under."""

    def __init__(self, kinds: tuple[str, ...], max_entries: int = 20_000, max_age: float = MAX_AGE):
        self.kinds = kinds
        self.max_entries = max_entries
        self.max_age = max_age
        self._data: dict[Hashable, tuple[tuple, float, object]] = {}
        _caches.append(self)

    def _stamp(self) -> tuple | None:
        tokens = request_tokens()
        if tokens is None:
            return None
        # Several apps (databases) may share a process, as in the tests: never each other's values.
        return (id(current_app._get_current_object()), *(tokens[k] for k in self.kinds))

    def get(self, key: Hashable):
        stamp = self._stamp()
        entry = self._data.get(key) if stamp is not None else None
        if entry is None:
            return None
        if entry[0] != stamp or time.monotonic() - entry[1] > self.max_age:
            self._data.pop(key, None)
            return None
        return entry[2]

    def put(self, key: Hashable, value) -> None:
        stamp = self._stamp()
        if stamp is None or value is None:
            return
        if len(self._data) >= self.max_entries:
            # Oldest first (dicts keep insertion order): a tenth at a time, so the next
            # thousands of puts do not each pay for an eviction.
            for old in list(self._data)[: max(1, self.max_entries // 10)]:
                del self._data[old]
        self._data.pop(key, None)
        self._data[key] = (stamp, time.monotonic(), value)

    def get_or_compute(self, key: Hashable, compute: Callable[[], object]):
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_caches: list[StampedCache] = []


def init_app(app) -> None:
    changes.on_publish(_changed_here)


def _changed_here(kinds: set[str]) -> None:
    # This process committed a change: drop what it holds of those kinds at once, and stop
    # caching for the rest of the request (its tokens were read before the change).
    for cache in _caches:
        if kinds & set(cache.kinds):
            cache.clear()
    if has_request_context():
        g.pop(_TOKENS, None)

