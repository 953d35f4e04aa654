"""The durable-jobs sweep (SPEC 10): Redis loses everything after a dispatch, and the sweep re-creates
from the database the fan-out, the remaining notifications and the reminders, each sent exactly once."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

import jobs
from jobs import notify, sweep
from models.base import utcnow
from models.tasks import Notification, Task
from tests.test_dispatch import build_world
from tests.test_notify import REACHABLE, assert_exactly_one_each, dispatch_task, release_scheduled, two_colleges
from tests.test_reminders import reminder_inbox, scheduled_at
from tests.test_task_commands import make_task


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def run_sweep(app) -> dict:
    with app.app_context():
        return sweep.sweep()


def test_redis_flushed_after_a_dispatch_reminder_and_remaining_notifications_exactly_once(
        app, world, db, run_jobs, simulator, redis_conn):
    task = dispatch_task(db, world, deadline=utcnow() + timedelta(days=3))
    reminder_id = f"remind-{task.id}-remind_deadline"
    due = scheduled_at(app, reminder_id)
    assert due is not None
    with app.app_context():
        notify.create_notifications(db, task.id, "task")
        # One message goes out before Redis dies; the other three were only queued.
        first = min(n.id for n in db.query(Notification).filter_by(task_id=task.id, state="pending"))
        token = uuid.uuid4().hex
        assert notify.lease(db, token, task.id, "task", first, first) == 1
        notify.deliver(db, token, db.get(Task, task.id), "task")
    assert simulator.stats()["deliveries"] == 1

    redis_conn.flushdb()
    assert scheduled_at(app, reminder_id) is None

    result = run_sweep(app)
    assert result == {"resume_fanouts": 1, "resume_reminders": 1, "resume_urges": 0, "resume_digests": 0}
    assert scheduled_at(app, reminder_id) == due
    # A second sweep finds everything in place and queues nothing more.
    assert run_sweep(app) == {"resume_fanouts": 0, "resume_reminders": 0, "resume_urges": 0, "resume_digests": 0}

    run_jobs()
    assert_exactly_one_each(simulator, world)
    assert simulator.stats()["duplicates"] == 0

    # The reminder's time comes: sent once to each pending recipient, even if the sweep runs again.
    assert release_scheduled(app, "remind-") == [reminder_id]
    run_jobs()
    run_sweep(app)
    run_jobs()
    for key in REACHABLE:
        assert len(reminder_inbox(simulator, world.openids[key])) == 1, key
    assert_exactly_one_each(simulator, world)


def test_a_fan_out_lost_before_it_ran_is_queued_again(app, world, db, run_jobs, simulator, redis_conn):
    task = dispatch_task(db, world)
    redis_conn.flushdb()  # 确认 committed, the fan-out job vanished with Redis
    assert run_sweep(app)["resume_fanouts"] == 1
    assert run_sweep(app)["resume_fanouts"] == 0  # its job is queued now: not twice
    run_jobs()
    assert_exactly_one_each(simulator, world)
    assert db.get(Task, task.id) is not None


def test_a_due_reminder_lost_before_it_ran_is_sent_now_but_not_one_due_at_dispatch(
        app, world, db, run_jobs, simulator, redis_conn):
    deadline = utcnow() + timedelta(hours=10)
    lost = make_task(db, world.school_staff, narrowing_ids=two_colleges(world), deadline=deadline, title="早派发")
    # Dispatched two days ago: its reminder became due 14 hours ago, while Redis was losing it.
    db.execute(update(Task).where(Task.id == lost.id).values(created_at=utcnow() - timedelta(days=2)))
    # Dispatched now with a deadline 10 hours away: no reminder, as at dispatch.
    fresh = make_task(db, world.school_staff, narrowing_ids=two_colleges(world), deadline=deadline, title="新派发")
    db.commit()
    redis_conn.flushdb()
    assert run_sweep(app)["resume_reminders"] == 1
    run_jobs()
    assert run_sweep(app)["resume_reminders"] == 0  # written: the rows say it happened
    run_jobs()
    for key in REACHABLE:
        got = reminder_inbox(simulator, world.openids[key])
        assert [m["data"]["character_string5"]["value"] for m in got] == [f"T{lost.id}"], key
    assert fresh.id != lost.id


def test_one_sweep_at_a_time(app, redis_conn):
    redis_conn.set(sweep.LOCK_KEY, "someone else", ex=60)
    assert run_sweep(app) == {}


def test_workers_ask_for_one_sweep_per_minute(app):
    from datetime import datetime, timezone

    at = datetime(2026, 11, 30, 5, 0, 10, tzinfo=timezone.utc)
    with app.app_context():
        assert sweep.request_sweep(at) is not None
        assert sweep.request_sweep(at + timedelta(seconds=30)) is None   # another worker, same minute
        assert sweep.request_sweep(at + timedelta(minutes=1)) is not None
        assert jobs.queue(jobs.DEFAULT).count == 2


def test_a_urge_lost_with_redis_is_sent_once(app, world, db, run_jobs, simulator, redis_conn):
    from models import task_rules

    task = dispatch_task(db, world)
    run_jobs()
    result = task_rules.urge(db, world.school_staff, task)
    assert result.ok  # recorded; its job never ran: Redis went away first
    redis_conn.flushdb()
    assert run_sweep(app)["resume_urges"] == 1
    assert run_sweep(app)["resume_urges"] == 0
    run_jobs()
    assert run_sweep(app)["resume_urges"] == 0  # rows written: done
    for key in REACHABLE:
        urges = [m for m in simulator.inbox(world.openids[key]) if m["data"].get("phrase4", {}).get("value") == "催办"]
        assert len(urges) == 1, key
