"""Employment statistics and graduate information for a counselor (SPEC 4).

A counselor's graduates are the imported records of its college, its 学历层次,
its majors and its cohorts. Every figure comes from at most two GROUP BY
queries whose WHERE is exactly the leading columns of ix_graduates_scope
(college_id, study_level, cohort, major_id, destination): the destination
counts are answered from the index alone, so `进展` stays fast at a million
graduate rows.

求职期望 is free text in the 就业管理系统 export. Understood shapes: labelled
"城市：北京；行业：互联网"; "北京、上海/互联网" (cities before the first "/",
industries or posts after it); segments split by "·" or spaces, "北京 互联网" or
"南京 · 软件开发 · 8k以上" (city, industry or post, the rest such as salary
ignored). A single value ("不限") counts as one whole value.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .accounts import Account, AccountCohort, account_majors
from .graduates import Graduate
from .units import Major, Unit
from .vocab import COLLEGE, DESTINATIONS, NOT_PLACED, SCHOOL

UNFILLED = "未填写"


# -- scope ---------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """What a counselor is responsible for, as graduate-row filters."""

    college_id: int
    study_level: str | None
    major_ids: tuple[int, ...]
    cohorts: tuple[int, ...]

    @property
    def empty(self) -> bool:
        return not (self.study_level and self.major_ids and self.cohorts)

    def where(self) -> list:
        # Column order follows ix_graduates_scope so the index is used as a prefix.
        return [
            Graduate.college_id == self.college_id,
            Graduate.study_level == (self.study_level or ""),
            Graduate.cohort.in_(self.cohorts),
            Graduate.major_id.in_(self.major_ids),
        ]


# A counselor's majors and cohorts, read on every 进展: prebuilt statements cost about a third of
# the ORM's two lazy loads (measured), so scope_of fills both collections with them when unloaded.
_SCOPE_MAJORS = (select(Major).join(account_majors, account_majors.c.major_id == Major.id)
                 .where(account_majors.c.account_id == bindparam("account_id")).order_by(Major.id))
_SCOPE_COHORTS = (select(AccountCohort).where(AccountCohort.account_id == bindparam("account_id"))
                  .order_by(AccountCohort.cohort))


def _load_scope_rows(account: Account) -> None:
    state = inspect(account)
    session = state.session
    if session is None or state.key is None:  # not persistent: nothing to load
        return
    params = {"account_id": account.id}
    if "majors" in state.unloaded:
        set_committed_value(account, "majors", list(session.scalars(_SCOPE_MAJORS, params)))
    if "cohort_rows" in state.unloaded:
        set_committed_value(account, "cohort_rows", list(session.scalars(_SCOPE_COHORTS, params)))


def scope_of(account: Account) -> Scope:
    _load_scope_rows(account)
    return Scope(
        college_id=account.unit_id,
        study_level=account.study_level,
        major_ids=tuple(sorted(m.id for m in account.majors)),
        cohorts=tuple(sorted(account.cohorts)),
    )


def scope_label(account: Account, max_majors: int = 3) -> str:
    """'2025、2026届 本科 · 软件工程、网络工程' (long major lists shortened)."""
    cohorts = "、".join(str(c) for c in account.cohorts) or "未设置"
    labels = [m.label for m in account.majors]
    majors = "、".join(labels[:max_majors]) or "未设置专业"
    if len(labels) > max_majors:
        majors += f"等{len(labels)}个专业"
    return f"{cohorts}届 {account.study_level or '未设置层次'} · {majors}"


# -- 就业情况 and 去向 ---------------------------------------------------------

def rate_text(placed: int, graduates: int) -> str:
    """落实率 in percent with one decimal, half up ('83.3'); '0.0' when there is nobody."""
    if graduates <= 0:
        return "0.0"
    value = (Decimal(placed) * 100 / Decimal(graduates)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value:.1f}"


@dataclass
class Employment:
    graduates: int
    placed: int
    # Every value of DESTINATIONS in its order (zeros included), then any unknown value.
    by_destination: dict[str, int]

    @property
    def rate(self) -> str:
        return rate_text(self.placed, self.graduates)


def destination_counts_query(scope: Scope):
    """The one aggregate behind `进展`: covered by ix_graduates_scope."""
    return (select(Graduate.destination, func.count())
            .where(*scope.where())
            .group_by(Graduate.destination))


def employment(session: Session, account: Account) -> Employment:
    scope = scope_of(account)
    counts: dict[str, int] = {}
    if not scope.empty:
        counts = {dest: n for dest, n in session.execute(destination_counts_query(scope))}
    by_destination = {dest: counts.pop(dest, 0) for dest in DESTINATIONS}
    by_destination.update(sorted(counts.items()))  # values the vocabulary does not know, kept visible
    total = sum(by_destination.values())
    placed = sum(n for dest, n in by_destination.items() if dest not in NOT_PLACED)
    return Employment(graduates=total, placed=placed, by_destination=by_destination)


# -- 毕业生信息 ------------------------------------------------------------------

_PART_SPLIT = re.compile(r"[/｜|]")
_SEGMENT_SPLIT = re.compile(r"\s*[·・]\s*|\s+")
_ITEM_SPLIT = re.compile(r"[、,，;；\s]+")
_LABELLED = re.compile(r"(城市|地区|地点|行业|岗位|职位)\s*[:：]\s*([^;；|｜\n]*)")
_INDUSTRY_LABELS = ("行业", "岗位", "职位")


def _items(text: str) -> list[str]:
    return [x for x in _ITEM_SPLIT.split(text.strip()) if x]


def parse_expectation(text: str) -> tuple[list[str], list[str], str | None]:
    """(cities, industries or posts, other): see the module docstring for the shapes."""
    text = (text or "").strip()
    if not text:
        return [], [], None
    labelled = _LABELLED.findall(text)
    if labelled:
        cities = [x for label, part in labelled if label not in _INDUSTRY_LABELS for x in _items(part)]
        industries = [x for label, part in labelled if label in _INDUSTRY_LABELS for x in _items(part)]
        return cities, industries, None
    parts = _PART_SPLIT.split(text, maxsplit=1)
    if len(parts) == 2:
        return _items(parts[0]), _items(parts[1]), None
    segments = [x for x in _SEGMENT_SPLIT.split(text) if x]
    if len(segments) >= 2:
        return _items(segments[0]), _items(segments[1]), None
    return [], [], text


@dataclass
class GraduateSummary:
    graduates: int = 0
    follows_bound: int = 0
    intentions: Counter = field(default_factory=Counter)
    cities: Counter = field(default_factory=Counter)
    industries: Counter = field(default_factory=Counter)
    other_expectations: Counter = field(default_factory=Counter)
    no_expectation: int = 0

    @property
    def not_follows_bound(self) -> int:
        return self.graduates - self.follows_bound


def top(counter: Counter, n: int) -> list[tuple[str, int]]:
    """Most common first; ties by value so the order is stable."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def graduate_summary(session: Session, account: Account) -> GraduateSummary:
    scope = scope_of(account)
    summary = GraduateSummary()
    if scope.empty:
        return summary
    rows = session.execute(
        select(Graduate.intention, Graduate.expectation, Graduate.follows_bound, func.count())
        .where(*scope.where())
        .group_by(Graduate.intention, Graduate.expectation, Graduate.follows_bound)
    )
    for intention, expectation, follows_bound, n in rows:
        summary.graduates += n
        if follows_bound:
            summary.follows_bound += n
        summary.intentions[(intention or "").strip() or UNFILLED] += n
        cities, industries, other = parse_expectation(expectation)
        # A graduate naming a city twice still counts once for it.
        for city in dict.fromkeys(cities):
            summary.cities[city] += n
        for industry in dict.fromkeys(industries):
            summary.industries[industry] += n
        if other:
            summary.other_expectations[other] += n
        if not (cities or industries or other):
            summary.no_expectation += n
    return summary


