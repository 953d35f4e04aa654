"""Resolution of a WeChat openid to a platform account: the phone-A rule (SPEC 2).

openid -> bound identity -> its phone -> the active account with that phone.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .accounts import Account
from .identity import Follower, Identity

UNBOUND = "unbound"          # no identity is bound to this openid
NO_ACCOUNT = "no_account"    # bound, but no active account has the identity's phone
OK = "ok"


@dataclass
class Sender:
    openid: str
    follower: Follower | None
    identity: Identity | None
    account: Account | None

    @property
    def status(self) -> str:
        if self.identity is None:
            return UNBOUND
        if self.account is None:
            return NO_ACCOUNT
        return OK

    @property
    def following(self) -> bool:
        # No follower row yet means we never saw an unsubscribe: WeChat only
        # delivers messages from users who follow the account.
        return self.follower is None or self.follower.following

    @property
    def follower_tags(self) -> str:
        return (self.follower.tags or "") if self.follower else ""

    @property
    def account_id(self) -> int | None:
        return self.account.id if self.account is not None else None

    @property
    def account_level(self) -> str | None:
        return self.account.level if self.account is not None else None

    @property
    def role(self) -> str:
        """'counselor', 'staff' or 'unbound' (also for a bound user without account)."""
        if self.account is None:
            return "unbound"
        return "counselor" if self.account.is_counselor else "staff"


def active_account_by_phone(session: Session, phone: str) -> Account | None:
    return session.scalar(select(Account).where(Account.active_phone == phone))


# One round trip for a bound sender (the webhook resolves every message's sender): the identity,
# the active account with its phone and the follower row. Built once: composing the statement
# cost more CPU than running it. The account's majors and cohorts stay lazy (only 进展 and the
# pages read them), which measured cheaper than eager joins for the other commands.
_RESOLVE = (
    select(Identity, Account, Follower)
    .outerjoin(Account, Account.active_phone == Identity.phone)
    .outerjoin(Follower, Follower.openid == Identity.openid)
    .where(Identity.openid == bindparam("openid"))
)


def resolve(session: Session, openid: str) -> Sender:
    row = session.execute(_RESOLVE, {"openid": openid}).first()
    if row is None:  # unbound: only the follower row can be known
        return Sender(openid=openid, follower=session.get(Follower, openid), identity=None, account=None)
    identity, account, follower = row
    return Sender(openid=openid, follower=follower, identity=identity, account=account)
