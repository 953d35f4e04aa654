"""The dispatch page for staff (SPEC 8) in headless Chromium, and one-line 派发 in chat: the same
parser, rules, recipient count and preview as the chat form."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models.account_checks import default_cohort
from models.tasks import Task, TaskRecipient
from tests.test_dispatch import CONFIRM, RECIPIENTS, build_world
from tests.test_task_pages import login


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def recipients_of(db, task_id):
    db.rollback()
    return set(db.scalars(select(TaskRecipient.account_id).where(TaskRecipient.task_id == task_id)))


def test_one_line_dispatch_is_the_same_form(world, wechat, db):
    preview = wechat.ask(world.school_openid, "派发 标题：秋季双选会 类型：招聘会；届别：2026 层次：本科,硕士 "
                                              "范围：计算机学院,软件学院 内容：请转发给学生 截止：周五（内容里的字）")
    assert "接收辅导员 6 名，其中 2 名未触达" in preview, preview
    confirmed = wechat.ask(world.school_openid, "确认")
    task_id = int(CONFIRM.search(confirmed).group(1))
    task = db.get(Task, task_id)
    assert task.title == "秋季双选会" and task.content == "请转发给学生 截止：周五（内容里的字）"
    assert recipients_of(db, task_id) == {world.counselors[k].id for k in RECIPIENTS}
    # Fields typed without a separator are still the user's fields: no error blames one of them.
    glued = wechat.ask(world.school_openid, "派发 标题：双选会类型：宣讲届别：2026内容：x")
    assert "类型：「宣讲」不可用" in glued and "类型：必填" not in glued and "届别：必填" not in glued
    assert "标题：" not in glued.split("需要修改")[1]


def test_bare_dispatch_points_to_the_page(world, wechat, live_server):
    reply = wechat.ask(world.school_openid, "派发")
    assert f"{live_server}/tasks/new" in reply and "一行发送" in reply


def test_dispatch_page_previews_and_confirms(world, db, page, simulator, live_server):
    login(page, simulator, world.school_openid)
    page.goto(f"{live_server}/tasks/new")
    page.fill("#title", "就业政策学习")
    page.select_option("#type", "政策")
    assert page.input_value("#cohort") == str(default_cohort())  # the graduating cohort by default
    page.fill("#cohort", "2026")
    page.check("#levels input[value='本科']")
    page.check("#narrowing input[value='计算机学院']")
    page.fill("#content", "第一行\n请学习：附件")
    page.click("#preview-button")
    assert page.locator("#errors").count() == 0, page.inner_text("#errors")
    text = page.inner_text("#preview")
    # 计算机学院, 本科, 2026: cs_ben, cs_unbound, cs_unfollowed (the last two 未触达).
    assert "接收辅导员 3 名，其中 2 名未触达" in text and "范围：计算机学院" in text, text
    csrf = page.get_attribute("#preview input[name=csrf]", "value")
    page.click("#confirm")
    confirmation = page.inner_text("#confirmation")
    match = re.search(r"已派发任务 #(\d+)，共 3 名辅导员，其中 2 名未触达", confirmation)
    assert match, confirmation
    task_id = int(match.group(1))
    assert recipients_of(db, task_id) == {world.counselors[k].id for k in ("cs_ben", "cs_unbound", "cs_unfollowed")}
    assert db.get(Task, task_id).content == "第一行\n请学习：附件"
    assert page.get_attribute("#progress", "href").endswith(f"/progress/{task_id}")
    # The draft was used: confirming again (a double tap, the back button) creates nothing.
    again = page.request.post(f"{live_server}/tasks/new/confirm", form={"csrf": csrf})
    assert again.status == 409 and "没有待确认的派发" in again.text()
    db.rollback()
    assert db.scalar(select(Task.id).order_by(Task.id.desc()).limit(1)) == task_id


def test_dispatch_page_lists_every_error_and_keeps_the_input(world, page, simulator, live_server):
    login(page, simulator, world.college_openid)
    page.goto(f"{live_server}/tasks/new")
    assert page.locator("#narrowing").count() == 0  # a college dispatches to its own counselors
    page.fill("#title", "直播课")
    page.select_option("#type", "直播课")
    page.fill("#cohort", "二六")
    page.fill("#link", "example.com")
    page.fill("#content", "内容")
    page.click("#preview-button")
    errors = page.inner_text("#errors")
    for needle in ("届别：", "开始：直播课必须填写开始时间", "结束：直播课必须填写结束时间", "链接："):
        assert needle in errors, errors
    assert "标题" not in errors and page.input_value("#title") == "直播课" and page.input_value("#link") == "example.com"


def test_dispatch_page_refuses_counselors_and_strangers(world, page, simulator, live_server):
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/new")
    assert "派发页面供各级工作人员使用" in page.inner_text("#refusal")
    status = page.request.post(f"{live_server}/tasks/new", form={"title": "x"}).status
    assert status in (400, 403)
