"""Follow/unfollow events keep the follower record; other events are acknowledged."""
from __future__ import annotations

import logging

from models import db
from models.base import utcnow
from models.identity import Follower

from bot.context import current_sender, forget_sender
from jobs.catch_up import enqueue_catch_up
from jobs.notify_outcomes import record_receipt

from .help import help_text, visitor_text

log = logging.getLogger(__name__)


def set_following(openid: str, following: bool) -> Follower:
    session = db.session
    follower = session.get(Follower, openid)
    if follower is None:
        follower = Follower(openid=openid, following=following)
        session.add(follower)
    follower.following = following
    if following:
        follower.subscribed_at = utcnow()
    else:
        follower.unsubscribed_at = utcnow()
    session.commit()
    forget_sender()
    return follower


def register(robot) -> None:
    def on_subscribe(message):
        set_following(message.source, True)
        sender = current_sender(message.source)
        if sender.account is not None and sender.account.is_counselor:
            # A counselor following again gets the messages of open tasks it missed meanwhile.
            enqueue_catch_up(message.source)
        # Millions of students follow the 24365 account: a follower who is not bound gets its
        # greeting, which points counselors to the 辅导员 column, never binding prompts.
        if sender.identity is None:
            return visitor_text("感谢关注国家24365大学生就业服务平台！")
        return "感谢关注！\n" + help_text(sender)

    def on_unsubscribe(message):
        set_following(message.source, False)
        return None

    def on_template_finish(message):
        # TEMPLATESENDJOBFINISH: 已送达 / 拒收 / 发送失败 on the notification with this MsgID.
        record_receipt(db.session, message.source, str(message.message_id), getattr(message, "status", "") or "")
        return None

    robot.add_handler(on_subscribe, type="subscribe_event")
    robot.add_handler(on_unsubscribe, type="unsubscribe_event")
    robot.add_handler(on_template_finish, type="templatesendjobfinish_event")
