"""Run WeRoBot's handlers for one message, without WeRoBot's bare `except:`.

WeRoBot's get_reply logs and swallows any handler error and answers nothing;
here the error is logged with its traceback, the transaction rolled back and
the user gets a short apology, while WeChat still gets a well-formed answer.
"""
from __future__ import annotations

import logging

from werobot.replies import TextReply, WeChatReply, process_function_reply

from models import db

log = logging.getLogger(__name__)

APOLOGY = "抱歉，系统暂时出了点问题，请稍后再试。如多次出现，请联系上级管理员。"
# Events no person is waiting on: never answer them with text.
SILENT_EVENTS = {"unsubscribe_event", "templatesendjobfinish_event", "view_event", "location_event"}


# WeChat refuses a passive text reply over 2048 bytes (the user would see nothing at all), and
# a phone screen wants far less. Handlers keep their replies short; this is the net for the
# one that echoes a huge input back.
MAX_REPLY_BYTES = 2000
MAX_REPLY_CHARS = 600
CUT_NOTE = "……（内容过长，已截断）"


def fit_text(content: str) -> str:
    if len(content) <= MAX_REPLY_CHARS and len(content.encode("utf-8")) <= MAX_REPLY_BYTES:
        return content
    cut = content[:MAX_REPLY_CHARS - len(CUT_NOTE)]
    budget = MAX_REPLY_BYTES - len(CUT_NOTE.encode("utf-8"))
    cut = cut.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return cut + CUT_NOTE


def safe_text(content: str) -> str:
    """A handler's reply text, fitted and made safe inside WeRoBot's CDATA section."""
    # "]]>" inside a CDATA section would end it early and break the XML.
    return fit_text(content).replace("]]>", "]]]]><![CDATA[>")


def handler_type(robot, message) -> str:
    """WeRoBot keeps an unknown MsgType as the message's type; route it to 'unknown'."""
    if message.type in robot.message_types:
        return message.type
    return "unknown_event" if message.type.endswith("_event") else "unknown"


def run_handlers(robot, message) -> WeChatReply | None:
    """The first non-empty reply of the handlers registered for this message type."""
    try:
        for handler, argc in robot.get_handlers(handler_type(robot, message)):
            reply = handler(*[message, None][:argc])
            if reply:
                # Handlers answer with text; a reply object (a menu click answered as its
                # command) was made safe by the run_handlers call that built it.
                if isinstance(reply, str):
                    reply = safe_text(reply)
                return process_function_reply(reply, message=message)
        return None
    except Exception:
        log.exception("handler failed for %s from %s", message.type, mask_openid(getattr(message, "source", "")))
        try:
            db.session.rollback()
        except Exception:  # the session itself may be what broke
            log.exception("rollback after handler failure failed")
        if message.type in SILENT_EVENTS:
            return None
        return TextReply(message=message, content=APOLOGY)


def mask_openid(openid: str) -> str:
    return f"{openid[:6]}…" if openid else "?"
