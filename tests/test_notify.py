"""Template-message fan-out against the simulator: exactly once per (task, counselor, kind),
45009/5xx/timeouts resume later, 43004 is 未触达, 40001 refreshes, receipts, template limits,
and a dead worker's lease taken over with the same client_msg_id."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

import jobs
from jobs import notify
from jobs.dispatch import start_dispatch_fanout
from jobs.notify_outcomes import record_receipt
from models.base import utcnow
from models.tasks import Notification, Task, TaskRecipient
from tests.reliability import wait_for
from tests.test_dispatch import build_world
from tests.test_task_commands import make_task

TEMPLATE_PATH = "/cgi-bin/message/template/send"
REACHABLE = ("cs_ben", "cs_shuo", "sw_ben", "sw_shuo")


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def scheduled_jobs(app) -> list[Job]:
    with app.app_context():
        found = []
        for name in jobs.QUEUE_NAMES:
            q = jobs.queue(name)
            registry = ScheduledJobRegistry(queue=q)
            found += [Job.fetch(jid, connection=q.connection) for jid in registry.get_job_ids()]
        return found


def release_scheduled(app, prefix: str = "") -> list[str]:
    """Move scheduled jobs (whose id starts with prefix) into their queues now: time passing."""
    moved = []
    with app.app_context():
        for name in jobs.QUEUE_NAMES:
            q = jobs.queue(name)
            registry = ScheduledJobRegistry(queue=q)
            for jid in registry.get_job_ids():
                if jid.startswith(prefix):
                    job = Job.fetch(jid, connection=q.connection)
                    registry.remove(job)
                    q.enqueue_job(job)
                    moved.append(jid)
    return moved


def two_colleges(world) -> list[int]:
    return [world.colleges["计算机学院"].id, world.colleges["软件学院"].id]


def dispatch_task(db, world, **kwargs) -> Task:
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world), **kwargs)
    start_dispatch_fanout(task.id)
    return task


def assert_exactly_one_each(simulator, world, keys=REACHABLE):
    for key in keys:
        templates = [m for m in simulator.inbox(world.openids[key]) if m["template_id"] == "tpl-task"]
        assert len(templates) == 1, (key, templates)


def states(db, task_id):
    db.expire_all()
    return dict(db.execute(select(TaskRecipient.account_id, TaskRecipient.notify_state)
                           .where(TaskRecipient.task_id == task_id)).all())


def test_fan_out_sends_once_and_is_idempotent(app, world, db, run_jobs, simulator):
    task = dispatch_task(db, world)
    run_jobs()
    assert simulator.stats()["deliveries"] == 4
    assert_exactly_one_each(simulator, world)
    # A retried fan-out and a rerun batch change nothing.
    with app.app_context():
        notify.fan_out(task.id)
        jobs.enqueue(notify.send_batch, task.id, "task", None, None, 0, queue_name=jobs.BULK)
    run_jobs()
    assert simulator.stats()["deliveries"] == 4
    cmids = [c["json"]["client_msg_id"] for c in simulator.calls(TEMPLATE_PATH)]
    assert len(cmids) == len(set(cmids)) == 4
    notes = db.scalars(select(Notification).where(Notification.task_id == task.id)).all()
    assert {n.state for n in notes} == {"sent", "unreachable"}
    assert all(n.msgid for n in notes if n.state == "sent")


def test_rate_limit_45009_resumes_later(app, world, db, run_jobs, simulator, monkeypatch):
    simulator.add_faults({"path": TEMPLATE_PATH, "errcode": 45009, "times": 1})
    task = dispatch_task(db, world)
    run_jobs()
    assert simulator.stats()["deliveries"] == 0
    db.expire_all()
    pending = db.scalars(select(Notification).where(Notification.task_id == task.id,
                                                    Notification.state == "pending")).all()
    assert len(pending) == 4 and all(n.not_before > utcnow() + timedelta(seconds=50) for n in pending)
    retry = [j for j in scheduled_jobs(app) if j.id.startswith(f"notify-{task.id}-task-") and "-a1" in j.id]
    assert len(retry) == 1
    # Nothing is sent before its time, even by the finisher or the watch.
    release_scheduled(app, "notify-watch")
    run_jobs()
    assert simulator.stats()["deliveries"] == 0
    # A minute later (lease clock moved, not slept) the scheduled retry sends everything.
    later = utcnow() + timedelta(minutes=2)
    monkeypatch.setattr(notify, "utcnow", lambda: later)
    release_scheduled(app, f"notify-{task.id}-task-")
    run_jobs()
    assert simulator.stats()["deliveries"] == 4
    assert_exactly_one_each(simulator, world)


@pytest.mark.parametrize("fault", [{"status": 503}, {"errcode": -1}])
def test_server_errors_back_off_and_nothing_is_dropped(app, world, db, run_jobs, simulator, monkeypatch, fault):
    simulator.add_faults({"path": TEMPLATE_PATH, "times": 2, **fault})
    task = dispatch_task(db, world)
    run_jobs()
    later = utcnow()
    for _ in range(3):
        later += timedelta(minutes=15)
        monkeypatch.setattr(notify, "utcnow", lambda at=later: at)
        release_scheduled(app, f"notify-{task.id}-task-")
        run_jobs()
    assert simulator.stats()["deliveries"] == 4
    assert_exactly_one_each(simulator, world)


def test_timeout_after_delivery_is_not_sent_twice(app, world, db, run_jobs, simulator, monkeypatch):
    # WeChat takes longer than our timeout but does deliver: the retry reuses the client_msg_id.
    victim = world.openids["cs_ben"]
    simulator.add_faults({"path": TEMPLATE_PATH, "openid": victim, "delay": 2.6, "times": 1})
    task = dispatch_task(db, world)
    run_jobs()
    # The simulator still serves the slow call: wait until it has answered (and delivered).
    wait_for(lambda: [c for c in simulator.calls(TEMPLATE_PATH) if c.get("fault")], 10, what="the slow call")
    monkeypatch.setattr(notify, "utcnow", lambda: utcnow() + timedelta(minutes=15))
    release_scheduled(app, f"notify-{task.id}-task-")
    run_jobs()
    assert simulator.stats()["deliveries"] == 4
    assert simulator.stats()["duplicates"] >= 1
    assert_exactly_one_each(simulator, world)


def test_43004_marks_unreachable(app, world, db, run_jobs, simulator, wechat):
    # We think cs_ben follows; WeChat knows better.
    simulator.state.update_user(world.openids["cs_ben"], subscribe=False)
    task = dispatch_task(db, world)
    run_jobs()
    assert simulator.stats()["deliveries"] == 3
    got = states(db, task.id)
    assert got[world.counselors["cs_ben"].id] == "unreachable"
    note = db.scalar(select(Notification).where(Notification.task_id == task.id,
                                                Notification.account_id == world.counselors["cs_ben"].id))
    assert note.state == "unreachable" and note.errcode == 43004
    assert "未触达 3" in wechat.ask(world.school_openid, f"进度 {task.id}")


def test_stale_token_40001_is_refreshed(app, world, db, run_jobs, simulator):
    task = dispatch_task(db, world)
    simulator.add_faults({"path": TEMPLATE_PATH, "errcode": 40001, "times": 1})
    run_jobs()
    assert simulator.stats()["deliveries"] == 4
    assert simulator.stats()["token_grants"] == 2
    assert set(states(db, task.id).values()) == {"sent", "unreachable"}


def test_template_values_respect_category_limits(app, world, db, run_jobs, simulator):
    long_title = "关于做好2026届高校毕业生秋季校园招聘双选会组织工作及学生参会安排的重要通知（第二批）"
    assert len(long_title) <= 64
    task = dispatch_task(db, world, title=long_title, type="就业创业政策", deadline=utcnow() + timedelta(days=3))
    run_jobs()
    calls = simulator.calls(TEMPLATE_PATH)
    assert calls
    for call in calls:
        body = call["json"]
        assert body["url"].endswith(f"/tasks/{task.id}")
        for key, value in body["data"].items():
            text = value["value"]
            if key.startswith("thing"):
                assert 0 < len(text) <= 20, (key, text)
            elif key.startswith("phrase"):
                assert 0 < len(text) <= 5, (key, text)
            elif key.startswith("character_string"):
                assert len(text) <= 32 and re.fullmatch(r"[\x21-\x7e]+", text), (key, text)
            elif key.startswith("time"):
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", text), (key, text)
    assert calls[0]["json"]["data"]["phrase2"]["value"] == "政策"


def test_receipts_set_delivered_refused_failed(app, world, db, run_jobs, simulator, wechat):
    simulator.state.update_user(world.openids["cs_shuo"], receipt="failed:user block")
    simulator.state.update_user(world.openids["sw_ben"], receipt="failed: system failed")
    simulator.state.update_config({"receipts": True, "receipt_delay": 0})
    try:
        task = dispatch_task(db, world)
        run_jobs()
        deadline = time.monotonic() + 10
        expected = {"cs_ben": "delivered", "cs_shuo": "refused", "sw_ben": "failed", "sw_shuo": "delivered"}
        while True:
            db.expire_all()
            got = dict(db.execute(select(TaskRecipient.account_id, TaskRecipient.delivery)
                                  .where(TaskRecipient.task_id == task.id)).all())
            if all(got[world.counselors[k].id] == v for k, v in expected.items()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert {k: got[world.counselors[k].id] for k in expected} == expected
        assert got[world.counselors["cs_unbound"].id] == ""
    finally:
        simulator.state.update_config({"receipts": False, "receipt_delay": 0.2})
    reply = wechat.ask(world.school_openid, f"进度 {task.id}")
    assert "已送达 2" in reply and "拒收通知 1 人" in reply


def test_receipt_before_msgid_is_recorded_is_applied_later(app, world, db, redis_conn):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    notify.create_notifications(db, task.id, "task")
    note = db.scalar(select(Notification).where(Notification.task_id == task.id, Notification.state == "pending"))
    # The receipt overtakes the sender: parked, then applied once the msgid is recorded.
    assert record_receipt(db, note.openid, "777", "success") == 0
    assert redis_conn.get("fdy:receipt:777") == b"success"
    notify._record(db, task.id, "task", [notify._outcome(note, "sent", msgid="777")])
    db.expire_all()
    assert db.get(Notification, note.id).delivery == "delivered"
    rec = db.scalar(select(TaskRecipient).where(TaskRecipient.task_id == task.id,
                                                TaskRecipient.account_id == note.account_id))
    assert rec.delivery == "delivered" and rec.notify_state == "sent"
    assert redis_conn.get("fdy:receipt:777") is None


def test_dead_workers_lease_is_taken_over_with_the_same_client_msg_id(app, world, db, simulator):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    notify.create_notifications(db, task.id, "task")
    rows = db.scalars(select(Notification).where(Notification.task_id == task.id, Notification.state == "pending")
                      .order_by(Notification.id)).all()
    assert len(rows) == 4
    # A worker leased them all, marked two 'sending', got one through to WeChat, and died.
    old = utcnow() - timedelta(minutes=5)
    db.execute(update(Notification).where(Notification.id.in_([r.id for r in rows]))
               .values(claim="deadworker", claimed_at=old))
    db.execute(update(Notification).where(Notification.id.in_([rows[0].id, rows[1].id])).values(state="sending"))
    db.commit()
    with app.app_context():
        from bot.wechat_api import get_client

        get_client().send_template(rows[0].openid, "tpl-task", {"thing1": {"value": "x"}},
                                   client_msg_id=rows[0].client_msg_id)
    assert simulator.stats()["deliveries"] == 1
    # A fresh lease is respected...
    db.execute(update(Notification).where(Notification.id == rows[3].id).values(claimed_at=utcnow()))
    db.commit()
    with app.app_context():
        notify.finish(task.id, "task", wait=0)
    assert simulator.stats()["deliveries"] == 3
    # ...until it goes stale too.
    db.execute(update(Notification).where(Notification.id == rows[3].id).values(claimed_at=old))
    db.commit()
    with app.app_context():
        notify.finish(task.id, "task", wait=0)
    stats = simulator.stats()
    assert stats["deliveries"] == 4 and stats["duplicates"] == 1
    assert_exactly_one_each(simulator, world)
    db.expire_all()
    assert {n.state for n in db.scalars(select(Notification).where(Notification.task_id == task.id))} == \
        {"sent", "unreachable"}


def test_resume_all_queues_a_fan_out_that_never_reached_redis(app, world, db, run_jobs, simulator):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))  # 确认 done, Redis was down
    paused = dispatch_task(db, world)
    with app.app_context():
        notify.create_notifications(db, paused.id, "task")  # rows exist, their jobs were lost
        jobs.queue(jobs.DEFAULT).empty()
        jobs.queue(jobs.NOTIFY).empty()
        jobs.queue(jobs.BULK).empty()
        assert notify.resume_all() == 2
    run_jobs()
    assert simulator.stats()["deliveries"] == 8
    for key in REACHABLE:
        assert len([m for m in simulator.inbox(world.openids[key]) if m["template_id"] == "tpl-task"]) == 2
    with app.app_context():
        assert notify.resume_all() == 0
    assert task.id != paused.id


def test_slow_wechat_is_sent_concurrently_inside_a_batch(app, world, db, simulator):
    # Real WeChat answers in 30-100 ms: one call at a time would cap a worker at 10-30 msg/s.
    # Told by the order of events, not by a stopwatch: the first call goes alone, then the
    # other three are all in WeChat's hands at once (each starts before any of them ends).
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    notify.create_notifications(db, task.id, "task")
    simulator.add_faults({"path": TEMPLATE_PATH, "delay": 0.6})
    with app.app_context():
        notify.finish(task.id, "task", wait=0)
    calls = sorted(simulator.calls(TEMPLATE_PATH), key=lambda c: c["started"])
    assert len(calls) == 4, calls
    probe, volley = calls[0], calls[1:]
    assert probe["time"] <= min(c["started"] for c in volley)
    assert max(c["started"] for c in volley) < min(c["time"] for c in volley)
    stats = simulator.stats()
    assert stats["deliveries"] == 4 and stats["duplicates"] == 0
    assert_exactly_one_each(simulator, world)
    assert set(states(db, task.id).values()) == {"sent", "unreachable"}


def test_rate_limit_in_the_middle_of_a_volley_loses_nothing(app, world, db, simulator, monkeypatch):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    notify.create_notifications(db, task.id, "task")
    victim = world.openids["sw_shuo"]
    simulator.add_faults({"path": TEMPLATE_PATH, "openid": victim, "errcode": 45009, "times": 1})
    with app.app_context():
        notify.finish(task.id, "task", wait=0)
    db.expire_all()
    rows = db.scalars(select(Notification).where(Notification.task_id == task.id)).all()
    sent_now = simulator.stats()["deliveries"]
    assert sent_now <= 3
    assert sum(n.state == "sent" for n in rows) == sent_now  # what went out is recorded...
    held = [n for n in rows if n.state == "pending"]
    assert any(n.openid == victim for n in held)  # ...and what did not is back, not before its time
    assert all(n.claim is None and n.not_before > utcnow() for n in held)
    later = utcnow() + timedelta(hours=2)
    monkeypatch.setattr(notify, "utcnow", lambda: later)
    with app.app_context():
        notify.finish(task.id, "task", wait=0)
    stats = simulator.stats()
    assert stats["deliveries"] == 4 and stats["duplicates"] == 0
    assert_exactly_one_each(simulator, world)


def test_access_token_is_kept_in_process_and_dropped_when_rejected(app, simulator, redis_url):
    import redis as redis_lib

    from bot.wechat_api import TOKEN_KEY, WeChatClient

    conn = redis_lib.Redis.from_url(redis_url)
    client = WeChatClient("wxtestappid0000000", "test-secret", simulator.url, conn, timeout=2.0)
    follower = simulator.add_user()["openid"]
    client.user_info(follower)
    first = conn.get(TOKEN_KEY)
    # A worker does not read Redis per message: a changed shared key goes unnoticed...
    conn.set(TOKEN_KEY, "not-a-token", keepttl=True)
    for _ in range(3):
        assert client.user_info(follower)["openid"] == follower
    assert simulator.stats()["token_grants"] == 1
    # ...until WeChat rejects the token: then the local copy goes, and the shared one if it is ours.
    conn.set(TOKEN_KEY, first, keepttl=True)
    simulator.add_faults({"path": "/cgi-bin/user/info", "errcode": 40001, "times": 1})
    assert client.user_info(follower)["openid"] == follower
    assert simulator.stats()["token_grants"] == 2
    fresh = conn.get(TOKEN_KEY)
    assert fresh and fresh != first
    assert client.access_token() == fresh.decode()


def test_unbound_between_confirm_and_fan_out_is_unreachable_on_both_rows(app, world, db, run_jobs, simulator):
    from models.identity import Identity

    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))  # 确认: cs_ben reachable
    ben = world.counselors["cs_ben"]
    assert states(db, task.id)[ben.id] == "pending"
    db.execute(update(Identity).where(Identity.phone == ben.phone).values(openid=None))
    db.commit()
    start_dispatch_fanout(task.id)
    run_jobs()
    got = states(db, task.id)
    assert got[ben.id] == "unreachable"
    assert sorted(got.values()).count("sent") == 3
    assert simulator.stats()["deliveries"] == 3
