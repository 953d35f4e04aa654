"""What the job system is doing, read from Redis: workers, queue depths, failed jobs.

Shared by /healthz, `flask --app wsgi jobs` and the runbook in docs/OPERATIONS.md.
"""
from __future__ import annotations

from rq import Worker
from rq.job import Job
from rq.registry import FailedJobRegistry

from . import QUEUE_NAMES, queue

FAILED_LINES = 20


def workers() -> list[Worker]:
    """RQ workers alive: a worker that stopped unregisters itself, and one that died drops out when its
    heartbeat key expires."""
    q = queue(QUEUE_NAMES[0])
    return [w for w in Worker.all(connection=q.connection) if w is not None]


def queue_depths() -> dict[str, int]:
    return {name: queue(name).count for name in QUEUE_NAMES}


def failed_count() -> int:
    return sum(FailedJobRegistry(queue=queue(name)).count for name in QUEUE_NAMES)


def failed_jobs(limit: int = FAILED_LINES) -> list[tuple[str, Job | None]]:
    """(queue name, job) of the latest failed jobs; None when the job data expired."""
    found = []
    for name in QUEUE_NAMES:
        q = queue(name)
        registry = FailedJobRegistry(queue=q)
        for jid in registry.get_job_ids(0, limit - 1):
            found.append((name, Job.fetch(jid, connection=q.connection) if Job.exists(jid, q.connection) else None))
    return found[:limit]


def last_error_line(job: Job | None) -> str:
    """The last line of the job's traceback (the exception), never its arguments."""
    if job is None:
        return "(任务数据已过期)"
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or job.exc_info or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(无错误信息)"


def retry_failed(job_id: str | None = None) -> int:
    """Requeue one failed job (by id) or all of them. Returns how many."""
    requeued = 0
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(queue=queue(name))
        for jid in registry.get_job_ids():
            if job_id is not None and jid != job_id:
                continue
            try:
                registry.requeue(jid)
                requeued += 1
            except Exception:  # expired meanwhile: nothing to retry
                registry.remove(jid)
    return requeued
