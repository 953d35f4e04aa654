"""Changing a managed account field by field (SPEC 5 `修改 对象 字段 新值`), `重发短信`, `记录`.

The target is an account the actor manages (models.people.pick found it); every change follows
the rules of creating one (names checked against the unit data with suggestions, one phone one
identity, a new phone gets its SMS), is audited, committed, and answered with `已修改` and what
changed. Texts are Chinese and ready for a reply; phones in them are masked.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from .account_checks import (Result, _role_tag_openids, audit, describe, find_unit, match_majors, name_reason,
                             not_found_text, parse_cohorts, parse_study_levels, phone_reasons, refused, split_list)
from .accounts import Account, AuditLog
from .identity_accounts import EXISTING_TEXT, NEW_TEXT, identity_by_phone, link_identity, random_password
from .identity import Identity, hash_password
from .privacy import mask_phone
from .scope import in_scope_clause
from .follow_ups import FollowUps
from .sms import queue_sms
from .clock import local_text
from .text import norm
from .vocab import COLLEGE, COUNSELOR, PROVINCE, SCHOOL, SMS_SIGNATURE, STUDY_LEVELS

log = logging.getLogger(__name__)

NAME, PHONE, COLLEGE_FIELD, LEVELS, MAJORS, COHORTS = "姓名", "手机", "院系", "层次", "专业", "届别"
ALIASES = {"姓名": NAME, "名字": NAME, "手机": PHONE, "手机号": PHONE, "电话": PHONE, "院系": COLLEGE_FIELD,
           "学院": COLLEGE_FIELD, "层次": LEVELS, "学历层次": LEVELS, "专业": MAJORS, "负责专业": MAJORS,
           "届别": COHORTS, "负责届别": COHORTS}
FIELDS_OF_LEVEL = {
    PROVINCE: (NAME, PHONE),
    SCHOOL: (NAME, PHONE),
    COLLEGE: (NAME, PHONE, COLLEGE_FIELD, LEVELS),
    COUNSELOR: (NAME, PHONE, COLLEGE_FIELD, LEVELS, MAJORS, COHORTS),
}
MOVED_TEXT = (SMS_SIGNATURE + "您的{level}账号手机号已改为本号码。登录账号：{username}，"
              "密码不变；如忘记密码，可在登录页用本手机号的短信验证码重置。")
RESEND_LIMIT = 3  # 重发短信 per account per day


def field_of(word: str) -> str | None:
    return ALIASES.get(norm(word))


def fields_text(level: str) -> str:
    return "、".join(FIELDS_OF_LEVEL.get(level, ()))


def _done(session, actor, target: Account, field: str, before: str, after: str) -> Result:
    audit(session, actor, "edit", target, f"{describe(target)}；{field} {before} -> {after}")
    session.commit()
    log.info("account %s: %s changed by %s", target.id, field, actor.id)
    return Result(True, account=target, message=mask_phone(
        f"已修改{target.level_name} {target.name} 的{field}：{before or '无'} → {after}。"))


def edit(session, actor: Account, target: Account, word: str, value: str) -> Result:
    """`修改 对象 字段 新值` on an account the actor manages (checked by the caller's pick)."""
    field = field_of(word)
    allowed = FIELDS_OF_LEVEL.get(target.level, ())
    if field is None or field not in allowed:
        return refused(f"{target.level_name}账号可修改的字段为：{fields_text(target.level)}（“{word}”不是其中之一）")
    value = (value or "").strip()
    if not value:
        return refused(f"请写出新的{field}：修改 对象 {field} 新值")
    return {NAME: _name, PHONE: _phone, COLLEGE_FIELD: _college, LEVELS: _levels, MAJORS: _majors,
            COHORTS: _cohorts}[field](session, actor, target, value)


def _name(session, actor, target: Account, value: str) -> Result:
    value = norm(value)
    why = name_reason(value)
    if why:
        return refused(why)
    before = target.name
    if value == before:
        return refused(f"姓名已是“{value}”，无需修改")
    target.name = value
    if target.identity is not None and target.identity.name == before:
        target.identity.name = value
    return _done(session, actor, target, NAME, before, value)


def _phone(session, actor, target: Account, value: str) -> Result:
    phone = norm(value)
    if phone == target.phone:
        return refused(f"手机号已是 {mask_phone(phone)}，无需修改")
    reasons = phone_reasons(session, phone)
    if reasons:
        return refused(*reasons)
    before, old_identity = target.phone, target.identity
    target.phone = target.active_phone = phone
    session.flush()
    if identity_by_phone(session, phone) is None and _same_person(old_identity, target, before):
        # The same person with a new number: its identity moves with it, WeChat binding and all.
        if old_identity.username == before and not _username_taken(session, phone):
            old_identity.username = phone
        old_identity.phone = phone
        text, secret = MOVED_TEXT.format(level=target.level_name, username=old_identity.username), None
        note = "原身份账号随之改为新手机号，微信绑定保持不变；已短信通知新手机号。"
    else:
        link = link_identity(session, target)
        text, secret = link.sms_text, link.secret
        note = ("已为新手机号开通身份账号并短信发送初始密码。" if link.created
                else "新手机号已有身份账号，已关联并短信提示其使用原账号密码登录。")
        if old_identity is not None and old_identity.openid:
            note += "原手机号绑定的微信不再能使用该账号。"
    sms = queue_sms(session, phone, text, secret)
    result = _done(session, actor, target, PHONE, mask_phone(before), mask_phone(phone))
    result.follow_ups.sms_outbox_ids.append(sms.id)
    if old_identity is not None and old_identity is not target.identity:
        result.follow_ups.tag_openids.extend(_role_tag_openids(old_identity))
    result.follow_ups.tag_openids.extend(_role_tag_openids(target.identity))
    result.message += "\n" + note
    return result


def _username_taken(session, username: str) -> bool:
    return session.scalar(select(Identity.id).where(Identity.username == username)) is not None


def _same_person(identity, target: Account, old_phone: str) -> bool:
    """Is the old identity this account's own person (made for it, still named as it), so that
    moving it keeps the person's WeChat binding? Someone else's identity never moves."""
    return identity is not None and identity.phone == old_phone and norm(identity.name) == norm(target.name)


def _college(session, actor, target: Account, value: str) -> Result:
    if actor.level != SCHOOL:
        return refused(f"院系只能由学校账号修改（您是{actor.level_name}账号）；请联系学校就业部门")
    tokens = [t for t in value.split(" ") if t]
    unit, names = find_unit(session, COLLEGE, tokens[0], actor.unit)
    if unit is None:
        return refused(not_found_text("院系", tokens[0], f"{actor.unit.name}的", names, actor))
    if unit.id == target.unit_id:
        return refused(f"{target.name}已在{unit.name}，无需修改")
    before = target.unit.name
    if target.level == COLLEGE:
        target.place_in(unit)
        return _done(session, actor, target, COLLEGE_FIELD, before, unit.name)
    wanted = split_list(",".join(tokens[1:])) or [m.name for m in target.majors]
    chosen, reasons = match_majors(session, unit, wanted, actor)
    if reasons:
        return refused(*reasons, f"更换院系时请写出新院系的负责专业：修改 {target.name} 院系 {unit.name} 专业1,专业2")
    target.place_in(unit)
    target.majors = chosen
    result = _done(session, actor, target, COLLEGE_FIELD, before, unit.name)
    result.message += f"\n负责专业：{'、'.join(m.label for m in chosen)}。"
    return result


def _levels(session, actor, target: Account, value: str) -> Result:
    if target.level == COLLEGE:
        if norm(value) in ("全部", "所有", "不限"):
            chosen = list(STUDY_LEVELS)
        else:
            chosen, reasons = parse_study_levels(value)
            if reasons:
                return refused(*reasons)
        before = "、".join(target.study_levels)
        target.levels = None if set(chosen) == set(STUDY_LEVELS) else ",".join(chosen)
        after = "、".join(target.study_levels)
        if before == after:
            return refused(f"管理层次已是 {after}，无需修改")
        return _done(session, actor, target, LEVELS, before, after)
    level = norm(value)
    if level not in STUDY_LEVELS:
        return refused(f"学历层次“{level}”无效，应为其中之一：{'、'.join(STUDY_LEVELS)}")
    if actor.level == COLLEGE and level not in actor.study_levels:
        return refused(f"您的院系账号只管理{'、'.join(actor.study_levels)}层次，不能改为{level}")
    before = target.study_level
    if before == level:
        return refused(f"学历层次已是{level}，无需修改")
    target.study_level = level
    return _done(session, actor, target, LEVELS, before, level)


def _majors(session, actor, target: Account, value: str) -> Result:
    chosen, reasons = match_majors(session, target.unit, split_list(value), actor)
    if not split_list(value):
        reasons.append("请至少填写一个负责专业（多个用逗号分隔）")
    if reasons:
        return refused(*reasons)
    before = "、".join(m.label for m in target.majors)
    after = "、".join(m.label for m in chosen)
    if before == after:
        return refused(f"负责专业已是 {after}，无需修改")
    target.majors = chosen
    return _done(session, actor, target, MAJORS, before, after)


def _cohorts(session, actor, target: Account, value: str) -> Result:
    years, reasons = parse_cohorts(value)
    if reasons:
        return refused(*reasons)
    before = "、".join(map(str, target.cohorts))
    after = "、".join(map(str, years))
    if before == after:
        return refused(f"负责届别已是 {after}，无需修改")
    target.set_cohorts(years)
    return _done(session, actor, target, COHORTS, before, after)


# ------------------------------------------------------------------ 重发短信
def resend_sms(session, actor: Account, target: Account, counter) -> Result:
    """Send the account's SMS again. A person who never signed in gets a new initial password
    (the first SMS may be lost, and its password is nowhere kept); one who did gets its username.
    `counter()` counts this send atomically and returns the count of the day (None: cannot count)."""
    identity = target.identity or identity_by_phone(session, target.phone)
    count = counter()
    if count is None:
        return refused("系统暂时无法发送，请稍后再试")
    if count > RESEND_LIMIT:
        return refused(f"该账号今天已重发 {RESEND_LIMIT} 次短信，请明天再试，或请本人在登录页用「忘记密码」自行重置")
    if identity is None:
        link = link_identity(session, target)
        identity, text, secret = link.identity, link.sms_text, link.secret
        what = "身份账号及初始密码"
    elif identity.bound_at is None and identity.openid is None:
        password = random_password()
        identity.password_hash = hash_password(password)
        identity.must_change_password = True
        text, secret = NEW_TEXT.format(level=target.level_name, username=identity.username, password=password), password
        what = "账号和新的初始密码（原初始密码作废）"
    else:
        secret = None
        text = EXISTING_TEXT.format(username=identity.username) + "；如忘记密码，可在登录页用短信验证码重置。"
        what = "账号提示（本人已登录绑定过，密码不变）"
    sms = queue_sms(session, target.phone, text, secret)
    audit(session, actor, "resend_sms", target, f"{describe(target)}；重发{what}")
    session.commit()
    return Result(True, account=target, message=mask_phone(
        f"已向{target.level_name} {target.name}（{target.phone}）重发短信：{what}。"),
        follow_ups=FollowUps(sms_outbox_ids=[sms.id]))


# -------------------------------------------------------------------- 记录
ACTION_NAMES = {"create": "添加", "delete": "删除", "change_cohorts": "修改届别", "cohort_rollover": "届别滚动",
                "edit": "修改", "resend_sms": "重发短信"}


@dataclass
class Record:
    at: str
    actor: str
    action: str
    detail: str


def latest_changes(session, actor: Account, limit: int = 10) -> list[Record]:
    """The latest audited changes of accounts inside the actor's unit (below its own level)."""
    rows = session.execute(
        select(AuditLog).join(Account, Account.id == AuditLog.target_id)
        .where(AuditLog.target_type == "account", in_scope_clause(actor, Account), Account.id != actor.id,
               Account.level != actor.level)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)).scalars().all()
    return [Record(local_text(r.created_at), r.actor, ACTION_NAMES.get(r.action, r.action), mask_phone(r.detail))
            for r in rows]
