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
    # Once the opens are written, the counselor's page shows its own count.
    from jobs.reach import flush_opens

    assert flush_opens() == 1
    page.reload()
    assert "已有 1 名学生查看" in page.inner_text("#student-views")


def test_task_without_student_text_says_so_and_configures_no_share(app, world, db, page, simulator, live_server):
    task = make_task(db, world.school_staff, title="填报就业数据")
    login(page, simulator, world.openids["cs_ben"])
    page.goto(f"{live_server}/tasks/{task.id}")
    assert "无需转发学生" in page.inner_text("#share-none")
    assert page.locator("#share, #share-link").count() == 0
    assert simulator.calls("/cgi-bin/ticket/getticket") == []


def test_simulator_shows_the_share_card_and_opens_it_as_a_student(app, world, db, page, simulator, live_server,
                                                                   run_jobs, artifacts_dir):
    task = make_task(db, world.school_staff, title="春季招聘会", type="招聘会", content="请通知学生",
                     student_text="3月15日体育馆，带简历。", link="https://fair.example.edu.cn/")
    from jobs.dispatch import start_dispatch_fanout

    with app.app_context():
        start_dispatch_fanout(task.id)
    run_jobs()
    openid = world.openids["cs_ben"]
    login(page, simulator, openid)
    page.goto(simulator.url + "/")
    page.wait_for_selector(f"#user-select option[value={openid!r}]", state="attached")
    page.select_option("#user-select", openid)
    # The counselor taps the template message: its task page opens and sets the share card.
    with page.expect_popup() as popup:
        page.click("#chat-log .msg.template a.tpl-link")
    counselor_tab = popup.value
    counselor_tab.wait_for_selector("#share")
    card = page.wait_for_selector("#chat-log .share-card")
    assert "春季招聘会" in card.inner_text() and "3月15日体育馆，带简历。" in card.inner_text()
    assert "签名未通过" not in card.inner_text()
    assert page.get_attribute("#chat-log .share-card img", "src").endswith("/static/share-icon.png")
    with page.expect_popup() as popup:
        page.click("#chat-log .share-card .share-open")
    phone = popup.value
    phone.wait_for_selector("#card-title")
    assert phone.inner_text("#card-title") == "春季招聘会"
    frame = phone.frame_locator("#student-page")
    assert frame.locator("#title").inner_text() == "春季招聘会"
    assert "3月15日体育馆" in frame.locator("#content").inner_text()
    assert frame.locator("form, button").count() == 0
    phone.screenshot(path=f"{artifacts_dir}/simulator-student-phone.png")
    assert simulator.calls("/cgi-bin/ticket/getticket")
    # The student's frame kept its counting cookie to itself: the counselor's browser has none.
    # The student's frame kept its counting cookie to itself: opened in the counselor's own
    # browser, the link finds no cookie there and is given a new one.
    response = counselor_tab.goto(phone.get_attribute("#card", "data-link"))
    assert "fdy_sb=" in response.all_headers().get("set-cookie", "")
