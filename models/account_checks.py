"""What the account rules check and write alongside (SPEC 1): the result of a rule, names of
units and majors, field values (届别, 学历层次, 姓名, 手机号), and the audit row. The rules themselves:
models/account_rules.py (creation), models/account_changes.py (deletion, 届别, listing)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from . import base as _base
from .accounts import Account, AuditLog
from .follow_ups import FollowUps
from .privacy import is_mobile, mask_phone
from .text import LIST_SPLIT, norm, suggest
from .units import Major, Unit
from .vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL, STUDY_LEVELS

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



def _role_tag_openids(identity) -> list[str]:
    """A WeChat user already bound to this identity changes role now: its menu's tag follows."""
    return [identity.openid] if identity is not None and identity.openid else []

