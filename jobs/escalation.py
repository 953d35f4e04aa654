"""Sending escalation digests (SPEC 5; rows written by models/escalation.py).

`resume_digests` is a step of the once-a-minute sweep (jobs/sweep.py): it writes the digests due
now and queues every digest not yet sent, under the job id `digest-<id>-<attempt>` (queued once).
`send_digest` claims its row (pending -> sending, committed before WeChat is called), sends one
template message to the staff user's bound WeChat, linking to the task's progress page, and
records the outcome. A worker that dies mid-send leaves the row 'sending'; a later sweep sends it
again with the same client_msg_id, which WeChat drops if the first call had gone through.
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

import jobs
from bot.wechat_api import WeChatError, get_client
from models import db
from models.accounts import Account
from models.base import utcnow
from models.escalation import BEFORE, EscalationDigest, create_due_digests, unsent_digests
from models.identity import Identity
from models.clock import local_text
from models.tasks import Task

from .notify import UNREACHABLE_CODES
from .notify_templates import fit_chars, fit_phrase, fit_thing, template_id_for

log = logging.getLogger(__name__)

KIND = "escalation"
MAX_ATTEMPTS = 10


def digest_data(task: Task, digest: EscalationDigest) -> dict:
    note = f"您管理的辅导员{digest.pending}人未完成"
    phrase = "将截止" if digest.moment == BEFORE else "已逾期"
    values = {"thing1": fit_thing(task.title), "time2": local_text(task.deadline), "thing3": fit_thing(note),
              "phrase4": fit_phrase(phrase), "character_string5": fit_chars(f"T{task.id}")}
    return {key: {"value": value} for key, value in values.items()}


def progress_url(task_id: int) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/progress/{task_id}"


@jobs.job
def send_digest(digest_id: int) -> str:
    session = db.session
    claimed = session.execute(
        update(EscalationDigest)
        .where(EscalationDigest.id == digest_id, EscalationDigest.state.in_(("pending", "sending")))
        .values(state="sending", claimed_at=utcnow(), attempts=EscalationDigest.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    if not claimed:
        return "done"
    digest = session.get(EscalationDigest, digest_id)
    task = session.get(Task, digest.task_id)
    staff = session.get(Account, digest.staff_id)
    openid = session.scalar(select(Identity.openid).where(Identity.phone == staff.phone)) if staff else None
    if task is None or task.status != "active" or staff is None or not staff.active:
        return _record(digest, "failed", None)
    if not openid:
        return _record(digest, "unreachable", None)
    try:
        get_client().send_template(openid, template_id_for(KIND), digest_data(task, digest),
                                   url=progress_url(task.id), client_msg_id=digest.client_msg_id)
    except WeChatError as exc:
        if exc.retryable and digest.attempts < MAX_ATTEMPTS:
            # Back to 'pending': the next sweep queues it again (same client_msg_id).
            log.warning("digest %s not sent yet (%s)", digest_id, exc.errcode)
            return _record(digest, "pending", exc.errcode)
        return _record(digest, "unreachable" if exc.errcode in UNREACHABLE_CODES else "failed", exc.errcode)
    return _record(digest, "sent", None)


def _record(digest: EscalationDigest, state: str, errcode: int | None) -> str:
    digest.state, digest.errcode = state, errcode
    digest.sent_at = utcnow() if state == "sent" else None
    db.session.commit()
    log.info("digest %s (task %s, staff %s, %s): %s", digest.id, digest.task_id, digest.staff_id, digest.moment,
             state)
    return state


def resume_digests(session, now: datetime) -> int:
    """Sweep step: write the digests due now, queue every one not sent. Returns how many were queued."""
    create_due_digests(session, now)
    queued = 0
    for digest_id, attempts in unsent_digests(session, now):
        # One job id per attempt: a queued job is not queued twice, a finished one does not block
        # the next attempt.
        if jobs.enqueue(send_digest, digest_id, queue_name=jobs.NOTIFY,
                        job_id=f"digest-{digest_id}-{attempts}") is not None:
            queued += 1
    return queued
