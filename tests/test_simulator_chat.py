"""The simulator's chat page in headless Chromium, talking to the real app: it reads like WeChat
(menus with the button's name, several lines of input, links that open a phone-sized page,
template messages with their template's title and field names)."""
from __future__ import annotations

import pytest

from jobs.notify_templates import KIND_TASK, template_data
from tests.test_task_commands import make_task


def _new_user(page, simulator):
    page.goto(simulator.url + "/")
    page.click("#new-user")
    page.wait_for_function("document.querySelector('#user-select').value !== ''")
    page.wait_for_selector("#chat-log .msg.reply")  # the subscribe greeting
    return page.eval_on_selector("#user-select", "e => e.value")


def _replies(page) -> int:
    return page.eval_on_selector_all("#chat-log .msg.reply", "els => els.length")


def _ask(page, text: str) -> str:
    before = _replies(page)
    page.fill("#message-input", text)
    page.click("#send")
    page.wait_for_function(f"document.querySelectorAll('#chat-log .msg.reply').length > {before}")
    return page.locator("#chat-log .msg.reply").last.inner_text()


def test_chat_page_sends_help_and_shows_reply(page, simulator, live_server, artifacts_dir):
    _new_user(page, simulator)
    assert "绑定" in _ask(page, "帮助")
    page.screenshot(path=f"{artifacts_dir}/simulator-chat-help.png")


@pytest.fixture
def menus_pushed(app, simulator):
    from jobs.menus import push_menus_job

    with app.app_context():
        assert push_menus_job()["ok"]


def test_menu_click_shows_the_buttons_name_and_links_open_a_phone_page(page, simulator, live_server, menus_pushed,
                                                                       artifacts_dir):
    _new_user(page, simulator)
    page.click("text=≡ 辅导员")
    before = _replies(page)
    page.click(".menu-sub[data-key='DIAGNOSE']")
    page.wait_for_function(f"document.querySelectorAll('#chat-log .msg.reply').length > {before}")
    assert page.locator("#chat-log .msg.out.event").last.inner_text() == "☰ 诊断"
    # A link inside a reply opens WeChat's page in a phone-sized window.
    _ask(page, "帮助")
    link = page.locator("#chat-log .msg.reply a.link").last
    assert "/auth/login" in link.get_attribute("href")
    with page.expect_popup() as popup_info:
        link.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.evaluate("window.innerWidth") <= 420
    page.screenshot(path=f"{artifacts_dir}/simulator-chat-menu.png")


def test_several_lines_with_shift_enter(page, simulator, live_server):
    openid = _new_user(page, simulator)
    box = page.locator("#message-input")
    box.click()
    box.type("派发")
    box.press("Shift+Enter")
    box.type("标题：双选会")
    assert box.input_value() == "派发\n标题：双选会"  # Shift+Enter did not send
    before = _replies(page)
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#chat-log .msg.reply').length > {before}")
    sent = [m["text"] for m in simulator.state.list_messages(openid) if m["kind"] == "out" and m.get("text")]
    assert sent[-1] == "派发\n标题：双选会"


def test_template_messages_show_the_templates_title_and_field_names(page, simulator, live_server, app, factory,
                                                                    artifacts_dir):
    openid = _new_user(page, simulator)
    staff = factory.staff("school", factory.school(name="东湖大学"))
    factory.commit()
    with app.app_context():
        from bot.wechat_api import get_client
        from models import db

        task = make_task(db.session, db.session.merge(staff), title="秋季双选会")
        get_client().send_template(openid, app.config["TEMPLATE_TASK_ID"], template_data(task, KIND_TASK, "东湖大学"),
                                   url=f"{app.config['PUBLIC_BASE_URL']}/tasks/{task.id}")
    card = page.wait_for_selector("#chat-log .msg.template")
    text = card.inner_text()
    assert "任务派发通知" in text and "任务名称：秋季双选会" in text and f"任务编号：T{task.id}" in text
    assert "thing1" not in text and "character_string5" not in text
    page.screenshot(path=f"{artifacts_dir}/simulator-chat-template.png")
