"""Menu concerns in chat: a ministry account's `发布菜单`, and the menu buttons
that stand for a chat command (answered as if the command had been typed)."""
from __future__ import annotations

import logging

from werobot.messages.messages import TextMessage

from bot.robot import get_robot
from bot.run_handlers import run_handlers
from jobs.menus import enqueue_push
from menus.data import CLICK_COMMANDS

log = logging.getLogger(__name__)


def publish_menus(message, sender, match):
    enqueue_push(message.source)
    return "菜单发布已开始：先校验菜单，再发布默认菜单和各角色菜单。完成后会发消息告诉您结果。"


def command_click(message):
    text = CLICK_COMMANDS.get(message.key or "")
    if text is None:
        return None
    as_text = TextMessage({"ToUserName": message.target, "FromUserName": message.source,
                           "CreateTime": message.time, "Content": text, "type": "text"})
    return run_handlers(get_robot(), as_text)
