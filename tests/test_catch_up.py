"""Reach catches up (SPEC 3): binding or following again while a received task is open brings its
template message then, once; 未触达 is counted from the current state."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

import models.clock as clockmod
from handlers import follow_up
from models.base import utcnow
from models.binding import bind_with_password, unbind
from models.tasks import TaskRecipient
from tests.factories import PASSWORD
from tests.test_dispatch import build_world, dispatch, future
from tests.test_forwarding import STUDENT_FORM
from tests.wechat_client import new_openid


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def task_messages(simulator, openid, task_id):
    return [m for m in simulator.inbox(openid) if m["template_id"] == "tpl-task"
            and m["data"]["character_string5"]["value"] == f"T{task_id}"]


def state_of(db, task_id, account):
    db.expire_all()
    return db.scalar(select(TaskRecipient.notify_state).where(TaskRecipient.task_id == task_id,
                                                               TaskRecipient.account_id == account.id))


def unreached_figure(wechat, staff_openid, task_id) -> str:
    reply = wechat.ask(staff_openid, f"进度 {task_id}")
    return reply.split("未触达 ", 1)[1].split("，", 1)[0]


def test_binding_after_the_dispatch_brings_the_message_once(world, wechat, db, simulator, run_jobs):
    task_id = dispatch(wechat, world.school_openid, STUDENT_FORM.format(deadline=future()))
    run_jobs()
    counselor = world.counselors["cs_unbound"]
    assert state_of(db, task_id, counselor) == "unreachable"
    assert unreached_figure(wechat, world.school_openid, task_id) == "2"
    openid = new_openid()
    simulator.add_user(openid)
    # The rule says what follows the binding; the caller (a handler) queues it.
    assert follow_up.start(bind_with_password(db, openid, counselor.phone, PASSWORD)).ok
    run_jobs()
    assert len(task_messages(simulator, openid, task_id)) == 1
    assert state_of(db, task_id, counselor) == "sent"
    assert unreached_figure(wechat, world.school_openid, task_id) == "1"
    # Unbinding and binding again: no second message.
    follow_up.start(unbind(db, openid))
    assert follow_up.start(bind_with_password(db, openid, counselor.phone, PASSWORD)).ok
    run_jobs()
    assert len(task_messages(simulator, openid, task_id)) == 1


def test_following_again_brings_the_message_once(world, wechat, db, simulator, run_jobs):
    task_id = dispatch(wechat, world.school_openid, STUDENT_FORM.format(deadline=future()))
    run_jobs()
    counselor, openid = world.counselors["cs_unfollowed"], world.openids["cs_unfollowed"]
    assert state_of(db, task_id, counselor) == "unreachable"
    simulator.state.update_user(openid, subscribe=True)
    wechat.event(openid, "subscribe")
    run_jobs()
    assert len(task_messages(simulator, openid, task_id)) == 1
    assert state_of(db, task_id, counselor) == "sent"
    # Distinct times: the webhook would take a repeat of the same event for WeChat's retry.
    wechat.event(openid, "unsubscribe", create_time=int(time.time()) + 1)
    wechat.event(openid, "subscribe", create_time=int(time.time()) + 2)
    run_jobs()
    assert len(task_messages(simulator, openid, task_id)) == 1


def test_closed_tasks_are_not_caught_up_and_completing_leaves_unreached(world, wechat, db, simulator, run_jobs,
                                                                        monkeypatch):
    deadline = utcnow() + timedelta(days=2)
    task_id = dispatch(wechat, world.school_openid,
                       STUDENT_FORM.format(deadline=clockmod.local_text(deadline)))
    run_jobs()
    monkeypatch.setattr(clockmod, "clock", lambda: deadline + timedelta(hours=1))
    openid = world.openids["cs_unfollowed"]
    simulator.state.update_user(openid, subscribe=True)
    wechat.event(openid, "subscribe")
    run_jobs()
    assert task_messages(simulator, openid, task_id) == []  # the deadline has passed: nothing to send
    assert unreached_figure(wechat, world.school_openid, task_id) == "2"
    assert "已完成" in wechat.ask(openid, f"完成 {task_id}")
    # Whoever completed the task was reached, whatever the dispatch found.
    assert unreached_figure(wechat, world.school_openid, task_id) == "1"
