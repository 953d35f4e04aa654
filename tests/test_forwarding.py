"""Tasks reach students (SPEC 3, 9.5): 给学生, the student link per counselor and task in chat and
on the pages, 学生查看 counted once per browser, and the reminder after 完成."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models.tasks import ShareOpen, Task, TaskRecipient
from tests.test_dispatch import FAIR_FORM, build_world, dispatch, future
from tests.test_task_commands import make_task

STUDENT_FORM = FAIR_FORM.replace("内容：", "给学生：秋季双选会面向2026届毕业生。\n带好简历，准时入场。\n内容：")
LINK = re.compile(r"(http://\S+/share/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


@pytest.fixture
def instant_flush(app, monkeypatch):
    """Buffered opens are written as soon as a worker runs (no 2-second gathering)."""
    monkeypatch.setitem(app.config, "REACH_FLUSH_DELAY", 0)


def student_link_in_chat(wechat, openid, task_id) -> str:
    reply = wechat.ask(openid, f"任务 {task_id}")
    found = LINK.search(reply)
    assert found, reply
    return found.group(1)


def test_form_takes_a_multiline_student_text_beside_the_content(world, wechat, db):
    task_id = dispatch(wechat, world.school_openid, STUDENT_FORM.format(deadline=future()))
    task = db.get(Task, task_id)
    assert task.student_text == "秋季双选会面向2026届毕业生。\n带好简历，准时入场。"
    assert task.content == "双选会在体育馆举行。\n请提前通知学生携带简历。"


def test_student_text_is_checked_like_every_field(world, wechat):
    too_long = STUDENT_FORM.replace("带好简历，准时入场。", "字" * 2001)
    assert "给学生：最多2000字" in wechat.ask(world.school_openid, too_long.format(deadline=future()))
    secret = STUDENT_FORM.replace("保密：否", "保密：是")
    assert "保密任务仅限辅导员本人学习" in wechat.ask(world.school_openid, secret.format(deadline=future()))
    preview = wechat.ask(world.school_openid, FAIR_FORM.format(deadline=future()))
    assert "给学生：未填写" in preview


def test_task_n_gives_each_counselor_its_own_student_link(app, world, wechat, db, client, live_server):
    task_id = dispatch(wechat, world.school_openid, STUDENT_FORM.format(deadline=future()))
    ben = student_link_in_chat(wechat, world.openids["cs_ben"], task_id)
    sw = student_link_in_chat(wechat, world.openids["sw_ben"], task_id)
    assert ben.startswith(f"{live_server}/share/") and ben != sw
    page = client.get(ben[len(live_server):])
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "带好简历，准时入场。" in body and "2026届秋季双选会" in body and "示范大学" in body
    # Not the counselor's instruction, not the counselor's deadline; no login, no controls.
    assert "请提前通知学生携带简历" not in body and "截止" not in body
    assert "<form" not in body and "<button" not in body
    cookies = page.headers.getlist("Set-Cookie")
    assert len(cookies) == 1 and cookies[0].startswith("fdy_sb=")


def test_no_student_text_no_student_link(world, wechat, db):
    task = make_task(db, world.school_staff, title="填报数据")
    reply = wechat.ask(world.openids["cs_ben"], f"任务 {task.id}")
    assert "/share/" not in reply and "无需转发学生" in reply


def test_confidential_task_has_no_link_in_chat_and_its_old_link_shows_nothing(app, world, wechat, db, client):
    from handlers.share_links import link_token, old_token

    task = make_task(db, world.school_staff, title="保密材料ABC", content="绝密XYZ", confidential=True)
    # Even with a student text written straight into the database, no link is given.
    task.student_text = "学生版DEF"
    db.commit()
    reply = wechat.ask(world.openids["cs_ben"], f"任务 {task.id}")
    assert "/share/" not in reply and "本任务保密" in reply
    with app.app_context():
        tokens = [old_token(task.id), link_token(task.id, world.counselors["cs_ben"].id)]
    for token in tokens:
        page = client.get(f"/share/{token}")
        body = page.get_data(as_text=True)
        assert page.status_code == 403
        assert "ABC" not in body and "XYZ" not in body and "DEF" not in body
        assert not page.headers.getlist("Set-Cookie")


def test_three_students_one_of_them_twice_make_three(app, world, wechat, db, live_server, run_jobs, instant_flush,
                                                     redis_conn):
    task_id = dispatch(wechat, world.school_openid, STUDENT_FORM.format(deadline=future()))
    ben = student_link_in_chat(wechat, world.openids["cs_ben"], task_id)[len(live_server):]
    sw = student_link_in_chat(wechat, world.openids["sw_ben"], task_id)[len(live_server):]
    students = [app.test_client() for _ in range(3)]  # three phones, each its own cookies
    for student in students:
        assert student.get(ben).status_code == 200
    assert students[0].get(ben).status_code == 200  # the same phone again
    assert students[0].get(sw).status_code == 200   # and another counselor's link
    run_jobs()
    reply = wechat.ask(world.school_openid, f"进度 {task_id}")
    assert "学生查看 4 人" in reply and "2/6 名辅导员" in reply
    # The college sees its own counselors only: cs_ben's three.
    assert "学生查看 3 人" in wechat.ask(world.college_openid, f"进度 {task_id}")
    views = dict(db.execute(select(TaskRecipient.account_id, TaskRecipient.student_views)
                            .where(TaskRecipient.task_id == task_id)).all())
    assert views[world.counselors["cs_ben"].id] == 3 and views[world.counselors["sw_ben"].id] == 1
    assert db.scalar(select(func.count(ShareOpen.id))) == 4
    # Nothing about the students is kept but the random browser id.
    assert set(ShareOpen.__table__.columns.keys()) == {"id", "task_id", "account_id", "browser", "opened_at"}
    # Opening again after the flush still counts nothing new, and the batch is written (not retried).
    students[1].get(ben)
    run_jobs()
    from jobs.reach import BUFFER_KEY

    assert redis_conn.llen(BUFFER_KEY) == 0
    db.expire_all()
    assert db.scalar(select(TaskRecipient.student_views).where(
        TaskRecipient.task_id == task_id, TaskRecipient.account_id == world.counselors["cs_ben"].id)) == 3


def test_opens_wait_in_redis_until_the_flush(app, world, wechat, db, live_server, redis_conn, run_jobs,
                                             instant_flush):
    task_id = dispatch(wechat, world.school_openid, STUDENT_FORM.format(deadline=future()))
    link = student_link_in_chat(wechat, world.openids["cs_ben"], task_id)[len(live_server):]
    app.test_client().get(link)
    from jobs.reach import BUFFER_KEY

    assert redis_conn.llen(BUFFER_KEY) == 1
    assert db.scalar(select(func.count(ShareOpen.id))) == 0  # not written on the request path
    run_jobs()
    assert redis_conn.llen(BUFFER_KEY) == 0
    assert db.scalar(select(func.count(ShareOpen.id))) == 1


def test_complete_reminds_once_while_no_student_opened_the_link(world, wechat, db):
    shared = make_task(db, world.school_staff, title="政策宣讲", student_text="学生请阅读")
    first = wechat.ask(world.openids["cs_ben"], f"完成 {shared.id}")
    assert "已完成" in first and "还没有学生打开" in first and "/share/" in first
    again = wechat.ask(world.openids["cs_ben"], f"完成 {shared.id}")
    assert "已完成" in again and "还没有学生打开" not in again
    plain = make_task(db, world.school_staff, title="填报数据")
    assert "还没有学生打开" not in wechat.ask(world.openids["cs_ben"], f"完成 {plain.id}")


def test_complete_does_not_remind_once_students_opened(app, world, wechat, db, live_server, run_jobs, instant_flush):
    task = make_task(db, world.school_staff, title="政策宣讲", student_text="学生请阅读")
    link = student_link_in_chat(wechat, world.openids["cs_ben"], task.id)[len(live_server):]
    app.test_client().get(link)
    run_jobs()
    reply = wechat.ask(world.openids["cs_ben"], f"完成 {task.id}")
    assert "已完成" in reply and "还没有学生打开" not in reply
