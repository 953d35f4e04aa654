"""In Chromium: the counselor's task page gives the JS-SDK the student link as its share data (a stub
`wx` stands in for WeChat's script), and that link opens for a student with no cookies."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.jssdk import signature
from models.base import utcnow
from tests.test_dispatch import build_world
from tests.test_task_commands import make_task
from tests.test_task_pages import login

STUB_WX = """
window.wx = {
  config: function (cfg) { window.__wxConfig = cfg; },
  ready: function (fn) { fn(); },
  error: function () {},
  updateAppMessageShareData: function (data) { window.__appShare = data; },
  updateTimelineShareData: function (data) { window.__timelineShare = data; }
};
"""


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def test_task_page_shares_the_student_link_and_a_student_opens_it(app, world, db, page, simulator, live_server):
    start = utcnow() + timedelta(days=2)
    task = make_task(db, world.school_staff, title="就业直播课：面试技巧", type="就业创业直播课",
                     live_start=start, live_end=start + timedelta(hours=1), deadline=start + timedelta(days=1),
                     content="辅导员需签到并组织学生观看", student_text="面试技巧直播课，欢迎同学们观看。\n第二行",
                     link="https://live.example.edu.cn/room/1")
    page.route(app.config["WECHAT_JSSDK_URL"],
               lambda route: route.fulfill(status=200, content_type="application/javascript", body=STUB_WX))
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{task.id}")
    page.wait_for_function("window.__appShare && window.__timelineShare")
    share = page.evaluate("window.__appShare")
    timeline = page.evaluate("window.__timelineShare")
    cfg = page.evaluate("window.__wxConfig")
    link = page.get_attribute("#share-link", "href")
    assert share["link"] == link == timeline["link"]
    assert link.startswith(f"{live_server}/share/")
    assert share["title"] == timeline["title"] == "就业直播课：面试技巧"
    assert share["desc"] == "面试技巧直播课，欢迎同学们观看。"
    assert page.request.get(share["imgUrl"]).headers["content-type"] == "image/png"
    assert "updateAppMessageShareData" in cfg["jsApiList"]
    ticket = simulator.calls("/cgi-bin/ticket/getticket")[-1]["response"]["ticket"]
    assert cfg["signature"] == signature(ticket, cfg["nonceStr"], cfg["timestamp"], page.url.split("#")[0])
    assert "发送给朋友" in page.inner_text("#share")

    student = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    try:
        assert student.cookies() == []
        spage = student.new_page()
        response = spage.goto(share["link"])
        assert response.status == 200
        assert spage.inner_text("#title") == "就业直播课：面试技巧"
        assert "面试技巧直播课，欢迎同学们观看。\n第二行" in spage.inner_text("#content")
        assert "直播时间" in spage.inner_text("#times")
        assert spage.get_attribute("#link", "href") == "https://live.example.edu.cn/room/1"
        body = spage.inner_text("body")
        assert "辅导员需签到" not in body and "截止" not in body
        assert spage.locator("form, button, input").count() == 0
        assert [c["name"] for c in student.cookies()] == ["fdy_sb"]
    finally:
        student.close()


def test_task_without_student_text_says_so_and_configures_no_share(app, world, db, page, simulator, live_server):
    task = make_task(db, world.school_staff, title="填报就业数据")
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{task.id}")
    assert "无需转发学生" in page.inner_text("#share-none")
    assert page.locator("#share, #share-link").count() == 0
    assert simulator.calls("/cgi-bin/ticket/getticket") == []
