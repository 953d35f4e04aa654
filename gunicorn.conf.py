"""Production web settings: `gunicorn wsgi:app` run in the checkout reads this file (SPEC 9.2).

The worker model is one setting, WORKER_CLASS below; the peak-hour benchmark of the pages
(bench/, docs/PERFORMANCE.md) is what chooses it. gthread is the start: a cold page open waits on
WeChat's OAuth code exchange and a worker must go on serving while one request waits (SPEC 8);
threads do that with the stack's own drivers (PyMySQL, redis-py) unchanged.
Every setting can be overridden from the environment as GUNICORN_<NAME> (e.g. GUNICORN_WORKERS=4),
and command-line flags (`-w 2 -b …`, as `make run` passes) win over both.
"""
from __future__ import annotations

import multiprocessing
import os


def _env(name: str, default):
    value = os.environ.get(f"GUNICORN_{name.upper()}")
    return type(default)(value) if value not in (None, "") else default


# --- the worker model (one place) ------------------------------------------------------------
WORKER_CLASS = _env("worker_class", "gthread")
worker_class = WORKER_CLASS
# One process per core (a page costs CPU while it renders); the waiting is done by threads.
workers = _env("workers", multiprocessing.cpu_count())
# Threads per process: covers the OAuth code exchanges in flight at a national dispatch's peak
# (taps/s x the exchange's time, per process) with room to spare. Ignored by the sync class.
threads = _env("threads", 16)

# --- the rest ---------------------------------------------------------------------------------
# nginx in front (deploy/nginx/fdy.conf) proxies to this address; it is never public.
bind = _env("bind", "127.0.0.1:8000")
# WeChat gives up after 5 s; a request that runs for 30 s is stuck, not slow.
timeout = _env("timeout", 30)
graceful_timeout = _env("graceful_timeout", 20)
keepalive = _env("keepalive", 5)
# Recycle processes now and then so that a slow leak never becomes an outage.
max_requests = _env("max_requests", 20000)
max_requests_jitter = _env("max_requests_jitter", 2000)
# Bounds a client's request line and headers (the webhook caps its body itself).
limit_request_line = 4094
limit_request_fields = 50
# X-Forwarded-Proto/For are believed from nginx on this host only.
forwarded_allow_ips = _env("forwarded_allow_ips", "127.0.0.1")
proc_name = "fdy-web"
# Logs to stdout/stderr: journald (systemd) or honcho collect them.
accesslog = _env("accesslog", "-")
errorlog = "-"
# rid: the id the app gave the request (its X-Request-Id response header; nginx's when it sent one).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'
if os.environ.get("LOG_FORMAT") == "json":
    # gunicorn's own lines (start-up, access) as JSON too, like the app's (bot/logging_setup.py).
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "bot.logging_setup.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},  # the app's lines (it adds no handler then)
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
                    "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False}},
    }
