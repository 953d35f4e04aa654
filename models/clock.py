"""The one clock and the one time zone: users live on Beijing time; the database keeps naive UTC.

Every rule reads the time through `clock()` at call time, so tests travel in
time by replacing it (monkeypatch models.clock.clock; models.binding binds the
same function under its own name, replaced there for the binding rules).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .base import utcnow

BEIJING = timezone(timedelta(hours=8), "北京时间")
LOCAL_FORMAT = "%Y-%m-%d %H:%M"


def clock() -> datetime:
    """Now, naive UTC."""
    return utcnow()


def to_local(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc).astimezone(BEIJING).replace(tzinfo=None)


def local_text(dt: datetime | None, fmt: str = LOCAL_FORMAT) -> str:
    """'2026-11-30 18:00' in Beijing time ('' for None)."""
    local = to_local(dt)
    return local.strftime(fmt) if local else ""


def from_local(local: datetime) -> datetime:
    """A naive Beijing wall-clock time to naive UTC."""
    return local.replace(tzinfo=BEIJING).astimezone(timezone.utc).replace(tzinfo=None)
