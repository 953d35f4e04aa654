"""What follows 确认 (a task just committed by models.dispatch.create_task): its jobs."""
from __future__ import annotations

from . import reminders
from .notify import start_fanout


def start_dispatch_fanout(task_id: int) -> None:
    """Called right after 确认 commits: the fan-out and the reminders are queued, never run inline."""
    start_fanout(task_id)
    reminders.schedule(task_id)
