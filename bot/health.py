"""GET /healthz: database and Redis status as JSON (SPEC 9.2)."""
from __future__ import annotations

import redis
from flask import Blueprint, jsonify
from sqlalchemy import text

from models import db

from .store import get_redis

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
    return jsonify(status=("ok" if healthy else "degraded"), **status), (200 if healthy else 503)
