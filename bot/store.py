"""The app's Redis connection (RQ, dedupe, rate limits, the shared access token)."""
from __future__ import annotations

import time

import redis
from flask import Flask, current_app

# After a call timed out, later calls fail at once for this long instead of each waiting for
# its own timeout: a webhook request makes several Redis calls (dedupe, tag check, queue,
# reply cache), and a hung Redis must cost it one timeout, not one per call (SPEC 10: 5 s).
# A refused connection fails in microseconds by itself, so only timeouts trip this.
FAIL_FAST_FOR = 3.0


class FailFastRedis(redis.Redis):
    """redis.Redis that remembers a hung server for FAIL_FAST_FOR seconds (per client)."""

    fail_fast_for = FAIL_FAST_FOR
    _down_until = 0.0

    def check_up(self) -> None:
        """Raise at once while a recent timeout says Redis is not answering."""
        if time.monotonic() < self._down_until:
            raise redis.ConnectionError("Redis timed out moments ago; not retried yet")

    def timed_out(self) -> None:
        """A call on this client's server timed out (also told by bot/dedupe.py's own connection)."""
        self._down_until = time.monotonic() + self.fail_fast_for

    def execute_command(self, *args, **options):
        self.check_up()
        try:
            return super().execute_command(*args, **options)
        except redis.TimeoutError:
            self.timed_out()
            raise

    def pipeline(self, *args, **kwargs):
        self.check_up()
        pipe = super().pipeline(*args, **kwargs)
        execute = pipe.execute

        def execute_failing_fast(*a, **kw):
            try:
                return execute(*a, **kw)
            except redis.TimeoutError:
                self.timed_out()
                raise

        pipe.execute = execute_failing_fast
        return pipe


def init_app(app: Flask) -> None:
    # Short timeouts: a dead Redis must cost a webhook milliseconds, not seconds.
    app.extensions["fdy.redis"] = FailFastRedis.from_url(
        app.config["REDIS_URL"], socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30
    )


def get_redis(app: Flask | None = None) -> redis.Redis:
    return (app or current_app).extensions["fdy.redis"]
