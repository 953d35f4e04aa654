"""GET /healthz: database and Redis status, and what the job system is doing, as JSON (SPEC 9.2).

503 only when the database or Redis is down: a missing worker or a failed job is reported (for an
alert) but the web process itself can still answer WeChat.
"""
from __future__ import annotations

import redis
from flask import Blueprint, jsonify
from sqlalchemy import text

from bot.store import get_redis
from jobs import status as job_status
from models import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    status = {}
    try:
        db.session.execute(text("SELECT 1"))
        status["database"] = "ok"
    except Exception as exc:  # report, don't raise: this page exists for bad days
        status["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
        status["redis"] = "ok"
    except redis.RedisError as exc:
        status["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in status.values())
    body = dict(status=("ok" if healthy else "degraded"), **status)
    body.update(_job_figures() if status["redis"] == "ok" else {"workers": None, "queues": {}, "failed": None})
    return jsonify(body), (200 if healthy else 503)


def _job_figures() -> dict:
    try:
        return {"workers": len(job_status.workers()), "queues": job_status.queue_depths(),
                "failed": job_status.failed_count()}
    except redis.RedisError as exc:
        return {"workers": None, "queues": {}, "failed": None, "jobs_error": type(exc).__name__}
