"""Recording what became of the template messages: a chunk's send outcomes (jobs/notify.py
sends them) and WeChat's receipts (TEMPLATESENDJOBFINISH), including receipts that arrive
before the sender has recorded the msgid (parked in Redis)."""
from __future__ import annotations

import logging

from sqlalchemy import case, literal, select, update

from bot.store import get_redis
from jobs.notify_templates import KIND_TASK
from models.tasks import Notification, TaskRecipient

log = logging.getLogger(__name__)

DELIVERY_OF_STATUS = {"success": "delivered", "failed:user block": "refused"}
EARLY_RECEIPT_KEY = "fdy:receipt:{}"
EARLY_RECEIPT_TTL = 86400


def record_receipt(session, openid: str, msgid: str, status: str, park: bool = True) -> int:
    """已送达 / 拒收 / 发送失败 on the notification(s) with this msgid, and on the recipient.

    A receipt can overtake the sender's commit of the msgid; it is then parked in
    Redis and applied by the sender right after it records the msgid.
    """
    delivery = DELIVERY_OF_STATUS.get((status or "").strip(), "failed")
    query = select(Notification).where(Notification.msgid == str(msgid), Notification.openid == openid)
    rows = list(session.scalars(query))
    if not rows and park:
        try:
            get_redis().set(EARLY_RECEIPT_KEY.format(msgid), status or "", ex=EARLY_RECEIPT_TTL)
        except Exception as exc:
            log.warning("receipt for msgid %s lost: %s", msgid, type(exc).__name__)
            return 0
        # The sender may have recorded the msgid and looked for parked receipts between our
        # look and the park: look again in a new transaction (applying twice is harmless).
        session.rollback()
        rows = list(session.scalars(query))
        if not rows:
            return 0
    for note in rows:
        note.delivery = delivery
        if note.kind == KIND_TASK:
            session.execute(update(TaskRecipient).where(TaskRecipient.task_id == note.task_id,
                                                        TaskRecipient.account_id == note.account_id)
                            .values(delivery=delivery))
    session.commit()
    return len(rows)


def _record(session, task_id: int, kind: str, outcomes: list[dict]) -> None:
    """A chunk's outcomes in one UPDATE of the notifications (per-row values through CASE) and
    one UPDATE of the recipients per outcome state: an executemany would be one statement, and
    on MariaDB one round trip, per row (pymysql batches only INSERT ... VALUES)."""
    if not outcomes:
        return
    ids = [o["nid"] for o in outcomes]
    session.execute(update(Notification).where(Notification.id.in_(ids)).values(
        state=_per_row(outcomes, "st", Notification.state), errcode=_per_row(outcomes, "code", Notification.errcode),
        msgid=_per_row(outcomes, "mid", Notification.msgid), sent_at=_per_row(outcomes, "at", Notification.sent_at),
        claim=None).execution_options(synchronize_session=False))
    if kind == KIND_TASK:
        by_state: dict[str, list[int]] = {}
        for o in outcomes:
            by_state.setdefault(o["st"], []).append(o["aid"])
        for state, account_ids in by_state.items():
            session.execute(update(TaskRecipient).where(
                TaskRecipient.task_id == task_id, TaskRecipient.account_id.in_(account_ids))
                .values(notify_state=state).execution_options(synchronize_session=False))
    session.commit()
    _apply_early_receipts(session, [o for o in outcomes if o["st"] == "sent" and o["mid"]])


def _per_row(outcomes: list[dict], key: str, column):
    """The value of `key` for each row: a plain value when the chunk agrees, else CASE id WHEN ..."""
    values = {o[key] for o in outcomes}
    if len(values) == 1:
        return literal(values.pop(), column.type)
    return case(*[(Notification.id == o["nid"], literal(o[key], column.type)) for o in outcomes])


def _apply_early_receipts(session, sent: list[dict]) -> None:
    """Receipts that arrived before their msgid was recorded were parked in Redis: apply them now."""
    if not sent:
        return
    try:
        conn = get_redis()
        statuses = conn.mget([EARLY_RECEIPT_KEY.format(o["mid"]) for o in sent])
    except Exception as exc:  # Redis trouble only loses the early receipt, never a message
        log.warning("early receipts not read: %s", type(exc).__name__)
        return
    found = [(o, s.decode()) for o, s in zip(sent, statuses) if s]
    if not found:
        return
    openids = dict(session.execute(select(Notification.id, Notification.openid)
                                   .where(Notification.id.in_([o["nid"] for o, _ in found]))).all())
    for outcome, status in found:
        record_receipt(session, openids.get(outcome["nid"]), outcome["mid"], status, park=False)
    conn.delete(*[EARLY_RECEIPT_KEY.format(o["mid"]) for o, _ in found])
