"""A confirmed 派发 draft becomes a task, then its notices start: shared by chat 确认 and the page."""
from __future__ import annotations

import logging

import redis

from jobs.dispatch import start_dispatch_fanout
from models import db
from models import dispatch as dispatch_rules
from models.tasks import Task

log = logging.getLogger(__name__)

QUEUE_LATER = "（通知排队暂时失败，系统恢复后会补发。）"


def create_and_start(account, draft) -> tuple[Task, str]:
    """The task and the confirmation text; Redis down keeps the task (the sweep queues its notices)."""
    task, total, unreachable = dispatch_rules.create_task(db.session, account, draft)
    text = dispatch_rules.confirmation_text(task, total, unreachable)
    try:
        start_dispatch_fanout(task.id)
    except redis.RedisError:
        log.error("task %s created but its notifications could not be queued (redis down)", task.id)
        text += "\n" + QUEUE_LATER
    return task, text
