"""The app's Redis connection (RQ, dedupe, rate limits, the shared access token)."""
from __future__ import annotations

import redis
from flask import Flask, current_app


def init_app(app: Flask) -> None:
    # Short timeouts: a dead Redis must cost a webhook milliseconds, not seconds.
    app.extensions["fdy.redis"] = redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30
    )


def get_redis(app: Flask | None = None) -> redis.Redis:
    return (app or current_app).extensions["fdy.redis"]
