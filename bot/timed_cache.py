"""A per-process cache whose entries live a fixed number of seconds, computed once at a time.

For figures that change every second during a peak (a national task's completions) and cost
hundreds of milliseconds to count: exact invalidation would drop them on every completion, so
they are recounted at most once per `ttl` per key, and the page says when they were counted.
While one thread counts a key, the others asking for it get the previous count at once (or,
when there is none yet, wait for that count) instead of starting their own.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Hashable


_caches: list["TimedCache"] = []


def clear_all() -> None:
    """Forget every entry (a test's database starts again from id 1)."""
    for cache in _caches:
        cache.clear()


class TimedCache:
    def __init__(self, ttl: float, max_entries: int = 2_000):
        _caches.append(self)
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[Hashable, tuple[float, object]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def _fresh(self, key: Hashable):
        entry = self._data.get(key)
        if entry is not None and time.monotonic() - entry[0] < self.ttl:
            return entry[1]
        return None

    def get_or_compute(self, key: Hashable, compute: Callable[[], object]):
        value = self._fresh(key)
        if value is not None:
            return value
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        stale = self._data.get(key)
        if stale is not None and not lock.acquire(blocking=False):
            return stale[1]  # being recounted by another thread: the previous count meanwhile
        if stale is None:
            lock.acquire()
        try:
            value = self._fresh(key)  # counted by another thread while this one waited
            if value is None:
                value = compute()
                with self._guard:
                    if len(self._data) >= self.max_entries:
                        for old in list(self._data)[: max(1, self.max_entries // 10)]:
                            self._data.pop(old, None)
                            self._locks.pop(old, None)
                    self._data[key] = (time.monotonic(), value)
        finally:
            lock.release()
        return value

    def clear(self) -> None:
        with self._guard:
            self._data.clear()
