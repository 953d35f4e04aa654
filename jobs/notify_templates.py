"""What a template message says: the kinds of message, their client_msg_id, and the template
values within WeChat's category-template limits (SPEC 3). Used by the sender (jobs/notify.py)."""
from __future__ import annotations

import re
from datetime import datetime

from flask import current_app

from models.clock import local_text
from models.tasks import Task
from models.vocab import TASK_TYPE_SHORT

KIND_TASK = "task"
KIND_DEADLINE = "remind_deadline"
KIND_LIVE = "remind_live"


def urge_kind(urge_id: int) -> str:
    return f"urge:{urge_id}"


def _job_key(kind: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", kind)


def client_msg_id(task_id: int, kind: str, account_id: int) -> str:
    return f"fdy-{task_id}-{_job_key(kind)}-{account_id}"


# -- template values within WeChat's category-template limits --------------------------------
def fit_thing(text: str, limit: int = 20) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_phrase(text: str) -> str:
    return (text or "")[:5]


def fit_chars(text: str) -> str:
    """character_string: ≤32, letters, digits and symbols only (no Chinese)."""
    return re.sub(r"[^\x21-\x7e]", "", text or "")[:32]


def _when(task: Task) -> datetime:
    return task.deadline or task.live_start or task.created_at


def template_data(task: Task, kind: str, issuer_unit: str = "") -> dict:
    if kind == KIND_TASK:
        values = {
            "thing1": fit_thing(task.title),
            "phrase2": fit_phrase(TASK_TYPE_SHORT.get(task.type, "其他")),
            "time3": local_text(_when(task)),
            "thing4": fit_thing(issuer_unit or "上级单位"),
            "character_string5": fit_chars(f"T{task.id}"),
        }
    else:
        if kind == KIND_LIVE:
            note, phrase, when = "直播即将开始，请准时签到", "待签到", task.live_start
        elif kind == KIND_DEADLINE:
            note, phrase, when = "距截止不足24小时，请尽快完成", "待完成", task.deadline
        else:
            note, phrase, when = "上级提醒您尽快完成此任务", "催办", task.deadline or task.live_start
        values = {
            "thing1": fit_thing(task.title),
            "time2": local_text(when or task.created_at),
            "thing3": fit_thing(note),
            "phrase4": fit_phrase(phrase),
            "character_string5": fit_chars(f"T{task.id}"),
        }
    return {key: {"value": value} for key, value in values.items()}


def task_url(task_id: int) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/tasks/{task_id}"


def template_id_for(kind: str) -> str | None:
    cfg = current_app.config
    if kind == KIND_TASK:
        return cfg.get("TEMPLATE_TASK_ID")
    return cfg.get("TEMPLATE_REMINDER_ID") or cfg.get("TEMPLATE_TASK_ID")
