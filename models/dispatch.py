"""Dispatch (SPEC 3): the rules of the 派发 form's values, its preview, the draft and the task
it becomes. The form's shape and how text becomes values: models/dispatch_form.py.

The form is one message, one `字段：值` per line, 内容 last and free to run over
several lines. Every field error is collected, so the user fixes them all in
one go. Recipients are computed by one set-based query (no per-counselor
Python), counted for the preview and copied into task_recipients with one
INSERT … SELECT on 确认: the same code path must hold at 150,000 counselors.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from .accounts import Account, AccountCohort
from .identity import Follower, Identity
from .scope import in_scope_clause
from .clock import clock, local_text
from .dispatch_form import (CHILD_KIND, CONTENT_MAX, LABELS, LINK_MAX, LIST_ITEMS_MAX, NAME_MAX, NO_WORDS,
                            STUDENT_TEXT_MAX, TITLE_MAX, YES_WORDS, _URL, Draft, parse_time,
                            split_form)
from .tasks import Task, TaskRecipient
from .text import LIST_SPLIT, clip, suggest
from .units import Unit
from .vocab import COUNSELOR, LIVE_TASK_TYPE, STUDY_LEVELS, TASK_TYPE_FROM_ANY, TASK_TYPE_SHORT, UNIT_KIND_NAMES

DRAFT_TTL = 600
DRAFT_KEY = "fdy:dispatch:draft:{}"


def child_units(session: Session, issuer: Account) -> list[Unit]:
    kind = CHILD_KIND.get(issuer.level)
    if kind is None:
        return []
    return list(session.scalars(select(Unit).where(Unit.parent_id == issuer.unit_id, Unit.kind == kind)
                                .order_by(Unit.name)))


def parse(session: Session, issuer: Account, text: str, now: datetime | None = None) -> tuple[Draft | None, list[str]]:
    """A Draft, or None and every error of the form."""
    values, errors = split_form(text)
    return parse_values(session, issuer, values, errors, now)




def parse_values(session: Session, issuer: Account, values: dict[str, str], errors: list[str] | None = None,
                 now: datetime | None = None) -> tuple[Draft | None, list[str]]:
    """The rules of every field, on values from a chat form or the dispatch page."""
    now = now or clock()
    errors = list(errors or [])

    title = values.get("title", "")
    if not title:
        errors.append("标题：必填")
    elif len(title) > TITLE_MAX:
        errors.append(f"标题：最多{TITLE_MAX}字，现有{len(title)}字")

    task_type = None
    if not values.get("type"):
        errors.append("类型：必填（政策、招聘会、直播课、招聘信息、课程、其他）")
    else:
        task_type = TASK_TYPE_FROM_ANY.get(values["type"].replace(" ", ""))
        if task_type is None:
            errors.append(f"类型：「{clip(values['type'], 10)}」不可用，请写 政策、招聘会、直播课、招聘信息、课程 或 其他")

    cohort = None
    raw_cohort = values.get("cohort", "").rstrip("届")
    if not raw_cohort:
        errors.append("届别：必填，如 2026")
    elif not re.fullmatch(r"\d{4}", raw_cohort) or not 2000 <= int(raw_cohort) <= 2100:
        errors.append(f"届别：「{clip(raw_cohort, 10)}」不是年份，请写如 2026")
    else:
        cohort = int(raw_cohort)

    allowed_levels = list(issuer.study_levels)
    levels = allowed_levels
    if values.get("levels") and values["levels"] not in {"全部", "不限"}:
        asked = list(dict.fromkeys(x for x in LIST_SPLIT.split(values["levels"]) if x))
        bad = [clip(x, 10) for x in asked if x not in STUDY_LEVELS][:5]
        outside = [x for x in asked if x in STUDY_LEVELS and x not in allowed_levels]
        if bad:
            errors.append(f"层次：「{'、'.join(bad)}」不是学历层次，可写 专科、本科、硕士、博士")
        if outside:
            errors.append(f"层次：您的账号只负责 {'、'.join(allowed_levels)}，不能派发给 {'、'.join(outside)}")
        if not bad and not outside:
            levels = [x for x in STUDY_LEVELS if x in asked]

    narrowing_ids: list[int] = []
    narrowing_names: list[str] = []
    if values.get("narrowing") and values["narrowing"] not in {"全部", "不限"}:
        kind = CHILD_KIND.get(issuer.level)
        if kind is None:
            errors.append("范围：院级账号派发给本院系的辅导员，请删除「范围」这一行")
        else:
            asked = list(dict.fromkeys(x for x in LIST_SPLIT.split(values["narrowing"]) if x))
            if len(asked) > LIST_ITEMS_MAX:
                errors.append(f"范围：最多填写{LIST_ITEMS_MAX}个{UNIT_KIND_NAMES[kind]}，现有{len(asked)}个；"
                              "要发给全部请不填范围")
                asked = []
            units = child_units(session, issuer) if asked else []
            by_name = {u.name: u for u in units}
            for name in asked:
                unit = by_name.get(name)
                if unit is not None:
                    narrowing_ids.append(unit.id)
                    narrowing_names.append(unit.name)
                    continue
                # A name longer than any unit's is no typo of one: no similarity search over it.
                close = suggest(name, list(by_name)) if len(name) <= NAME_MAX else []
                hint = f"，您是不是要找：{'、'.join(close)}" if close else "，请核对名称"
                errors.append(f"范围：本单位下没有{UNIT_KIND_NAMES[kind]}「{clip(name, 20)}」{hint}")

    times: dict[str, datetime | None] = {}
    for name in ("deadline", "live_start", "live_end"):
        raw = values.get(name)
        times[name] = None
        if raw:
            parsed = parse_time(raw)
            if parsed is None:
                errors.append(f"{LABELS[name]}：「{clip(raw, 20)}」格式不对，请写如 2026-11-30 18:00")
            else:
                times[name] = parsed
    if times["deadline"] and times["deadline"] <= now:
        errors.append(f"截止：{local_text(times['deadline'])} 已经过去，请填将来的时间")
    start, end = times["live_start"], times["live_end"]
    if task_type == LIVE_TASK_TYPE:
        if not values.get("live_start"):
            errors.append("开始：直播课必须填写开始时间")
        if not values.get("live_end"):
            errors.append("结束：直播课必须填写结束时间")
    elif bool(values.get("live_start")) != bool(values.get("live_end")):
        errors.append("开始、结束：需同时填写（或都不填）")
    if start and end:
        if end <= start:
            errors.append("结束：应晚于开始时间")
        elif end <= now:
            errors.append(f"结束：{local_text(end)} 已经过去，请填将来的时间")

    link = values.get("link") or None
    if link:
        if len(link) > LINK_MAX or not _URL.match(link):
            errors.append("链接：请填以 http:// 或 https:// 开头的完整网址")

    escalate = True
    raw_escalate = values.get("escalate", "")
    if raw_escalate in NO_WORDS:
        escalate = False
    elif raw_escalate and raw_escalate not in YES_WORDS:
        errors.append("提醒上级：请填 是 或 否（填「否」则截止前后不给各级管理员发未完成汇总）")

    confidential = False
    raw_conf = values.get("confidential", "")
    if raw_conf:
        if raw_conf in YES_WORDS | {"保密"}:
            confidential = True
        elif raw_conf not in NO_WORDS | {"不保密"}:
            errors.append("保密：请填 是 或 否")

    content = values.get("content", "")
    if not content:
        errors.append("内容：必填，放在最后一行（可以多行）")
    elif len(content) > CONTENT_MAX:
        errors.append(f"内容：最多{CONTENT_MAX}字，现有{len(content)}字")

    student_text = values.get("student_text") or None
    if student_text and len(student_text) > STUDENT_TEXT_MAX:
        errors.append(f"给学生：最多{STUDENT_TEXT_MAX}字，现有{len(student_text)}字")
    if student_text and confidential:
        errors.append("给学生：保密任务仅限辅导员本人学习，不转发学生，请删除「给学生」或改为不保密")

    if errors:
        return None, errors
    iso = lambda dt: dt.isoformat() if dt else None  # noqa: E731
    return Draft(title=title, type=task_type, cohort=cohort, levels=levels, content=content,
                 narrowing_ids=narrowing_ids, narrowing_names=narrowing_names,
                 deadline=iso(times["deadline"]), live_start=iso(start), live_end=iso(end),
                 link=link, confidential=confidential, student_text=student_text, escalate=escalate), []


# -- recipients ------------------------------------------------------------------------
def reachable_clause():
    """Bound to a WeChat openid that (as far as we know) still follows the account."""
    return and_(Identity.openid.is_not(None), or_(Follower.following.is_(None), Follower.following.is_(True)))


def with_reach(stmt):
    """Outer-join an Account statement to its identity (by phone: the phone-A rule) and follower."""
    return (stmt.outerjoin(Identity, Identity.phone == Account.phone)
            .outerjoin(Follower, Follower.openid == Identity.openid))


def recipient_conditions(issuer: Account, cohort: int, levels: list[str], narrowing_ids: list[int]) -> list:
    conds = [
        Account.level == COUNSELOR,
        Account.active.is_(True),
        in_scope_clause(issuer, Account),
        Account.study_level.in_(levels),
    ]
    if narrowing_ids:
        conds.append(getattr(Account, f"{CHILD_KIND[issuer.level]}_id").in_(narrowing_ids))
    return conds


def _recipients_from(issuer: Account, draft: Draft):
    """FROM accounts ⋈ its cohort row (PK (account, cohort): at most one) ⟕ identity ⟕ follower."""
    stmt = select().select_from(Account).join(
        AccountCohort, and_(AccountCohort.account_id == Account.id, AccountCohort.cohort == draft.cohort))
    return with_reach(stmt).where(*recipient_conditions(issuer, draft.cohort, draft.levels, draft.narrowing_ids))


def count_recipients(session: Session, issuer: Account, draft: Draft) -> tuple[int, int]:
    """(recipients, 未触达 among them), by one aggregate query."""
    unreachable = func.sum(case((reachable_clause(), 0), else_=1))
    row = session.execute(_recipients_from(issuer, draft).add_columns(func.count(Account.id), unreachable)).one()
    return int(row[0] or 0), int(row[1] or 0)


def preview_text(draft: Draft, total: int, unreachable: int) -> str:
    lines = ["派发预览：",
             f"标题：{draft.title}",
             f"类型：{TASK_TYPE_SHORT.get(draft.type, draft.type)}　届别：{draft.cohort}",
             f"层次：{'、'.join(draft.levels)}"]
    if draft.narrowing_names:
        lines.append(f"范围：{clip('、'.join(draft.narrowing_names), 60)}")
    if draft.deadline:
        lines.append(f"截止：{local_text(draft.when('deadline'))}")
    if draft.live_start:
        lines.append(f"直播：{local_text(draft.when('live_start'))} 至 {local_text(draft.when('live_end'))}")
    if draft.link:
        lines.append(f"链接：{clip(draft.link, 80)}")
    if not draft.escalate:
        lines.append("提醒上级：否（截止前后不给各级管理员发未完成汇总）")
    if draft.confidential:
        lines.append("保密：是（仅限辅导员本人学习）")
    if draft.student_text:
        lines.append(f"给学生：{clip(draft.student_text.replace(chr(10), ' '), 60)}")
    elif not draft.confidential:
        lines.append("给学生：未填写（辅导员没有学生链接，无需转发学生）")
    lines.append(f"内容：{clip(draft.content.replace(chr(10), ' '), 80)}")
    lines.append(f"接收辅导员 {total} 名，其中 {unreachable} 名未触达（未绑定或未关注，收不到微信通知）。")
    lines.append("回复「确认」派发，「取消」放弃（10分钟内有效）")
    return "\n".join(lines)


# -- the draft between preview and 确认 --------------------------------------------------
def save_draft(redis_conn, account_id: int, draft: Draft) -> None:
    redis_conn.set(DRAFT_KEY.format(account_id), draft.to_json(), ex=DRAFT_TTL)


def take_draft(redis_conn, account_id: int) -> Draft | None:
    """The pending draft, removed atomically: a double 确认 creates one task."""
    raw = redis_conn.getdel(DRAFT_KEY.format(account_id))
    return Draft.from_json(raw) if raw else None


def drop_draft(redis_conn, account_id: int) -> bool:
    return bool(redis_conn.delete(DRAFT_KEY.format(account_id)))


# -- 确认 ----------------------------------------------------------------------------------
def create_task(session: Session, issuer: Account, draft: Draft) -> tuple[Task, int, int]:
    """The task and its recipients (fixed now, in bulk), committed. Returns (task, total, 未触达)."""
    task = Task(title=draft.title, type=draft.type, content=draft.content, student_text=draft.student_text,
                link=draft.link, cohort=draft.cohort,
                levels=",".join(draft.levels), narrowing=",".join(str(i) for i in draft.narrowing_ids),
                deadline=draft.when("deadline"), live_start=draft.when("live_start"),
                live_end=draft.when("live_end"), confidential=draft.confidential, escalate=draft.escalate,
                issuer_id=issuer.id,
                issuer_unit_id=issuer.unit_id, status="active", recipient_count=0, created_at=clock())
    session.add(task)
    session.flush()
    state = case((reachable_clause(), literal("pending")), else_=literal("unreachable"))
    rows = _recipients_from(issuer, draft).add_columns(
        literal(task.id), Account.id, Account.province_id, Account.school_id, Account.college_id,
        Account.study_level, state, literal(""))
    session.execute(insert(TaskRecipient).from_select(
        ["task_id", "account_id", "province_id", "school_id", "college_id", "study_level", "notify_state",
         "delivery"], rows))
    total, unreachable = session.execute(
        select(func.count(TaskRecipient.id),
               func.sum(case((TaskRecipient.notify_state == "unreachable", 1), else_=0)))
        .where(TaskRecipient.task_id == task.id)).one()
    task.recipient_count = int(total or 0)
    session.commit()
    return task, int(total or 0), int(unreachable or 0)


def confirmation_text(task: Task, total: int, unreachable: int) -> str:
    # Exactly the marker of SPEC 9.5: other systems read this reply.
    return f"已派发任务 #{task.id}，共 {total} 名辅导员，其中 {unreachable} 名未触达"


def reminder_times(task: Task) -> dict[str, datetime]:
    """When each reminder of the task is due (naive UTC)."""
    due = {}
    if task.deadline:
        due["remind_deadline"] = task.deadline - timedelta(hours=24)
    if task.is_live and task.live_start:
        due["remind_live"] = task.live_start - timedelta(minutes=30)
    return due
