"""A chunk's outcomes are recorded row by row (each row its own state, errcode, msgid, sent_at)
in a constant number of statements, not one UPDATE per message."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from jobs import notify
from models.tasks import Notification, TaskRecipient
from tests.test_dispatch import build_world
from tests.test_notify import TEMPLATE_PATH, two_colleges
from tests.test_task_commands import make_task

REFUSED = 40037  # invalid template id: neither 未触达 nor worth a retry


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def statements_on(engine, prefix: str) -> list[tuple[str, bool]]:
    """(statement, executemany) of every statement starting with prefix, from now on."""
    seen: list[tuple[str, bool]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(prefix):
            seen.append((statement, executemany))

    event.listen(engine, "before_cursor_execute", before)
    return seen


def test_mixed_chunk_recorded_per_row_in_few_statements(app, world, db, simulator):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    notify.create_notifications(db, task.id, "task")
    accounts = {key: world.counselors[key].id for key in ("cs_ben", "cs_shuo", "sw_ben", "sw_shuo")}
    simulator.state.update_user(world.openids["cs_ben"], subscribe=False)  # WeChat says 43004
    simulator.add_faults({"path": TEMPLATE_PATH, "openid": world.openids["sw_shuo"], "errcode": REFUSED, "times": 1})
    updates = statements_on(app.extensions["fdy.db"].engine, "UPDATE")
    with app.app_context():
        notify.finish(task.id, "task", wait=0)

    db.expire_all()
    notes = {n.account_id: n for n in db.scalars(select(Notification).where(Notification.task_id == task.id))}
    for key in ("cs_shuo", "sw_ben"):
        note = notes[accounts[key]]
        inbox = [m for m in simulator.inbox(world.openids[key]) if m["template_id"] == "tpl-task"]
        assert len(inbox) == 1
        assert (note.state, note.errcode, note.msgid) == ("sent", None, str(inbox[0]["msgid"]))
        assert note.sent_at is not None and note.claim is None
    assert notes[accounts["cs_shuo"]].msgid != notes[accounts["sw_ben"]].msgid
    for key, state, code in (("cs_ben", "unreachable", 43004), ("sw_shuo", "failed", REFUSED)):
        note = notes[accounts[key]]
        assert (note.state, note.errcode, note.msgid, note.sent_at, note.claim) == (state, code, None, None, None)
    recipients = dict(db.execute(select(TaskRecipient.account_id, TaskRecipient.notify_state)
                                 .where(TaskRecipient.task_id == task.id)).all())
    assert {key: recipients[aid] for key, aid in accounts.items()} == {
        "cs_ben": "unreachable", "cs_shuo": "sent", "sw_ben": "sent", "sw_shuo": "failed"}

    # One chunk: one UPDATE of the notifications' outcomes and one of the recipients per state,
    # never one per message (on MariaDB each would be a round trip).
    outcome_updates = [(s, many) for s, many in updates if "notifications" in s and "msgid" in s]
    recipient_updates = [(s, many) for s, many in updates if "task_recipients" in s and "notify_state" in s]
    assert len(outcome_updates) == 1 and not outcome_updates[0][1], outcome_updates
    assert len(recipient_updates) == 3 and not any(many for _, many in recipient_updates), recipient_updates
