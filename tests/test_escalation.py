"""Escalation digests (SPEC 5): 24 h before a deadline and when it passes, one digest per staff user
with pending counselors in scope, once per task and moment; none to staff with nothing pending;
off with 提醒上级：否. Driven from the database by the sweep step, so a lost Redis loses nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from jobs import sweep
from jobs.escalation import resume_digests
from models import db as database
from models.escalation import BEFORE, PASSED, EscalationDigest
from models.base import utcnow
from models.clock import local_text
from models.tasks import Task
from models.vocab import COLLEGE
from tests.test_dispatch import build_world
from tests.test_notify import two_colleges
from tests.test_task_commands import make_task
from tests.wechat_client import new_openid

# Tasks are dispatched now (the parser refuses a past deadline); the sweeps are run at given times.
CREATED = utcnow().replace(second=0, microsecond=0)
DEADLINE = CREATED + timedelta(days=3)


@pytest.fixture
def world(factory, simulator):
    w = build_world(factory, simulator)
    w.sw_openid = new_openid()
    w.sw_staff = factory.staff(COLLEGE, w.colleges["软件学院"], name="软院老师", openid=w.sw_openid)
    # A second 计算机学院 account, limited to 硕士: counts only its level's counselors.
    w.master_openid = new_openid()
    w.master_staff = factory.staff(COLLEGE, w.colleges["计算机学院"], name="研究生秘书", levels="硕士",
                                   openid=w.master_openid)
    factory.commit()
    simulator.add_user(w.sw_openid)
    simulator.add_user(w.master_openid)
    return w


def digests(simulator, openid):
    return [m for m in simulator.inbox(openid) if m["kind"] == "template" and "/progress/" in (m.get("url") or "")]


def sweep_at(app, db, run_jobs, when):
    with app.app_context():
        queued = resume_digests(database.session, when)
    run_jobs()
    db.rollback()
    return queued


def test_digests_before_and_after_the_deadline_once_each(world, db, app, run_jobs, simulator, wechat):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world), deadline=DEADLINE)
    for key in ("sw_ben", "sw_shuo"):  # 软件学院 is all done: its staff gets nothing
        wechat.ask(world.openids[key], f"完成 {task.id}")
    wechat.ask(world.openids["cs_ben"], f"完成 {task.id}")
    assert sweep_at(app, db, run_jobs, DEADLINE - timedelta(hours=25)) == 0  # not yet
    assert digests(simulator, world.school_openid) == []

    assert sweep_at(app, db, run_jobs, DEADLINE - timedelta(hours=23)) == 3
    school = digests(simulator, world.school_openid)
    college = digests(simulator, world.college_openid)
    assert len(school) == 1 and len(college) == 1 and digests(simulator, world.sw_openid) == []
    master = digests(simulator, world.master_openid)
    assert len(master) == 1 and master[0]["data"]["thing3"]["value"] == "您管理的辅导员1人未完成"
    assert school[0]["url"].endswith(f"/progress/{task.id}")
    assert school[0]["data"]["thing3"]["value"] == "您管理的辅导员3人未完成"
    assert college[0]["data"]["thing3"]["value"] == "您管理的辅导员3人未完成"
    assert school[0]["data"]["phrase4"]["value"] == "将截止"
    # The next minutes' sweeps: nothing more for this moment.
    assert sweep_at(app, db, run_jobs, DEADLINE - timedelta(hours=22)) == 0
    assert len(digests(simulator, world.school_openid)) == 1

    wechat.ask(world.openids["cs_shuo"], f"完成 {task.id}")
    assert sweep_at(app, db, run_jobs, DEADLINE + timedelta(minutes=1)) == 2  # the 硕士 one is done now
    assert len(digests(simulator, world.master_openid)) == 1
    passed = digests(simulator, world.school_openid)[-1]
    assert passed["data"]["phrase4"]["value"] == "已逾期" and passed["data"]["thing3"]["value"] == "您管理的辅导员2人未完成"
    assert sweep_at(app, db, run_jobs, DEADLINE + timedelta(minutes=2)) == 0
    rows = db.execute(select(EscalationDigest.staff_id, EscalationDigest.moment, EscalationDigest.state)).all()
    assert sorted(rows) == sorted([(world.school_staff.id, BEFORE, "sent"), (world.college_staff.id, BEFORE, "sent"),
                                   (world.master_staff.id, BEFORE, "sent"),
                                   (world.school_staff.id, PASSED, "sent"), (world.college_staff.id, PASSED, "sent")])


def test_opt_out_and_short_notice(world, db, app, run_jobs, simulator, wechat):
    form = f"派发\n标题：不提醒上级\n类型：其他\n届别：2026\n截止：{local_text(DEADLINE)}\n提醒上级：否\n内容：x"
    assert "回复「确认」" in wechat.ask(world.school_openid, form)
    wechat.ask(world.school_openid, "确认")
    db.rollback()
    quiet = db.scalar(select(Task).where(Task.title == "不提醒上级"))
    assert quiet.escalate is False
    short = make_task(db, world.school_staff, title="二十小时", deadline=CREATED + timedelta(hours=20))
    assert sweep_at(app, db, run_jobs, CREATED + timedelta(minutes=5)) == 0  # no "24 h left" right after dispatch
    assert sweep_at(app, db, run_jobs, quiet.deadline + timedelta(minutes=1)) == 0
    # Passed: yes (school 7, 计算机学院 4 and its 硕士 1, 软件学院 2; 外语学院 has no staff account).
    assert sweep_at(app, db, run_jobs, short.deadline + timedelta(minutes=1)) == 4
    bad = wechat.ask(world.school_openid, form.replace("提醒上级：否", "提醒上级：也许"))
    assert "提醒上级：请填 是 或 否" in bad


def test_durable_when_redis_loses_the_jobs_and_a_sender_dies(world, db, app, run_jobs, simulator, redis_conn):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world), deadline=DEADLINE)
    when = DEADLINE - timedelta(hours=23)
    with app.app_context():
        resume_digests(database.session, when)  # rows written and jobs queued ...
    redis_conn.flushdb()                  # ... and Redis loses the jobs
    assert sweep_at(app, db, run_jobs, when + timedelta(minutes=1)) == 4
    assert len(digests(simulator, world.school_openid)) == 1
    # A sender that died after claiming its row (WeChat may or may not have got the message).
    db.execute(update(EscalationDigest).where(EscalationDigest.staff_id == world.school_staff.id)
               .values(state="sending", claimed_at=when))
    db.commit()
    assert sweep_at(app, db, run_jobs, when + timedelta(minutes=10)) == 1
    # Sent again with the same client_msg_id: WeChat (the simulator) drops the repeat.
    assert len(digests(simulator, world.school_openid)) == 1
    assert db.scalar(select(EscalationDigest.state).where(EscalationDigest.staff_id == world.school_staff.id)) == "sent"
    assert task.id


def test_the_minute_sweep_sends_them(world, db, app, run_jobs, simulator, monkeypatch):
    make_task(db, world.school_staff, narrowing_ids=two_colleges(world), deadline=DEADLINE)
    monkeypatch.setattr(sweep, "clock", lambda: DEADLINE - timedelta(hours=23))
    with app.app_context():
        result = sweep.sweep()
    assert result["resume_digests"] == 4
    run_jobs()
    assert len(digests(simulator, world.school_openid)) == 1 and len(digests(simulator, world.sw_openid)) == 1
