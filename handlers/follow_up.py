"""Start what a rule said should follow (models/follow_ups.py): the handler's last step.

A rule commits, then returns its outcome; the handler passes the outcome here,
which queues the jobs (an SMS, a code SMS, role tags, missed task messages). A dead Redis never undoes
what the rule committed: tags are re-checked on the user's next message, and an
SMS that cannot be queued is sent now (jobs/sms.py).
"""
from __future__ import annotations

import logging

from jobs.catch_up import enqueue_catch_up
from jobs.sms import deliver_later, enqueue_code_sms
from jobs.tags import enqueue_sync

log = logging.getLogger(__name__)


def start(outcome):
    """Queue `outcome.follow_ups` (a rule's Result or Outcome); returns the outcome for chaining."""
    follow_ups = outcome.follow_ups
    code = follow_ups.code_sms
    if code is not None:
        enqueue_code_sms(code.code_id, code.outbox_id)
    for outbox_id in follow_ups.sms_outbox_ids:
        deliver_later(outbox_id)
    for openid in follow_ups.tag_openids:
        try:
            enqueue_sync(openid)
        except Exception:  # noqa: BLE001 - logged; the rule's change is committed
            log.exception("could not queue the tag update for a WeChat user")
    for openid in follow_ups.catch_up_openids:
        enqueue_catch_up(openid)
    return outcome
