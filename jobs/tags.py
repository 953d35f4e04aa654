"""Role tags on WeChat users (SPEC 2, 7): a bound counselor or staff user wears
its role's tag so it sees its own conditional menu; anyone else wears none.

The job reads the user's role at run time, so a bind followed quickly by an
unbind (or the reverse) ends right whatever order the jobs run in.
WeChat failures are retried (rq Retry); a user WeChat does not know is skipped.
"""
from __future__ import annotations

import logging

from rq import Retry

import jobs
from bot.role_tags import ensure_role_tags, forget_role_tags, recent_role_tags
from bot.store import get_redis
from bot.wechat_api import WeChatError, get_client
from models import db
from models.identity import Follower
from models.resolution import UNBOUND, resolve

log = logging.getLogger(__name__)

RETRY = Retry(max=4, interval=[10, 60, 300, 1800])
# invalid openid, require subscribe: nothing to tag (the user unfollowed, which drops tags anyway)
SKIP_ERRCODES = {40003, 43004, 46004}
INVALID_TAG = 45159


@jobs.job
def sync_role_tag(openid: str) -> str:
    session = db.session
    sender = resolve(session, openid)
    if not sender.following:
        return "not following"
    role = sender.role if sender.role in ("counselor", "staff") else None
    client = get_client()
    try:
        tags = ensure_role_tags(client)
        for tag_role, tag_id in tags.items():
            if tag_role == role:
                client.tag_users(tag_id, [openid])
            else:
                client.untag_users(tag_id, [openid])
    except WeChatError as exc:
        if exc.errcode in SKIP_ERRCODES:
            log.info("tag update skipped: WeChat errcode %s", exc.errcode)
            return f"skipped ({exc.errcode})"
        if exc.errcode == INVALID_TAG:
            forget_role_tags()  # deleted on WeChat's side: recreate on the retry
        raise  # rq retries
    follower = session.get(Follower, openid)
    if follower is None:
        follower = Follower(openid=openid, following=True)
        session.add(follower)
    follower.tags = str(tags[role]) if role else ""
    session.commit()
    return role or "untagged"


def enqueue_sync(openid: str):
    return jobs.enqueue(sync_role_tag, openid, queue_name=jobs.DEFAULT, retry=RETRY)


RECHECK_KEY = "fdy:tags:recheck:"
RECHECK_TTL = 600


def tag_out_of_date(sender) -> bool:
    """Does this sender wear another role tag than its role calls for?

    Catches role changes made elsewhere (an account created for an already
    bound identity, an account deleted) the next time the user writes.
    """
    role = sender.role if sender.role in ("counselor", "staff") else None
    known = recent_role_tags()
    if known is None:  # tags never set up here: only a bound user with a role needs the job
        return role is not None
    worn = set(sender.follower_tags.split(",")) & {str(t) for t in known.values()}
    wanted = {str(known[role])} if role else set()
    return worn != wanted


def resync_if_needed(sender) -> None:
    """Queue a tag update for a sender whose tag is out of date, at most every 10 minutes."""
    try:
        if sender.status == UNBOUND and not sender.follower_tags:
            return
        if tag_out_of_date(sender) and get_redis().set(RECHECK_KEY + sender.openid, 1, nx=True, ex=RECHECK_TTL):
            enqueue_sync(sender.openid)
    except Exception:  # noqa: BLE001 - never in the way of the reply
        log.warning("tag recheck skipped", exc_info=True)
