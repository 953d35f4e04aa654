"""Whether a WeChat user follows the service account, asked of WeChat (user/info)."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from models.identity import Follower

from .wechat_api import WeChatError, get_client

log = logging.getLogger(__name__)


def refresh_following(session: Session, openid: str) -> bool:
    """Ask WeChat (user/info) whether `openid` follows; the stored flag when WeChat cannot say."""
    follower = session.get(Follower, openid)
    try:
        info = get_client().user_info(openid)
    except WeChatError as exc:
        log.info("user/info unavailable (%s); using the stored follow flag", exc.errcode)
        return follower is None or follower.following
    following = bool(info.get("subscribe"))
    if follower is None:
        follower = Follower(openid=openid, following=following)
        session.add(follower)
    follower.following = following
    if following:
        follower.tags = ",".join(str(t) for t in info.get("tagid_list") or [])
    session.commit()
    return following
