"""Account rules (SPEC 1): who creates, changes and deletes whom, and how.

Every public function checks everything it can before it writes, so a refusal
lists every reason at once; it writes the change and its audit row in one
transaction and commits before returning. `actor` is the staff account doing
it, or None for the command line (ministry accounts only).

Texts in results are Chinese and ready for a reply; phones in them are masked.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from . import base as _base
from .accounts import Account, AccountCohort, AuditLog
from .identity_accounts import link_identity
from .privacy import is_mobile, mask_phone
from .scope import MANAGED_LEVELS, in_scope_clause, row_in_scope
from .follow_ups import FollowUps
from .sms import SmsError, deliver, queue_sms
from .task_rules import leave_open_tasks
from .text import LIST_SPLIT, norm, suggest
from .units import Major, Unit, ensure_ministry
from .vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL, STUDY_LEVELS

log = logging.getLogger(__name__)

MIN_COHORT, MAX_COHORT = 2000, 2100
CLI_ACTOR = "命令行"

# Who may create each level, said the way a refusal needs it.
CREATOR_TEXT = {
    MINISTRY: "部级账号只能在服务器上用命令行添加",
    PROVINCE: "省级账号只能由部级账号添加、修改和删除",
    SCHOOL: "学校账号只能由省级账号添加、修改和删除",
    COLLEGE: "院系账号只能由学校账号添加、修改和删除",
    COUNSELOR: "辅导员账号由其所在学校或院系的账号添加、修改和删除",
}

_NAME_BAD = re.compile(r"[\d\s<>&\"']")


@dataclass
class Result:
    """What a rule did: `ok` with `message`, or the `reasons` it did not."""

    ok: bool
    message: str = ""
    reasons: list[str] = field(default_factory=list)
    account: Account | None = None
    count: int = 0
    follow_ups: FollowUps = field(default_factory=FollowUps)  # started by the caller (handlers/follow_up.py)

    def text(self, failed_prefix: str = "未执行") -> str:
        if self.ok:
            return self.message
        lines = [f"{failed_prefix}，原因：" if len(self.reasons) > 1 else f"{failed_prefix}："]
        if len(self.reasons) == 1:
            lines[0] += self.reasons[0]
        else:
            lines += [f"{i}. {r}" for i, r in enumerate(self.reasons, 1)]
        return "\n".join(lines)


def refused(*reasons: str) -> Result:
    return Result(False, reasons=list(reasons))


# --------------------------------------------------------------------- names
# Units and majors come from the ministry's imports (单位名单, 就业数据): what a missing one means
# for each level, and whom it asks.
MISSING_UNITS_TEXT = {
    MINISTRY: "请先回复「导入单位 文件名」导入单位名单（或「导入毕业生 文件名」导入就业数据）",
    PROVINCE: "单位名单由部级统一导入，请联系部级管理员补充后再添加",
    SCHOOL: "院系名单由部级统一导入，请联系省级或部级管理员补充后再添加",
    COLLEGE: "院系名单由部级统一导入，请联系学校就业部门转报补充",
}
MISSING_MAJORS_TEXT = {
    MINISTRY: "请先回复「导入毕业生 文件名」导入就业数据",
    SCHOOL: "专业来自本校上报就业管理系统的毕业生数据（由部级统一导入），请确认该院系的数据已上报，导入后再添加",
    COLLEGE: "专业来自学校上报就业管理系统的毕业生数据（由部级统一导入），请联系学校就业部门确认该院系的数据已上报",
}


def _majors_missing(actor: Account | None) -> str:
    return MISSING_MAJORS_TEXT.get(actor.level if actor is not None else COLLEGE, MISSING_MAJORS_TEXT[COLLEGE])


def not_found_text(what: str, name: str, where: str, candidates, actor: Account | None = None) -> str:
    near = suggest(name, candidates)
    text = f"{what}“{name}”与{where}单位数据中的名称不一致"
    if what == "专业":
        how = _majors_missing(actor)
    else:
        how = MISSING_UNITS_TEXT.get(actor.level if actor is not None else MINISTRY, MISSING_UNITS_TEXT[MINISTRY])
    if near:
        return text + "，最接近的有：" + "、".join(near) + f"（须完全一致）。如确为数据中还没有的{what}：{how}"
    if candidates:
        return text + f"，也没有相近的名称，请核对。如确为数据中还没有的{what}：{how}"
    return text + "，且该范围内还没有任何" + what + "：" + how


def split_list(text: str | None) -> list[str]:
    return [x for x in LIST_SPLIT.split(unicodedata.normalize("NFKC", text or "")) if x]


def find_unit(session, kind: str, name: str, parent: Unit | None) -> tuple[Unit | None, list[str]]:
    """The unit of `kind` named `name` (under `parent`), else None and the sibling names."""
    query = select(Unit).where(Unit.kind == kind)
    if parent is not None and parent.kind != MINISTRY:
        query = query.where(Unit.parent_id == parent.id)
    units = session.scalars(query).all()
    key = norm(name)
    for unit in units:
        if norm(unit.name) == key:
            return unit, []
    return None, [u.name for u in units]


def match_majors(session, college: Unit, names, actor: Account | None = None) -> tuple[list[Major], list[str]]:
    """The college's majors for `names`; a bare name takes all its 专业方向. Returns (majors, reasons)."""
    majors = session.scalars(select(Major).where(Major.college_id == college.id).order_by(Major.id)).all()
    if not majors:
        return [], [f"院系“{college.name}”还没有专业数据：{_majors_missing(actor)}"]
    chosen, reasons = [], []
    for name in names:
        key = norm(name)
        hits = [m for m in majors if norm(m.name) == key] or [m for m in majors if norm(m.label) == key]
        if hits:
            chosen += [m for m in hits if m not in chosen]
        else:
            labels = {m.name for m in majors} | {m.label for m in majors}
            reasons.append(not_found_text("专业", name, f"“{college.name}”的", labels, actor))
    return chosen, reasons