# -- the graduate list of the stats page ----------------------------------------

@dataclass
class GraduateRow:
    student_no: str
    name: str
    major: str
    destination: str
    intention: str
    expectation: str
    follows_bound: bool


@dataclass
class GraduatePage:
    rows: list[GraduateRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def graduate_page(session: Session, account: Account, q: str = "", destination: str = "",
                  page: int = 1, per_page: int = 30) -> GraduatePage:
    """One page of the counselor's graduates, optionally by name / 学号 and by 去向."""
    scope = scope_of(account)
    if scope.empty:
        return GraduatePage([], 0, 1, per_page)
    filters = scope.where()
    q = (q or "").strip()
    if q:
        filters.append(Graduate.name.contains(q, autoescape=True) | Graduate.student_no.startswith(q, autoescape=True))
    if destination:
        filters.append(Graduate.destination == destination)
    total = session.scalar(select(func.count()).select_from(Graduate).where(*filters)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    result = session.execute(
        select(Graduate.student_no, Graduate.name, Major.name, Major.direction, Graduate.destination,
               Graduate.intention, Graduate.expectation, Graduate.follows_bound)
        .join(Major, Major.id == Graduate.major_id)
        .where(*filters)
        .order_by(Graduate.student_no)
        .limit(per_page).offset((page - 1) * per_page)
    )
    rows = [GraduateRow(student_no=no, name=name, major=f"{major}（{direction}）" if direction else major,
                        destination=dest, intention=intention or "", expectation=expectation or "",
                        follows_bound=bool(bound))
            for no, name, major, direction, dest, intention, expectation, bound in result]
    return GraduatePage(rows, total, page, per_page)


# -- why nothing matches ----------------------------------------------------------

def _staff_names(session: Session, level: str, unit_id: int | None) -> list[str]:
    if unit_id is None:
        return []
    return list(session.scalars(
        select(Account.name).where(Account.level == level, Account.unit_id == unit_id, Account.active)
        .order_by(Account.id).limit(3)))


def _data_people(session: Session, college: Unit | None) -> str:
    """Who can import the 就业管理系统 data: the school's staff."""
    names = _staff_names(session, SCHOOL, college.school_id if college else None)
    return f"学校就业工作人员（{'、'.join(names)}）" if names else "学校就业工作部门"


def _account_people(session: Session, college: Unit | None) -> str:
    """Who can change a counselor's 层次/专业/届别: its college's staff, else its school's."""
    names = _staff_names(session, COLLEGE, college.id if college else None)
    if names:
        return f"本院系管理员（{'、'.join(names)}）"
    names = _staff_names(session, SCHOOL, college.school_id if college else None)
    return f"学校管理员（{'、'.join(names)}）" if names else "本院系或学校管理员"


def explain_no_match(session: Session, account: Account) -> str:
    """Why a counselor's scope matches no graduate record, what exists instead, whom to ask."""
    college = session.get(Unit, account.unit_id)
    college_name = college.name if college else "您的院系"
    if not account.majors or not account.cohorts or not account.study_level:
        missing = "、".join(label for label, value in (("学历层次", account.study_level),
                                                        ("负责专业", account.majors),
                                                        ("负责届别", account.cohorts)) if not value)
        return f"您的账号尚未设置{missing}，无法统计。请联系{_account_people(session, college)}设置。"

    # What the college does hold, per level/cohort/major: uses the index prefix (college_id).
    present = session.execute(
        select(Graduate.study_level, Graduate.cohort, Graduate.major_id, func.count())
        .where(Graduate.college_id == account.unit_id)
        .group_by(Graduate.study_level, Graduate.cohort, Graduate.major_id)
    ).all()
    if not present:
        return (f"已导入的就业数据中还没有「{college_name}」的毕业生记录。"
                f"请联系{_data_people(session, college)}确认本院系数据已导入平台。")

    levels = sorted({lv for lv, _, _, _ in present})
    if account.study_level not in levels:
        return (f"「{college_name}」已导入的毕业生中没有{account.study_level}层次的记录，"
                f"现有层次：{'、'.join(levels)}。"
                f"若您的学历层次有误，请联系{_account_people(session, college)}修改。")

    at_level = [row for row in present if row[0] == account.study_level]
    cohorts = sorted({c for _, c, _, _ in at_level})
    mine = set(account.cohorts)
    if not mine & set(cohorts):
        return (f"「{college_name}」{account.study_level}层次没有"
                f"{'、'.join(str(c) for c in account.cohorts)}届的毕业生记录，"
                f"现有届别：{'、'.join(str(c) for c in cohorts)}。"
                f"若该届数据尚未导入，请联系{_data_people(session, college)}；"
                f"若您的负责届别有误，请联系{_account_people(session, college)}修改。")

    major_ids = {m for _, c, m, _ in at_level if c in mine}
    names = list(session.scalars(select(Major).where(Major.id.in_(major_ids)).order_by(Major.name)))
    shown = "、".join(m.label for m in names[:5]) + (f"等{len(names)}个专业" if len(names) > 5 else "")
    my_majors = "、".join(m.label for m in account.majors[:3]) + (
        f"等{len(account.majors)}个专业" if len(account.majors) > 3 else "")
    return (f"您负责的专业（{my_majors}）在「{college_name}」{account.study_level}"
            f"{'、'.join(str(c) for c in account.cohorts)}届中没有毕业生记录，"
            f"有记录的专业：{shown}。专业名称须与就业数据一致，"
            f"请联系{_account_people(session, college)}修改您的负责专业。")
