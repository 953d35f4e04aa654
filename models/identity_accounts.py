"""Identity accounts behind platform accounts (SPEC 2): create or link by phone.

When a platform account is created for phone A, the identity with phone A is
linked (and told by SMS to keep using its password), or a new identity is made
(username = phone A, random initial password) and its credentials are sent.
The plain password only ever exists in the SMS text.
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from sqlalchemy import select

from .accounts import Account
from .identity import Identity, hash_password
from .vocab import SMS_SIGNATURE

EXISTING_TEXT = "温馨提示：您的账号已存在，请使用原账号密码进行登录（账号：{username}）"
NEW_TEXT = (
    SMS_SIGNATURE + "您的{level}账号已开通。账号：{username}，初始密码：{password}。"
    "请关注“国家24365大学生就业服务平台”服务号，点击底部菜单“辅导员”→“登录绑定”登录，并尽快修改密码。"
)

# Letters and digits that cannot be misread on a phone screen (no 0/O, 1/l/I).
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
PASSWORD_LENGTH = 10


@dataclass
class IdentityLink:
    identity: Identity
    created: bool
    sms_text: str
    secret: str | None = None   # the initial password inside sms_text (starred out in the outbox)


def random_password(length: int = PASSWORD_LENGTH) -> str:
    while True:
        pw = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        # At least one letter and one digit, as password rules usually demand.
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


def identity_by_phone(session, phone: str) -> Identity | None:
    return session.scalar(select(Identity).where(Identity.phone == phone))


def _free_username(session, phone: str) -> str:
    """The phone, unless some identity already uses it as its username (then phone_2, ...)."""
    candidate, n = phone, 1
    while session.scalar(select(Identity.id).where(Identity.username == candidate)) is not None:
        n += 1
        candidate = f"{phone}_{n}"
    return candidate


def link_identity(session, account: Account) -> IdentityLink:
    """Link `account` to the identity with its phone, creating one if needed. Flushes, no commit."""
    identity = identity_by_phone(session, account.phone)
    if identity is not None:
        account.identity_id = identity.id
        account.identity = identity
        if not identity.name:
            identity.name = account.name
        return IdentityLink(identity, False, EXISTING_TEXT.format(username=identity.username))
    password = random_password()
    identity = Identity(username=_free_username(session, account.phone), phone=account.phone, name=account.name,
                        password_hash=hash_password(password), must_change_password=True)
    session.add(identity)
    session.flush()
    account.identity_id = identity.id
    account.identity = identity
    text = NEW_TEXT.format(level=account.level_name, username=identity.username, password=password)
    return IdentityLink(identity, True, text, secret=password)
