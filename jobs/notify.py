"""Template-message fan-out: one message per (task, counselor, kind), exactly once (SPEC 3, 10).

Each message is a Notification row with a deterministic client_msg_id. A sender
takes a *lease* on the rows it will send (claim token + claimed_at, refreshed
while it works), marks a chunk 'sending' and commits BEFORE calling WeChat,
then records the outcome. A worker that dies leaves rows leased and
'pending'/'sending'; once the lease is stale another job takes them over and
sends them again with the SAME client_msg_id, which WeChat (and the simulator)
drops when the first call had in fact gone through. So: at most one message a
row, and at least one unless WeChat refuses it (then the refusal is recorded).

Jobs: fan_out (rows + one send_batch per BATCH_SIZE rows + a finisher that
rescues abandoned leases as soon as the batches have been taken) and a watch
job every WATCH_EVERY until no row is left unsent (the slow backstop, through
the rq scheduler). Rate limits (45009), 5xx and timeouts release the rows with
a not_before time and re-enqueue the rest later: nothing is dropped.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import timedelta

from sqlalchemy import and_, case, func, or_, select, update

import jobs
from bot.store import get_redis
from bot.wechat_api import TOKEN_ERRCODES, WeChatClient, WeChatError, get_client
from jobs.notify_outcomes import _record
from jobs.notify_rows import create_notifications
from jobs.notify_templates import KIND_TASK, _job_key, task_url, template_data, template_id_for
from models import db
from models.base import utcnow
from models.tasks import Notification, Task

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# Rows leased, marked 'sending' and recorded per round of sends. 200 rather than 50: the
# bookkeeping (a SELECT, two UPDATEs, three commits) is per chunk, and on MariaDB it was what
# held a worker back (figures in docs/PERFORMANCE.md). A crash re-sends at most one chunk per
# job, each message with its client_msg_id.
CHUNK = 200
# Template messages in flight at once per sending job (each thread with its own HTTP session).
SEND_THREADS = 8
LEASE_STALE = timedelta(seconds=20)
LEASE_REFRESH = 3.0
FINISH_WAIT = 240.0
WATCH_EVERY = timedelta(minutes=10)
WATCH_ROUNDS = 144
BATCH_TIMEOUT = 900

UNREACHABLE_CODES = {43004, 40003, 43019, 43101}
OPEN_STATES = ("pending", "sending")


def _open_rows(task_id: int, kind: str):
    return and_(Notification.task_id == task_id, Notification.kind == kind, Notification.state.in_(OPEN_STATES))


def lease(session, token: str, task_id: int, kind: str, lo: int | None = None, hi: int | None = None) -> int:
    """Claim the open rows nobody holds (or whose holder went silent). Atomic per row."""
    now = utcnow()
    conds = [_open_rows(task_id, kind),
             or_(Notification.claim.is_(None), Notification.claimed_at < now - LEASE_STALE),
             or_(Notification.not_before.is_(None), Notification.not_before <= now)]
    if lo is not None:
        conds.append(Notification.id.between(lo, hi))
    count = session.execute(update(Notification).where(*conds)
                            .values(claim=token, claimed_at=now)
                            .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return count or 0


def _refresh_lease(session, token: str) -> None:
    session.execute(update(Notification).where(Notification.claim == token, Notification.state.in_(OPEN_STATES))
                    .values(claimed_at=utcnow()).execution_options(synchronize_session=False))


class Backoff(Exception):
    def __init__(self, seconds: float, reason: str):
        super().__init__(reason)
        self.seconds = seconds


def backoff_seconds(errcode: int | None, attempt: int) -> float:
    if errcode in {45009, 45047, 45011}:  # rate limits: minutes
        return min(60 * 2 ** attempt, 3600)
    return min(10 * 2 ** attempt, 600)  # outage, 5xx, timeout: seconds


def _sender_clients(base: WeChatClient, n: int) -> "queue.SimpleQueue[WeChatClient]":
    """n clients like `base`, each with its own HTTP session: requests.Session is not
    thread-safe, so a thread borrows a whole client for one call."""
    clients: queue.SimpleQueue[WeChatClient] = queue.SimpleQueue()
    for _ in range(n):
        clients.put(WeChatClient(base.app_id, base.app_secret, base.api_base, base.redis, timeout=base.timeout))
    return clients


def _send_one(clients, stop: threading.Event, row, template_id: str, data: dict, url: str):
    """One template message. Returns an outcome, a WeChatError that means "stop and come
    back later", or None if another call already said so (the row is released untried).
    Runs in a sender thread: no database here, the main thread records the outcomes."""
    if stop.is_set():
        return None
    client = clients.get()
    try:
        reply = client.send_template(row.openid, template_id, data, url=url, client_msg_id=row.client_msg_id)
    except WeChatError as exc:
        if exc.errcode in UNREACHABLE_CODES:
            return _outcome(row, "unreachable", exc.errcode)
        if exc.retryable or exc.errcode in TOKEN_ERRCODES:
            stop.set()
            return exc
        log.warning("template message refused for notification %s: %s", row.id, exc)
        return _outcome(row, "failed", exc.errcode)
    finally:
        clients.put(client)
    return _outcome(row, "sent", msgid=str(reply.get("msgid", ""))[:32] or None)


def deliver(session, token: str, task: Task, kind: str, attempt: int = 0) -> dict:
    """Send every row leased under `token`. Returns counts; raises Backoff to come back later.

    A chunk's rows are marked 'sending' and committed, then sent by SEND_THREADS threads
    (one call at a time would leave a worker waiting on WeChat most of the time).
    The very first call goes alone: after an outage or a rate limit one call finds out,
    not a volley. Only this thread touches the database session.
    """
    counts = {"sent": 0, "unreachable": 0, "failed": 0}
    template_id = template_id_for(kind)
    issuer_unit = task.issuer.unit.name if task.issuer and task.issuer.unit else ""
    data = template_data(task, kind, issuer_unit)
    url = task_url(task.id)
    clients = _sender_clients(get_client(), SEND_THREADS)
    probed = False
    with ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="notify-send") as pool:
        while True:
            rows = session.execute(select(Notification.id, Notification.account_id, Notification.openid,
                                          Notification.client_msg_id)
                                   .where(Notification.claim == token, Notification.state.in_(OPEN_STATES))
                                   .order_by(Notification.id).limit(CHUNK)).all()
            if not rows:
                return counts
            ids = [r.id for r in rows]
            # Committed before any call: a crash from here on leaves 'sending', re-sent with the same id.
            session.execute(update(Notification).where(Notification.id.in_(ids), Notification.claim == token)
                            .values(state="sending", attempts=Notification.attempts + 1)
                            .execution_options(synchronize_session=False))
            session.commit()
            stop: Backoff | None = None
            if not template_id:
                stop = Backoff(backoff_seconds(None, attempt), "no template id configured")
                outcomes: list[dict] = []
            else:
                outcomes = [_outcome(row, "unreachable") for row in rows if not row.openid]
                to_send = [row for row in rows if row.openid]
                halt = threading.Event()
                results: list = []
                if to_send and not probed:
                    probed = True
                    results.append(_send_one(clients, halt, to_send.pop(0), template_id, data, url))
                futures = [pool.submit(_send_one, clients, halt, row, template_id, data, url) for row in to_send]
                while futures:
                    done, futures = wait(futures, timeout=LEASE_REFRESH)
                    results.extend(f.result() for f in done)
                    if futures:  # slow answers: keep the lease fresh meanwhile
                        _refresh_lease(session, token)
                        session.commit()
                for result in results:
                    if isinstance(result, WeChatError):
                        stop = stop or Backoff(backoff_seconds(result.errcode, attempt), str(result))
                    elif result is not None:
                        outcomes.append(result)
            _record(session, task.id, kind, outcomes)
            for outcome in outcomes:
                counts[outcome["st"]] += 1
            if stop is not None:
                release(session, token, stop.seconds)
                raise stop
            _refresh_lease(session, token)
            session.commit()


def _outcome(row, state: str, errcode: int | None = None, msgid: str | None = None) -> dict:
    return {"nid": row.id, "aid": row.account_id, "st": state, "code": errcode, "mid": msgid,
            "at": utcnow() if state == "sent" else None}




def release(session, token: str, seconds: float) -> None:
    """Give the rows back with a time before which nobody retries them."""
    session.execute(update(Notification).where(Notification.claim == token, Notification.state.in_(OPEN_STATES))
                    .values(state="pending", claim=None, claimed_at=None,
                            not_before=utcnow() + timedelta(seconds=seconds))
                    .execution_options(synchronize_session=False))
    session.commit()


def _send_leased(session, token: str, task_id: int, kind: str, attempt: int, retry_job_id: str, retry_args: tuple):
    task = session.get(Task, task_id)
    try:
        return deliver(session, token, task, kind, attempt)
    except Backoff as exc:
        log.warning("notifications of task %s (%s) paused %.0fs: %s", task_id, kind, exc.seconds, exc)
        jobs.enqueue(send_batch, *retry_args, attempt + 1, queue_name=jobs.NOTIFY, job_id=retry_job_id,
                     delay=timedelta(seconds=exc.seconds))
        return None


# -- jobs ----------------------------------------------------------------------------------------
@jobs.job
def fan_out(task_id: int, kind: str = KIND_TASK) -> int:
    """Dispatch-time fan-out: rows for every recipient, then the batch jobs."""
    session = db.session
    task = session.get(Task, task_id)
    if task is None:
        return 0
    if kind == KIND_TASK:
        create_notifications(session, task_id, kind)
    return enqueue_batches(task_id, kind)


def batch_ranges(session, task_id: int, kind: str) -> list[tuple[int, int, int]]:
    """(first id, last id, rows) of the open rows in each BATCH_SIZE-wide id range, by one GROUP BY
    in the database (the rows of a fan-out are written by one INSERT, so their ids are dense)."""
    first = session.scalar(select(func.min(Notification.id)).where(_open_rows(task_id, kind)))
    if first is None:
        return []
    bucket = (Notification.id - first) // BATCH_SIZE
    return [(lo, hi, n) for _, lo, hi, n in session.execute(
        select(bucket, func.min(Notification.id), func.max(Notification.id), func.count(Notification.id))
        .where(_open_rows(task_id, kind)).group_by(bucket).order_by(bucket)).all()]


# While a fan-out has jobs in Redis, a marker says so; jobs/sweep.py re-creates the jobs of open
# rows whose marker is gone (Redis lost its data). Refreshed by every batch and watch round.
ALIVE_KEY = "fdy:fanout:{}"
ALIVE_TTL = 2 * 3600


def _mark_alive(task_id: int, kind: str) -> None:
    try:
        get_redis().set(ALIVE_KEY.format(f"{task_id}-{_job_key(kind)}"), 1, ex=ALIVE_TTL)
    except Exception as exc:  # without the marker the sweep re-queues the jobs: harmless
        log.warning("fan-out marker not set: %s", type(exc).__name__)


def fanout_alive(task_id: int, kind: str) -> bool:
    return bool(get_redis().exists(ALIVE_KEY.format(f"{task_id}-{_job_key(kind)}")))


def enqueue_batches(task_id: int, kind: str) -> int:
    """One send_batch per id range of open rows (deterministic ids), a finisher, and the watch."""
    session = db.session
    ranges = batch_ranges(session, task_id, kind)
    session.commit()
    key = f"{task_id}-{_job_key(kind)}"
    if ranges:
        _mark_alive(task_id, kind)
    for lo, hi, _ in ranges:
        jobs.enqueue(send_batch, task_id, kind, lo, hi, 0, queue_name=jobs.NOTIFY,
                     job_id=f"notify-{key}-{lo}", job_timeout=BATCH_TIMEOUT)
    if ranges:
        # FIFO: the finisher runs once every batch has been taken by some worker.
        jobs.enqueue(finish, task_id, kind, queue_name=jobs.NOTIFY, job_id=f"notify-finish-{key}",
                     job_timeout=int(FINISH_WAIT) + BATCH_TIMEOUT)
        jobs.enqueue(watch, task_id, kind, 1, queue_name=jobs.NOTIFY, job_id=f"notify-watch-{key}-1",
                     delay=WATCH_EVERY, job_timeout=BATCH_TIMEOUT)
    return sum(n for _, _, n in ranges)


@jobs.job
def send_batch(task_id: int, kind: str, lo: int | None, hi: int | None, attempt: int = 0):
    session = db.session
    token = uuid.uuid4().hex
    _mark_alive(task_id, kind)
    if not lease(session, token, task_id, kind, lo, hi):
        return None
    suffix = f"{lo}" if lo is not None else "all"
    return _send_leased(session, token, task_id, kind, attempt,
                        f"notify-{task_id}-{_job_key(kind)}-{suffix}-a{attempt + 1}", (task_id, kind, lo, hi))


def open_counts(session, task_id: int, kind: str) -> tuple[int, int]:
    """(open rows, open rows under a live lease)."""
    fresh = and_(Notification.claim.is_not(None), Notification.claimed_at >= utcnow() - LEASE_STALE)
    row = session.execute(select(func.count(Notification.id), func.sum(case((fresh, 1), else_=0)))
                          .where(_open_rows(task_id, kind))).one()
    return int(row[0] or 0), int(row[1] or 0)


@jobs.job
def finish(task_id: int, kind: str, wait: float | None = None):
    """Rescue what a dead worker left: wait for live leases, take over stale ones."""
    session = db.session
    limit = time.monotonic() + (FINISH_WAIT if wait is None else wait)
    attempt = 0
    while True:
        token = uuid.uuid4().hex
        if lease(session, token, task_id, kind):
            if _send_leased(session, token, task_id, kind, attempt,
                            f"notify-{task_id}-{_job_key(kind)}-rescue-{uuid.uuid4().hex[:8]}",
                            (task_id, kind, None, None)) is None:
                return
            continue
        remaining, held = open_counts(session, task_id, kind)
        session.commit()  # end the read transaction so the next look sees other workers' commits
        if not held or time.monotonic() > limit:
            return
        time.sleep(1.0)


@jobs.job
def watch(task_id: int, kind: str, round_no: int):
    """The backstop: every WATCH_EVERY, send whatever is still open and not held."""
    session = db.session
    token = uuid.uuid4().hex
    if lease(session, token, task_id, kind):
        _send_leased(session, token, task_id, kind, 0,
                     f"notify-{task_id}-{_job_key(kind)}-watch{round_no}-a1", (task_id, kind, None, None))
    remaining, _ = open_counts(session, task_id, kind)
    if remaining and round_no < WATCH_ROUNDS:
        _mark_alive(task_id, kind)
        jobs.enqueue(watch, task_id, kind, round_no + 1, queue_name=jobs.NOTIFY,
                     job_id=f"notify-watch-{task_id}-{_job_key(kind)}-{round_no + 1}", delay=WATCH_EVERY)
    return remaining




@jobs.job
def resume_all() -> int:
    """Queue again whatever was left unqueued: a task whose fan-out never got into Redis
    (Redis down right after 确认), and open rows of any kind. Safe to run at any time
    (a worker start, a cron): rows are leased atomically, nothing is sent twice."""
    session = db.session
    no_rows = (select(Task.id).where(Task.status == "active", Task.recipient_count > 0,
                                     ~select(Notification.id).where(Notification.task_id == Task.id,
                                                                    Notification.kind == KIND_TASK).exists()))
    queued = 0
    for task_id in session.scalars(no_rows).all():
        jobs.enqueue(fan_out, task_id, KIND_TASK, queue_name=jobs.NOTIFY,
                     job_id=f"fanout-{task_id}-task-resume-{uuid.uuid4().hex[:8]}")
        queued += 1
    open_pairs = session.execute(select(Notification.task_id, Notification.kind)
                                 .where(Notification.state.in_(OPEN_STATES)).distinct()).all()
    for task_id, kind in open_pairs:
        jobs.enqueue(send_batch, task_id, kind, None, None, 0, queue_name=jobs.NOTIFY,
                     job_id=f"notify-{task_id}-{_job_key(kind)}-resume-{uuid.uuid4().hex[:8]}",
                     job_timeout=BATCH_TIMEOUT)
        queued += 1
    return queued


def fanout_job_id(task_id: int) -> str:
    return f"fanout-{task_id}-task"


def start_fanout(task_id: int):
    return jobs.enqueue(fan_out, task_id, KIND_TASK, queue_name=jobs.NOTIFY, job_id=fanout_job_id(task_id))
