"""Dispatch from chat (SPEC 3): the 派发 form, its preview, the draft and the task it becomes.

The form is one message, one `字段：值` per line, 内容 last and free to run over
several lines. Every field error is collected, so the user fixes them all in
one go. Recipients are computed by one set-based query (no per-counselor
Python), counted for the preview and copied into task_recipients with one
INSERT … SELECT on 确认: the same code path must hold at 150,000 counselors.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from .accounts import Account, AccountCohort
from .identity import Follower, Identity
from .scope import in_scope_clause
from .clock import clock, from_local, local_text
from .tasks import Task, TaskRecipient
from .text import clip, suggest
from .units import Unit
from .vocab import (COLLEGE, COUNSELOR, LIVE_TASK_TYPE, MINISTRY, PROVINCE, SCHOOL, STUDY_LEVELS,
                    TASK_TYPE_FROM_ANY, TASK_TYPE_SHORT, UNIT_KIND_NAMES)

DRAFT_TTL = 600
DRAFT_KEY = "fdy:dispatch:draft:{}"
TITLE_MAX = 64
CONTENT_MAX = 2000
STUDENT_TEXT_MAX = 2000
LINK_MAX = 1024

# The unit kind one level below each staff level: what 范围 names.
CHILD_KIND = {MINISTRY: PROVINCE, PROVINCE: SCHOOL, SCHOOL: COLLEGE}

FIELD_NAMES = {
    "标题": "title", "名称": "title",
    "类型": "type",
    "届别": "cohort", "届": "cohort",
    "层次": "levels", "学历层次": "levels", "学历": "levels",
    "范围": "narrowing",
    "截止": "deadline", "截止时间": "deadline",
    "开始": "live_start", "开始时间": "live_start",
    "结束": "live_end", "结束时间": "live_end",
    "链接": "link",
    "保密": "confidential", "是否保密": "confidential",
    "给学生": "student_text",
    "提醒上级": "escalate",
    "内容": "content", "正文": "content",
}
# Fields whose value may run over several lines: until the next line that starts with a field name.
RUNNING_FIELDS = {"student_text"}
LABELS = {"title": "标题", "type": "类型", "cohort": "届别", "levels": "层次", "narrowing": "范围",
          "deadline": "截止", "live_start": "开始", "live_end": "结束", "link": "链接",
          "confidential": "保密", "student_text": "给学生", "escalate": "提醒上级", "content": "内容"}

FORM_TEMPLATE = (
    "派发任务请按以下格式发送（一行一项，「内容」放最后，可以多行）：\n"
    "派发\n"
    "标题：2026届秋季双选会\n"
    "类型：招聘会\n"
    "届别：2026\n"
    "层次：本科,硕士\n"
    "范围：{scope_example}\n"
    "截止：2026-11-30 18:00\n"
    "开始：2026-11-28 19:00\n"
    "结束：2026-11-28 20:30\n"
    "链接：https://example.edu.cn/fair\n"
    "保密：否\n"
    "给学生：……（学生看到的内容，可以多行；不填则不转发学生）\n"
    "内容：……（给辅导员的要求）\n"
    "说明：标题、类型、届别、内容必填；类型可写 政策/招聘会/直播课/招聘信息/课程/其他；"
    "层次默认全部；{scope_hint}直播课必须填写开始和结束；时间为北京时间；"
    "加一行「提醒上级：否」则截止前后不给各级管理员发未完成汇总。"
)

# Every value is capped before any matching (SPEC 10: linear in the input): a field longer
# than its cap is refused by length, never handed to a regex.
KEY_SPAN = 12          # a field name and its colon sit within the first characters of a line
TIME_MAX = 40
LIST_ITEMS_MAX = 50    # 层次 and 范围 items
NAME_MAX = 30          # one 范围 name
# Colons people type: ASCII, full-width, small (﹕), presentation (︰), ratio (∶), modifier (꞉).
COLONS = frozenset(":：﹕︰∶꞉")
_LIST_SPLIT = re.compile(r"[,，、;；/\s]+")
# Applied only to a value of at most TIME_MAX characters whose spaces were collapsed to one.
_DATE = re.compile(r"(\d{4}) ?[-/.年] ?(\d{1,2}) ?[-/.月] ?(\d{1,2})(?: ?日)?"
                   r"(?:(?: ?T ?| )(\d{1,2}) ?[:：点] ?(\d{1,2})(?: ?[:：] ?(\d{1,2}))?(?: ?分)?)?")
_SPACES = re.compile(r"\s+")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)


def form_template(issuer: Account) -> str:
    child = CHILD_KIND.get(issuer.level)
    if child is None:
        example, hint = "（院级账号不填）", "院级账号派发给本院系辅导员，不填范围；"
    else:
        kind = UNIT_KIND_NAMES[child]
        example = {PROVINCE: "北京市,上海市", SCHOOL: "北京大学,清华大学", COLLEGE: "计算机学院,软件学院"}[child]
        hint = f"范围填本单位下的{kind}名称（多个用逗号分隔），不填即全部；"
    return FORM_TEMPLATE.format(scope_example=example, scope_hint=hint)


@dataclass
class Draft:
    """A parsed, valid 派发 form. Times are naive UTC ISO strings (JSON-safe)."""

    title: str
    type: str
    cohort: int
    levels: list[str]
    content: str
    narrowing_ids: list[int] = field(default_factory=list)
    narrowing_names: list[str] = field(default_factory=list)
    deadline: str | None = None
    live_start: str | None = None
    live_end: str | None = None
    link: str | None = None
    confidential: bool = False
    student_text: str | None = None
    escalate: bool = True

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> "Draft":
        return cls(**json.loads(raw))

    def when(self, name: str) -> datetime | None:
        value = getattr(self, name)
        return datetime.fromisoformat(value) if value else None


# -- parsing -------------------------------------------------------------------------
def split_form(text: str) -> tuple[dict[str, str], list[str]]:
    """The raw values by field, and the errors of the form's shape."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # The command word may share its line with the first field.
    head = lines[0].strip() if lines else ""
    head = re.sub(r"^派发\s*", "", head)
    lines = ([head] if head else []) + lines[1:]
    values: dict[str, str] = {}
    errors: list[str] = []
    content_lines: list[str] | None = None
    running: tuple[str, list[str]] | None = None  # a multi-line field being read
    for number, raw in enumerate(expand_lines(lines), start=1):
        if content_lines is not None:
            content_lines.append(raw)
            continue
        split = split_key(raw)
        if running is not None:
            if not (split and split[0] in FIELD_NAMES):
                running[1].append(raw)
                continue
            values[running[0]] = "\n".join(running[1]).strip()
            running = None
        if not raw.strip():
            continue
        if split is None:
            errors.append(f"无法识别「{clip(raw.strip(), 12)}」：每行应为「字段：值」")
            continue
        key, value = split
        name = FIELD_NAMES.get(key)
        if name is None:
            errors.append(f"没有「{clip(key, 6)}」这个字段（可用：标题、类型、届别、层次、范围、截止、开始、结束、链接、保密、给学生、内容）")
            continue
        if name in values:
            errors.append(f"「{LABELS[name]}」写了两次，请只保留一行")
            continue
        if name == "content":
            # Content keeps the user's own characters: only the key part was normalised.
            content_lines = [value]
            continue
        if name in RUNNING_FIELDS:
            # Students read the user's own characters: only the key part was normalised.
            running = (name, [value])
            continue
        values[name] = unicodedata.normalize("NFKC", value).strip()
    if running is not None:
        values[running[0]] = "\n".join(running[1]).strip()
    if content_lines is not None:
        values["content"] = "\n".join(content_lines).strip()
    return values, errors


