"""Graduate imports as RQ jobs: a large file must not hold a chat reply or a CLI hostage.

The job reads a file already on the server (uploaded by an admin), imports it
with models.importer and reports back by customer-service message to whoever
started it (if anyone), then optionally removes the file.
"""
from __future__ import annotations

import hashlib
import logging
import os

from rq import get_current_job

from bot.wechat_api import WeChatError, get_client
from models import db
from models.importer import import_graduates
from models.unit_import import import_units

from . import BULK, enqueue, job
from .progress import JobProgress

log = logging.getLogger(__name__)

IMPORT_TIMEOUT = 3 * 3600
# A chat message must stay readable on a phone: a few error lines, then a cut.
ERRORS_IN_MESSAGE = 8
MESSAGE_CHARS = 600


def import_job_id(path: str, kind: str = "graduates") -> str:
    """Same file, same size and mtime -> same job: a double click does not import twice."""
    st = os.stat(path)
    digest = hashlib.sha1(f"{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return f"import-{kind}-{digest}"


def start_import(path: str, openid: str | None = None, delete_after: bool = False):
    """Queue an import of `path`; returns the Job, or None if the same file is already queued."""
    return enqueue(run_import, os.path.abspath(path), openid, delete_after, queue_name=BULK,
                   job_id=import_job_id(path), job_timeout=IMPORT_TIMEOUT)


def start_unit_import(path: str, openid: str | None = None):
    """Queue a unit list import (SPEC 9.3); None if the same file is already queued."""
    return enqueue(run_unit_import, os.path.abspath(path), openid, queue_name=BULK,
                   job_id=import_job_id(path, "units"), job_timeout=IMPORT_TIMEOUT)


@job
def run_unit_import(path: str, openid: str | None = None) -> dict:
    name = os.path.basename(path)
    report = import_units(db.session, path, progress=JobProgress(get_current_job()))
    _report_back(openid, name, f"单位名单文件 {name}：\n" + report.summary(max_errors=ERRORS_IN_MESSAGE),
                 "units import")
    return {"created": sum(report.created.values()), "existing": report.existing, "errors": len(report.errors)}


def _report_back(openid: str | None, name: str, text: str, command: str) -> None:
    if len(text) > MESSAGE_CHARS:
        text = text[:MESSAGE_CHARS - 30] + f"……\n完整错误清单请用命令行 {command} 查看。"
    if openid:
        try:
            get_client().send_text(openid, text)
        except WeChatError as exc:  # e.g. the user has not talked to us for 48 hours
            log.warning("import report for %s not delivered: %s", name, exc)


@job
def run_import(path: str, openid: str | None = None, delete_after: bool = False) -> dict:
    name = os.path.basename(path)
    report = import_graduates(db.session, path, progress=JobProgress(get_current_job()))
    _report_back(openid, name, f"毕业生数据文件 {name}：\n" + report.summary(max_errors=ERRORS_IN_MESSAGE),
                 "graduates import")
    if delete_after:
        try:
            os.remove(path)
        except OSError:
            pass
    return {"created": report.created, "updated": report.updated, "errors": len(report.errors)}
