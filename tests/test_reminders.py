"""Reminders, with time controlled (not slept): scheduled at dispatch for deadline − 24 h and live
start − 30 min (checked in rq's ScheduledJobRegistry, then run), sent only to those still pending,
once; cancelled with the task; a reminder job with an injected `now` re-checks the task."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rq.registry import ScheduledJobRegistry

import jobs
from jobs import notify, reminders
from jobs.dispatch import start_dispatch_fanout
from models.base import utcnow
from models.tasks import Notification
from tests.test_dispatch import build_world, dispatch
from tests.test_notify import release_scheduled, two_colleges
from tests.test_task_commands import make_task


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def scheduled_at(app, job_id: str) -> datetime | None:
    with app.app_context():
        registry = ScheduledJobRegistry(queue=jobs.queue(jobs.NOTIFY))
        score = registry.connection.zscore(registry.key, job_id)
        return datetime.fromtimestamp(score, tz=timezone.utc).replace(tzinfo=None) if score is not None else None


def reminder_inbox(simulator, openid):
    return [m for m in simulator.inbox(openid) if m["template_id"] == "tpl-reminder"]


def local(dt: datetime) -> str:
    return (dt + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


def test_dispatch_schedules_reminders_at_the_right_times(app, world, wechat, db):
    deadline = (utcnow() + timedelta(days=5)).replace(second=0, microsecond=0)
    start = (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)
    form = (f"派发\n标题：直播\n类型：直播课\n届别：2026\n截止：{local(deadline)}\n开始：{local(start)}\n"
            f"结束：{local(start + timedelta(hours=1))}\n内容：看")
    task_id = dispatch(wechat, world.school_openid, form)
    assert scheduled_at(app, f"remind-{task_id}-remind_deadline") == deadline - timedelta(hours=24)
    assert scheduled_at(app, f"remind-{task_id}-remind_live") == start - timedelta(minutes=30)


def test_no_reminder_when_its_time_has_passed(app, world, db):
    task = make_task(db, world.school_staff, deadline=utcnow() + timedelta(hours=10))
    assert reminders.schedule(task.id) == {}
    assert scheduled_at(app, f"remind-{task.id}-remind_deadline") is None


def test_deadline_reminder_goes_to_those_not_done_once(app, world, wechat, db, run_jobs, simulator):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world),
                     deadline=utcnow() + timedelta(days=3))
    start_dispatch_fanout(task.id)
    run_jobs()
    wechat.ask(world.openids["cs_ben"], f"完成 {task.id}")
    # The scheduled moment arrives: the job runs (rq's registry releases it now).
    assert release_scheduled(app, "remind-") == [f"remind-{task.id}-remind_deadline"]
    run_jobs()
    assert reminder_inbox(simulator, world.openids["cs_ben"]) == []
    for key in ("cs_shuo", "sw_ben", "sw_shuo"):
        got = reminder_inbox(simulator, world.openids[key])
        assert len(got) == 1, key
        assert got[0]["data"]["phrase4"]["value"] == "待完成"
        assert got[0]["url"].endswith(f"/tasks/{task.id}")
    # A retried reminder job sends nothing more.
    with app.app_context():
        assert reminders.remind(task.id, "remind_deadline") == 0
    run_jobs()
    assert len(reminder_inbox(simulator, world.openids["cs_shuo"])) == 1
    db.rollback()
    unreachable = db.query(Notification).filter_by(task_id=task.id, kind="remind_deadline",
                                                   state="unreachable").count()
    assert unreachable == 2  # cs_unbound and cs_unfollowed: recorded, not sent


def test_live_reminder_goes_to_those_not_checked_in(app, world, wechat, db, run_jobs, simulator, monkeypatch):
    import models.clock as clockmod

    start = utcnow() + timedelta(hours=2)
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world), type="就业创业直播课",
                     live_start=start, live_end=start + timedelta(hours=1))
    # sw_ben checks in early (inside the window), and only marks 完成 would not spare it the reminder.
    monkeypatch.setattr(clockmod, "clock", lambda: start - timedelta(minutes=30))
    assert "签到成功" in wechat.ask(world.openids["sw_ben"], f"签到 {task.id}")
    assert "已完成" in wechat.ask(world.openids["cs_ben"], f"完成 {task.id}")
    with app.app_context():
        sent = reminders.remind(task.id, "remind_live", now=start - timedelta(minutes=30))
    assert sent == 5  # 6 recipients minus the one checked in
    run_jobs()
    assert reminder_inbox(simulator, world.openids["sw_ben"]) == []
    got = reminder_inbox(simulator, world.openids["cs_ben"])
    assert len(got) == 1 and got[0]["data"]["phrase4"]["value"] == "待签到"


def test_reminder_rechecks_the_task(app, world, wechat, db, run_jobs, simulator):
    deadline = utcnow() + timedelta(days=3)
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world), deadline=deadline)
    with app.app_context():
        # Past the deadline: nothing.
        assert reminders.remind(task.id, "remind_deadline", now=deadline + timedelta(seconds=1)) == 0
    # Everyone done ("finished"): nothing.
    for key, account in world.counselors.items():
        if key in ("cs_ben", "cs_shuo", "sw_ben", "sw_shuo"):
            wechat.ask(world.openids[key], f"完成 {task.id}")
    done_all = make_task(db, world.college_staff, levels=("博士",), deadline=deadline)
    wechat.ask(world.openids["cs_bo"], f"完成 {done_all.id}")
    with app.app_context():
        assert reminders.remind(done_all.id, "remind_deadline", now=deadline - timedelta(hours=24)) == 0
    run_jobs()
    assert simulator.stats()["deliveries"] == 0


def test_cancelling_a_task_cancels_its_reminders(app, world, wechat, db, run_jobs, simulator):
    start = utcnow() + timedelta(days=2)
    task = make_task(db, world.school_staff, type="就业创业直播课", deadline=utcnow() + timedelta(days=4),
                     live_start=start, live_end=start + timedelta(hours=1))
    reminders.schedule(task.id)
    assert scheduled_at(app, f"remind-{task.id}-remind_deadline") is not None
    assert scheduled_at(app, f"remind-{task.id}-remind_live") is not None
    assert "已撤销" in wechat.ask(world.school_openid, f"撤销 {task.id}")
    assert scheduled_at(app, f"remind-{task.id}-remind_deadline") is None
    assert scheduled_at(app, f"remind-{task.id}-remind_live") is None
    # Even a reminder already on its way does nothing for a cancelled task.
    with app.app_context():
        assert reminders.remind(task.id, "remind_live", now=start - timedelta(minutes=30)) == 0
    run_jobs()
    assert simulator.stats()["deliveries"] == 0