KEY_MAX = max(len(k) for k in FIELD_NAMES)
YES_WORDS = frozenset({"是", "yes", "Yes", "YES", "y", "Y", "1", "true", "True"})
NO_WORDS = frozenset({"否", "no", "No", "NO", "n", "N", "0", "false", "False"})


def expand_lines(lines: list[str]) -> list[str]:
    """The form's lines with those carrying several fields cut into one field each
    (`派发 标题：… 类型：… 届别：…` typed on a phone). Free text is never cut: after 内容 nothing,
    and the lines that continue 给学生 only where a new field starts a line."""
    expanded: list[str] = []
    free = None
    for raw in lines:
        if free == "content":
            expanded.append(raw)
            continue
        if free == "running":
            split = split_key(raw)
            if not (split and split[0] in FIELD_NAMES):
                expanded.append(raw)
                continue
        pieces = split_fields(raw)
        expanded += pieces
        last = FIELD_NAMES.get((split_key(pieces[-1]) or ("",))[0])
        free = "content" if last == "content" else "running" if last in RUNNING_FIELDS else None
    return expanded


def split_fields(line: str) -> list[str]:
    """One line cut where a known field name and its colon start, with or without a space or ；
    before it (a field the user typed is never taken for part of another's value). Linear: each
    colon looks back at most KEY_MAX characters, the longest name first. Cutting stops at 内容,
    which runs to the end of the message."""
    cuts = [0]
    free_text = False  # after 给学生 on this line: only 内容 still cuts
    for index, char in enumerate(line):
        if char not in COLONS and unicodedata.normalize("NFKC", char) != ":":
            continue
        for size in range(min(KEY_MAX, index), 0, -1):
            start = index - size
            key = line[start:index]  # field names are CJK: NFKC leaves them as they are
            if key in FIELD_NAMES and (not free_text or FIELD_NAMES[key] == "content"):
                if start > cuts[-1]:
                    cuts.append(start)
                if FIELD_NAMES[key] == "content":
                    return _pieces(line, cuts)
                free_text = FIELD_NAMES[key] in RUNNING_FIELDS
                break
    return _pieces(line, cuts)


