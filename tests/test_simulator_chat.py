"""The simulator's chat page in headless Chromium, talking to the real app."""
from __future__ import annotations


def test_chat_page_sends_help_and_shows_reply(page, simulator, live_server, artifacts_dir):
    page.goto(simulator.url + "/")
    page.click("#new-user")
    page.wait_for_function("document.querySelector('#user-select').value !== ''")
    page.fill("#message-input", "帮助")
    page.click("#send")
    reply = page.wait_for_selector("#chat-log .msg.reply")
    assert "绑定" in reply.inner_text()
    page.screenshot(path=f"{artifacts_dir}/simulator-chat-help.png")
