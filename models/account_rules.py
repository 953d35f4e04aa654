"""Account rules (SPEC 1): who creates, changes and deletes whom, and how.

Every public function checks everything it can before it writes, so a refusal
lists every reason at once; it writes the change and its audit row in one
transaction and commits before returning. `actor` is the staff account doing
it, or None for the command line (ministry accounts only).

Texts in results are Chinese and ready for a reply; phones in them are masked.
This module creates accounts; deletion, 届别 and the list are in models/account_changes.py,
the checks they share in models/account_checks.py.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from .account_checks import (CREATOR_TEXT, Result, _role_tag_openids, audit, default_cohort, describe, find_unit,
                             match_majors, name_reason, not_found_text, parse_cohorts, parse_study_levels,
                             phone_reasons, refused, split_list)
from .accounts import Account
from .identity_accounts import link_identity
from .privacy import mask_phone
from .follow_ups import FollowUps
from .scope import MANAGED_LEVELS
from .sms import SmsError, deliver, queue_sms
from .text import norm
from .units import Major, Unit, ensure_ministry
from .vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL, STUDY_LEVELS

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ create
def _may_create(actor: Account | None, level: str) -> str | None:
    """Why `actor` may not create accounts of `level` at all, or None."""
    if level == MINISTRY:
        return None if actor is None else CREATOR_TEXT[MINISTRY]
    if actor is None or not actor.active or level not in MANAGED_LEVELS.get(actor.level, ()):
        return CREATOR_TEXT[level] + (f"，您是{actor.level_name}账号" if actor is not None else "")
    return None


def _create(session, actor: Account | None, *, level: str, name: str, phone: str, unit: Unit,
            study_level: str | None = None, majors=(), cohorts=(), levels=None, notify: str = "queue") -> Result:
    """Write the account, its identity link, its SMS and audit row; commit; then send the SMS
    (notify="now") or leave it, with the role tag update, to the caller's follow-ups."""
    account = Account(name=name, phone=phone, active_phone=phone, level=level,
                      created_by_id=actor.id if actor is not None else None)
    account.place_in(unit)
    if level == COUNSELOR:
        account.study_level = study_level
        account.majors = list(majors)
        account.set_cohorts(cohorts)
    elif level == COLLEGE and levels and set(levels) != set(STUDY_LEVELS):
        account.levels = ",".join(levels)
    try:
        session.add(account)
        link = link_identity(session, account)
        session.flush()
        audit(session, actor, "create", account, describe(account))
        sms_row = queue_sms(session, phone, link.sms_text, link.secret)
        session.commit()
    except IntegrityError:
        # Another request took the phone between our check and our write.
        session.rollback()
        reasons = phone_reasons(session, phone) or ["保存时发生冲突，请稍后重试"]
        return refused(*reasons)
    log.info("account %s (%s) created by %s", account.id, level, actor.id if actor else "cli")
    follow_ups = FollowUps(tag_openids=_role_tag_openids(link.identity))
    if link.created:
        sms_note = "已向该手机号发送短信：登录账号已开通，账号为手机号，含初始密码。"
    else:
        sms_note = f"该手机号已有登录账号（账号：{mask_phone(link.identity.username)}），已关联，并短信提示其使用原账号密码登录。"
    if notify == "now":
        try:
            deliver(sms_row, session)
        except SmsError:
            sms_note += "但短信发送失败（短信网关暂时不可用），请稍后重发或告知本人。"
    else:
        follow_ups.sms_outbox_ids.append(sms_row.id)
    message = f"已添加{describe(account)}。\n{sms_note}\n本人关注服务号并登录绑定后即可使用。"
    return Result(True, message=message, account=account, follow_ups=follow_ups)



def add_ministry_account(session, *, name: str, phone: str, notify: str = "now") -> Result:
    reasons = [r for r in [name_reason(name)] if r] + phone_reasons(session, phone)
    if reasons:
        return refused(*reasons)
    return _create(session, None, level=MINISTRY, name=name, phone=phone, unit=ensure_ministry(session),
                   notify=notify)


