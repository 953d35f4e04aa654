"""The WeChat user tags that select each role's conditional menu (SPEC 7).

Their ids are looked up (tags/get) or created (tags/create) and kept in Redis
for the tag jobs, the menu push (jobs/menus.py) and the webhook's tag check.
"""
from __future__ import annotations

import logging
import time

from menus.data import ROLE_TAGS

from .store import get_redis
from .wechat_api import WeChatClient, WeChatError, get_client

log = logging.getLogger(__name__)

TAG_CACHE_KEY = "fdy:wechat:role_tags"
TAG_CACHE_TTL = 86400
TAG_NAME_DUPLICATE = 45157


def cached_role_tags() -> dict[str, int] | None:
    try:
        raw = get_redis().hgetall(TAG_CACHE_KEY)
    except Exception:  # noqa: BLE001 - Redis down: ask WeChat
        return None
    tags = {k.decode(): int(v) for k, v in raw.items()}
    return tags if set(tags) >= set(ROLE_TAGS) else None


# The webhook checks every message's role tag against these ids (jobs/tags.tag_out_of_date);
# they change only on a menu push or when WeChat lost a tag, so each process keeps them a minute
# rather than reading Redis per message. A stale minute costs at most a needless (rate-limited)
# tag job or a later one: the job itself reads Redis (ensure_role_tags), never this copy.
RECENT_TAGS_SECONDS = 60.0
_recent: tuple[object, float, dict[str, int]] | None = None  # (Redis client, monotonic time, tags)


def recent_role_tags(max_age: float = RECENT_TAGS_SECONDS) -> dict[str, int] | None:
    """cached_role_tags(), remembered in this process for `max_age` seconds once known."""
    global _recent
    client = get_redis()
    now = time.monotonic()
    held = _recent
    if held is not None and held[0] is client and now - held[1] < max_age:
        return dict(held[2])
    tags = cached_role_tags()
    _recent = (client, now, dict(tags)) if tags is not None else None
    return tags


def _forget_recent() -> None:
    global _recent
    _recent = None


def forget_role_tags() -> None:
    _forget_recent()
    try:
        get_redis().delete(TAG_CACHE_KEY)
    except Exception:  # noqa: BLE001
        log.warning("could not clear the role tag cache")


def ensure_role_tags(client: WeChatClient | None = None, refresh: bool = False) -> dict[str, int]:
    """{role: WeChat tag id}, creating the tags that do not exist yet."""
    if not refresh:
        cached = cached_role_tags()
        if cached is not None:
            return cached
    client = client or get_client()
    existing = {t["name"]: int(t["id"]) for t in client.get_tags()}
    tags = {}
    for role, name in ROLE_TAGS.items():
        if name not in existing:
            try:
                existing[name] = int(client.create_tag(name)["id"])
                log.info("created WeChat tag %s", name)
            except WeChatError as exc:
                if exc.errcode != TAG_NAME_DUPLICATE:  # created meanwhile by another process
                    raise
                existing = {t["name"]: int(t["id"]) for t in client.get_tags()}
        tags[role] = existing[name]
    _forget_recent()
    try:
        redis = get_redis()
        redis.delete(TAG_CACHE_KEY)
        redis.hset(TAG_CACHE_KEY, mapping=tags)
        redis.expire(TAG_CACHE_KEY, TAG_CACHE_TTL)
    except Exception:  # noqa: BLE001
        log.warning("could not cache the role tags")
    return tags
