"""Per-request state the handlers share: the message being handled and its sender."""
from __future__ import annotations

from flask import g
from sqlalchemy import inspect
from sqlalchemy.orm import make_transient_to_detached

from models import db
from models.changes import PEOPLE
from models.resolution import Sender, resolve

from .freshness import StampedCache

# Who an openid is (phone-A rule), kept per process while no binding, account, follower or
# scope changed anywhere (bot/freshness.py): most messages then need no query to know it.
_senders = StampedCache((PEOPLE,))


def current_sender(openid: str) -> Sender:
    """The sender of this request, resolved once (phone-A rule) and cached on g."""
    cached = g.get("fdy_sender")
    if cached is None or cached.openid != openid:
        cached = _from_cache(openid)
        if cached is None:
            cached = resolve(db.session, openid)
            _senders.put(openid, _snapshot(cached))
        g.fdy_sender = cached
    return cached


def forget_sender() -> None:
    """Call after a handler changes binding or accounts within the request."""
    g.pop("fdy_sender", None)


def detached_copy(obj):
    """A copy of obj's loaded columns that no session owns (relationships load again on use)."""
    if obj is None:
        return None
    state = inspect(obj)
    values = {attr.key: state.dict[attr.key] for attr in state.mapper.column_attrs if attr.key in state.dict}
    copy = type(obj)(**values)
    make_transient_to_detached(copy)
    return copy


def _snapshot(sender: Sender) -> Sender:
    return Sender(openid=sender.openid, follower=detached_copy(sender.follower),
                  identity=detached_copy(sender.identity), account=detached_copy(sender.account))


class _CachedSender(Sender):
    """A sender from the cache. Its objects join this request's session only when a handler
    reads them (merge(load=False): no query); status, role, following and the account's id
    and level come from the snapshot, which is all most messages need. The cached objects themselves are never
    attached to a session, so nothing a handler does can change them."""

    def __init__(self, snap: Sender):  # noqa: D107 - not the dataclass __init__
        self.openid = snap.openid
        self._snap = snap
        self._attached: dict[str, object] = {}

    def _attach(self, name: str):
        # The request's session is made only now: a reply served from the snapshot (and from
        # the 进展 cache) opens none at all.
        if name not in self._attached:
            obj = getattr(self._snap, name)
            self._attached[name] = None if obj is None else db.session.merge(obj, load=False)
        return self._attached[name]

    follower = property(lambda self: self._attach("follower"))
    identity = property(lambda self: self._attach("identity"))
    account = property(lambda self: self._attach("account"))
    status = property(lambda self: self._snap.status)
    following = property(lambda self: self._snap.following)
    role = property(lambda self: self._snap.role)
    follower_tags = property(lambda self: self._snap.follower_tags)
    # Read by the access checks and most commands: from the snapshot, so they need no merge.
    account_id = property(lambda self: self._snap.account_id)
    account_level = property(lambda self: self._snap.account_level)


def _from_cache(openid: str) -> Sender | None:
    snap = _senders.get(openid)
    return None if snap is None else _CachedSender(snap)