def add_province_account(session, actor: Account, *, name: str, phone: str, province: str,
                         notify: str = "queue") -> Result:
    why = _may_create(actor, PROVINCE)
    if why:
        return refused(why)
    reasons = [r for r in [name_reason(name)] if r] + phone_reasons(session, phone)
    unit, names = find_unit(session, PROVINCE, province, None)
    if unit is None:
        reasons.append(not_found_text("省份", province, "", names, actor))
    if reasons:
        return refused(*reasons)
    return _create(session, actor, level=PROVINCE, name=name, phone=phone, unit=unit, notify=notify)


def add_school_account(session, actor: Account, *, name: str, phone: str, school: str,
                       notify: str = "queue") -> Result:
    why = _may_create(actor, SCHOOL)
    if why:
        return refused(why)
    reasons = [r for r in [name_reason(name)] if r] + phone_reasons(session, phone)
    unit, names = find_unit(session, SCHOOL, school, actor.unit)
    if unit is None:
        reasons.append(not_found_text("学校", school, f"{actor.unit.name}的", names, actor))
    if reasons:
        return refused(*reasons)
    return _create(session, actor, level=SCHOOL, name=name, phone=phone, unit=unit, notify=notify)


def add_college_account(session, actor: Account, *, name: str, phone: str, college: str, levels=(),
                        notify: str = "queue") -> Result:
    why = _may_create(actor, COLLEGE)
    if why:
        return refused(why)
    reasons = [r for r in [name_reason(name)] if r] + phone_reasons(session, phone)
    unit, names = find_unit(session, COLLEGE, college, actor.unit)
    if unit is None:
        reasons.append(not_found_text("院系", college, f"{actor.unit.name}的", names, actor))
    chosen, level_reasons = parse_study_levels(levels)
    reasons += level_reasons
    if reasons:
        return refused(*reasons)
    return _create(session, actor, level=COLLEGE, name=name, phone=phone, unit=unit, levels=chosen, notify=notify)


def add_counselor(session, actor: Account, *, name: str, phone: str, study_level: str, majors,
                  cohorts=None, college: str | None = None, notify: str = "queue",
                  now: datetime | None = None) -> Result:
    """A counselor on `college` (school staff) or on the actor's own college (college staff)."""
    why = _may_create(actor, COUNSELOR)
    if why:
        return refused(why)
    reasons = [r for r in [name_reason(name)] if r] + phone_reasons(session, phone)
    study_level = norm(study_level)
    if study_level not in STUDY_LEVELS:
        reasons.append(f"学历层次“{study_level}”无效，应为其中之一：{'、'.join(STUDY_LEVELS)}")
    elif actor.level == COLLEGE and study_level not in actor.study_levels:
        reasons.append(f"您的院系账号只管理{'、'.join(actor.study_levels)}层次，不能添加{study_level}辅导员")

    unit = None
    if actor.level == COLLEGE:
        unit = actor.unit
        if college and norm(college) != norm(unit.name):
            reasons.append(f"院系账号只能为本院系（{unit.name}）添加辅导员，不能添加到“{college}”")
            unit = None
    elif not college:
        reasons.append("请填写辅导员所在院系：添加辅导员 姓名 手机 院系 层次 专业1,专业2 [届别]")
    else:
        unit, names = find_unit(session, COLLEGE, college, actor.unit)
        if unit is None:
            reasons.append(not_found_text("院系", college, f"{actor.unit.name}的", names, actor))

    major_names = split_list(majors) if isinstance(majors, str) else [m for m in majors if norm(m)]
    chosen: list[Major] = []
    if not major_names:
        reasons.append("请至少填写一个负责专业（多个用逗号分隔）")
    elif unit is not None:
        chosen, major_reasons = match_majors(session, unit, major_names, actor)
        reasons += major_reasons

    if cohorts is None or (isinstance(cohorts, str) and not cohorts.strip()) or cohorts == []:
        years = [default_cohort(now)]
    else:
        years, cohort_reasons = parse_cohorts(cohorts)
        reasons += cohort_reasons
    if reasons:
        return refused(*reasons)
    return _create(session, actor, level=COUNSELOR, name=name, phone=phone, unit=unit, study_level=study_level,
                   majors=chosen, cohorts=years, notify=notify)

