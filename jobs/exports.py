"""Large Excel exports (`导出 N` at province or national size) as a job on the bulk queue.

Writing 150,000 rows takes minutes of CPU: in a web worker it would hold a thread and the
process's interpreter while WeChat waits on the same process. So the download link of a large
export starts this job and answers "being generated"; the job writes the file under
instance/exports/ (named by the link, so each signed link has its own file) and the same link
then serves it. Files older than the link's lifetime are removed by the next export job.
"""
from __future__ import annotations

import logging
import os
import time

from flask import current_app

from models import db
from models.accounts import Account
from models.export import write_workbook
from models.tasks import Task

from . import BULK, enqueue, job

log = logging.getLogger(__name__)

EXPORT_DIR = "exports"
KEEP_SECONDS = 24 * 3600
EXPORT_TIMEOUT = 3600


def export_dir() -> str:
    folder = current_app.config.get("EXPORT_DIR") or os.path.join(current_app.instance_path, EXPORT_DIR)
    os.makedirs(folder, exist_ok=True)
    return folder


def export_path(key: str) -> str:
    return os.path.join(export_dir(), f"{key}.xlsx")


def start_export(task_id: int, account_id: int, key: str):
    """Queue the file for `key` (one job per key: reloading the page does not queue it twice)."""
    return enqueue(build_export, task_id, account_id, key, queue_name=BULK, job_id=f"export-{key}",
                   job_timeout=EXPORT_TIMEOUT)


@job
def build_export(task_id: int, account_id: int, key: str) -> int:
    _remove_old_files()
    staff, task = db.session.get(Account, account_id), db.session.get(Task, task_id)
    if staff is None or task is None:
        return 0
    final = export_path(key)
    partial = final + ".part"
    with open(partial, "wb") as out:
        rows = write_workbook(db.session, staff, task, out)
    os.replace(partial, final)  # the link never serves a half-written file
    log.info("export of task %s (%s rows) for account %s written", task_id, rows, account_id)
    return rows


def _remove_old_files() -> None:
    folder, limit = export_dir(), time.time() - KEEP_SECONDS
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        try:
            if os.path.getmtime(path) < limit:
                os.remove(path)
        except OSError:
            pass
