"""The 派发 form's shape (SPEC 3): its fields, how a chat message or the page's inputs become
values, and the Draft they make. The rules that check the values live in models/dispatch.py.

Every value is capped before any matching (SPEC 10: linear in the input).
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime

from .accounts import Account
from .clock import from_local
from .text import clip
from .vocab import COLLEGE, MINISTRY, PROVINCE, SCHOOL, UNIT_KIND_NAMES

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
