"""Logging that never writes a full phone number or a secret in a URL (SPEC 10), with the request
or job id on each line. Phones are masked, and the values of URL parameters that are secrets
(secret, access_token, code, ticket, password) starred, also in a traceback attached to the
record (urllib3's debug lines and werkzeug's access lines carry whole URLs).

Masking happens when a record is made, so every handler (files, journald, pytest's capture) sees
the masked text whoever logged it. The same record factory stamps each record with the id of the
request (`X-Request-Id` from nginx, or a new one) or the RQ job it belongs to; lines outside both
(start-up, a worker's own loop) carry neither. LOG_FORMAT=json writes one JSON object per line.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import traceback
import uuid

from flask import g, request

from models.privacy import mask_phone

REQUEST_ID = contextvars.ContextVar("fdy_request_id", default=None)
JOB_ID = contextvars.ContextVar("fdy_job_id", default=None)
# A proxy's id is kept only when it looks like one (it ends up in every log line).
INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(context)s]: %(message)s"
_URL_SECRET = re.compile(r"(?<![A-Za-z_])(secret|appsecret|access_token|code|ticket|jsapi_ticket|password)=[^&\s\"'#]+",
                         re.IGNORECASE)


def scrub(text: str) -> str:
    return _URL_SECRET.sub(r"\1=***", mask_phone(text))


def _masking_factory(base):
    def factory(*args, **kwargs):
        record = base(*args, **kwargs)
        # Own attribute names: rq logs with extra={"job_id": …}, which must not collide.
        record.fdy_request_id, record.fdy_job_id = REQUEST_ID.get(), JOB_ID.get()
        record.context = (f"rid={record.fdy_request_id}" if record.fdy_request_id
                          else f"job={record.fdy_job_id}" if record.fdy_job_id else "-")
        try:
            message = record.getMessage()
        except Exception:
            return record
        masked = scrub(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatted now, scrubbed: formatters use exc_text as it is.
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    factory.fdy_masking = True
    return factory


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id / job_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                 "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        for key in ("request_id", "job_id"):
            value = getattr(record, "fdy_" + key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = record.exc_text or scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def new_request_id() -> str:
    incoming = request.headers.get("X-Request-Id", "")
    return incoming if INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex[:16]


def init_app(app) -> None:
    current = logging.getLogRecordFactory()
    if not getattr(current, "fdy_masking", False):
        logging.setLogRecordFactory(_masking_factory(current))
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(make_formatter(app.config.get("LOG_FORMAT", "text")))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    elif root.level > logging.INFO:
        root.setLevel(logging.INFO)

    @app.before_request
    def _request_id():
        g.request_id = new_request_id()
        g.request_id_token = REQUEST_ID.set(g.request_id)

    @app.after_request
    def _echo_request_id(response):
        if getattr(g, "request_id", None):
            response.headers["X-Request-Id"] = g.request_id
        return response

    @app.teardown_request
    def _forget_request_id(_exc=None):
        token = g.pop("request_id_token", None)
        if token is not None:
            try:
                REQUEST_ID.reset(token)
            except ValueError:  # torn down in another context than it started: just clear it
                REQUEST_ID.set(None)