# ------------------------------------------------------------------ values
def default_cohort(now: datetime | None = None) -> int:
    """The graduating cohort: from September on, work is for next summer's graduates."""
    now = now or _base.utcnow()
    return now.year + 1 if now.month >= 9 else now.year


def parse_cohorts(items) -> tuple[list[int], list[str]]:
    """Years from '2026,2027' or a list; (years, reasons)."""
    tokens = split_list(items) if isinstance(items, str) else [str(x).strip() for x in items]
    years, reasons = [], []
    for tok in tokens:
        if re.fullmatch(r"\d{4}", tok) and MIN_COHORT <= int(tok) <= MAX_COHORT:
            if int(tok) not in years:
                years.append(int(tok))
        else:
            reasons.append(f"届别“{tok}”不是有效的毕业年份（应为4位年份，如 2026）")
    if not tokens:
        reasons.append("请至少填写一个届别（如 2026）")
    return sorted(years), reasons


def parse_study_levels(items) -> tuple[list[str], list[str]]:
    tokens = split_list(items) if isinstance(items, str) else [norm(x) for x in items if norm(x)]
    levels, reasons = [], []
    for tok in tokens:
        if tok in STUDY_LEVELS:
            if tok not in levels:
                levels.append(tok)
        else:
            reasons.append(f"学历层次“{tok}”无效，应为：{'、'.join(STUDY_LEVELS)}")
    return [lv for lv in STUDY_LEVELS if lv in levels], reasons


def name_reason(name: str) -> str | None:
    if not name:
        return "请填写姓名"
    if len(name) > 30 or _NAME_BAD.search(name):
        return f"姓名“{name}”无效（不超过30个字，不含数字、空格或符号）"
    return None


def phone_reasons(session, phone: str) -> list[str]:
    """Why `phone` cannot get a new account: malformed, or held by an active account."""
    if not is_mobile(phone):
        return [f"手机号“{mask_phone(phone)}”不是11位大陆手机号"]
    holder = session.scalar(select(Account).where(Account.active_phone == phone))
    if holder is not None:
        return [holder_text(holder)]
    return []


def holder_text(holder: Account) -> str:
    return (f"手机号 {mask_phone(holder.phone)} 已是{holder.unit.full_name}的{holder.level_name}账号："
            "一个手机号（一人）只能对应一个有效账号。如需更换，请由该账号的上级先删除原账号")


# ------------------------------------------------------------------- audit
def actor_label(actor: Account | None) -> str:
    if actor is None:
        return CLI_ACTOR
    return f"{actor.name}（{actor.level_name}·{actor.unit.full_name}）"


def describe(account: Account) -> str:
    """One line about an account for replies and the audit log (phone masked)."""
    text = f"{account.level_name} {account.name} {mask_phone(account.phone)} {account.unit.full_name}"
    if account.level == COUNSELOR:
        text += (f" 层次:{account.study_level} 专业:{'、'.join(m.label for m in account.majors)}"
                 f" 届别:{'、'.join(map(str, account.cohorts))}")
    elif account.level == COLLEGE and account.levels:
        text += f" 层次:{'、'.join(account.study_levels)}"
    return text


def audit(session, actor: Account | None, action: str, target: Account, detail: str) -> None:
    session.add(AuditLog(actor_account_id=actor.id if actor else None, actor=actor_label(actor)[:100],
                         action=action, target_type="account", target_id=target.id, detail=detail))


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


def _role_tag_openids(identity) -> list[str]:
    """A WeChat user already bound to this identity changes role now: its menu's tag follows."""
    return [identity.openid] if identity is not None and identity.openid else []


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


# ---------------------------------------------------------- change, delete
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