def _pieces(line: str, cuts: list[int]) -> list[str]:
    ends = cuts[1:] + [len(line)]
    return [line[a:b].rstrip(" \t\u3000;；") for a, b in zip(cuts, ends)]


def split_key(line: str) -> tuple[str, str] | None:
    """(field name, raw value) of a `字段：值` line, any look-alike colon; None when it is not one.
    Only the first KEY_SPAN characters are looked at for the colon."""
    for index, char in enumerate(line[:KEY_SPAN]):
        if char in COLONS or unicodedata.normalize("NFKC", char) == ":":
            key = unicodedata.normalize("NFKC", line[:index]).strip()
            if 1 <= len(key) <= 6 and not any(c.isspace() for c in key):
                return key, line[index + 1:]
            return None
    return None



def parse_time(value: str) -> datetime | None:
    """'2026-11-30 18:00' (Beijing) -> naive UTC; a bare date means 23:59 of that day."""
    value = value.strip()
    if len(value) > TIME_MAX:
        return None
    match = _DATE.fullmatch(_SPACES.sub(" ", value))
    if not match:
        return None
    year, month, day, hour, minute, second = match.groups()
    try:
        local = datetime(int(year), int(month), int(day),
                         int(hour) if hour is not None else 23, int(minute) if minute is not None else 59,
                         int(second) if second else 0)
    except ValueError:
        return None
    return from_local(local)


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


def form_values(fields: dict) -> dict[str, str]:
    """The values of the dispatch page's fields, as split_form would have read them: one line
    each (capped, normalised), 内容 kept as typed."""
    values = {}
    for name in LABELS:
        raw = fields.get(name) or ""
        if name == "content" or name in RUNNING_FIELDS:
            value = raw.replace("\r\n", "\n")[:CONTENT_MAX * 2].strip()
        else:
            value = " ".join(unicodedata.normalize("NFKC", raw[:LINK_MAX + 1]).split())
        if value:
            values[name] = value
    return values


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
        asked = list(dict.fromkeys(x for x in _LIST_SPLIT.split(values["levels"]) if x))
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
            asked = list(dict.fromkeys(x for x in _LIST_SPLIT.split(values["narrowing"]) if x))
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
