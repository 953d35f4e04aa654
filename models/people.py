"""Naming a person in a staff command (SPEC 5): a list number, a unique name, or a phone.

`账号` numbers the accounts directly under the sender (models.account_rules.accounts_under, in
that order); the numbers of the latest list are kept by the caller (handlers/accounts.py keeps
them in Redis for a day) and handed in as `listed_ids`. A name is looked up among the accounts
the sender manages only, so nobody learns of a name outside its unit; an ambiguous name comes back
with its candidates and their numbers in the sender's current list.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select

from .account_changes import accounts_under, managed_target
from .text import suggest
from .accounts import Account
from .privacy import is_mobile
from .scope import MANAGED_LEVELS, in_scope_clause
from .vocab import COUNSELOR

# A list number as typed: 3, #3, 第3个, 3号.
_NUMBER = re.compile(r"(?:#|第)?(\d{1,6})(?:个|号)?")
MAX_TOKEN = 40
MAX_CANDIDATES = 10


@dataclass
class Pick:
    """The account a command names, or why none: `reasons`; `listing` = a fresh numbering to keep."""

    account: Account | None = None
    reasons: list[str] = field(default_factory=list)
    listing: list[int] | None = None


def managed_clause(actor: Account):
    """The active accounts the actor creates, changes and deletes (the next level down, in its unit)."""
    return (in_scope_clause(actor, Account), Account.level.in_(MANAGED_LEVELS.get(actor.level, ())),
            Account.active.is_(True))


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))[:MAX_TOKEN]


def listing_ids(session, actor: Account) -> list[int]:
    """The ids of the actor's `账号` list, in its order (the numbers are positions + 1)."""
    return [a.id for a in accounts_under(session, actor)]


def candidate_line(number: int | None, account: Account) -> str:
    """One candidate, with what tells two namesakes apart (its unit, 层次, and the full phone:
    the sender manages it)."""
    text = f"{number}. " if number else ""
    text += f"{account.name} {account.phone} {account.unit.name}"
    if account.level == COUNSELOR:
        text += f" {account.study_level}"
    return text


def pick(session, actor: Account, token: str, listed_ids: list[int] | None, verb: str = "修改") -> Pick:
    """The managed account `token` names, or every reason it names none."""
    key = _norm(token)
    if is_mobile(key):
        target, reasons = managed_target(session, actor, key, verb)
        return Pick(account=target, reasons=reasons)
    if not MANAGED_LEVELS.get(actor.level):
        return Pick(reasons=[f"{actor.level_name}账号不管理其他账号，不能{verb}"])
    number = _NUMBER.fullmatch(key)
    if number:
        return _by_number(session, actor, int(number.group(1)), listed_ids, verb)
    if not key or key.isdigit():
        return Pick(reasons=[f"“{key}”不是手机号、编号或姓名：请写11位手机号、「账号」列表中的编号或姓名"])
    return _by_name(session, actor, key, verb)


def _by_number(session, actor: Account, number: int, listed_ids, verb: str) -> Pick:
    if not listed_ids:
        return Pick(reasons=[f"编号 {number} 无从查起：请先回复「账号」查看带编号的列表（编号24小时内有效），"
                             "或直接写姓名、手机号"])
    if not 1 <= number <= len(listed_ids):
        return Pick(reasons=[f"编号 {number} 不在您最近的「账号」列表中（共 {len(listed_ids)} 个），请回复「账号」重新查看"])
    target = session.scalar(select(Account).where(Account.id == listed_ids[number - 1], *managed_clause(actor)))
    if target is None:
        return Pick(reasons=[f"编号 {number} 的账号已删除或已不在您的管理范围内，请回复「账号」查看最新列表"])
    return Pick(account=target)


def _by_name(session, actor: Account, name: str, verb: str) -> Pick:
    hits = list(session.scalars(select(Account).where(Account.name == name, *managed_clause(actor))
                                .order_by(Account.level, Account.unit_id, Account.id)))
    if len(hits) == 1:
        return Pick(account=hits[0])
    if hits:
        listing = listing_ids(session, actor)
        numbers = {aid: i for i, aid in enumerate(listing, 1)}
        lines = [candidate_line(numbers.get(a.id), a) for a in hits[:MAX_CANDIDATES]]
        more = f"\n……共 {len(hits)} 个" if len(hits) > MAX_CANDIDATES else ""
        return Pick(listing=listing, reasons=[
            f"您管理的账号中有 {len(hits)} 个名为“{name}”，请改用编号或手机号指定要{verb}的账号：\n"
            + "\n".join(lines) + more])
    names = session.scalars(select(Account.name).where(*managed_clause(actor))).all()
    near = suggest(name, names)
    text = f"账号不存在：您管理的账号中没有名为“{name}”的"
    if near:
        text += "，相近的有：" + "、".join(near)
    return Pick(reasons=[text + "。回复「账号」查看您管理的账号及编号"])
