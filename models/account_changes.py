"""Changing accounts that exist (SPEC 1): deletion, a counselor's 届别, the 届别 rollover, and
the list of accounts under a staff user. Same contract as models/account_rules.py: every reason
at once, the change and its audit row in one transaction, committed before returning."""
from __future__ import annotations

import logging

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.orm import selectinload

from . import base as _base
from .account_checks import (CREATOR_TEXT, Result, _role_tag_openids, actor_label, audit, describe, parse_cohorts,
                             refused)
from .accounts import Account, AccountCohort, AuditLog
from .follow_ups import FollowUps
from .privacy import is_mobile, mask_phone
from .scope import MANAGED_LEVELS, in_scope_clause, row_in_scope
from .task_rules import leave_open_tasks
from .vocab import COLLEGE, COUNSELOR, MINISTRY

log = logging.getLogger(__name__)


def managed_target(session, actor: Account, phone, verb: str) -> tuple[Account | None, list[str]]:
    """The active account with `phone` (or the account itself) if `actor` manages it; else the reasons."""
    if isinstance(phone, Account):
        phone = phone.active_phone or phone.phone
    if not is_mobile(phone):
        return None, [f"手机号“{mask_phone(phone)}”不是11位大陆手机号"]
    target = session.scalar(select(Account).where(Account.active_phone == phone))
    if target is None:
        return None, [f"账号不存在：没有手机号为 {mask_phone(phone)} 的有效账号"]
    if target.id == actor.id:
        return None, [f"不能{verb}自己的账号，请联系您的上级"]
    if (actor.level == COLLEGE and actor.levels and target.college_id == actor.unit_id
            and target.level == COUNSELOR and target.study_level not in actor.study_levels):
        return None, [f"该辅导员的学历层次（{target.study_level}）不在您管理的层次（{'、'.join(actor.study_levels)}）内，不能{verb}"]
    if not actor.active or actor.level == COUNSELOR or not (actor.level == MINISTRY or row_in_scope(actor, target)):
        return None, [f"手机号 {mask_phone(phone)} 的账号不在您管理的单位（{actor.unit.full_name}）内，不能{verb}"]
    if target.level not in MANAGED_LEVELS[actor.level]:
        return None, [f"该账号是{target.level_name}账号：{CREATOR_TEXT[target.level]}"]
    return target, []


def delete_account(session, actor: Account, phone) -> Result:
    """Soft-delete the account with `phone` (or the Account named by models.people.pick)."""
    target, reasons = managed_target(session, actor, phone, "删除")
    if reasons:
        return refused(*reasons)
    line = describe(target)
    target.deactivate()
    left = leave_open_tasks(session, target.id) if target.level == COUNSELOR else 0
    audit(session, actor, "delete", target, line)
    session.commit()
    log.info("account %s deleted by %s", target.id, actor.id)
    note = f"\n已从 {left} 个进行中任务的进度、名单和提醒中移除（已完成记录保留）。" if left else ""
    return Result(True, message=f"已删除{line}。{note}\n该手机号现在可以重新开通账号。", account=target,
                  follow_ups=FollowUps(tag_openids=_role_tag_openids(target.identity)))


def change_cohorts(session, actor: Account, phone, cohorts) -> Result:
    years, reasons = parse_cohorts(cohorts)
    target, target_reasons = managed_target(session, actor, phone, "修改")
    reasons = target_reasons + reasons
    if target is not None and target.level != COUNSELOR:
        reasons.append(f"该账号是{target.level_name}账号，只有辅导员账号有负责届别")
    if reasons:
        return refused(*reasons)
    before = target.cohorts
    if before == years:
        return refused(f"{target.name}（{mask_phone(target.phone)}）的负责届别已是 {'、'.join(map(str, years))}，无需修改")
    target.set_cohorts(years)
    target.updated_at = _base.utcnow()
    audit(session, actor, "change_cohorts", target,
          f"{describe(target)}；届别 {','.join(map(str, before))} -> {','.join(map(str, years))}")
    session.commit()
    return Result(True, account=target, message=(
        f"已将辅导员 {target.name}（{mask_phone(target.phone)}）的负责届别由 {'、'.join(map(str, before)) or '无'}"
        f" 改为 {'、'.join(map(str, years))}。"))


def counselors_in_scope(actor: Account):
    return and_(in_scope_clause(actor, Account), Account.level == COUNSELOR, Account.active.is_(True))


def roll_over(session, actor: Account, cohort) -> Result:
    """Add `cohort` to every active counselor the actor manages (its own unit only)."""
    years, reasons = parse_cohorts(str(cohort))
    if actor.level == COUNSELOR or not actor.active:
        reasons.insert(0, "届别滚动仅限各级工作人员使用")
    if reasons:
        return refused(*reasons)
    year = years[0]
    scope = counselors_in_scope(actor)
    total = session.scalar(select(func.count()).select_from(Account).where(scope))
    if not total:
        return refused(f"您管理的单位（{actor.unit.full_name}）内还没有辅导员账号，未做任何修改")
    has_year = exists().where(AccountCohort.account_id == Account.id, AccountCohort.cohort == year)
    ids = session.scalars(select(Account.id).where(scope, ~has_year).order_by(Account.id)).all()
    label, now = actor_label(actor)[:100], _base.utcnow()
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        session.execute(insert(AccountCohort), [{"account_id": i, "cohort": year} for i in chunk])
        session.execute(update(Account).where(Account.id.in_(chunk)).values(updated_at=now))
        session.execute(insert(AuditLog), [
            {"actor_account_id": actor.id, "actor": label, "action": "cohort_rollover", "target_type": "account",
             "target_id": i, "detail": f"添加负责届别 {year}", "created_at": now} for i in chunk])
    session.commit()
    session.expire_all()  # loaded counselors' cohort lists changed under the ORM
    message = f"届别滚动完成：已为{actor.unit.full_name}的 {len(ids)} 名辅导员添加 {year} 届负责届别"
    if total - len(ids):
        message += f"；另有 {total - len(ids)} 名已负责 {year} 届，未变动"
    return Result(True, message=message + f"（共 {total} 名辅导员）。原有届别保留，如需去掉请用「修改届别」。",
                  count=len(ids))


# -------------------------------------------------------------------- read
def accounts_under(session, actor: Account) -> list[Account]:
    """The active accounts of the levels directly under the actor, in its unit."""
    levels = MANAGED_LEVELS.get(actor.level, ())
    if not levels:
        return []
    query = (select(Account)
             .where(in_scope_clause(actor, Account), Account.level.in_(levels), Account.active.is_(True))
             .options(selectinload(Account.unit), selectinload(Account.majors), selectinload(Account.cohort_rows))
             .order_by(Account.level, Account.unit_id, Account.id))
    return list(session.scalars(query))
