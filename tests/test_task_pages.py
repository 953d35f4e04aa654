"""The task, share and progress pages in headless Chromium, through the simulator's OAuth."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import models.clock as clockmod
from models.base import utcnow
from models.tasks import TaskRecipient
from tests.test_dispatch import build_world
from tests.test_notify import two_colleges
from tests.test_task_commands import make_task


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def login(page, simulator, openid):
    page.context.add_cookies([{"name": "sim_openid", "value": openid, "url": simulator.url}])


def recipient(db, task, account):
    db.expire_all()
    return db.scalar(select(TaskRecipient).where(TaskRecipient.task_id == task.id,
                                                 TaskRecipient.account_id == account.id))


def share_url(app, live_server, task_id):
    """An old-style student link (task only, from before links named the counselor)."""
    from handlers.share_links import old_token

    with app.app_context():
        return f"{live_server}/share/{old_token(task_id)}"


def test_counselor_completes_and_checks_in_on_the_page(world, db, page, simulator, live_server, monkeypatch):
    start = utcnow() + timedelta(days=1)
    task = make_task(db, world.school_staff, title="直播课：简历指导", type="就业创业直播课",
                     live_start=start, live_end=start + timedelta(hours=1), content="第一行\n第二行")
    monkeypatch.setattr(clockmod, "clock", lambda: start - timedelta(minutes=10))
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{task.id}")
    assert page.url.startswith(f"{live_server}/tasks/{task.id}")  # back from the OAuth round trip
    assert page.inner_text("#title") == "直播课：简历指导"
    assert "第一行\n第二行" in page.inner_text("#content")
    page.click("#complete")
    page.wait_for_selector(".flash")
    assert "已完成" in page.inner_text(".flash")
    assert page.locator("#complete").count() == 0
    page.click("#checkin")
    page.wait_for_selector(".flash")
    assert "签到成功" in page.inner_text(".flash")
    rec = recipient(db, task, world.counselors["cs_ben"])
    assert rec.completed_at is not None and rec.checked_in_at is not None
    # The list shows it as done.
    page.goto(f"{live_server}/tasks/")
    assert f"#{task.id}" in page.inner_text("#done")


def test_checkin_outside_the_window_is_refused_on_the_page(world, db, page, simulator, live_server, monkeypatch):
    start = utcnow() + timedelta(days=1)
    task = make_task(db, world.school_staff, type="就业创业直播课", live_start=start,
                     live_end=start + timedelta(hours=1))
    monkeypatch.setattr(clockmod, "clock", lambda: start - timedelta(minutes=30, seconds=1))
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{task.id}")
    page.click("#checkin")
    page.wait_for_selector(".flash")
    text = page.inner_text(".flash")
    assert "签到成功" not in text and "签到时间为" in text
    assert recipient(db, task, world.counselors["cs_ben"]).checked_in_at is None


def test_post_without_the_csrf_token_is_refused(world, db, page, simulator, live_server):
    task = make_task(db, world.school_staff)
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{task.id}")
    response = page.request.post(f"{live_server}/tasks/{task.id}/complete", form={"csrf": "forged"})
    assert response.status == 400
    assert recipient(db, task, world.counselors["cs_ben"]).completed_at is None


def test_only_own_tasks(world, db, page, simulator, live_server):
    task = make_task(db, world.college_staff, levels=("博士",))  # only cs_bo receives it
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{task.id}")
    assert "没有找到派发给您的任务" in page.inner_text("#refusal")
    assert page.locator("#complete").count() == 0


def test_staff_is_pointed_to_the_progress_page(world, db, page, simulator, live_server):
    task = make_task(db, world.school_staff)
    login(page, simulator, world.school_openid)
    page.goto(f"{live_server}/tasks/{task.id}")
    assert "任务页面供辅导员使用" in page.inner_text("#refusal")
    page.click("#refusal a")
    page.wait_for_selector("#figures")
    assert page.url.endswith(f"/progress/{task.id}")


def test_confidential_task_page_and_share_page(app, world, db, page, simulator, live_server):
    secret = make_task(db, world.school_staff, title="保密学习材料ABC", content="绝密内容XYZ", confidential=True)
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{secret.id}")
    assert page.inner_text("#confidential") == "本任务保密，仅限本人学习，无需转发学生"
    assert page.locator("#share").count() == 0
    # A student with the (signed) share address sees nothing of it.
    student = page.context.browser.new_context()
    try:
        spage = student.new_page()
        response = spage.goto(share_url(app, live_server, secret.id))
        body = spage.inner_text("body")
        assert response.status == 403
        assert "不对外公开" in body
        assert "保密学习材料ABC" not in body and "绝密内容XYZ" not in body and "ABC" not in spage.content()
        assert spage.locator("form, button").count() == 0
    finally:
        student.close()


def test_share_page_for_students_has_no_controls(app, world, db, page, simulator, live_server):
    task = make_task(db, world.school_staff, title="秋季双选会", content="请组织学生参加并统计人数",
                     student_text="时间地点见链接", link="https://example.edu.cn/f",
                     deadline=utcnow() + timedelta(days=3))
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{task.id}")
    href = page.get_attribute("#share-link", "href")
    assert href.startswith(f"{live_server}/share/")
    student = page.context.browser.new_context()
    try:
        spage = student.new_page()
        spage.goto(href)  # no OAuth, no cookie: a student's phone
        assert spage.inner_text("#title") == "秋季双选会"
        assert "时间地点见链接" in spage.inner_text("#content")
        body = spage.inner_text("body")
        # The counselor's instruction and deadline are not the students'.
        assert "请组织学生参加" not in body and "截止" not in body
        assert "示范大学" in spage.inner_text("#meta")
        assert spage.locator("form, button, #complete, #checkin").count() == 0
        # A forged token shows nothing.
        bad = spage.goto(href[:-3] + "xyz")
        assert bad.status == 404 and "秋季双选会" not in spage.inner_text("body")
        guessed = spage.goto(f"{live_server}/share/{task.id}")
        assert guessed.status == 404
    finally:
        student.close()


def test_progress_page_scope(world, db, page, simulator, live_server, wechat):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    wechat.ask(world.openids["cs_ben"], f"完成 {task.id}")
    wechat.ask(world.openids["sw_ben"], f"完成 {task.id}")
    login(page, simulator, world.school_openid)
    page.goto(f"{live_server}/progress/{task.id}")
    assert page.inner_text("#fig-done") == "2/6"
    assert page.inner_text("#fig-unreachable") == "2"
    units = page.inner_text("#units")
    assert "计算机学院" in units and "软件学院" in units
    page.context.clear_cookies()
    login(page, simulator, world.college_openid)
    page.goto(f"{live_server}/progress/{task.id}")
    assert page.inner_text("#fig-done") == "1/4"
    assert "辅导员sw_shuo" not in page.inner_text("#pending") and "辅导员cs_shuo" in page.inner_text("#pending")
    page.goto(f"{live_server}/progress/")
    assert f"#{task.id}" in page.inner_text("#tasks")
    # Counselors are refused.
    page.context.clear_cookies()
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/progress/{task.id}")
    assert "进度页面供各级工作人员使用" in page.inner_text("#refusal")
